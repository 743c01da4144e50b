//! A token bucket: at most `per_second` events a second on average, with bursts of as many. For
//! limits that protect the server itself (how many sign-ins it starts), so it runs on the monotonic
//! clock rather than the service's clock. Above the leaves only for `sync`.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimit {
    pub fn per_second(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        RateLimit {
            per_second,
            bucket: Mutex::new(Bucket {
                tokens: per_second,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Takes one event's place now, if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut bucket = crate::sync::lock(&self.bucket);
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.per_second);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_takes_the_bucket_and_time_refills_it() {
        let limit = RateLimit::per_second(10);
        let start = Instant::now();
        let taken = (0..25).filter(|_| limit.try_take_at(start)).count();
        assert_eq!(taken, 10);
        assert!(!limit.try_take_at(start + Duration::from_millis(50)));
        assert!(limit.try_take_at(start + Duration::from_millis(150)));
        // Never more than a second's worth banked, however long it was idle.
        let later = start + Duration::from_secs(60);
        assert_eq!((0..25).filter(|_| limit.try_take_at(later)).count(), 10);
    }
}
