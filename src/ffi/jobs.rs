//! `jobs_client`: the jobs client of one thing, and the jobs request functions.

use super::config::jobs_config;
use super::connection::{ack_completion, connection_config, jobs_ack_callback, jobs_connection};
use super::message::jobs_message;
use super::{
    copy_out, details_arg, enum_arg, guard, guard_or, handle_arg, opt_str_arg, step_timeout_arg,
    str_arg, write_out, UserData,
};
use crate::error::{jobs_result, Error, Result};
use crate::jobs::client::{JobsClient, JobsHandler};
use crate::jobs::event::JobsEvent;
use crate::jobs::payload::UpdateRequest;
use crate::jobs::topics;
use crate::jobs::types::{ExecutionStatus, ReplyType, TopicType};
use crate::jobs::validate::validate_thing_name;
use crate::mqtt::config::validate_qos;
use crate::mqtt::connection::Connection;
use crate::mqtt::types::Submitted;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// The C names of the jobs enums, for Rust code written against the C API.
pub use crate::jobs::types::{
    ExecutionStatus as jobs_status, ReplyType as jobs_reply_type, TopicType as jobs_topic_type,
};

/// Called for each message on a jobs subscription (on the callback thread, in arrival order).
/// `message` is borrowed: read it with the `jobs_message_*` functions until the callback
/// returns; never free it. Only messages for this client's thing arrive here.
pub type jobs_message_handler =
    Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const jobs_message)>;

/// The jobs client of one thing. Create with `jobs_client_new` (own connection) or
/// `jobs_client_new_with_connection` (shared); free with `jobs_client_free`. Internally
/// synchronized: every function may be called from any thread and from any callback.
pub struct jobs_client {
    pub(crate) client: JobsClient,
    conn_handle: Box<jobs_connection>,
}

fn client_arg<'a>(c: *const jobs_client) -> Result<&'a JobsClient> {
    // SAFETY: the header's contract: NULL or a live jobs client.
    unsafe { handle_arg(c, "client").map(|c| &c.client) }
}

fn topic_type_arg(v: u32) -> Result<TopicType> {
    enum_arg::<TopicType>(v, "topic_type")
}

fn reply_type_arg(v: u32) -> Result<ReplyType> {
    enum_arg::<ReplyType>(v, "reply_type")
}

fn jobs_handler(cb: jobs_message_handler, ud: UserData) -> Result<JobsHandler> {
    let f = cb.ok_or_else(|| Error::new(jobs_result::NullArgument, "callback is NULL"))?;
    Ok(Arc::new(move |event: &Arc<JobsEvent>| {
        let view = jobs_message::new(event);
        unsafe { f(ud.ptr(), &view) }
    }))
}

fn deliver(out: *mut u32, s: Submitted) {
    // SAFETY: the header's contract: NULL or writable.
    unsafe { write_out(out, s.delivery().as_u32()) }
}

fn new_client(
    conn: Connection,
    owns: bool,
    thing: &str,
    token: Option<&str>,
    qos: u8,
) -> Result<*mut jobs_client> {
    let client = JobsClient::new(conn.clone(), owns, thing, token, qos)?;
    let conn_handle = Box::new(jobs_connection { conn });
    Ok(Box::into_raw(Box::new(jobs_client {
        client,
        conn_handle,
    })))
}

/// Sets the thing name used by `jobs_client_new` (copied; 1–128 characters from
/// `[a-zA-Z0-9:_-]`). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8` or
/// `_INVALID_THING_NAME`.
///
/// # Safety
/// `cfg` is NULL or a live config; `thing_name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_thing_name(
    cfg: *mut jobs_config,
    thing_name: *const c_char,
) -> jobs_result {
    guard(|| {
        let c = super::handle_mut(cfg, "config")?;
        let name = str_arg(thing_name, "thing_name")?;
        validate_thing_name(name)?;
        c.thing_name = Some(name.to_owned());
        Ok(())
    })
}

