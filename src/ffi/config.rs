//! `jobs_config`: the builder every connection (and jobs client) is made from.

use super::{
    args_arg, bytes_arg, enum_arg, guard, guard_or, handle_mut, init, opt_str_arg, str_arg,
    write_out, UserData,
};
use crate::error::{jobs_result, Error, Result};
use crate::mqtt::backoff::BackoffConfig;
use crate::mqtt::config::{self as rules, clamp_keep_alive, ConnectionConfig, LastWill};
use crate::mqtt::sigv4::{Credentials, Provided};
use crate::mqtt::tls::PemSource;
use crate::mqtt::types::{DropPolicy, LogLevel, Protocol, TransportKind};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// The C names of the enums a config takes, for Rust code written against the C API.
pub use crate::mqtt::types::{
    DropPolicy as jobs_drop_policy, Protocol as jobs_protocol, TransportKind as jobs_transport,
};

/// Called with no arguments but the user data: connection up (after resubscription) or down.
pub type jobs_state_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Called for every message the connection receives, whatever subscription it matched.
/// `topic` is NUL-terminated (`topic_len` bytes before the NUL); `payload` holds `payload_len`
/// bytes. Both are borrowed and valid only until the callback returns.
pub type jobs_message_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        topic: *const c_char,
        topic_len: usize,
        payload: *const u8,
        payload_len: usize,
    ),
>;

/// Called for asynchronous events (`jobs_event_kind`): `result` says why, `topic` names the
/// subscription or request concerned (may be empty), `message` explains. Strings are
/// NUL-terminated, borrowed and valid only until the callback returns.
pub type jobs_event_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        kind: u32,
        result: jobs_result,
        topic: *const c_char,
        message: *const c_char,
    ),
>;

/// Called with each log line at or above the configured level (`jobs_log_level`); `message` is
/// borrowed and valid only until the callback returns.
pub type jobs_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char)>;

/// Connection settings plus connection-level callbacks. Create with `jobs_config_new`, free with
/// `jobs_config_free`. Not internally synchronized: do not change one config from two threads
/// at once. A config may be freed as soon as the handle built from it exists.
pub struct jobs_config {
    pub(crate) conn: ConnectionConfig,
    pub(crate) alpn_set: bool,
    /// IAM credentials and an optional explicit region (else taken from the endpoint).
    pub(crate) iam: Option<(Option<String>, Credentials)>,
    /// A credentials provider, its user data and an optional explicit region.
    pub(crate) credentials_provider: Option<(jobs_credentials_fn, UserData, Option<String>)>,
    pub(crate) user_data: UserData,
    pub(crate) on_online: jobs_state_callback,
    pub(crate) on_offline: jobs_state_callback,
    pub(crate) on_message: jobs_message_callback,
    pub(crate) on_event: jobs_event_callback,
    pub(crate) on_log: jobs_log_callback,
    pub(crate) log_level: LogLevel,
    // Jobs-client settings (used by jobs_client_new; ignored by jobs_connection_new).
    pub(crate) thing_name: Option<String>,
    pub(crate) jobs_qos: u8,
}

fn cfg_mut<'a>(cfg: *mut jobs_config) -> Result<&'a mut jobs_config> {
    // SAFETY: the header's contract: NULL or a live config not used concurrently.
    unsafe { handle_mut(cfg, "config") }
}

impl Drop for jobs_config {
    fn drop(&mut self) {
        self.conn.wipe_secrets();
    }
}

/// Creates a config holding the Python SDK's defaults: TLS on port 8883, MQTT 3.1.1, clean
/// session, keep-alive 600 s, connect timeout 30 s, operation timeout 5 s, maximum packet
/// 128 KiB, backoff 1/32/20 s without jitter, unbounded offline queue (drop-newest), draining
/// 2 requests per second, QoS 0 for jobs traffic, no callbacks.
/// On success `*out` owns a new config: free it with `jobs_config_free`. On error `*out` is
/// left untouched. Returns `JOBS_RESULT_OK` or `JOBS_RESULT_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_new(out: *mut *mut jobs_config) -> jobs_result {
    guard(|| {
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        let cfg = Box::new(jobs_config {
            conn: ConnectionConfig::default(),
            alpn_set: false,
            iam: None,
            credentials_provider: None,
            user_data: UserData(std::ptr::null_mut()),
            on_online: None,
            on_offline: None,
            on_message: None,
            on_event: None,
            on_log: None,
            log_level: LogLevel::Off,
            thing_name: None,
            jobs_qos: 0,
        });
        write_out(out, Box::into_raw(cfg));
        Ok(())
    })
}

/// Frees a config. NULL is a no-op; freeing twice is undefined. Handles already built from it
/// are unaffected. Does not block.
///
/// # Safety
/// `cfg` is NULL or a config from `jobs_config_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_free(cfg: *mut jobs_config) {
    guard_or((), || {
        if !cfg.is_null() {
            drop(Box::from_raw(cfg));
        }
    })
}

