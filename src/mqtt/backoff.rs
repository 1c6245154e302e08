//! Progressive reconnect backoff (pure logic).
//!
//! Same shape as the Python SDK v1 `ProgressiveBackOffCore`: waits double from `base` up to `max`
//! and fall back to `base` once a connection has stayed up for `stable`. Two deliberate
//! differences: the first wait is `base` (the SDK always waits 1 s first, whatever the base), and
//! optional full jitter (a uniform wait in `[0, current]`) so a fleet does not reconnect in step.

use std::time::Duration;

/// Validated backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub base: Duration,
    pub max: Duration,
    pub stable: Duration,
    pub jitter: bool,
}

impl Default for BackoffConfig {
    /// The Python SDK v1's defaults: 1 s, 32 s, 20 s, no jitter.
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(32),
            stable: Duration::from_secs(20),
            jitter: false,
        }
    }
}

impl BackoffConfig {
    /// Checks the Python SDK v1's rules: base > 0, base <= max, and base < stable.
    pub fn validate(&self) -> Result<(), String> {
        if self.base.is_zero() {
            return Err("backoff base must be greater than 0".into());
        }
        if self.base > self.max {
            return Err(format!(
                "backoff base ({} ms) must not exceed max ({} ms)",
                self.base.as_millis(),
                self.max.as_millis()
            ));
        }
        if self.base >= self.stable {
            return Err(format!(
                "backoff stable time ({} ms) must be greater than base ({} ms)",
                self.stable.as_millis(),
                self.base.as_millis()
            ));
        }
        Ok(())
    }
}

/// The running schedule of one connection.
#[derive(Debug, Clone)]
pub struct Backoff {
    cfg: BackoffConfig,
    current: Duration,
}

impl Backoff {
    pub fn new(cfg: BackoffConfig) -> Self {
        Backoff {
            current: cfg.base,
            cfg,
        }
    }

    /// The wait before the next attempt; advances the schedule. `random` in [0, 1) is used
    /// only with jitter, so tests can pass a fixed value.
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.cfg.max);
        if self.cfg.jitter {
            step.mul_f64(random.clamp(0.0, 1.0))
        } else {
            step
        }
    }

    /// Called once a connection has stayed up for `stable`.
    pub fn reset(&mut self) {
        self.current = self.cfg.base;
    }

    pub fn stable_after(&self) -> Duration {
        self.cfg.stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubles_from_base_up_to_max() {
        let mut b = Backoff::new(BackoffConfig::default());
        let waits: Vec<u64> = (0..8).map(|_| b.next_delay(0.5).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 32, 32]);
    }

    #[test]
    fn starts_at_base_not_one_second() {
        let cfg = BackoffConfig {
            base: secs(3),
            max: secs(10),
            stable: secs(20),
            jitter: false,
        };
        let mut b = Backoff::new(cfg);
        let waits: Vec<u64> = (0..4).map(|_| b.next_delay(0.0).as_secs()).collect();
        assert_eq!(waits, vec![3, 6, 10, 10]);
    }

    #[test]
    fn reset_returns_to_base() {
        let mut b = Backoff::new(BackoffConfig::default());
        for _ in 0..5 {
            b.next_delay(0.0);
        }
        b.reset();
        assert_eq!(b.next_delay(0.0), secs(1));
    }

    #[test]
    fn full_jitter_stays_within_current_step() {
        let cfg = BackoffConfig {
            jitter: true,
            ..BackoffConfig::default()
        };
        let mut b = Backoff::new(cfg);
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert_eq!(b.next_delay(0.5), secs(1)); // half of 2 s
        assert_eq!(b.next_delay(1.0), secs(4));
    }

    #[test]
    fn validation_follows_the_seed_rules() {
        let ok = BackoffConfig::default();
        assert!(ok.validate().is_ok());
        let zero = BackoffConfig {
            base: Duration::ZERO,
            ..ok
        };
        assert!(zero.validate().is_err());
        let base_over_max = BackoffConfig {
            base: secs(40),
            stable: secs(60),
            ..ok
        };
        assert!(base_over_max.validate().unwrap_err().contains("max"));
        let stable_too_small = BackoffConfig {
            stable: secs(1),
            ..ok
        };
        assert!(stable_too_small.validate().unwrap_err().contains("stable"));
    }
}