/// Sets the QoS (0 or 1, default 0 as in the SDK) `jobs_client_new` uses for every jobs
/// subscribe and publish. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` or `_INVALID_ARGUMENT`.
///
/// # Safety
/// `cfg` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_jobs_qos(cfg: *mut jobs_config, qos: u32) -> jobs_result {
    guard(|| {
        let c = super::handle_mut(cfg, "config")?;
        c.jobs_qos = validate_qos(qos)?;
        Ok(())
    })
}

/// Creates a jobs client with its own connection (the SDK constructor without
/// `awsIoTMQTTClient`): the connection settings, callbacks, thing name and jobs QoS come from
/// `cfg` (copied), and the client id is also the `clientToken` of every request (as in the
/// SDK; a generated id when empty, with an empty token like the SDK's). Does not connect: call
/// `jobs_client_connect`. On success `*out` owns the client: free it with `jobs_client_free`,
/// which also closes the connection. On error `*out` is untouched. Returns `JOBS_RESULT_OK`,
/// `_NULL_ARGUMENT`, `_INCOMPLETE_CONFIG` (no thing name or endpoint), `_INVALID_THING_NAME`,
/// `_INVALID_ARGUMENT`, `_INVALID_TOPIC` or `_TLS_CONFIG`. Does not block on the network.
///
/// # Safety
/// `cfg` is NULL or a live config; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_new(
    cfg: *const jobs_config,
    out: *mut *mut jobs_client,
) -> jobs_result {
    guard(|| {
        let cfg = handle_arg(cfg, "config")?;
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        let thing = cfg.thing_name.clone().ok_or_else(|| {
            Error::new(
                jobs_result::IncompleteConfig,
                "no thing name set (jobs_config_set_thing_name)",
            )
        })?;
        let token = cfg.conn.client_id.clone();
        let conn = Connection::new(
            connection_config(cfg)?,
            super::connection::callbacks_from(cfg),
        )?;
        match new_client(conn.clone(), true, &thing, Some(&token), cfg.jobs_qos) {
            Ok(c) => {
                write_out(out, c);
                Ok(())
            }
            Err(e) => {
                conn.close();
                Err(e)
            }
        }
    })
}

/// Creates a jobs client for `thing_name` over an existing connection (the SDK's
/// `awsIoTMQTTClient` argument), so several things share one connection. `client_token`
/// (copied; NULL or at most 64 bytes) goes in every request; `qos` (0 or 1) is used for every
/// jobs subscribe and publish. The caller connects the connection and keeps it alive until all
/// its jobs clients are freed; freeing this client never closes it. On success `*out` owns the
/// client: free it with `jobs_client_free`. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_UTF8`, `_INVALID_THING_NAME`, `_INVALID_CLIENT_TOKEN` or `_INVALID_ARGUMENT`.
/// Does not block.
///
/// # Safety
/// `conn` NULL or a live connection; strings NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_new_with_connection(
    conn: *mut jobs_connection,
    thing_name: *const c_char,
    client_token: *const c_char,
    qos: u32,
    out: *mut *mut jobs_client,
) -> jobs_result {
    guard(|| {
        let conn = handle_arg(conn, "connection")?.conn.clone();
        let thing = str_arg(thing_name, "thing_name")?;
        let token = opt_str_arg(client_token, "client_token")?;
        if out.is_null() {
            return Err(Error::new(jobs_result::NullArgument, "out is NULL"));
        }
        write_out(
            out,
            new_client(conn, false, thing, token, validate_qos(qos)?)?,
        );
        Ok(())
    })
}