/// Sets the endpoint host (DNS name or IP literal; copied) and port (1–65535). With port 443
/// and `JOBS_TRANSPORT_TLS`, ALPN `x-amzn-mqtt-ca` is offered automatically, as AWS IoT requires
/// (`mqtt` instead, on any port, with `jobs_config_set_custom_authorizer`).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config; `host` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_endpoint(
    cfg: *mut jobs_config,
    host: *const c_char,
    port: u16,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let host = str_arg(host, "host")?;
        rules::validate_host(host)?;
        rules::validate_port(port)?;
        c.conn.host = host.to_owned();
        c.conn.port = port;
        Ok(())
    })
}

/// Chooses the transport (`jobs_transport`). Plain TCP and plain WebSocket are only ever used
/// when chosen here. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT` (an
/// unknown value, or a WebSocket kind in a library built without the cargo feature `websocket`;
/// the message says so).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_transport(
    cfg: *mut jobs_config,
    transport: u32,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let kind = enum_arg::<TransportKind>(transport, "transport")?;
        rules::validate_transport(kind)?;
        c.conn.transport = kind;
        Ok(())
    })
}

/// Sets the MQTT client id (copied). Empty or NULL means "generate one" (`iotjobs-` plus 15 hex
/// digits), which needs a clean session. AWS IoT allows 128 bytes, MQTT 3.1 only 23; both are
/// checked when the connection is created. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (cfg),
/// `_INVALID_UTF8` or `_INVALID_ARGUMENT` (over 128 bytes).
///
/// # Safety
/// `cfg` is NULL or a live config; `client_id` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_client_id(
    cfg: *mut jobs_config,
    client_id: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let id = opt_str_arg(client_id, "client_id")?.unwrap_or("");
        rules::validate_client_id(id)?;
        c.conn.client_id = id.to_owned();
        Ok(())
    })
}

/// Sets the MQTT protocol level (`jobs_protocol`: 3 = MQTT 3.1, 4 = MQTT 3.1.1).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_protocol(
    cfg: *mut jobs_config,
    protocol: u32,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        c.conn.protocol = enum_arg::<Protocol>(protocol, "protocol")?;
        Ok(())
    })
}

/// Sets the clean-session flag (default true). With false the server keeps subscriptions and
/// unacknowledged messages across reconnects, and the client id must not be empty.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_clean_session(
    cfg: *mut jobs_config,
    clean_session: bool,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.conn.clean_session = clean_session;
        Ok(())
    })
}

/// Sets the keep-alive interval in seconds. AWS IoT accepts 30–1200 s; other values are clamped
/// by AWS's own rule so the value sent is the value used: 1–29 → 30, 0 or above 1200 → 1200.
/// A dead link is detected after the keep-alive, or sooner: a request unacknowledged for the
/// operation timeout triggers a probe PINGREQ (checked once per operation timeout), and a
/// PINGREQ unanswered within the operation timeout closes the link and starts a reconnect. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_keep_alive(
    cfg: *mut jobs_config,
    seconds: u32,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.conn.keep_alive_secs = clamp_keep_alive(seconds);
        Ok(())
    })
}

/// Sets the MQTT user name and optional password (both copied; NULL `username` clears both).
/// The config's copy of the password is wiped when replaced or freed.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (cfg), `_INVALID_UTF8` or `_INVALID_ARGUMENT`
/// (a password without a user name).
///
/// # Safety
/// `cfg` is NULL or a live config; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_username_password(
    cfg: *mut jobs_config,
    username: *const c_char,
    password: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let user = opt_str_arg(username, "username")?;
        let pass = opt_str_arg(password, "password")?;
        rules::validate_login(user, pass)?;
        c.conn.username = user.map(str::to_owned);
        c.conn.wipe_secrets();
        c.conn.password = pass.map(str::to_owned);
        Ok(())
    })
}

/// Sets the last-will message (topic and payload copied; QoS 0 or 1). Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_TOPIC`, `_PAYLOAD_TOO_LARGE` or
/// `_INVALID_ARGUMENT` (QoS).
///
/// # Safety
/// `cfg` is NULL or a live config; `topic` NUL-terminated; `payload` valid for `payload_len`.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_last_will(
    cfg: *mut jobs_config,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u32,
    retain: bool,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let topic = str_arg(topic, "topic")?;
        let payload = bytes_arg(payload, payload_len, "payload")?;
        c.conn.last_will = Some(LastWill::new(topic, payload, qos, retain)?);
        Ok(())
    })
}

/// Removes the last-will message. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_clear_last_will(cfg: *mut jobs_config) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.conn.last_will = None;
        Ok(())
    })
}

/// Sets the connect/disconnect timeout and the operation timeout (PUBACK, SUBACK, UNSUBACK of
/// blocking calls; PINGRESP) in milliseconds; both must be 1–3600000 (defaults 30000 and 5000).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_timeouts(
    cfg: *mut jobs_config,
    connect_timeout_ms: u32,
    operation_timeout_ms: u32,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let connect = Duration::from_millis(u64::from(connect_timeout_ms));
        let operation = Duration::from_millis(u64::from(operation_timeout_ms));
        rules::validate_timeout("connect timeout", connect)?;
        rules::validate_timeout("operation timeout", operation)?;
        c.conn.connect_timeout = connect;
        c.conn.operation_timeout = operation;
        Ok(())
    })
}

