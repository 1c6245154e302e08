//! Every C enum in `include/iotjobs.h` is the Rust enum it was generated from: the same name,
//! the same constants with the same values, in the same order. A constant renamed, renumbered,
//! added or removed on either side without the other fails here.

use iotjobs::jobs::types::{
    AgentEventKind, ExecutionStatus, Offline, RejectionCode, ReplyType, ResumePolicy, TopicType,
};
use iotjobs::mqtt::custom_auth::CustomAuthForm;
use iotjobs::mqtt::types::{
    Counter, Delivery, DropPolicy, EventKind, LogLevel, Protocol, Status, TransportKind,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};

const HEADER: &str = include_str!("../include/iotjobs.h");

/// `enum name { CONST = value, ... }` blocks of the header, by name, constants in order.
fn header_enums() -> BTreeMap<String, Vec<(String, u32)>> {
    let mut enums = BTreeMap::new();
    let mut current: Option<(String, Vec<(String, u32)>)> = None;
    for line in HEADER.lines() {
        if let Some(name) = line.strip_prefix("enum ") {
            current = Some((name.trim().to_owned(), Vec::new()));
        } else if line.starts_with("};") {
            if let Some((name, constants)) = current.take() {
                enums.insert(name, constants);
            }
        } else if let Some((_, constants)) = current.as_mut() {
            let t = line.trim();
            if let Some((name, value)) = t.strip_suffix(',').and_then(|t| t.split_once(" = ")) {
                constants.push((name.to_owned(), value.parse().expect("a decimal value")));
            }
        }
    }
    enums
}

/// cbindgen's ScreamingSnakeCase of a variant name: `InFlight` → `IN_FLIGHT`, `Mqtt311` → `MQTT311`.
fn screaming_snake(variant: &str) -> String {
    let mut out = String::new();
    let mut prev_lower_or_digit = false;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && prev_lower_or_digit {
            out.push('_');
        }
        prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// What the header must say for one Rust enum, after checking the enum's own table.
struct RustEnum {
    c_name: &'static str,
    constants: Vec<(String, u32)>,
}

struct Table<T: 'static> {
    c_name: &'static str,
    all: &'static [T],
    as_u32: fn(T) -> u32,
    as_str: fn(T) -> &'static str,
    from_u32: fn(u32) -> Option<T>,
}

fn rust_enum<T: Copy + std::fmt::Debug + PartialEq>(t: Table<T>) -> RustEnum {
    let c_name = t.c_name;
    let prefix = c_name.to_ascii_uppercase();
    let constants: Vec<(String, u32)> = t
        .all
        .iter()
        .map(|m| {
            let name = format!("{prefix}_{}", screaming_snake(&format!("{m:?}")));
            (name, (t.as_u32)(*m))
        })
        .collect();
    // ALL is in numeric order, every value converts back, nothing else does.
    let values: Vec<u32> = constants.iter().map(|(_, v)| *v).collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "{c_name}: ALL out of order"
    );
    for v in (0..=200).chain([u32::MAX]) {
        let expected = t.all.iter().copied().find(|m| (t.as_u32)(*m) == v);
        assert_eq!((t.from_u32)(v), expected, "{c_name}: TryFrom<u32> of {v}");
    }
    // Every member has its own stable, non-empty name.
    let names: HashSet<&str> = t.all.iter().map(|m| (t.as_str)(*m)).collect();
    assert_eq!(names.len(), t.all.len(), "{c_name}: as_str names repeat");
    assert!(!names.contains(""), "{c_name}: an empty as_str name");
    RustEnum { c_name, constants }
}

macro_rules! rust_enums {
    ($($t:ty),+ $(,)?) => {
        vec![$(rust_enum::<$t>(Table {
            c_name: <$t>::C_NAME,
            all: <$t>::ALL,
            as_u32: <$t>::as_u32,
            as_str: <$t>::as_str,
            from_u32: |v| <$t>::try_from(v).ok(),
        })),+]
    };
}

#[test]
fn every_c_enum_in_the_header_is_its_rust_enum() {
    let rust = rust_enums![
        TransportKind,
        Protocol,
        DropPolicy,
        Delivery,
        Status,
        EventKind,
        LogLevel,
        Counter,
        TopicType,
        ReplyType,
        ExecutionStatus,
        RejectionCode,
        Offline,
        AgentEventKind,
        ResumePolicy,
        CustomAuthForm,
    ];
    let header = header_enums();
    for r in &rust {
        let Some(constants) = header.get(r.c_name) else {
            panic!("include/iotjobs.h has no `enum {}`", r.c_name);
        };
        assert_eq!(
            constants, &r.constants,
            "enum {} differs from the Rust enum",
            r.c_name
        );
    }
    // No C enum in the header that this test does not know (jobs_result has its own test).
    let checked: BTreeSet<&str> = rust
        .iter()
        .map(|r| r.c_name)
        .chain(["jobs_result"])
        .collect();
    let in_header: BTreeSet<&str> = header.keys().map(String::as_str).collect();
    assert_eq!(in_header, checked);
}

#[test]
fn the_parser_sees_known_constants() {
    // Guards the parser itself: a few constants quoted from the header's contract.
    let header = header_enums();
    let transport = &header["jobs_transport"];
    assert!(transport.contains(&("JOBS_TRANSPORT_WEBSOCKET_TLS".to_owned(), 3)));
    assert!(header["jobs_protocol"].contains(&("JOBS_PROTOCOL_MQTT311".to_owned(), 4)));
    assert!(header["jobs_status"].contains(&("JOBS_STATUS_UNKNOWN".to_owned(), 99)));
    assert!(header["jobs_counter"].contains(&("JOBS_COUNTER_IN_FLIGHT".to_owned(), 3)));
    assert_eq!(screaming_snake("WebsocketTls"), "WEBSOCKET_TLS");
    assert_eq!(screaming_snake("NotifyNext"), "NOTIFY_NEXT");
}