/// Frees a jobs client. NULL is a no-op; freeing twice is undefined. Once this returns, none of
/// its callbacks runs and their user data is no longer touched (called from inside one of its
/// callbacks, the running callback finishes and nothing runs after it). A client with its own
/// connection closes it; on a shared connection its subscriptions are removed and the
/// connection keeps running. Blocks only while one of its callbacks is running.
///
/// # Safety
/// `client` is NULL or a live jobs client not used by other threads during or after the call.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_free(client: *mut jobs_client) {
    guard_or((), || {
        if !client.is_null() {
            let c = Box::from_raw(client);
            c.client.close();
        }
    })
}

/// Returns the client's connection, borrowed (the SDK's `getMQTTConnection`): use it with any
/// `jobs_connection_*` function, but never free it; it is valid until `jobs_client_free`.
/// NULL for a NULL client.
///
/// # Safety
/// `client` is NULL or a live jobs client.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_connection(client: *mut jobs_client) -> *mut jobs_connection {
    guard_or(std::ptr::null_mut(), || match client.as_mut() {
        Some(c) => &mut *c.conn_handle as *mut jobs_connection,
        None => std::ptr::null_mut(),
    })
}

/// Connects the client's connection and waits for CONNACK: `jobs_connection_connect` on
/// `jobs_client_connection(client)`, with the same results. Blocks; safe in a callback.
///
/// # Safety
/// `client` is NULL or a live jobs client.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_connect(client: *mut jobs_client) -> jobs_result {
    guard(|| client_arg(client)?.connection().connect())
}

/// Disconnects the client's connection: `jobs_connection_disconnect`, same results. Blocks.
///
/// # Safety
/// `client` is NULL or a live jobs client.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_disconnect(client: *mut jobs_client) -> jobs_result {
    guard(|| client_arg(client)?.connection().disconnect())
}

/// Subscribes to a jobs topic of this thing and waits for SUBACK (the SDK's
/// `createJobSubscription`). The filter is built as the SDK's `getJobTopic(topic_type,
/// reply_type, job_id)`: `job_id` (NULL for none) may be `+` (any job) or, for describe,
/// `$next`. `callback` (required) receives each matching message with `user_data`; the
/// subscription is re-made after reconnects. Offline, the request is queued
/// (`*delivery_out = JOBS_DELIVERY_QUEUED`). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_UTF8`, `_INVALID_ARGUMENT` (enum values), `_INVALID_TOPIC_COMBINATION` (where
/// the SDK builds topic `None`), `_INVALID_JOB_ID`, `_SUBSCRIBE_REFUSED`, `_TIMEOUT`,
/// `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Blocks; safe in a callback (unlike
/// the SDK, where this deadlocks).
///
/// # Safety
/// `client` NULL or live; `job_id` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_create_subscription(
    client: *mut jobs_client,
    topic_type: u32,
    reply_type: u32,
    job_id: *const c_char,
    callback: jobs_message_handler,
    user_data: *mut c_void,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let (t, r) = (topic_type_arg(topic_type)?, reply_type_arg(reply_type)?);
        let job = opt_str_arg(job_id, "job_id")?;
        let h = jobs_handler(callback, UserData(user_data))?;
        let granted = c.create_subscription(t, r, job, h)?;
        deliver(
            delivery_out,
            if granted.is_some() {
                Submitted::Sent { packet_id: 0 }
            } else {
                Submitted::Queued
            },
        );
        Ok(())
    })
}

/// Subscribes without waiting (the SDK's `createJobSubscriptionAsync`). `ack` (may be NULL)
/// runs once with the SUBSCRIBE packet id and the granted QoS (0x80 and
/// `JOBS_RESULT_SUBSCRIBE_REFUSED` when refused); `*packet_id_out` gets the packet id (0 when
/// queued). Returns the codes of `jobs_create_subscription` except `_SUBSCRIBE_REFUSED` and
/// `_TIMEOUT`. Does not block.
///
/// # Safety
/// As `jobs_create_subscription`; `packet_id_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_create_subscription_async(
    client: *mut jobs_client,
    topic_type: u32,
    reply_type: u32,
    job_id: *const c_char,
    callback: jobs_message_handler,
    user_data: *mut c_void,
    ack: jobs_ack_callback,
    ack_user_data: *mut c_void,
    packet_id_out: *mut u16,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let (t, r) = (topic_type_arg(topic_type)?, reply_type_arg(reply_type)?);
        let job = opt_str_arg(job_id, "job_id")?;
        let h = jobs_handler(callback, UserData(user_data))?;
        // The client's own gate: after jobs_client_free no ack of its requests runs.
        let completion = ack_completion(ack, UserData(ack_user_data), &c.gate());
        let s = c.create_subscription_async(t, r, job, h, completion)?;
        write_out(packet_id_out, s.packet_id());
        deliver(delivery_out, s);
        Ok(())
    })
}

