//! Fault injection settings shared by the server and the Jobs service.
//!
//! Every fault is a counter or a setting behind one mutex; the network tasks consult it at the
//! point where the faulty behaviour happens ("take one" semantics for counters).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Inner {
    refuse_connack: Option<(u8, usize)>,
    refuse_suback: HashMap<String, usize>,
    reply_delay: Duration,
    drop_pubacks: usize,
    throttle: usize,
    drop_replies: usize,
    malform_replies: usize,
    internal_errors: usize,
}

/// The fault switchboard (one per emulator).
#[derive(Default)]
pub struct Faults {
    inner: Mutex<Inner>,
}

fn take(n: &mut usize) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_refuse_connack(&self, code: u8, count: usize) {
        self.lock().refuse_connack = if count == 0 {
            None
        } else {
            Some((code, count))
        };
    }

    /// If a CONNACK refusal is armed, consumes one and returns its code.
    pub fn take_refuse_connack(&self) -> Option<u8> {
        let mut g = self.lock();
        let (code, count) = g.refuse_connack?;
        g.refuse_connack = if count > 1 {
            Some((code, count - 1))
        } else {
            None
        };
        Some(code)
    }

    pub fn set_refuse_suback(&self, filter: &str, count: usize) {
        let mut g = self.lock();
        if count == 0 {
            g.refuse_suback.remove(filter);
        } else {
            g.refuse_suback.insert(filter.to_string(), count);
        }
    }

    /// True when the SUBSCRIBE to exactly `filter` must be refused (consumes one).
    pub fn take_refuse_suback(&self, filter: &str) -> bool {
        let mut g = self.lock();
        let Some(n) = g.refuse_suback.get_mut(filter) else {
            return false;
        };
        let hit = take(n);
        if *n == 0 {
            g.refuse_suback.remove(filter);
        }
        hit
    }

    pub fn set_reply_delay(&self, d: Duration) {
        self.lock().reply_delay = d;
    }

    pub fn reply_delay(&self) -> Duration {
        self.lock().reply_delay
    }

    pub fn set_drop_pubacks(&self, count: usize) {
        self.lock().drop_pubacks = count;
    }

    pub fn take_drop_puback(&self) -> bool {
        take(&mut self.lock().drop_pubacks)
    }

    pub fn set_throttle(&self, count: usize) {
        self.lock().throttle = count;
    }

    pub fn take_throttle(&self) -> bool {
        take(&mut self.lock().throttle)
    }

    pub fn set_drop_replies(&self, count: usize) {
        self.lock().drop_replies = count;
    }

    pub fn take_drop_reply(&self) -> bool {
        take(&mut self.lock().drop_replies)
    }

    pub fn set_malform_replies(&self, count: usize) {
        self.lock().malform_replies = count;
    }

    pub fn take_malform_reply(&self) -> bool {
        take(&mut self.lock().malform_replies)
    }

    pub fn set_internal_errors(&self, count: usize) {
        self.lock().internal_errors = count;
    }

    pub fn take_internal_error(&self) -> bool {
        take(&mut self.lock().internal_errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_consumed() {
        let f = Faults::default();
        f.set_refuse_connack(5, 2);
        assert_eq!(f.take_refuse_connack(), Some(5));
        assert_eq!(f.take_refuse_connack(), Some(5));
        assert_eq!(f.take_refuse_connack(), None);
        f.set_refuse_suback("a/b", 1);
        assert!(!f.take_refuse_suback("a/+"));
        assert!(f.take_refuse_suback("a/b"));
        assert!(!f.take_refuse_suback("a/b"));
        f.set_drop_pubacks(1);
        assert!(f.take_drop_puback());
        assert!(!f.take_drop_puback());
        f.set_throttle(1);
        assert!(f.take_throttle());
        assert!(!f.take_throttle());
    }
}
