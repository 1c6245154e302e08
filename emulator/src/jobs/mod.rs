//! The AWS IoT Jobs service: `machine` is the pure state machine (no I/O), `service` wires it to
//! the broker (topics, replies to the requester, notifications, step timers, faults).

pub mod machine;
pub mod service;