/// Removes a subscription made with `jobs_create_subscription[_async]` (same topic type,
/// reply type and job id) and waits for UNSUBACK. Its callback stops at once. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_ARGUMENT`,
/// `_INVALID_TOPIC_COMBINATION`, `_INVALID_JOB_ID`, `_TIMEOUT`, `_QUEUE_FULL`,
/// `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Blocks; safe in a callback.
///
/// # Safety
/// `client` NULL or live; `job_id` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_unsubscribe(
    client: *mut jobs_client,
    topic_type: u32,
    reply_type: u32,
    job_id: *const c_char,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let (t, r) = (topic_type_arg(topic_type)?, reply_type_arg(reply_type)?);
        let s = c.unsubscribe(t, r, opt_str_arg(job_id, "job_id")?)?;
        deliver(delivery_out, s);
        Ok(())
    })
}

/// Receives every message on this thing's jobs topics that no subscription matched — AWS
/// delivers replies to the requester even without a subscription. NULL `callback` removes it.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `client` NULL or a live jobs client.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_set_fallback_callback(
    client: *mut jobs_client,
    callback: jobs_message_handler,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let h = match callback {
            Some(_) => Some(jobs_handler(callback, UserData(user_data))?),
            None => None,
        };
        c.set_fallback(h)
    })
}

/// Sets the callback for this thing's notify-next (`JOBS_TOPIC_TYPE_NOTIFY_NEXT`: the next
/// pending execution changed; `jobs_message_has_execution` false when none is left) or notify
/// (`JOBS_TOPIC_TYPE_NOTIFY`: the pending list changed; read it with
/// `jobs_message_pending_count`) messages. The library makes and keeps the subscription: per
/// thing, or, on a connection shared by many things, one for all of them, within AWS IoT's
/// limits. The callback runs on the callback thread, never after `jobs_client_free` returns;
/// the message is borrowed until it returns. NULL `callback` removes it. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_ARGUMENT` (another topic type), `_QUEUE_FULL`,
/// `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Does not block.
///
/// # Safety
/// `client` NULL or a live jobs client; `callback` NULL or safe to call from the callback
/// thread with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn jobs_client_set_event_callback(
    client: *mut jobs_client,
    topic_type: u32,
    callback: jobs_message_handler,
    user_data: *mut c_void,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let t = topic_type_arg(topic_type)?;
        let h = match callback {
            Some(_) => Some(jobs_handler(callback, UserData(user_data))?),
            None => None,
        };
        c.set_event_handler(t, h)
    })
}

/// The SDK's `sendJobsQuery`: publishes `{"clientToken":...}` to the request topic of
/// `topic_type`: GET_PENDING (no job id), START_NEXT (no job id) or DESCRIBE (`job_id`
/// required, may be `$next`). With QoS 1 it waits for PUBACK (operation timeout); offline it is
/// queued. Refused, where the SDK would publish something broken: wildcards, notify topics,
/// UPDATE (needs a status: use `jobs_send_update`). Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`,
/// `_INVALID_UTF8`, `_INVALID_ARGUMENT`, `_INVALID_TOPIC_COMBINATION`, `_INVALID_JOB_ID`,
/// `_INVALID_CLIENT_TOKEN`, `_TIMEOUT`, `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`.
/// Blocks for QoS 1; safe in a callback.
///
/// # Safety
/// `client` NULL or live; `job_id` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_send_query(
    client: *mut jobs_client,
    topic_type: u32,
    job_id: *const c_char,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let s = c.send_query(topic_type_arg(topic_type)?, opt_str_arg(job_id, "job_id")?)?;
        deliver(delivery_out, s);
        Ok(())
    })
}