/// Sets the maximum MQTT packet size in bytes, for both directions (default 131072, AWS IoT's
/// limit; range 128–268435455). Larger publishes are refused with `JOBS_RESULT_PAYLOAD_TOO_LARGE`;
/// a larger incoming packet closes the link with a `JOBS_EVENT_KIND_PROTOCOL_ERROR`.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_max_packet_size(
    cfg: *mut jobs_config,
    bytes: usize,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        rules::validate_max_packet_size(bytes)?;
        c.conn.max_packet_size = bytes;
        Ok(())
    })
}

unsafe fn pem_source(
    path: *const c_char,
    pem: Option<(*const u8, usize)>,
    name: &str,
) -> Result<PemSource> {
    match pem {
        None => Ok(PemSource::File(str_arg(path, name)?.into())),
        Some((p, len)) => {
            let bytes = bytes_arg(p, len, name)?;
            PemSource::memory(bytes)
        }
    }
}

/// Which PEM item a setter fills.
#[derive(Clone, Copy)]
enum PemSlot {
    Ca,
    Cert,
    Key,
}

/// The body shared by the six PEM setters: check, copy, store.
unsafe fn set_pem(
    cfg: *mut jobs_config,
    slot: PemSlot,
    path: *const c_char,
    pem: Option<(*const u8, usize)>,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let source = Some(pem_source(
            path,
            pem,
            if pem.is_some() { "pem" } else { "path" },
        )?);
        match slot {
            PemSlot::Ca => c.conn.tls.ca = source,
            PemSlot::Cert => c.conn.tls.client_cert = source,
            PemSlot::Key => c.conn.tls.client_key = source,
        }
        Ok(())
    })
}

/// Sets the CA certificate(s) that must sign the server's certificate, from a PEM file. The
/// path is copied; the file is read when the connection is created and must be a regular file
/// of at most 1 MiB (1048576 bytes): a FIFO, device, directory or larger file is refused, never
/// waited on or read without end. Required by the TLS transports. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT` or `_INVALID_UTF8`; a missing, unreadable, non-regular, oversized or invalid
/// file is reported by the constructor as `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_ca_file(
    cfg: *mut jobs_config,
    path: *const c_char,
) -> jobs_result {
    guard_or(jobs_result::Panic, || set_pem(cfg, PemSlot::Ca, path, None))
}

/// Sets the CA certificate(s) from PEM text in memory (`len` bytes, copied; no NUL needed).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT` (empty); invalid PEM is
/// reported by the constructor as `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `pem` NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_ca_pem(
    cfg: *mut jobs_config,
    pem: *const u8,
    len: usize,
) -> jobs_result {
    guard_or(jobs_result::Panic, || {
        set_pem(cfg, PemSlot::Ca, std::ptr::null(), Some((pem, len)))
    })
}

/// Sets the client certificate (or chain, leaf first) for mutual TLS from a PEM file (path
/// copied; read when the connection is created, and again before every reconnect, so a
/// certificate replaced on disk is used from the next connection on (replace the file and its
/// key by renaming over them); a regular file of at most 1 MiB, as for
/// `jobs_config_set_ca_file`). A file that then cannot be used fails that attempt with a
/// `JOBS_EVENT_KIND_CONNECT_FAILED` event (`JOBS_RESULT_TLS_CONFIG`) and the usual retry.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_UTF8`; a bad file is reported by
/// the constructor as `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_cert_file(
    cfg: *mut jobs_config,
    path: *const c_char,
) -> jobs_result {
    guard_or(jobs_result::Panic, || {
        set_pem(cfg, PemSlot::Cert, path, None)
    })
}

/// Sets the client certificate (chain) from PEM text in memory (`len` bytes, copied).
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT` (empty); invalid PEM is
/// reported by the constructor as `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `pem` NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_cert_pem(
    cfg: *mut jobs_config,
    pem: *const u8,
    len: usize,
) -> jobs_result {
    guard_or(jobs_result::Panic, || {
        set_pem(cfg, PemSlot::Cert, std::ptr::null(), Some((pem, len)))
    })
}

/// Sets the client private key from a PEM file: RSA (PKCS#1 `BEGIN RSA PRIVATE KEY`, as the
/// AWS console issues, or PKCS#8) or EC (SEC1 or PKCS#8); unencrypted. The path is copied; the
/// file is read when the connection is created and again before every reconnect, like the
/// certificate (a regular file of at most 1 MiB, as for `jobs_config_set_ca_file`), and every copy of the key the library holds is wiped before
/// its memory is freed. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_UTF8`; a bad
/// file is reported by the constructor as `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `path` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_key_file(
    cfg: *mut jobs_config,
    path: *const c_char,
) -> jobs_result {
    guard_or(jobs_result::Panic, || {
        set_pem(cfg, PemSlot::Key, path, None)
    })
}

/// Sets the client private key from PEM text in memory (`len` bytes, copied, and the copy wiped
/// when freed; formats as `jobs_config_set_key_file`; the caller's buffer is not touched and
/// may be wiped by the caller as soon as this returns). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or
/// `_INVALID_ARGUMENT` (empty); invalid PEM is reported by the constructor as
/// `JOBS_RESULT_TLS_CONFIG`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `pem` NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_key_pem(
    cfg: *mut jobs_config,
    pem: *const u8,
    len: usize,
) -> jobs_result {
    guard_or(jobs_result::Panic, || {
        set_pem(cfg, PemSlot::Key, std::ptr::null(), Some((pem, len)))
    })
}

