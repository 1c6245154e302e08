//! AWS IoT Jobs: topics, payloads, validation and the jobs client.

pub mod topics;
pub mod types;
pub mod validate;
