//! The `jobs_*_str` functions: each C enum's member names, for logs.
//!
//! The names are the owning enum's own (`as_c_str`, generated with the enum), so they cannot
//! drift from the Rust side.

use super::guard_or;
use std::ffi::{c_char, CStr};

const UNKNOWN: &CStr = c"unknown";

fn name_of<T: TryFrom<u32>>(v: u32, name: impl Fn(T) -> &'static CStr) -> *const c_char {
    T::try_from(v).map_or(UNKNOWN, name).as_ptr()
}

/// The name of a `jobs_status`: the AWS wire name (`"SUCCEEDED"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_status_str(status: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(status, crate::jobs::types::ExecutionStatus::as_c_str)
    })
}

/// The name of a `jobs_topic_type` (`"start_next"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_topic_type_str(topic_type: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(topic_type, crate::jobs::types::TopicType::as_c_str)
    })
}

/// The name of a `jobs_reply_type` (`"accepted"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_reply_type_str(reply_type: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(reply_type, crate::jobs::types::ReplyType::as_c_str)
    })
}

/// The name of a `jobs_rejection_code`: the AWS code (`"VersionMismatch"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_rejection_code_str(code: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(code, crate::jobs::types::RejectionCode::as_c_str)
    })
}

/// The name of a `jobs_offline` (`"fail_fast"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_offline_str(offline: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(offline, crate::jobs::types::Offline::as_c_str)
    })
}

/// The name of a `jobs_agent_event_kind` (`"job_finished"`); `"unknown"` for a value this
/// version does not define. Static: never NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_agent_event_kind_str(kind: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(kind, crate::jobs::types::AgentEventKind::as_c_str)
    })
}

/// The name of a `jobs_resume_policy` (`"resume"`); `"unknown"` for a value this version does
/// not define. Static: never NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_resume_policy_str(policy: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(policy, crate::jobs::types::ResumePolicy::as_c_str)
    })
}

/// The name of a `jobs_event_kind` (`"connection_lost"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_event_kind_str(kind: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(kind, crate::mqtt::types::EventKind::as_c_str)
    })
}

/// The name of a `jobs_connection_state` (`"online"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_connection_state_str(state: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(state, crate::mqtt::types::Status::as_c_str)
    })
}

/// The name of a `jobs_log_level` (`"debug"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_log_level_str(level: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(level, crate::mqtt::types::LogLevel::as_c_str)
    })
}

/// The name of a `jobs_counter` (`"reconnects"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_counter_str(counter: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(counter, crate::mqtt::types::Counter::as_c_str)
    })
}

/// The name of a `jobs_transport` (`"tls"`); `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_transport_str(transport: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(transport, crate::mqtt::types::TransportKind::as_c_str)
    })
}

/// The name of a `jobs_protocol`; `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_protocol_str(protocol: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(protocol, crate::mqtt::types::Protocol::as_c_str)
    })
}

/// The name of a `jobs_drop_policy`; `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_drop_policy_str(policy: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(policy, crate::mqtt::types::DropPolicy::as_c_str)
    })
}

/// The name of a `jobs_delivery`; `"unknown"` for a value this version does not define. Static: never
/// NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_delivery_str(delivery: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(delivery, crate::mqtt::types::Delivery::as_c_str)
    })
}

/// The name of a `jobs_custom_auth_form` (`"headers"`, `"query"`); `"unknown"` for a value this
/// version does not define. Static: never NULL, never freed. Thread-safe; does not block.
#[no_mangle]
pub extern "C" fn jobs_custom_auth_form_str(form: u32) -> *const c_char {
    guard_or(UNKNOWN.as_ptr(), || {
        name_of(form, crate::mqtt::custom_auth::CustomAuthForm::as_c_str)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: *const c_char) -> &'static str {
        // SAFETY: the functions return static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn every_member_has_its_name_and_other_values_are_unknown() {
        use crate::jobs::types::*;
        use crate::mqtt::types::*;
        assert_eq!(
            text(jobs_status_str(ExecutionStatus::Succeeded.as_u32())),
            "SUCCEEDED"
        );
        assert_eq!(
            text(jobs_rejection_code_str(
                RejectionCode::VersionMismatch.as_u32()
            )),
            "VersionMismatch"
        );
        assert_eq!(
            text(jobs_event_kind_str(EventKind::ConnectionLost.as_u32())),
            EventKind::ConnectionLost.as_str()
        );
        for s in ExecutionStatus::ALL {
            assert_eq!(text(jobs_status_str(s.as_u32())), s.as_str());
        }
        for c in Counter::ALL {
            assert_eq!(text(jobs_counter_str(c.as_u32())), c.as_str());
        }
        for l in LogLevel::ALL {
            assert_eq!(text(jobs_log_level_str(l.as_u32())), l.as_str());
        }
        for st in Status::ALL {
            assert_eq!(text(jobs_connection_state_str(st.as_u32())), st.as_str());
        }
        for k in crate::jobs::types::AgentEventKind::ALL {
            assert_eq!(text(jobs_agent_event_kind_str(k.as_u32())), k.as_str());
        }
        for f in crate::mqtt::custom_auth::CustomAuthForm::ALL {
            assert_eq!(text(jobs_custom_auth_form_str(f.as_u32())), f.as_str());
        }
        for p in crate::jobs::types::ResumePolicy::ALL {
            assert_eq!(text(jobs_resume_policy_str(p.as_u32())), p.as_str());
        }
        for f in [
            jobs_agent_event_kind_str,
            jobs_resume_policy_str,
            jobs_status_str,
            jobs_topic_type_str,
            jobs_reply_type_str,
            jobs_rejection_code_str,
            jobs_offline_str,
            jobs_event_kind_str,
            jobs_connection_state_str,
            jobs_log_level_str,
            jobs_counter_str,
            jobs_transport_str,
            jobs_protocol_str,
            jobs_drop_policy_str,
            jobs_delivery_str,
            jobs_custom_auth_form_str,
        ] {
            assert_eq!(text(f(1000)), "unknown");
            assert_eq!(text(f(u32::MAX)), "unknown");
        }
    }
}
