//! `jobs_connection`: one MQTT connection (the SDK's `AWSIoTMQTTClient`), usable on its own or
//! shared by several jobs clients.

use super::config::{jobs_config, jobs_message_callback};
use super::{
    bytes_arg, copy_out, enum_arg, guard, guard_or, handle_arg, str_arg, write_out, UserData,
};
use crate::error::{jobs_result, Error, Result};
use crate::mqtt::config::validate_qos;
use crate::mqtt::connection::Connection;
use crate::mqtt::transport::TransportKind;
use crate::mqtt::types::*;
use crate::runtime::Gate;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

/// The C names of the connection enums, for Rust code written against the C API.
pub use crate::mqtt::types::{
    Counter as jobs_counter, Delivery as jobs_delivery, EventKind as jobs_event_kind,
    LogLevel as jobs_log_level, Status as jobs_connection_state,
};

/// Called once when an asynchronous request completes: `result` is `JOBS_RESULT_OK`
/// (acknowledged; for a subscription `granted_qos` is 0 or 1), `_SUBSCRIBE_REFUSED`
/// (`granted_qos` 0x80), `_DROPPED` (removed from the offline queue by drop-oldest) or
/// `_CLOSED` (the connection was shut down first, for example a shared connection freed
/// while the jobs client that made the request lives on). It runs on the callback thread and
/// never after the `*_free` of the handle the request was made through has returned: a request
/// still pending then completes without calling back.
/// `packet_id` is the id the request was sent with (0 if never sent or QoS 0).
pub type jobs_ack_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        packet_id: u16,
        result: jobs_result,
        granted_qos: u8,
    ),
>;

/// An MQTT connection. Create with `jobs_connection_new`, free with `jobs_connection_free`.
/// Internally synchronized: every function may be called from any thread, including from
/// inside any callback of this library.
pub struct jobs_connection {
    pub(crate) conn: Connection,
}

/// Builds the engine-side callbacks from the C function pointers in a config.
pub(crate) fn callbacks_from(cfg: &jobs_config) -> Callbacks {
    let ud = cfg.user_data;
    let state = |f: Option<unsafe extern "C" fn(*mut c_void)>| {
        f.map(|f| Box::new(move || unsafe { f(ud.ptr()) }) as Box<dyn Fn() + Send + Sync>)
    };
    Callbacks {
        gate: Gate::new(),
        on_online: state(cfg.on_online),
        on_offline: state(cfg.on_offline),
        on_message: cfg.on_message.map(|f| {
            let h = message_trampoline(f, ud);
            Box::new(move |m: &Message| h(m)) as Box<dyn Fn(&Message) + Send + Sync>
        }),
        on_event: cfg.on_event.map(|f| {
            Box::new(move |e: &Event| {
                let topic = c_text(&e.topic);
                let message = c_text(&e.message);
                unsafe {
                    f(
                        ud.ptr(),
                        e.kind.as_u32(),
                        e.result,
                        topic.as_ptr(),
                        message.as_ptr(),
                    )
                }
            }) as Box<dyn Fn(&Event) + Send + Sync>
        }),
        on_log: cfg.on_log.map(|f| {
            Box::new(move |level: LogLevel, msg: &str| {
                let msg = c_text(msg);
                unsafe { f(ud.ptr(), level.as_u32(), msg.as_ptr()) }
            }) as Box<dyn Fn(LogLevel, &str) + Send + Sync>
        }),
        log_level: cfg.log_level.threshold(),
    }
}

/// A NUL-terminated copy for C; an interior NUL (never valid in MQTT strings) ends it early.
pub(crate) fn c_text(s: &str) -> CString {
    let end = s.find('\0').unwrap_or(s.len());
    CString::new(&s[..end]).unwrap_or_default()
}

type MessageFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize, *const u8, usize);

fn message_trampoline(f: MessageFn, ud: UserData) -> impl Fn(&Message) + Send + Sync {
    move |m: &Message| {
        let topic = c_text(&m.topic);
        let len = topic.as_bytes().len();
        unsafe {
            f(
                ud.ptr(),
                topic.as_ptr(),
                len,
                m.payload.as_ptr(),
                m.payload.len(),
            )
        }
    }
}

fn conn_arg<'a>(conn: *const jobs_connection) -> Result<&'a Connection> {
    // SAFETY: the header's contract: NULL or a live connection handle.
    unsafe { handle_arg(conn, "connection").map(|c| &c.conn) }
}

