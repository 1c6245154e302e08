//! The MQTT connection: session engine, transports, reconnect, offline queue.
