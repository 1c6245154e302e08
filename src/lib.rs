//! iotjobs: an AWS IoT Jobs client for C and C++ firmware.
//!
//! Layers (see `docs/architecture.md`):
//! - [`ffi`]: the C ABI — handles, result codes, string checks, the panic boundary.
//! - [`jobs`]: AWS IoT Jobs topics, request payloads, response parsing and the jobs client.
//! - [`mqtt`]: the MQTT session engine, transports, reconnect and the offline queue.
//! - [`runtime`]: the process-wide runtime thread and the callback thread.

pub mod error;
pub mod ffi;
pub mod jobs;
pub mod mqtt;
/// cbindgen:ignore
pub mod runtime;
