//! Latencies and outcomes per method, and the percentiles the report prints.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one method did during a measured run.
#[derive(Debug, Default, Clone)]
pub struct MethodStats {
    /// Latency of every successful call, in microseconds.
    latencies_us: Vec<u32>,
    /// Failed calls by gRPC status code name.
    pub errors: BTreeMap<String, u64>,
}

impl MethodStats {
    pub fn ok(&mut self, latency: Duration) {
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn error(&mut self, code: tonic::Code) {
        *self.errors.entry(format!("{code:?}")).or_default() += 1;
    }

    pub fn merge(&mut self, other: MethodStats) {
        self.latencies_us.extend(other.latencies_us);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
    }

    pub fn successes(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub fn failures(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The latency below which `q` (0..=1) of the successful calls finished, in milliseconds.
    pub fn percentile_ms(&mut self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize)
            .clamp(1, self.latencies_us.len());
        f64::from(self.latencies_us[rank - 1]) / 1000.0
    }
}

/// Every method's stats for one run.
#[derive(Debug, Default, Clone)]
pub struct RunStats {
    pub methods: BTreeMap<&'static str, MethodStats>,
}

impl RunStats {
    pub fn method(&mut self, name: &'static str) -> &mut MethodStats {
        self.methods.entry(name).or_default()
    }

    pub fn merge(&mut self, other: RunStats) {
        for (name, stats) in other.methods {
            self.method(name).merge(stats);
        }
    }

    /// All methods together.
    pub fn total(&self) -> MethodStats {
        let mut all = MethodStats::default();
        for stats in self.methods.values() {
            all.merge(stats.clone());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut s = MethodStats::default();
        for ms in 1..=100 {
            s.ok(Duration::from_millis(ms));
        }
        assert_eq!(s.percentile_ms(0.5), 50.0);
        assert_eq!(s.percentile_ms(0.99), 99.0);
        assert_eq!(s.percentile_ms(0.999), 100.0);
        assert_eq!(s.percentile_ms(0.0), 1.0);
        s.error(tonic::Code::Aborted);
        assert_eq!((s.successes(), s.failures()), (100, 1));
        assert!(MethodStats::default().percentile_ms(0.5).is_nan());
    }
}
