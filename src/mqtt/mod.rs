//! The MQTT connection: session engine, transports, reconnect, offline queue.
pub mod backoff;
pub mod codec;
pub mod config;
pub mod connection;
pub mod core;
pub mod driver;
pub mod packet_id;
pub mod queue;
pub mod sigv4;
pub mod tls;
pub mod topic;
pub mod transport;
pub mod types;
