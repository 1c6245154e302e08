//! `jobs_config_set_custom_authorizer`: AWS IoT custom authentication from C. The rules live
//! in `mqtt::custom_auth` and `mqtt::config`; this only converts the arguments.

use super::config::jobs_config;
use super::{args_arg, bytes_arg, enum_arg, guard, handle_mut, init, opt_str_arg, str_arg};
use crate::error::jobs_result;
use crate::mqtt::custom_auth::{CustomAuthForm, CustomAuthorizer};
use std::ffi::c_char;

/// The C name of the WebSocket form enum, for Rust code written against the C API.
pub use crate::mqtt::custom_auth::CustomAuthForm as jobs_custom_auth_form;

/// A custom authorizer and what the device presents to it, for
/// `jobs_config_set_custom_authorizer`. Initialize with `jobs_custom_authorizer_args_init`.
/// Every pointer is borrowed only for the call (the library copies what it keeps), so the
/// caller may wipe or free its token, signature and password as soon as the call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jobs_custom_authorizer_args {
    /// `sizeof(jobs_custom_authorizer_args)`, set by the init function.
    pub struct_size: usize,
    /// The authorizer's name: 1 to 128 characters of letters, digits and `_ = , @ -`. Required.
    pub authorizer_name: *const c_char,
    /// The name the token is sent under (the authorizer's token key name; same rule as the
    /// name), or NULL with `token` NULL for an authorizer that reads only the username and
    /// password.
    pub token_key_name: *const c_char,
    /// The token: 1 to 4096 bytes of printable ASCII, or NULL (then `token_key_name` is NULL).
    pub token: *const c_char,
    /// The base64 RSA SHA-256 signature of `token` made with the authorizer's private key,
    /// needed when the authorizer has signing enabled; NULL for none.
    pub token_signature: *const c_char,
    /// The MQTT username handed to the authorizer (at most 1024 bytes, no `?`), or NULL.
    pub username: *const c_char,
    /// The MQTT password handed to the authorizer (AWS gives it to the Lambda base64-encoded):
    /// `password_len` bytes, at most 65535. NULL with length 0: no password; non-NULL with
    /// length 0: an empty one.
    pub password: *const u8,
    /// Length of `password` in bytes.
    pub password_len: usize,
    /// On the WebSocket transports, how the name, token and signature travel
    /// (`jobs_custom_auth_form`): as upgrade headers (the default) or URL query parameters.
    pub websocket_form: u32,
}

/// Sets `args` to no authorizer (NULL strings, no password, header form) and its `struct_size`.
/// Returns `JOBS_RESULT_OK` or `_NULL_ARGUMENT`. Does not block.
///
/// # Safety
/// `args` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn jobs_custom_authorizer_args_init(
    args: *mut jobs_custom_authorizer_args,
) -> jobs_result {
    guard(|| {
        init(args, |size| jobs_custom_authorizer_args {
            struct_size: size,
            authorizer_name: std::ptr::null(),
            token_key_name: std::ptr::null(),
            token: std::ptr::null(),
            token_signature: std::ptr::null(),
            username: std::ptr::null(),
            password: std::ptr::null(),
            password_len: 0,
            websocket_form: CustomAuthForm::Headers.as_u32(),
        })
    })
}

/// Authenticates through an AWS IoT custom authorizer instead of a client certificate or
/// SigV4; NULL `args` clears it. Everything is checked and copied now; the config's copies of
/// the token, signature and password are wiped when replaced, cleared or freed.
///
/// On `JOBS_TRANSPORT_TLS` (AWS: port 443) the connection offers ALPN `mqtt` (unless ALPN is
/// set explicitly, which must then include "mqtt"), sends no client certificate, and puts the
/// authorizer in the CONNECT username as AWS reads it:
/// `USERNAME?x-amz-customauthorizer-name=NAME&x-amz-customauthorizer-signature=SIG&KEY=TOKEN`
/// (values URL-encoded); the password is the CONNECT password. On the WebSocket transports the
/// name, signature and token go on the upgrade request (`websocket_form`) and the username and
/// password stay plain in CONNECT; there is no SigV4 signing.
///
/// The authorizer owns the CONNECT login: a connection made from a config that also has
/// `jobs_config_set_username_password`, IAM credentials, a credentials provider or a client
/// certificate/key fails with `JOBS_RESULT_INVALID_ARGUMENT` (from `jobs_connection_new`). A
/// refusal by the authorizer arrives as a failed connect: `JOBS_RESULT_CONNECT_REFUSED`
/// (CONNACK 5, not authorized) over MQTT, `JOBS_RESULT_WEB_SOCKET` (HTTP 401/403) over
/// WebSocket.
///
/// Returns `JOBS_RESULT_OK`, `_NULL_ARGUMENT` (cfg; a NULL authorizer name; a NULL password
/// with a non-zero length), `_INVALID_STRUCT_SIZE`, `_INVALID_UTF8` or `_INVALID_ARGUMENT`
/// (a rule above broken, or an unknown `websocket_form`); on failure the config is unchanged.
/// Does not block.
///
/// # Safety
/// `cfg` is NULL or a live config; `args` NULL or an initialized struct whose strings are NULL
/// or NUL-terminated and whose `password` is valid for `password_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn jobs_config_set_custom_authorizer(
    cfg: *mut jobs_config,
    args: *const jobs_custom_authorizer_args,
) -> jobs_result {
    guard(|| {
        let c = handle_mut(cfg, "config")?;
        if args.is_null() {
            c.conn.custom_authorizer = None;
            return Ok(());
        }
        let a = args_arg(args, "args")?;
        let name = str_arg(a.authorizer_name, "authorizer_name")?;
        let key = opt_str_arg(a.token_key_name, "token_key_name")?;
        let token = opt_str_arg(a.token, "token")?;
        let signature = opt_str_arg(a.token_signature, "token_signature")?;
        let username = opt_str_arg(a.username, "username")?;
        let password = if a.password.is_null() && a.password_len == 0 {
            None
        } else {
            Some(bytes_arg(a.password, a.password_len, "password")?)
        };
        let form = enum_arg(a.websocket_form, "websocket_form")?;
        c.conn.custom_authorizer = Some(CustomAuthorizer::new(
            name, key, token, signature, username, password, form,
        )?);
        Ok(())
    })
}
