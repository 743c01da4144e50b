//! A small deterministic random number generator (xoshiro256**, seeded through SplitMix64), so a
//! given `--random-seed` makes the same data on every machine and with every chunk size: each case
//! and each audit entry draws from a generator of its own, derived from the seed and its index.

use liaison_server::model::Timestamp;

pub struct Rng {
    s: [u64; 4],
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut state = seed;
        Rng {
            s: [
                splitmix(&mut state),
                splitmix(&mut state),
                splitmix(&mut state),
                splitmix(&mut state),
            ],
        }
    }

    /// The generator of item `index` of the stream `stream` (cases, audit entries, ...).
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Rng {
        let mut state = seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mixed = splitmix(&mut state) ^ index;
        let mut state = mixed;
        Rng::new(splitmix(&mut state))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in [low, high).
    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`; `None` when there are none.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    /// One of `choices`, in proportion to its weight.
    pub fn weighted<T: Copy>(&mut self, choices: &[(T, u32)]) -> Option<T> {
        let total: u64 = choices.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total as usize) as u64;
        for (value, weight) in choices {
            if roll < u64::from(*weight) {
                return Some(*value);
            }
            roll -= u64::from(*weight);
        }
        None
    }

    /// A version-7 UUID for something made at `at`, as the service makes them, from this
    /// generator's bits.
    pub fn uuid_v7(&mut self, at: Timestamp) -> uuid::Uuid {
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        random[8..].copy_from_slice(&self.next_u64().to_le_bytes()[..2]);
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    /// A version-4 UUID from this generator's bits (a client's request id).
    pub fn uuid_v4(&mut self) -> uuid::Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::for_item(7, 1, 3);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::for_item(7, 1, 3);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::for_item(7, 1, 4).next_u64(), a[0]);
        assert_ne!(Rng::for_item(7, 2, 3).next_u64(), a[0]);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.weighted(&[("a", 0), ("b", 5)]), Some("b"));
    }

    #[test]
    fn uuids_have_their_versions() {
        let mut r = Rng::new(9);
        let at = liaison_server::clock::from_micros(1_700_000_000_000_000);
        let v7 = r.uuid_v7(at);
        assert_eq!(v7.get_version_num(), 7);
        assert_eq!(
            v7.get_timestamp().map(|t| t.to_unix().0),
            Some(1_700_000_000)
        );
        assert_eq!(r.uuid_v4().get_version_num(), 4);
    }
}
