//! A setting refused by a C setter is refused with the code and message of the rule that owns
//! it (`mqtt::config`, `jobs::validate`): the FFI adds nothing but pointer, UTF-8 and enum
//! checks. And `ConnectionConfig::validate` applies the same rules to a config built in Rust.

use iotjobs::error::{jobs_result, Error};
use iotjobs::ffi::config::*;
use iotjobs::ffi::jobs::*;
use iotjobs::ffi::jobs_last_error_message;
use iotjobs::jobs::validate;
use iotjobs::mqtt::config::{self as rules, ConnectionConfig};
use std::ffi::c_char;
use std::ptr;
use std::time::Duration;

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 1024];
    let n = unsafe { jobs_last_error_message(buf.as_mut_ptr(), buf.len()) };
    let bytes: Vec<u8> = buf[..n.min(1023)].iter().map(|&c| c as u8).collect();
    String::from_utf8(bytes).unwrap()
}

/// Asserts that a failed call reported exactly `expected` (code, and message as C sees it).
fn assert_reported(rc: jobs_result, expected: Error) {
    assert_eq!(rc, expected.code, "{}", last_error());
    assert_eq!(last_error(), expected.to_string());
}

#[test]
fn c_setters_report_the_rule_owners_errors() {
    unsafe {
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        let long_host = format!("{}\0", "h".repeat(254));
        assert_reported(
            jobs_config_set_endpoint(cfg, long_host.as_ptr() as *const c_char, 1883),
            rules::validate_host(&long_host[..254]).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_endpoint(cfg, c"h".as_ptr(), 0),
            rules::validate_port(0).unwrap_err(),
        );
        let long_id = format!("{}\0", "c".repeat(129));
        assert_reported(
            jobs_config_set_client_id(cfg, long_id.as_ptr() as *const c_char),
            rules::validate_client_id(&long_id[..129]).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_username_password(cfg, ptr::null(), c"p".as_ptr()),
            rules::validate_login(None, Some("p")).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_last_will(cfg, c"w".as_ptr(), ptr::null(), 0, 2, false),
            rules::validate_qos(2).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_last_will(cfg, c"w/#".as_ptr(), ptr::null(), 0, 0, false),
            rules::LastWill::new("w/#", b"", 0, false).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_timeouts(cfg, 3_600_001, 1000),
            rules::validate_timeout("connect timeout", Duration::from_millis(3_600_001))
                .unwrap_err(),
        );
        assert_reported(
            jobs_config_set_max_packet_size(cfg, 127),
            rules::validate_max_packet_size(127).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_draining_rate(cfg, -1.0),
            rules::validate_drain_rate(-1.0).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_offline_queue(cfg, -2, jobs_drop_policy::DropNewest.as_u32()),
            rules::queue_limit(-2).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_jobs_qos(cfg, 7),
            rules::validate_qos(7).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_thing_name(cfg, c"my thing".as_ptr()),
            validate::validate_thing_name("my thing")
                .unwrap_err()
                .into(),
        );
        // PKCS#11 settings: the rules of Pkcs11Settings::new (in a build without the feature
        // `pkcs11`, its refusal naming the feature).
        let mut a = std::mem::zeroed::<jobs_pkcs11_args>();
        assert_eq!(jobs_pkcs11_args_init(&mut a), jobs_result::Ok);
        a.module_path = c"/m.so".as_ptr();
        a.token_label = c"iotjobs".as_ptr();
        a.user_pin = c"1234".as_ptr();
        a.key_label = c"".as_ptr();
        assert_reported(
            jobs_config_set_pkcs11(cfg, &a),
            iotjobs::mqtt::pkcs11::Pkcs11Settings::new(
                "/m.so",
                None,
                Some("iotjobs"),
                "1234",
                "",
                None,
            )
            .unwrap_err(),
        );
        // Enum ranges are the FFI's own check, with one message for every enum.
        assert_eq!(
            jobs_config_set_log(cfg, None, 5),
            jobs_result::InvalidArgument
        );
        assert_eq!(
            last_error(),
            "invalid argument: level: 5 is not a jobs_log_level value"
        );
        assert_eq!(
            jobs_config_set_protocol(cfg, 2),
            jobs_result::InvalidArgument
        );
        assert_eq!(
            last_error(),
            "invalid argument: protocol: 2 is not a jobs_protocol value"
        );
        jobs_config_free(cfg);
    }
}

#[test]
fn rust_built_configs_meet_the_same_rules() {
    let base = ConnectionConfig {
        host: "127.0.0.1".into(),
        port: 1883,
        transport: jobs_transport::Tcp,
        client_id: "dev".into(),
        ..ConnectionConfig::default()
    };
    assert!(base.clone().validate().is_ok());
    let cases = [
        (
            ConnectionConfig {
                max_packet_size: 127,
                ..base.clone()
            },
            rules::validate_max_packet_size(127),
        ),
        (
            ConnectionConfig {
                operation_timeout: Duration::ZERO,
                ..base.clone()
            },
            rules::validate_timeout("operation timeout", Duration::ZERO),
        ),
        (
            ConnectionConfig {
                drain_rate_hz: f64::NAN,
                ..base.clone()
            },
            rules::validate_drain_rate(f64::NAN),
        ),
        (
            ConnectionConfig {
                password: Some("p".into()),
                ..base.clone()
            },
            rules::validate_login(None, Some("p")),
        ),
    ];
    for (cfg, expected) in cases {
        assert_eq!(cfg.validate().err(), expected.err());
    }
}

#[test]
fn the_credentials_provider_setter_reports_the_rule_owners_errors() {
    unsafe extern "C" fn provider(_: *mut std::ffi::c_void, _: *mut jobs_credentials_sink) -> i32 {
        1
    }
    unsafe {
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        let long = format!("{}\0", "r".repeat(65));
        assert_reported(
            jobs_config_set_credentials_provider(
                cfg,
                Some(provider),
                ptr::null_mut(),
                long.as_ptr() as *const c_char,
            ),
            rules::validate_provider_settings(Some(&long[..65])).unwrap_err(),
        );
        assert_reported(
            jobs_config_set_credentials_provider(
                cfg,
                Some(provider),
                ptr::null_mut(),
                c"".as_ptr(),
            ),
            rules::validate_provider_settings(Some("")).unwrap_err(),
        );
        jobs_config_free(cfg);
    }
}

#[test]
fn the_key_signer_setter_reports_the_rule_owners_errors() {
    unsafe extern "C" fn sign(
        _: *mut std::ffi::c_void,
        _: u16,
        _: *const u8,
        _: usize,
        _: *mut u8,
        _: *mut usize,
    ) -> i32 {
        1
    }
    unsafe {
        let mut cfg = ptr::null_mut();
        assert_eq!(jobs_config_new(&mut cfg), jobs_result::Ok);
        for schemes in [&[][..], &[0x0201][..], &[0x0403, 0x0807][..]] {
            assert_reported(
                jobs_config_set_key_signer(
                    cfg,
                    schemes.as_ptr(),
                    schemes.len(),
                    Some(sign),
                    ptr::null_mut(),
                ),
                rules::validate_signature_schemes(schemes).unwrap_err(),
            );
        }
        jobs_config_free(cfg);
    }
}
