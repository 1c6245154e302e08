//! Offline request queue policy (pure logic).
//!
//! Same contract as the Python SDK v1 `OfflineRequestQueue`: a size of −1 is unbounded, 0
//! disables queueing, N bounds it; when full, either the oldest request is dropped to make room
//! or the new one is refused. Unlike the SDK, a drop-oldest append reports success and hands the
//! dropped request back so the caller can raise an event naming it.

use std::collections::VecDeque;

pub use super::types::DropPolicy;

/// Queue capacity: `Unbounded` (size −1), `Disabled` (0) or `Bounded(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueLimit {
    Unbounded,
    Disabled,
    Bounded(usize),
}

impl QueueLimit {
    /// Maps the SDK's integer convention; values below −1 are refused.
    pub fn from_size(size: i64) -> Option<QueueLimit> {
        match size {
            -1 => Some(QueueLimit::Unbounded),
            0 => Some(QueueLimit::Disabled),
            n if n > 0 => usize::try_from(n).ok().map(QueueLimit::Bounded),
            _ => None,
        }
    }
}

/// Outcome of [`OfflineQueue::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Push<T> {
    /// Appended; nothing was lost.
    Queued,
    /// Appended after dropping the oldest request, returned here.
    QueuedDroppedOldest(T),
    /// Full with drop-newest: the new request is handed back, not queued.
    Full(T),
    /// Queueing is disabled: the request is handed back.
    Disabled(T),
}

/// FIFO of requests waiting for a connection.
#[derive(Debug)]
pub struct OfflineQueue<T> {
    limit: QueueLimit,
    policy: DropPolicy,
    items: VecDeque<T>,
}

impl<T> OfflineQueue<T> {
    pub fn new(limit: QueueLimit, policy: DropPolicy) -> Self {
        OfflineQueue {
            limit,
            policy,
            items: VecDeque::new(),
        }
    }

    pub fn push(&mut self, item: T) -> Push<T> {
        match self.limit {
            QueueLimit::Disabled => Push::Disabled(item),
            QueueLimit::Unbounded => {
                self.items.push_back(item);
                Push::Queued
            }
            QueueLimit::Bounded(n) if self.items.len() < n => {
                self.items.push_back(item);
                Push::Queued
            }
            QueueLimit::Bounded(_) => match self.policy {
                DropPolicy::DropNewest => Push::Full(item),
                DropPolicy::DropOldest => match self.items.pop_front() {
                    Some(oldest) => {
                        self.items.push_back(item);
                        Push::QueuedDroppedOldest(oldest)
                    }
                    // Bounded(0) cannot be built by from_size; treat like disabled.
                    None => Push::Disabled(item),
                },
            },
        }
    }

    /// Puts a request back at the head, e.g. one taken for sending when the link dropped.
    /// It bypasses the limit: the request was already accepted once.
    pub fn push_front(&mut self, item: T) {
        self.items.push_front(item);
    }

    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn drain_all(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_convention_matches_the_sdk() {
        assert_eq!(QueueLimit::from_size(-1), Some(QueueLimit::Unbounded));
        assert_eq!(QueueLimit::from_size(0), Some(QueueLimit::Disabled));
        assert_eq!(QueueLimit::from_size(5), Some(QueueLimit::Bounded(5)));
        assert_eq!(QueueLimit::from_size(-2), None);
    }

    #[test]
    fn disabled_queue_hands_the_request_back() {
        let mut q = OfflineQueue::new(QueueLimit::Disabled, DropPolicy::DropNewest);
        assert_eq!(q.push(1), Push::Disabled(1));
        assert!(q.is_empty());
    }

    #[test]
    fn drop_newest_refuses_when_full_and_keeps_order() {
        let mut q = OfflineQueue::new(QueueLimit::Bounded(2), DropPolicy::DropNewest);
        assert_eq!(q.push(1), Push::Queued);
        assert_eq!(q.push(2), Push::Queued);
        assert_eq!(q.push(3), Push::Full(3));
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(1), Some(2), None));
    }

    #[test]
    fn drop_oldest_makes_room_and_names_the_victim() {
        let mut q = OfflineQueue::new(QueueLimit::Bounded(2), DropPolicy::DropOldest);
        q.push(1);
        q.push(2);
        assert_eq!(q.push(3), Push::QueuedDroppedOldest(1));
        assert_eq!(q.push(4), Push::QueuedDroppedOldest(2));
        assert_eq!(q.drain_all().collect::<Vec<_>>(), vec![3, 4]);
    }

    #[test]
    fn unbounded_keeps_everything_in_order() {
        let mut q = OfflineQueue::new(QueueLimit::Unbounded, DropPolicy::DropOldest);
        for i in 0..10_000 {
            assert_eq!(q.push(i), Push::Queued);
        }
        assert_eq!(q.len(), 10_000);
        assert_eq!(q.pop(), Some(0));
    }

    #[test]
    fn push_front_bypasses_the_limit() {
        let mut q = OfflineQueue::new(QueueLimit::Bounded(1), DropPolicy::DropNewest);
        q.push(2);
        q.push_front(1);
        assert_eq!(q.drain_all().collect::<Vec<_>>(), vec![1, 2]);
    }
}
