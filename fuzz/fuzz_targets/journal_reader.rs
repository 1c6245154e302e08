//! The job journal's reader, `jobs::journal::decode`.
//!
//! Invariants, for arbitrary bytes:
//! - `decode` never panics and never allocates much more than its input, which is bounded by
//!   `MAX_JOURNAL_BYTES` (libFuzzer's `-malloc_limit_mb` and `-rss_limit_mb` enforce the rest);
//! - a state it accepts passes `JournalState::check`, encodes within `MAX_JOURNAL_BYTES`, and
//!   decodes from its encoding to the same state (and the same bytes again).
//!
//! Each input is read twice: as a whole file, and as a body behind a correct header line, so
//! the content checks are reached without the fuzzer having to find a CRC-32.

#![no_main]

use iotjobs::jobs::journal::{decode, encode, MAX_JOURNAL_BYTES};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let Ok(state) = decode(bytes) else {
        return;
    };
    state
        .check()
        .expect("a decoded state keeps every invariant");
    let again = encode(&state);
    assert!(again.len() <= MAX_JOURNAL_BYTES, "{} bytes", again.len());
    assert_eq!(
        decode(&again).as_ref(),
        Ok(&state),
        "re-encoded state decodes the same"
    );
    assert_eq!(encode(&state), again, "encoding is deterministic");
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut framed = format!(
        "iotjobs-journal 1 {} {:08x}\n",
        data.len(),
        crc32fast::hash(data)
    )
    .into_bytes();
    framed.extend_from_slice(data);
    check(&framed);
});