/// StartNextPendingJobExecution (the SDK's `sendJobsStartNext`). `status_details` is NULL or a
/// JSON object of string values (at most 10 pairs; keys `[a-zA-Z0-9:_-]{1,128}`, values 1–1024
/// characters matching AWS's `[^\p{C}]+`: no control, format, private-use or unassigned
/// characters); `{}` is sent as `{}` like the SDK.
/// `step_timeout_minutes` is 0 for none, else 1–10080. Waits for PUBACK with QoS 1; queued
/// offline. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`,
/// `_INVALID_STATUS_DETAILS`, `_INVALID_ARGUMENT` (step timeout), `_TIMEOUT`, `_QUEUE_FULL`,
/// `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Blocks for QoS 1; safe in a callback.
///
/// # Safety
/// `client` NULL or live; `status_details` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_send_start_next(
    client: *mut jobs_client,
    status_details: *const c_char,
    step_timeout_minutes: i64,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let details = details_arg(status_details)?;
        let s = c.send_start_next(details.as_ref(), step_timeout_arg(step_timeout_minutes))?;
        deliver(delivery_out, s);
        Ok(())
    })
}

/// UpdateJobExecution (the SDK's `sendJobsUpdate`), with the SDK's payload: `expectedVersion`
/// and `executionNumber` are sent as JSON strings when > 0 (AWS accepts this); an empty
/// `status_details` `{}` is not sent; the include flags are sent only when true.
/// `status` must be one a device may set: IN_PROGRESS, FAILED, SUCCEEDED or REJECTED
/// (deliberate difference: the SDK sends QUEUED/CANCELED, which AWS rejects, and an empty
/// payload for NOT_SET/UNKNOWN). `step_timeout_minutes`: 0 none, -1 cancels the step timer,
/// else 1–10080. `job_id` must be a real job id (not `$next` or `+`). A `status` that is no
/// `jobs_status` value at all is `JOBS_RESULT_INVALID_ARGUMENT`. Waits for PUBACK with
/// QoS 1; queued offline. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`,
/// `_INVALID_JOB_ID`, `_INVALID_STATUS`, `_INVALID_ARGUMENT`, `_INVALID_STATUS_DETAILS`,
/// `_TIMEOUT`, `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`. Blocks for QoS 1; safe
/// in a callback.
///
/// # Safety
/// `client` NULL or live; strings NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_send_update(
    client: *mut jobs_client,
    job_id: *const c_char,
    status: u32,
    status_details: *const c_char,
    expected_version: u64,
    execution_number: u64,
    include_job_execution_state: bool,
    include_job_document: bool,
    step_timeout_minutes: i64,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let job = str_arg(job_id, "job_id")?;
        let status = enum_arg::<ExecutionStatus>(status, "status")?;
        let details = details_arg(status_details)?;
        let req = UpdateRequest {
            status,
            details: details.as_ref(),
            expected_version,
            execution_number,
            include_job_execution_state,
            include_job_document,
            step_timeout: step_timeout_arg(step_timeout_minutes),
        };
        let s = c.send_update(job, &req)?;
        deliver(delivery_out, s);
        Ok(())
    })
}

