//! MQTT packet identifier allocation (pure logic).
//!
//! One id space per connection shared by PUBLISH (QoS 1), SUBSCRIBE and UNSUBSCRIBE, as the
//! protocol requires. Ids in use are never handed out twice (rumqttc's allocator does, #1057).

/// Allocator over 1..=65535 that skips ids still in use.
#[derive(Debug)]
pub struct PacketIds {
    in_use: Vec<u64>, // bitset, 1024 words
    next: u16,
    count: usize,
}

impl Default for PacketIds {
    fn default() -> Self {
        PacketIds {
            in_use: vec![0; 1024],
            next: 1,
            count: 0,
        }
    }
}

impl PacketIds {
    /// The next free id after the last one handed out, or `None` when all 65535 are in use.
    pub fn allocate(&mut self) -> Option<u16> {
        if self.count >= u16::MAX as usize {
            return None;
        }
        loop {
            let id = self.next;
            self.next = if id == u16::MAX { 1 } else { id + 1 };
            if !self.is_used(id) {
                self.set(id, true);
                self.count += 1;
                return Some(id);
            }
        }
    }

    /// Frees an id; freeing an id that is not in use does nothing.
    pub fn release(&mut self, id: u16) {
        if id != 0 && self.is_used(id) {
            self.set(id, false);
            self.count -= 1;
        }
    }

    pub fn in_use(&self) -> usize {
        self.count
    }

    fn is_used(&self, id: u16) -> bool {
        self.in_use[(id / 64) as usize] & (1 << (id % 64)) != 0
    }

    fn set(&mut self, id: u16, used: bool) {
        let word = &mut self.in_use[(id / 64) as usize];
        if used {
            *word |= 1 << (id % 64);
        } else {
            *word &= !(1 << (id % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_never_zero() {
        let mut ids = PacketIds::default();
        assert_eq!(ids.allocate(), Some(1));
        assert_eq!(ids.allocate(), Some(2));
    }

    #[test]
    fn wraps_and_skips_ids_in_use() {
        let mut ids = PacketIds::default();
        let all: Vec<u16> = (0..65535).map(|_| ids.allocate().unwrap()).collect();
        assert_eq!(all.first(), Some(&1));
        assert_eq!(all.last(), Some(&65535));
        assert_eq!(ids.allocate(), None, "all ids in use");
        ids.release(7);
        ids.release(3);
        // After wrapping, the scan starts again at 1 and finds 3 first.
        assert_eq!(ids.allocate(), Some(3));
        assert_eq!(ids.allocate(), Some(7));
        assert_eq!(ids.allocate(), None);
    }

    #[test]
    fn release_is_idempotent() {
        let mut ids = PacketIds::default();
        let a = ids.allocate().unwrap();
        ids.release(a);
        ids.release(a);
        ids.release(0);
        assert_eq!(ids.in_use(), 0);
    }
}