/// Sets the one ALPN protocol to offer (copied), replacing the automatic choice
/// (`mqtt` with a custom authorizer on TLS, else `x-amzn-mqtt-ca` on port 443, none
/// elsewhere); an empty string offers none.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8` or `_INVALID_ARGUMENT` (over 255 bytes).
///
/// # Safety
/// `cfg` is NULL or a live config; `protocol` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_alpn(
    cfg: *mut jobs_config,
    protocol: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let p = str_arg(protocol, "protocol")?;
        c.conn.tls.alpn = if p.is_empty() {
            vec![]
        } else {
            rules::validate_alpn(p.as_bytes())?;
            vec![p.as_bytes().to_vec()]
        };
        c.alpn_set = true;
        Ok(())
    })
}

/// Sets the reconnect backoff in milliseconds: waits double from `base_ms` up to `max_ms` and
/// return to `base_ms` once a connection has stayed up for `stable_ms` (defaults 1000, 32000,
/// 20000). With `jitter`, each wait is uniform in [0, current] (full jitter). Requires
/// 0 < base ≤ max and base < stable. Reconnecting never gives up until `jobs_connection_disconnect`.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_backoff(
    cfg: *mut jobs_config,
    base_ms: u32,
    max_ms: u32,
    stable_ms: u32,
    jitter: bool,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let b = BackoffConfig {
            base: Duration::from_millis(base_ms as u64),
            max: Duration::from_millis(max_ms as u64),
            stable: Duration::from_millis(stable_ms as u64),
            jitter,
        };
        rules::validate_backoff(&b)?;
        c.conn.backoff = b;
        Ok(())
    })
}

/// Configures the offline queue used for publish, subscribe and unsubscribe while not online:
/// `size` −1 unbounded (default), 0 disabled, N > 0 at most N requests; `drop_policy`
/// (`jobs_drop_policy`) says what a full queue does. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`
/// or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_offline_queue(
    cfg: *mut jobs_config,
    size: i64,
    drop_policy: u32,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let limit = rules::queue_limit(size)?;
        let policy = enum_arg::<DropPolicy>(drop_policy, "drop_policy")?;
        c.conn.queue_limit = limit;
        c.conn.drop_policy = policy;
        Ok(())
    })
}

/// Sets how many queued requests per second are sent after a reconnect (default 2, as the SDK;
/// 0 sends them all at once). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_draining_rate(
    cfg: *mut jobs_config,
    per_second: f64,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        rules::validate_drain_rate(per_second)?;
        c.conn.drain_rate_hz = per_second;
        Ok(())
    })
}

/// Sets the `user_data` passed to every connection-level callback (online, offline, message,
/// event, log). The library never dereferences it; it must stay valid until the handle is freed.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_user_data(
    cfg: *mut jobs_config,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.user_data = UserData(user_data);
        Ok(())
    })
}

/// Sets the online and offline callbacks (either may be NULL). Online fires on the callback
/// thread once connected and resubscribed (queued requests may still be draining); offline fires
/// when an announced connection ends. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_on_online_offline(
    cfg: *mut jobs_config,
    on_online: jobs_state_callback,
    on_offline: jobs_state_callback,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        c.on_online = on_online;
        c.on_offline = on_offline;
        Ok(())
    })
}

/// Sets the callback for every received message (NULL to unset); it runs on the callback
/// thread, in arrival order, besides any per-subscription callback.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_on_message(
    cfg: *mut jobs_config,
    on_message: jobs_message_callback,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.on_message = on_message;
        Ok(())
    })
}

/// Sets the event callback (NULL to unset); it runs on the callback thread.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_on_event(
    cfg: *mut jobs_config,
    on_event: jobs_event_callback,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.on_event = on_event;
        Ok(())
    })
}

/// Sets the per-connection log callback and the most verbose level it receives
/// (`jobs_log_level`: higher is more verbose, from 1 error to 4 debug, which adds a line per
/// packet in and out; 0 turns logging off). The library never prints to
/// stdout or stderr and installs no global logger. Runs on the callback thread.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT` (level above 4).
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_log(
    cfg: *mut jobs_config,
    on_log: jobs_log_callback,
    level: u32,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let level = enum_arg::<LogLevel>(level, "level")?;
        c.on_log = on_log;
        c.log_level = level;
        Ok(())
    })
}