/// The engine configuration a config describes: ALPN filled in for AWS's port 443 (and `mqtt`
/// for a custom authorizer on TLS), and the
/// SigV4 region taken from the endpoint when not given.
pub(crate) fn connection_config(
    cfg: &jobs_config,
) -> Result<crate::mqtt::config::ConnectionConfig> {
    let mut conn = cfg.conn.clone();
    if !cfg.alpn_set && conn.transport == TransportKind::Tls {
        // AWS IoT runs a custom authorizer only for ALPN `mqtt`, on any port we are given
        // (AWS itself listens on 443); a certificate on 443 needs `x-amzn-mqtt-ca`.
        if conn.custom_authorizer.is_some() {
            conn.tls.alpn = vec![crate::mqtt::custom_auth::ALPN_MQTT.to_vec()];
        } else if conn.port == 443 {
            conn.tls.alpn = vec![crate::mqtt::tls::ALPN_AWS_MQTT_CA.to_vec()];
        }
    }
    let region_for = |region: &Option<String>| {
        match region {
        Some(r) => Ok(r.clone()),
        None => crate::mqtt::sigv4::region_from_endpoint(&conn.host)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::new(
                    jobs_result::IncompleteConfig,
                    format!(
                        "no region given and none in the endpoint '{}' (expected xxx.iot.REGION.amazonaws.com)",
                        conn.host
                    ),
                )
            }),
    }
    };
    if let Some((region, creds)) = &cfg.iam {
        conn.sigv4 = Some((region_for(region)?, creds.clone()));
    }
    if let Some((Some(f), ud, region)) = &cfg.credentials_provider {
        conn.credentials_provider = Some((
            region_for(region)?,
            super::config::credentials_provider(*f, *ud),
        ));
    }
    Ok(conn)
}

/// Creates a connection from `cfg` (copied: the config may be freed afterwards) without
/// connecting. Reads and checks the TLS files now (regular files of at most 1 MiB each), so a
/// bad key or CA is reported here.
/// On success `*out` owns the connection: free it with `jobs_connection_free`. On error `*out`
/// is untouched. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT`,
/// `_INCOMPLETE_CONFIG` (no endpoint; TLS without a CA), `_INVALID_TOPIC` (last will) or
/// `_TLS_CONFIG`. Does not block on the network.
///
/// # Safety
/// `cfg` is NULL or a live config; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_new(
    cfg: *const jobs_config,
    out: *mut *mut jobs_connection,
) -> jobs_result {
    guard(|| {
        let cfg = handle_arg(cfg, "config")?;
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        let conn = Connection::new(connection_config(cfg)?, callbacks_from(cfg))?;
        write_out(out, Box::into_raw(Box::new(jobs_connection { conn })));
        Ok(())
    })
}

/// Disconnects (without waiting) and frees a connection. NULL is a no-op; freeing twice is
/// undefined. Once this returns no callback of this connection runs and its user data is no
/// longer touched — except when called from inside one of this library's callbacks, where the
/// running callback finishes normally and nothing runs after it. Pending requests are dropped
/// (their ack callbacks do not run). Free jobs clients that share this connection first:
/// afterwards their calls fail with `JOBS_RESULT_CLOSED`. Blocks only while a callback of this
/// connection is running on the callback thread.
///
/// # Safety
/// `conn` is NULL or a live connection handle, not used by other threads during or after the call.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_free(conn: *mut jobs_connection) {
    guard_or((), || {
        if !conn.is_null() {
            let c = Box::from_raw(conn);
            c.conn.close();
        }
    })
}

/// Connects and waits for the server's CONNACK, at most the connect timeout. Auto-reconnect
/// with backoff is active from then on until `jobs_connection_disconnect`. If this first
/// attempt fails the connection stays disconnected. Returns `JOBS_RESULT_OK` (also when
/// already connected), `_NULL_ARGUMENT`, `_TIMEOUT`, `_NETWORK`, `_TLS`, `_WEB_SOCKET`,
/// `_CONNECT_REFUSED`, `_PROTOCOL` or `_CLOSED`. Blocks; safe to call from a callback.
///
/// # Safety
/// `conn` is NULL or a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_connect(conn: *mut jobs_connection) -> jobs_result {
    guard(|| conn_arg(conn)?.connect())
}

/// Starts connecting and returns at once; retries with backoff until connected (then the
/// online callback fires) or until `jobs_connection_disconnect`. Failed attempts are reported
/// as `JOBS_EVENT_KIND_CONNECT_FAILED`. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_CLOSED`.
///
/// # Safety
/// `conn` is NULL or a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_connect_async(conn: *mut jobs_connection) -> jobs_result {
    guard(|| conn_arg(conn)?.connect_async())
}

