//! AWS IoT Jobs: topics, payloads, validation, the jobs client and the job agent's journal.
//!
//! cbindgen reads only `types`, where the jobs enums C sees are declared.

/// cbindgen:ignore
pub mod agent;
/// cbindgen:ignore
pub mod client;
/// cbindgen:ignore
pub mod document;
/// cbindgen:ignore
pub mod event;
/// cbindgen:ignore
pub mod journal;
/// cbindgen:ignore
pub mod payload;
/// cbindgen:ignore
pub mod requests;
/// cbindgen:ignore
pub mod response;
/// cbindgen:ignore
pub mod topics;
pub mod types;
/// cbindgen:ignore
pub mod validate;