/// Sets IAM credentials for MQTT over WebSocket with SigV4 (the SDK's
/// `configureIAMCredentials`); use with `JOBS_TRANSPORT_WEBSOCKET_TLS` on port 443. The upgrade
/// request is presigned afresh on every connect (service `iotdevicegateway`, the session token
/// appended unsigned, as AWS IoT requires). `region` NULL means "take it from the endpoint"
/// (`xxx-ats.iot.REGION.amazonaws.com`). All strings are copied; every copy the library holds of
/// the secret key and the session token is wiped before it is freed. NULL `access_key_id` clears
/// the credentials. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (cfg, or the secret missing with a key
/// id), `_INVALID_UTF8` or `_INVALID_ARGUMENT` (empty values, or a library built without the
/// cargo feature `websocket`: then only clearing them succeeds).
///
/// # Safety
/// `cfg` is NULL or a live config; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_iam_credentials(
    cfg: *mut jobs_config,
    access_key_id: *const c_char,
    secret_access_key: *const c_char,
    session_token: *const c_char,
    region: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let Some(key) = opt_str_arg(access_key_id, "access_key_id")? else {
            c.iam = None;
            return Ok(());
        };
        let secret = str_arg(secret_access_key, "secret_access_key")?;
        let token = opt_str_arg(session_token, "session_token")?;
        let region = opt_str_arg(region, "region")?;
        let credentials = Credentials {
            access_key_id: key.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: token.filter(|t| !t.is_empty()).map(str::to_owned),
        };
        rules::validate_iam(&credentials, region)?;
        c.iam = Some((region.map(str::to_owned), credentials));
        Ok(())
    })
}

/// Sets how many bytes of incoming messages (topic plus payload, plus a small fixed cost per
/// callback), events and log lines may wait for the callback thread before the connection
/// stops reading its socket (default 262144). While callbacks are behind, the server's further
/// messages wait in TCP (the server is slowed down), so memory stays bounded however slow a
/// handler is; nothing is dropped. At least one callback is always let through, so 0 means one
/// at a time. Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_callback_queue_limit(
    cfg: *mut jobs_config,
    bytes: usize,
) -> jobs_result {
    guard(|| {
        cfg_mut(cfg)?.conn.callback_queue_bytes = bytes;
        Ok(())
    })
}

/// Credentials a provider hands over with `jobs_credentials_set`. Initialize with
/// `jobs_credentials_init`. The strings are borrowed only for the `jobs_credentials_set` call
/// (the library copies them), so they may live on the provider's stack.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_credentials {
    /// `sizeof(jobs_credentials)`, set by the init function.
    pub struct_size: usize,
    /// Access key id (1 to 128 bytes).
    pub access_key_id: *const c_char,
    /// Secret access key (1 to 1024 bytes).
    pub secret_access_key: *const c_char,
    /// Session token of temporary credentials (at most 16384 bytes), or NULL or "" for none.
    pub session_token: *const c_char,
    /// When the credentials stop being valid, in Unix seconds, or 0 if they do not expire.
    /// The connection is re-established (asking the provider again) a tenth of their
    /// lifetime, at most 60 s, before then; the application sees it as a lost connection
    /// (offline, then online), with nothing lost that a lost connection would not lose.
    pub expires_at: i64,
}

/// Where a credentials provider puts its answer, with `jobs_credentials_set`. Owned by the
/// library and valid only during the provider call.
pub struct jobs_credentials_sink {
    provided: Option<Provided>,
}

/// Asked for credentials before every WebSocket handshake (first connect and every
/// reconnect). Call `jobs_credentials_set(sink, &creds)` and return 0; any other return
/// value, or returning without a successful `jobs_credentials_set`, fails that connection
/// attempt with a `JOBS_EVENT_KIND_CONNECT_FAILED` event (`JOBS_RESULT_INCOMPLETE_CONFIG`)
/// and the usual retry with backoff. Runs on the library's network thread, which it holds
/// up for every connection while it runs: return promptly (refresh credentials elsewhere and
/// hand over the current ones), and call no iotjobs function but `jobs_credentials_set`.
/// Never called once the connection's free function has returned.
pub type jobs_credentials_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, sink: *mut jobs_credentials_sink) -> i32>;

/// Sets `creds` to empty values (NULL strings, no expiry) and its `struct_size`.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `creds` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_credentials_init(creds: *mut jobs_credentials) -> jobs_result {
    guard(|| {
        init(creds, |size| jobs_credentials {
            struct_size: size,
            access_key_id: std::ptr::null(),
            secret_access_key: std::ptr::null(),
            session_token: std::ptr::null(),
            expires_at: 0,
        })
    })
}

/// Hands credentials to the library from inside a credentials provider: they are checked and
/// copied (the caller's strings may be wiped or freed as soon as this returns); every copy
/// of the secret and the token is wiped before it is freed. A later successful call replaces
/// an earlier one; a failed call leaves nothing set. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT` (sink, creds, key id or secret), `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8`
/// or `_INVALID_ARGUMENT` (empty or oversized values, an expiry before 1970 or already past).
///
/// # Safety
/// `sink` is NULL or the sink of the running provider call; `creds` NULL or an initialized
/// `jobs_credentials` whose strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_credentials_set(
    sink: *mut jobs_credentials_sink,
    creds: *const jobs_credentials,
) -> jobs_result {
    guard(|| {
        let sink = handle_mut(sink, "sink")?;
        sink.provided = None;
        let c = args_arg(creds, "creds")?;
        let key = str_arg(c.access_key_id, "access_key_id")?;
        let secret = str_arg(c.secret_access_key, "secret_access_key")?;
        let token = opt_str_arg(c.session_token, "session_token")?;
        let provided = Provided {
            credentials: Credentials {
                access_key_id: key.to_owned(),
                secret_access_key: secret.to_owned(),
                session_token: token.filter(|t| !t.is_empty()).map(str::to_owned),
            },
            expires_at: rules::expiry_from_unix(c.expires_at)?,
        };
        rules::validate_provided(&provided, std::time::SystemTime::now())?;
        sink.provided = Some(provided);
        Ok(())
    })
}