/// Stops reconnecting, waits for acknowledgements already on their way (at most the operation
/// timeout, never over 2 s; requests made meanwhile are queued), sends DISCONNECT and closes the
/// link, and waits for all that (at most the connect timeout). Requests still unacknowledged and
/// queued requests are kept and sent after the next connect. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_TIMEOUT` or `_CLOSED`. Blocks; safe
/// to call from a callback.
///
/// # Safety
/// `conn` is NULL or a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_disconnect(conn: *mut jobs_connection) -> jobs_result {
    guard(|| conn_arg(conn)?.disconnect())
}

/// Returns the connection state (a `jobs_connection_state` value); `JOBS_CONNECTION_STATE_CLOSED` for
/// NULL. Does not block.
///
/// # Safety
/// `conn` is NULL or a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_get_state(conn: *const jobs_connection) -> u32 {
    guard_or(Status::Closed.as_u32(), || match conn_arg(conn) {
        Ok(c) => c.status().as_u32(),
        Err(_) => Status::Closed.as_u32(),
    })
}

/// Reads one counter (`jobs_counter`) into `*value_out`. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`. Does not block.
///
/// # Safety
/// `conn` is NULL or a live connection handle; `value_out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_counter(
    conn: *const jobs_connection,
    counter: u32,
    value_out: *mut u64,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?.counters();
        if value_out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "value_out is NULL"));
        }
        let counter = enum_arg::<Counter>(counter, "counter")?;
        write_out(value_out, c.get(counter));
        Ok(())
    })
}

/// Copies the client id in use (the generated one if the config left it empty) into `buf`,
/// NUL-terminated and truncated to `len`; returns its full length (0 for NULL `conn`).
///
/// # Safety
/// `conn` is NULL or a live connection handle; `buf` NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_client_id(
    conn: *const jobs_connection,
    buf: *mut c_char,
    len: usize,
) -> usize {
    guard_or(0, || match conn_arg(conn) {
        Ok(c) => copy_out(c.client_id(), buf, len),
        Err(_) => 0,
    })
}

pub(crate) fn ack_completion(cb: jobs_ack_callback, ud: UserData, gate: &Arc<Gate>) -> Completion {
    match cb {
        None => Completion::None,
        Some(f) => Completion::Callback(
            gate.clone(),
            Box::new(move |a: Ack| unsafe { f(ud.ptr(), a.packet_id, a.result, a.granted_qos) }),
        ),
    }
}

/// Publishes `payload_len` bytes (copied; `(NULL, 0)` is an empty payload) to `topic`. Online,
/// QoS 1 blocks until PUBACK (at most the operation timeout) and QoS 0 returns once handed to
/// the connection; offline, the request is queued and this returns at once with
/// `*delivery_out = JOBS_DELIVERY_QUEUED`. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_UTF8`, `_INVALID_TOPIC`, `_INVALID_ARGUMENT` (QoS), `_PAYLOAD_TOO_LARGE`,
/// `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY`, `_TIMEOUT` (the message stays in flight and is
/// retransmitted after a reconnect) or `_CLOSED`. Safe to call from a callback.
///
/// # Safety
/// `conn` NULL or live; `topic` NULL or NUL-terminated; `payload` valid for `payload_len`;
/// `delivery_out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_publish(
    conn: *mut jobs_connection,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u32,
    retain: bool,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let topic = str_arg(topic, "topic")?;
        let payload = bytes_arg(payload, payload_len, "payload")?;
        let s = c.publish_sync(topic, payload, validate_qos(qos)?, retain)?;
        write_out(delivery_out, s.delivery().as_u32());
        Ok(())
    })
}

/// Publishes without waiting. `ack` (may be NULL) runs once on the callback thread with the
/// outcome (see `jobs_ack_callback`); if this call returns an error it never runs.
/// `*packet_id_out` gets the packet id (0 for QoS 0 or when queued) and `*delivery_out` whether
/// it was sent or queued. Returns the codes of `jobs_connection_publish` except `_TIMEOUT`.
/// Does not block.
///
/// # Safety
/// As `jobs_connection_publish`; `packet_id_out` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_publish_async(
    conn: *mut jobs_connection,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u32,
    retain: bool,
    ack: jobs_ack_callback,
    user_data: *mut c_void,
    packet_id_out: *mut u16,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let topic = str_arg(topic, "topic")?;
        let payload = bytes_arg(payload, payload_len, "payload")?;
        let completion = ack_completion(ack, UserData(user_data), &c.shared_gate());
        let s = c.publish(topic, payload, validate_qos(qos)?, retain, completion)?;
        write_out(packet_id_out, s.packet_id());
        write_out(delivery_out, s.delivery().as_u32());
        Ok(())
    })
}

