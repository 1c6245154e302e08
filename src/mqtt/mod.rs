//! The MQTT connection: the session core, its I/O driver, transports, reconnect, offline queue.
//!
//! cbindgen reads only `types`, where the connection enums C sees are declared.
/// cbindgen:ignore
pub mod backoff;
/// cbindgen:ignore
pub mod codec;
/// cbindgen:ignore
pub mod config;
/// cbindgen:ignore
pub mod connection;
/// cbindgen:ignore
pub mod core;
/// cbindgen:ignore
pub mod custom_auth;
/// cbindgen:ignore
pub mod driver;
/// cbindgen:ignore
pub mod packet_id;
/// cbindgen:ignore
pub mod pkcs11;
/// cbindgen:ignore
pub mod queue;
/// cbindgen:ignore
pub mod sigv4;
/// cbindgen:ignore
pub mod tls;
/// cbindgen:ignore
pub mod topic;
/// cbindgen:ignore
pub mod transport;
pub mod types;