/// Sets a credentials provider for MQTT over WebSocket with SigV4: instead of fixed
/// credentials (`jobs_config_set_iam_credentials`, which it excludes: a connection made from
/// a config with both fails with `JOBS_RESULT_INVALID_ARGUMENT`), `provider` is asked before
/// every WebSocket handshake (see `jobs_credentials_fn`), with `user_data`, which must stay
/// valid until the handle is freed. `region` NULL means "take it from the endpoint"; it is
/// copied. NULL `provider` clears it. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_UTF8` or `_INVALID_ARGUMENT` (an empty or oversized region, or a library built
/// without the cargo feature `websocket`: then only clearing succeeds). Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `region` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_credentials_provider(
    cfg: *mut jobs_config,
    provider: jobs_credentials_fn,
    user_data: *mut c_void,
    region: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        if provider.is_none() {
            c.credentials_provider = None;
            return Ok(());
        }
        let region = opt_str_arg(region, "region")?;
        rules::validate_provider_settings(region)?;
        c.credentials_provider = Some((provider, UserData(user_data), region.map(str::to_owned)));
        Ok(())
    })
}

/// The engine's provider for a C one: calls it with a fresh sink and takes what it set.
pub(crate) fn credentials_provider(
    f: unsafe extern "C" fn(*mut c_void, *mut jobs_credentials_sink) -> i32,
    ud: UserData,
) -> std::sync::Arc<crate::mqtt::sigv4::CredentialsProvider> {
    std::sync::Arc::new(move || {
        let mut sink = jobs_credentials_sink { provided: None };
        // SAFETY: the contract of jobs_config_set_credentials_provider: a valid function and
        // user data that lives as long as the handle; the sink outlives the call.
        let rc = unsafe { f(ud.ptr(), &mut sink) };
        if rc != 0 {
            return Err(Error::new(
                jobs_result::IncompleteConfig,
                format!("the credentials provider failed (returned {rc})"),
            ));
        }
        sink.provided.take().ok_or_else(|| {
            Error::new(
                jobs_result::IncompleteConfig,
                "the credentials provider returned 0 without a successful jobs_credentials_set",
            )
        })
    })
}

/// The room a key signer gets for one signature, in bytes (an RSA 8192-bit signature is 1024).
pub const JOBS_SIGNATURE_MAX: usize = 2048;

/// Signs the TLS handshake for a key the application holds: sign `message` (`message_len`
/// bytes, not hashed: hash it with the scheme's hash) with `scheme` (a TLS SignatureScheme
/// code point from the list given to `jobs_config_set_key_signer`), write the signature (ECDSA
/// in DER, as TLS wants) into `signature`, which has room for `*signature_len` bytes
/// (`JOBS_SIGNATURE_MAX`), set `*signature_len` to its length and return 0. Any other return
/// value, or a length of 0 or above the room, fails the handshake with `JOBS_RESULT_TLS`; a
/// wrong signature is refused by the server, also a TLS failure. The buffers are valid only
/// during the call. Runs on the library's network thread, which it holds up for every
/// connection: return promptly, and call no iotjobs function. Never called once the
/// connection's free function has returned.
pub type jobs_sign_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        scheme: u16,
        message: *const u8,
        message_len: usize,
        signature: *mut u8,
        signature_len: *mut usize,
    ) -> i32,
>;

/// Sets a key signer for mutual TLS with a private key the library never sees (a secure
/// element, a TPM, an HSM): the certificate chain still comes from `jobs_config_set_cert_file`
/// or `_cert_pem`, and `sign` (see `jobs_sign_fn`) computes the handshake signature, with
/// `user_data`, which must stay valid until the handle is freed. `schemes` lists the TLS
/// SignatureScheme code points the key signs with, in order of preference (1 to 16, one
/// algorithm; copied), for example 0x0804 0x0805 0x0806 (RSA-PSS with SHA-256/384/512; TLS 1.3
/// needs PSS for RSA) then 0x0401 0x0501 0x0601 (RSA PKCS#1), 0x0403 (ECDSA P-256 SHA-256),
/// 0x0503 (ECDSA P-384 SHA-384) or 0x0807 (Ed25519). It excludes a client key
/// (`jobs_config_set_key_file`/`_pem`): a connection made from a config with both fails with
/// `JOBS_RESULT_TLS_CONFIG`. NULL `sign` clears it. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT` (cfg, or schemes with a non-zero count) or `_INVALID_ARGUMENT` (no, too
/// many, unknown or mixed schemes). Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `schemes` NULL or `schemes_len` readable values.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_key_signer(
    cfg: *mut jobs_config,
    schemes: *const u16,
    schemes_len: usize,
    sign: jobs_sign_fn,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let Some(f) = sign else {
            c.conn.tls.key_signer = None;
            return Ok(());
        };
        let codes: &[u16] = match (schemes.is_null(), schemes_len) {
            (_, 0) => &[],
            (true, _) => {
                return Err(Error::new(
                    jobs_result::NullArgument,
                    "schemes is NULL with a non-zero schemes_len",
                ))
            }
            (false, n) => std::slice::from_raw_parts(schemes, n),
        };
        let schemes = rules::validate_signature_schemes(codes)?;
        c.conn.tls.key_signer = Some(crate::mqtt::tls::KeySigner {
            schemes,
            sign: key_signer(f, UserData(user_data)),
        });
        Ok(())
    })
}