fn handler(cb: jobs_message_callback, ud: UserData, gate: &Arc<Gate>) -> Option<Handler> {
    cb.map(|f| Handler::callback(gate, Arc::new(message_trampoline(f, ud))))
}

/// Subscribes to `filter` (wildcards allowed) and waits for SUBACK (at most the operation
/// timeout). `on_message` (may be NULL) runs on the callback thread for each matching message
/// with `user_data`; the subscription is re-made after every reconnect that lost the session.
/// Subscribing again to the same filter replaces its callback. `*granted_qos_out` gets the
/// granted QoS; offline the request is queued (`*delivery_out = JOBS_DELIVERY_QUEUED`).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_TOPIC`,
/// `_INVALID_ARGUMENT`, `_SUBSCRIBE_REFUSED`, `_TIMEOUT`, `_QUEUE_FULL`, `_QUEUE_DISABLED`,
/// `_BUSY` or `_CLOSED`. Blocks; safe to call from a callback.
///
/// # Safety
/// `conn` NULL or live; `filter` NULL or NUL-terminated; out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_subscribe(
    conn: *mut jobs_connection,
    filter: *const c_char,
    qos: u32,
    on_message: jobs_message_callback,
    user_data: *mut c_void,
    granted_qos_out: *mut u8,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let filter = str_arg(filter, "filter")?;
        let h = handler(on_message, UserData(user_data), &c.shared_gate());
        let granted = c.subscribe_sync(filter, validate_qos(qos)?, h)?;
        write_out(granted_qos_out, granted.unwrap_or(0));
        write_out(
            delivery_out,
            if granted.is_some() {
                Delivery::Sent
            } else {
                Delivery::Queued
            }
            .as_u32(),
        );
        Ok(())
    })
}

/// Subscribes without waiting: `ack` (may be NULL) gets the SUBACK outcome and granted QoS;
/// `*packet_id_out` the SUBSCRIBE packet id (0 when queued). Returns the codes of
/// `jobs_connection_subscribe` except `_SUBSCRIBE_REFUSED` and `_TIMEOUT`. Does not block.
///
/// # Safety
/// As `jobs_connection_subscribe`.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_subscribe_async(
    conn: *mut jobs_connection,
    filter: *const c_char,
    qos: u32,
    on_message: jobs_message_callback,
    message_user_data: *mut c_void,
    ack: jobs_ack_callback,
    ack_user_data: *mut c_void,
    packet_id_out: *mut u16,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let filter = str_arg(filter, "filter")?;
        let gate = c.shared_gate();
        let h = handler(on_message, UserData(message_user_data), &gate);
        let completion = ack_completion(ack, UserData(ack_user_data), &gate);
        let s = c.subscribe(filter, validate_qos(qos)?, h, completion)?;
        write_out(packet_id_out, s.packet_id());
        write_out(delivery_out, s.delivery().as_u32());
        Ok(())
    })
}

/// Unsubscribes from `filter` and waits for UNSUBACK (at most the operation timeout); the
/// filter's callback stops at once and it is not re-made after reconnects. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_TOPIC`, `_TIMEOUT`,
/// `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Blocks; safe to call from a callback.
///
/// # Safety
/// `conn` NULL or live; `filter` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_unsubscribe(
    conn: *mut jobs_connection,
    filter: *const c_char,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let s = c.unsubscribe_sync(str_arg(filter, "filter")?)?;
        write_out(delivery_out, s.delivery().as_u32());
        Ok(())
    })
}

/// Unsubscribes without waiting; `ack` (may be NULL) gets the UNSUBACK outcome. Returns the
/// codes of `jobs_connection_unsubscribe` except `_TIMEOUT`. Does not block.
///
/// # Safety
/// As `jobs_connection_unsubscribe`; `packet_id_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_connection_unsubscribe_async(
    conn: *mut jobs_connection,
    filter: *const c_char,
    ack: jobs_ack_callback,
    user_data: *mut c_void,
    packet_id_out: *mut u16,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = conn_arg(conn)?;
        let filter = str_arg(filter, "filter")?;
        let completion = ack_completion(ack, UserData(user_data), &c.shared_gate());
        let s = c.unsubscribe(filter, completion)?;
        write_out(packet_id_out, s.packet_id());
        write_out(delivery_out, s.delivery().as_u32());
        Ok(())
    })
}
