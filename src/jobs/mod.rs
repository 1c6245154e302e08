//! AWS IoT Jobs: topics, payloads, validation and the jobs client.

pub mod client;
pub mod event;
pub mod payload;
pub mod response;
pub mod topics;
pub mod types;
pub mod validate;