type SignFnPtr =
    unsafe extern "C" fn(*mut c_void, u16, *const u8, usize, *mut u8, *mut usize) -> i32;

/// The engine's signer for a C one: a buffer of `JOBS_SIGNATURE_MAX` bytes per signature,
/// and the length the callback reports checked against it.
fn key_signer(f: SignFnPtr, ud: UserData) -> std::sync::Arc<crate::mqtt::tls::SignFn> {
    std::sync::Arc::new(move |scheme, message| {
        let mut signature = vec![0u8; JOBS_SIGNATURE_MAX];
        let mut len = signature.len();
        // SAFETY: the contract of jobs_config_set_key_signer: a valid function and user data
        // that lives as long as the handle; both buffers outlive the call.
        let rc = unsafe {
            f(
                ud.ptr(),
                u16::from(scheme),
                message.as_ptr(),
                message.len(),
                signature.as_mut_ptr(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(format!("the signing callback failed (returned {rc})"));
        }
        if len == 0 || len > JOBS_SIGNATURE_MAX {
            return Err(format!(
                "the signing callback reported a signature of {len} bytes: it must be 1 to {JOBS_SIGNATURE_MAX}"
            ));
        }
        signature.truncate(len);
        Ok(signature)
    })
}

/// Where a certificate provider puts the PEM it hands over, with `jobs_pem_set`. Owned by
/// the library and valid only during the provider call.
pub struct jobs_pem_sink {
    provided: Option<(PemSource, Option<PemSource>)>,
}

/// Asked for the client certificate (chain) and key as PEM when the connection is created
/// and before every connection attempt, so a rotated certificate is used from the next
/// reconnect on. Call `jobs_pem_set(sink, ...)` and return 0; any other return value, or
/// returning without a successful `jobs_pem_set`, fails with `JOBS_RESULT_TLS_CONFIG`: from
/// `jobs_connection_new` at creation, else as a `JOBS_EVENT_KIND_CONNECT_FAILED` event and
/// the usual retry. At creation it runs on the caller's thread; before an attempt on the
/// library's network thread, which it holds up for every connection: return promptly, and
/// call no iotjobs function but `jobs_pem_set`. Never called once the connection's free
/// function has returned.
pub type jobs_pem_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, sink: *mut jobs_pem_sink) -> i32>;

/// Hands the client certificate chain (leaf first) and its private key, as PEM, to the
/// library from inside a certificate provider: copied (the caller's buffers may be wiped or
/// freed once this returns), the key copy wiped before it is freed. `key_pem` NULL with
/// `key_len` 0 means no key: a key signer (`jobs_config_set_key_signer`) stands for it.
/// They are parsed when the TLS configuration is built, right after the provider returns.
/// A later successful call replaces an earlier one; a failed one leaves nothing set.
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (sink, cert_pem, or key_pem with a non-zero
/// length) or `_INVALID_ARGUMENT` (empty, or over 1 MiB each).
///
/// # Safety
/// `sink` is NULL or the sink of the running provider call; `cert_pem` NULL or `cert_len`
/// readable bytes; `key_pem` NULL or `key_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_pem_set(
    sink: *mut jobs_pem_sink,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> jobs_result {
    guard(|| {
        let sink = handle_mut(sink, "sink")?;
        sink.provided = None;
        let cert = PemSource::memory_capped(bytes_arg(cert_pem, cert_len, "cert_pem")?)?;
        let key = match (key_pem.is_null(), key_len) {
            (true, 0) => None,
            _ => Some(PemSource::memory_capped(bytes_arg(
                key_pem, key_len, "key_pem",
            )?)?),
        };
        sink.provided = Some((cert, key));
        Ok(())
    })
}

/// Sets a certificate provider (see `jobs_pem_fn`): the client certificate and key are
/// asked from `provider`, with `user_data` (valid until the handle is freed), instead of
/// being set once; this is how a certificate rotated by the application is picked up (files
/// set with `jobs_config_set_cert_file`/`_key_file` are read again before every reconnect
/// too). It excludes the certificate and key setters: a connection made from a config with
/// both fails with `JOBS_RESULT_TLS_CONFIG`. NULL `provider` clears it. Returns
/// `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_cert_provider(
    cfg: *mut jobs_config,
    provider: jobs_pem_fn,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        c.conn.tls.pem_provider = provider.map(|f| pem_provider(f, UserData(user_data)));
        Ok(())
    })
}