/// DescribeJobExecution (the SDK's `sendJobsDescribe`): `job_id` is a job id or `$next`;
/// `execution_number` 0 means the latest (sent as a JSON integer when > 0, like the SDK);
/// `include_job_document` is always sent (the SDK's default is true). Waits for PUBACK with
/// QoS 1; queued offline. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`,
/// `_INVALID_JOB_ID`, `_TIMEOUT`, `_QUEUE_FULL`, `_QUEUE_DISABLED`, `_BUSY` or `_CLOSED`.
/// Blocks for QoS 1; safe in a callback.
///
/// # Safety
/// `client` NULL or live; `job_id` NULL or NUL-terminated; `delivery_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_send_describe(
    client: *mut jobs_client,
    job_id: *const c_char,
    execution_number: u64,
    include_job_document: bool,
    delivery_out: *mut u32,
) -> jobs_result {
    guard(|| {
        let c = client_arg(client)?;
        let s = c.send_describe(
            str_arg(job_id, "job_id")?,
            execution_number,
            include_job_document,
        )?;
        deliver(delivery_out, s);
        Ok(())
    })
}

/// Builds a jobs topic or filter exactly as the SDK's `getJobTopic(thing_name, topic_type,
/// reply_type, job_id)` into `buf` (NUL-terminated, truncated to `len`), with `*needed_out` set
/// to its length (without NUL) when not NULL; the longest is 226 bytes. Returns
/// `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8`, `_INVALID_ARGUMENT`,
/// `_INVALID_THING_NAME`, `_INVALID_JOB_ID`, `_INVALID_TOPIC_COMBINATION` or
/// `_INVALID_ARGUMENT` when `buf` is too small (then `*needed_out` tells the size). Pure: no
/// client needed, does not block.
///
/// # Safety
/// Strings NULL or NUL-terminated; `buf` NULL or valid for `len` bytes; `needed_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_topic_build(
    thing_name: *const c_char,
    topic_type: u32,
    reply_type: u32,
    job_id: *const c_char,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
) -> jobs_result {
    guard(|| {
        let thing = str_arg(thing_name, "thing_name")?;
        let (t, r) = (topic_type_arg(topic_type)?, reply_type_arg(reply_type)?);
        let job = opt_str_arg(job_id, "job_id")?;
        let topic =
            topics::build_topic(thing, t, r, job).map_err(crate::jobs::client::topic_error)?;
        write_out(needed_out, topic.len());
        if buf.is_null() || len <= topic.len() {
            return Err(Error::new(
                jobs_result::InvalidArgument,
                format!(
                    "buffer of {len} bytes cannot hold the {}-byte topic and its NUL",
                    topic.len()
                ),
            ));
        }
        copy_out(&topic, buf, len);
        Ok(())
    })
}

/// Takes a concrete jobs topic apart: `*topic_type_out` and `*reply_type_out` get its types,
/// `thing_buf` the thing name and `job_id_buf` the job id (empty when none), each
/// NUL-terminated and truncated to its length (129 and 65 bytes always suffice). Any output
/// may be NULL. Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT`, `_INVALID_UTF8` or `_INVALID_TOPIC`
/// (not a jobs topic of the AWS API, or a filter). Pure; does not block.
///
/// # Safety
/// `topic` NULL or NUL-terminated; buffers NULL or valid for their lengths; outs NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_topic_parse(
    topic: *const c_char,
    topic_type_out: *mut u32,
    reply_type_out: *mut u32,
    thing_buf: *mut c_char,
    thing_len: usize,
    job_id_buf: *mut c_char,
    job_id_len: usize,
) -> jobs_result {
    guard(|| {
        let topic = str_arg(topic, "topic")?;
        let p = topics::parse_topic(topic).ok_or_else(|| {
            Error::new(
                jobs_result::InvalidTopic,
                format!("'{topic}' is not an AWS IoT Jobs topic"),
            )
        })?;
        write_out(topic_type_out, p.topic_type.as_u32());
        write_out(reply_type_out, p.reply_type.as_u32());
        copy_out(&p.thing, thing_buf, thing_len);
        copy_out(p.job_id.as_deref().unwrap_or(""), job_id_buf, job_id_len);
        Ok(())
    })
}