/// The engine's certificate provider for a C one: calls it with a fresh sink and takes what
/// it set.
fn pem_provider(
    f: unsafe extern "C" fn(*mut c_void, *mut jobs_pem_sink) -> i32,
    ud: UserData,
) -> crate::mqtt::tls::PemProvider {
    crate::mqtt::tls::PemProvider(std::sync::Arc::new(move || {
        let mut sink = jobs_pem_sink { provided: None };
        // SAFETY: the contract of jobs_config_set_cert_provider: a valid function and user
        // data that lives as long as the handle; the sink outlives the call.
        let rc = unsafe { f(ud.ptr(), &mut sink) };
        if rc != 0 {
            return Err(format!("it failed (returned {rc})"));
        }
        sink.provided
            .take()
            .ok_or_else(|| "it returned 0 without a successful jobs_pem_set".to_owned())
    }))
}

/// Where a PKCS#11 key is, for `jobs_config_set_pkcs11`. Initialize with
/// `jobs_pkcs11_args_init`. Everything is borrowed only for the `jobs_config_set_pkcs11` call
/// (the library copies it), so it may live on the caller's stack.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_pkcs11_args {
    /// `sizeof(jobs_pkcs11_args)`, set by the init function.
    pub struct_size: usize,
    /// Path of the PKCS#11 module (shared library), 1 to 4096 bytes, for example
    /// "/usr/lib/softhsm/libsofthsm2.so".
    pub module_path: *const c_char,
    /// The slot whose token holds the key, used when `has_slot_id` is true.
    pub slot_id: u64,
    /// True: the token is the one in slot `slot_id`; false: the one labelled `token_label`.
    pub has_slot_id: bool,
    /// The token's label (1 to 32 bytes), or NULL when `has_slot_id` is true.
    pub token_label: *const c_char,
    /// The user PIN, 1 to 255 bytes.
    pub user_pin: *const c_char,
    /// The private key's label (`CKA_LABEL`), 1 to 32 bytes.
    pub key_label: *const c_char,
    /// The private key's id (`CKA_ID`), `key_id_len` bytes (at most 255), or NULL with 0 for
    /// none: needed only when several keys share the label.
    pub key_id: *const u8,
    pub key_id_len: usize,
}

/// Sets `args` to empty values (NULL strings, no slot id, no key id) and its `struct_size`.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_pkcs11_args_init(args: *mut jobs_pkcs11_args) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_pkcs11_args {
            struct_size: size,
            module_path: std::ptr::null(),
            slot_id: 0,
            has_slot_id: false,
            token_label: std::ptr::null(),
            user_pin: std::ptr::null(),
            key_label: std::ptr::null(),
            key_id: std::ptr::null(),
            key_id_len: 0,
        })
    })
}

/// Sets mutual TLS with a private key that stays in a PKCS#11 token: the certificate chain
/// comes from `jobs_config_set_cert_file` or `_cert_pem` or, when neither is set, from the
/// token's certificate object with the key's label (and id); the handshake signature from
/// the token. Everything in `args` is checked and copied here; the copy of the PIN is wiped
/// when the config (and every connection made from it) is freed. This call does not block: the
/// token is opened by `jobs_connection_new` (or the jobs client's new), which blocks while it
/// loads the module, finds the token, logs in and finds the key, and fails with
/// `JOBS_RESULT_TLS_CONFIG` and a message saying which step failed (no such module or not a
/// PKCS#11 module, no such slot or token label, the PIN is incorrect, no key with that label,
/// an unsupported key type). The handshake signatures are then made on the library's network
/// thread; a token that fails later (removed) fails that handshake with `JOBS_RESULT_TLS` and
/// the next attempt opens a new session. It excludes a client key (`jobs_config_set_key_file`
/// /`_pem`), a key signer and a certificate provider: a connection made from a config with
/// both fails with `JOBS_RESULT_TLS_CONFIG`. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (cfg,
/// args, module_path, user_pin, key_label, token_label without a slot id, key_id with a
/// non-zero length), `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8` or `_INVALID_ARGUMENT` (empty or
/// oversized values, both or neither of slot id and token label, or a library built without
/// the cargo feature `pkcs11`).
///
/// # Safety
/// `cfg` is NULL or a live config; `args` NULL or an initialized `jobs_pkcs11_args` whose
/// strings are NULL or NUL-terminated and whose `key_id` is NULL or `key_id_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_pkcs11(
    cfg: *mut jobs_config,
    args: *const jobs_pkcs11_args,
) -> jobs_result {
    guard(|| {
        let c = cfg_mut(cfg)?;
        let a = args_arg(args, "args")?;
        let module_path = str_arg(a.module_path, "module_path")?;
        let token_label = if a.has_slot_id {
            opt_str_arg(a.token_label, "token_label")?
        } else {
            Some(str_arg(a.token_label, "token_label")?)
        };
        let user_pin = str_arg(a.user_pin, "user_pin")?;
        let key_label = str_arg(a.key_label, "key_label")?;
        let key_id = bytes_arg(a.key_id, a.key_id_len, "key_id")?;
        c.conn.tls.pkcs11 = Some(crate::mqtt::pkcs11::Pkcs11Settings::new(
            module_path,
            a.has_slot_id.then_some(a.slot_id),
            token_label,
            user_pin,
            key_label,
            Some(key_id),
        )?);
        Ok(())
    })
}
