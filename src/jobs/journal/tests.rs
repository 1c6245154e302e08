use super::*;

fn key(thing: &str, job: &str, n: u64) -> ExecutionKey {
    ExecutionKey::new(thing, job, n)
}

fn job(thing: &str, job_id: &str, n: u64) -> ActiveJob {
    ActiveJob::running(key(thing, job_id, n), "install", 1_700_000_000_000)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn code<T: fmt::Debug>(r: Result<T>) -> jobs_result {
    r.expect_err("expected an error").code
}

/// A valid header and checksum around `body`, to reach the content checks.
fn frame(body: &str) -> Vec<u8> {
    let mut out = format!(
        "iotjobs-journal 1 {} {:08x}\n",
        body.len(),
        crc32fast::hash(body.as_bytes())
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn invalid_reason(bytes: &[u8]) -> String {
    match decode(bytes) {
        Err(DecodeError::InvalidContent { reason }) => reason,
        other => panic!("expected invalid content, got {other:?}"),
    }
}

// ---- transitions

#[test]
fn a_job_goes_from_begin_to_finished() {
    let mut s = JournalState::default();
    let k = key("thing-1", "job-1", 3);
    s.begin(job("thing-1", "job-1", 3)).unwrap();
    assert_eq!(s.active_for("thing-1").unwrap().key, k);
    assert_eq!(s.active_for("thing-2"), None);
    s.set_checkpoint(&k, b"step 2").unwrap();
    s.set_version(&k, 7).unwrap();
    s.decide(
        &k,
        ExecutionStatus::Succeeded,
        pairs(&[("result", "ok \"quoted\" é")]),
    )
    .unwrap();
    let a = s.active_for("thing-1").unwrap();
    assert_eq!(a.checkpoint.as_deref(), Some(&b"step 2"[..]));
    assert_eq!(a.version_number, 7);
    assert_eq!(
        a.phase,
        Phase::Final {
            status: ExecutionStatus::Succeeded,
            details: pairs(&[("result", "ok \"quoted\" é")])
        }
    );
    // Versions after the decision still count (the final update's own reply).
    s.set_version(&k, 8).unwrap();
    assert_eq!(s.finished_status(&k), None);
    s.finish(&k, ExecutionStatus::Succeeded).unwrap();
    assert!(s.active.is_empty());
    assert_eq!(s.finished_status(&k), Some(ExecutionStatus::Succeeded));
    assert_eq!(s.finished_status(&key("thing-1", "job-1", 4)), None);
    s.check().unwrap();
}

#[test]
fn begin_checks_the_job() {
    let mut s = JournalState::default();
    assert_eq!(
        code(s.begin(job("bad thing", "j", 1))),
        jobs_result::InvalidThingName
    );
    assert_eq!(code(s.begin(job("t", "", 1))), jobs_result::InvalidJobId);
    assert_eq!(
        code(s.begin(job("t", "$next", 1))),
        jobs_result::InvalidJobId
    );
    assert_eq!(code(s.begin(job("t", "a/b", 1))), jobs_result::InvalidJobId);
    let e = s.begin(job("t", "j", 0)).unwrap_err();
    assert_eq!(e.code, jobs_result::InvalidArgument);
    assert!(e.message.contains("execution numbers start at 1"), "{e}");
    let mut long_op = job("t", "j", 1);
    long_op.operation = "o".repeat(MAX_OPERATION_BYTES + 1);
    assert_eq!(code(s.begin(long_op)), jobs_result::InvalidArgument);
    let mut big = job("t", "j", 1);
    big.checkpoint = Some(vec![0; MAX_CHECKPOINT_BYTES + 1]);
    assert_eq!(code(s.begin(big)), jobs_result::PayloadTooLarge);
    let mut bad_final = job("t", "j", 1);
    bad_final.phase = Phase::Final {
        status: ExecutionStatus::InProgress,
        details: vec![],
    };
    assert_eq!(code(s.begin(bad_final)), jobs_result::InvalidStatus);
    assert_eq!(s, JournalState::default(), "nothing refused was recorded");

    // At the limits.
    let mut edge = job(&"t".repeat(128), &"j".repeat(64), u64::MAX);
    edge.operation = "o".repeat(MAX_OPERATION_BYTES);
    edge.checkpoint = Some(vec![0xff; MAX_CHECKPOINT_BYTES]);
    s.begin(edge).unwrap();
}

#[test]
fn one_job_per_thing_and_at_most_max_active_things() {
    let mut s = JournalState::default();
    s.begin(job("t", "j1", 1)).unwrap();
    let e = s.begin(job("t", "j2", 1)).unwrap_err();
    assert_eq!(e.code, jobs_result::Busy);
    assert!(
        e.message.contains("already has job j1 (execution 1)"),
        "{e}"
    );
    assert_eq!(code(s.begin(job("t", "j1", 1))), jobs_result::InProgress);
    // A new execution of the same job on the same thing is another job: busy too.
    assert_eq!(code(s.begin(job("t", "j1", 2))), jobs_result::Busy);
    for i in 1..MAX_ACTIVE {
        s.begin(job(&format!("t{i}"), "j", 1)).unwrap();
    }
    let e = s.begin(job("one-more", "j", 1)).unwrap_err();
    assert_eq!(e.code, jobs_result::Busy);
    assert!(e.message.contains("16 things"), "{e}");
    assert_eq!(s.active.len(), MAX_ACTIVE);
    s.check().unwrap();
}

#[test]
fn a_finished_execution_never_begins_again() {
    let mut s = JournalState::default();
    let k = key("t", "j", 1);
    s.begin(job("t", "j", 1)).unwrap();
    s.finish(&k, ExecutionStatus::Failed).unwrap();
    let e = s.begin(job("t", "j", 1)).unwrap_err();
    assert_eq!(e.code, jobs_result::InvalidArgument);
    assert!(
        e.message
            .contains("already finished with FAILED: it must not run again"),
        "{e}"
    );
    // Its next execution may run.
    s.begin(job("t", "j", 2)).unwrap();
}

#[test]
fn checkpoints_are_bounded_and_end_with_the_decision() {
    let mut s = JournalState::default();
    let k = key("t", "j", 1);
    assert_eq!(code(s.set_checkpoint(&k, b"x")), jobs_result::NotFound);
    s.begin(job("t", "j", 1)).unwrap();
    s.set_checkpoint(&k, &[7; MAX_CHECKPOINT_BYTES]).unwrap();
    let e = s
        .set_checkpoint(&k, &[7; MAX_CHECKPOINT_BYTES + 1])
        .unwrap_err();
    assert_eq!(e.code, jobs_result::PayloadTooLarge);
    assert!(
        e.message.contains("4097 bytes, over the limit of 4096"),
        "{e}"
    );
    s.set_checkpoint(&k, b"").unwrap();
    assert_eq!(s.active[0].checkpoint.as_deref(), Some(&[][..]));
    let e = s.set_checkpoint(&key("t", "j", 2), b"x").unwrap_err();
    assert_eq!(e.code, jobs_result::NotFound);
    assert!(
        e.message
            .contains("the thing's active job is j (execution 1)"),
        "{e}"
    );
    s.decide(&k, ExecutionStatus::Rejected, vec![]).unwrap();
    assert_eq!(
        code(s.set_checkpoint(&k, b"x")),
        jobs_result::InvalidArgument
    );
    assert_eq!(
        code(s.set_version(&key("u", "j", 1), 1)),
        jobs_result::NotFound
    );
}

#[test]
fn decide_takes_a_final_device_status_and_update_details() {
    let mut s = JournalState::default();
    let k = key("t", "j", 1);
    s.begin(job("t", "j", 1)).unwrap();
    for st in ExecutionStatus::ALL.iter().copied() {
        let r = s.clone().decide(&k, st, vec![]);
        let ok = matches!(
            st,
            ExecutionStatus::Succeeded | ExecutionStatus::Failed | ExecutionStatus::Rejected
        );
        assert_eq!(r.is_ok(), ok, "{st:?}");
        if !ok {
            assert_eq!(code(r), jobs_result::InvalidStatus, "{st:?}");
        }
    }
    let msg = s
        .clone()
        .decide(&k, ExecutionStatus::InProgress, vec![])
        .unwrap_err()
        .message;
    assert!(msg.contains("IN_PROGRESS is not final"), "{msg}");
    let eleven: Vec<_> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    for bad in [
        eleven,
        pairs(&[("a", "1"), ("a", "2")]),
        pairs(&[("bad key", "v")]),
        pairs(&[("k", "")]),
        pairs(&[("k", "line\nbreak")]),
        vec![("k".into(), "v".repeat(1025))],
    ] {
        assert_eq!(
            code(
                s.clone()
                    .decide(&k, ExecutionStatus::Succeeded, bad.clone())
            ),
            jobs_result::InvalidStatusDetails,
            "{bad:?}"
        );
    }
    assert_eq!(
        code(s.decide(&key("t", "other", 1), ExecutionStatus::Failed, vec![])),
        jobs_result::NotFound
    );
    let d = pairs(&[("why", "disk")]);
    s.decide(&k, ExecutionStatus::Failed, d.clone()).unwrap();
    // The same decision again is a no-op; another one is refused.
    s.decide(&k, ExecutionStatus::Failed, d).unwrap();
    let e = s
        .decide(&k, ExecutionStatus::Succeeded, vec![])
        .unwrap_err();
    assert_eq!(e.code, jobs_result::InvalidArgument);
    assert!(e.message.contains("already decided (FAILED)"), "{e}");
    assert_eq!(
        code(s.decide(&k, ExecutionStatus::Failed, vec![])),
        jobs_result::InvalidArgument
    );
}

#[test]
fn finish_takes_any_terminal_status_and_remembers_the_latest() {
    let mut s = JournalState::default();
    let k = key("t", "j", 1);
    assert_eq!(
        code(s.finish(&k, ExecutionStatus::Succeeded)),
        jobs_result::NotFound
    );
    s.begin(job("t", "j", 1)).unwrap();
    for st in [
        ExecutionStatus::NotSet,
        ExecutionStatus::Queued,
        ExecutionStatus::InProgress,
        ExecutionStatus::Unknown,
    ] {
        assert_eq!(code(s.finish(&k, st)), jobs_result::InvalidStatus, "{st:?}");
    }
    // The service may end a running job itself.
    s.finish(&k, ExecutionStatus::Canceled).unwrap();
    s.finish(&k, ExecutionStatus::Canceled).unwrap();
    assert_eq!(
        code(s.finish(&k, ExecutionStatus::Succeeded)),
        jobs_result::NotFound
    );
    assert_eq!(s.finished.len(), 1);

    for n in 2..=(MAX_FINISHED as u64 + 1) {
        let k = key("t", "j", n);
        s.begin(job("t", "j", n)).unwrap();
        s.finish(&k, ExecutionStatus::Succeeded).unwrap();
    }
    assert_eq!(s.finished.len(), MAX_FINISHED);
    // The oldest is forgotten first.
    assert_eq!(s.finished_status(&key("t", "j", 1)), None);
    assert_eq!(
        s.finished_status(&key("t", "j", 2)),
        Some(ExecutionStatus::Succeeded)
    );
    assert_eq!(s.finished.back().unwrap().key, key("t", "j", 257));
    s.check().unwrap();
}

#[test]
fn check_names_the_broken_invariant() {
    let mut s = JournalState::default();
    s.begin(job("t", "j", 1)).unwrap();
    let mut two = s.clone();
    two.active.push(job("t", "k", 1));
    let e = two.check().unwrap_err();
    assert_eq!(e.message, "active job 1: thing t has two active jobs");
    let mut both = s.clone();
    both.finished.push_back(FinishedExecution {
        key: key("t", "j", 1),
        status: ExecutionStatus::Failed,
    });
    let e = both.check().unwrap_err();
    assert!(e.message.contains("is also listed as finished"), "{e}");
    both.active.clear();
    both.finished.push_back(both.finished[0].clone());
    let e = both.check().unwrap_err();
    assert!(e.message.starts_with("finished execution 1: "), "{e}");
    assert!(e.message.contains("listed twice"), "{e}");
    let mut bad = s.clone();
    bad.active[0].key.thing = "x y".into();
    let e = bad.check().unwrap_err();
    assert_eq!(e.code, jobs_result::InvalidThingName);
    assert!(e.message.starts_with("active job 0: thing name"), "{e}");
}

// ---- the format

/// A state at every bound at once: the most active jobs and finished executions, every string
/// at its longest and made of the characters that encode longest.
fn worst_case_state() -> JournalState {
    let mut s = JournalState::default();
    for i in 0..MAX_ACTIVE {
        let thing = format!("{i:02}{}", ":".repeat(126));
        let mut a = job(&thing, &"j".repeat(64), u64::MAX);
        a.operation = "\u{1}".repeat(MAX_OPERATION_BYTES);
        a.checkpoint = Some(vec![0xab; MAX_CHECKPOINT_BYTES]);
        a.version_number = u64::MAX;
        a.started_unix_ms = u64::MAX;
        a.phase = Phase::Final {
            status: ExecutionStatus::Succeeded,
            details: (0..DETAILS_MAX_PAIRS)
                .map(|k| (format!("{k}{}", "k".repeat(127)), "🚀".repeat(1024)))
                .collect(),
        };
        s.active.push(a);
    }
    for n in 0..MAX_FINISHED as u64 {
        s.finished.push_back(FinishedExecution {
            key: key(&"t".repeat(128), &"j".repeat(64), u64::MAX - n),
            status: ExecutionStatus::Succeeded,
        });
    }
    s
}

#[test]
fn the_largest_state_fits_the_bound_which_is_tight() {
    let s = worst_case_state();
    s.check().unwrap();
    let bytes = encode(&s);
    assert!(
        bytes.len() <= MAX_JOURNAL_BYTES,
        "{} > {MAX_JOURNAL_BYTES}",
        bytes.len()
    );
    // The bound is derived, not guessed: the worst case comes within 5 % of it.
    assert!(
        bytes.len() * 100 >= MAX_JOURNAL_BYTES * 95,
        "{} is far below {MAX_JOURNAL_BYTES}",
        bytes.len()
    );
    assert_eq!(decode(&bytes), Ok(s));
    // docs/journal.md gives the figure.
    assert_eq!(MAX_JOURNAL_BYTES, 942_704);
}

#[test]
fn the_format_is_a_header_line_and_json() {
    let mut s = JournalState::default();
    let k = key("t", "j", 2);
    s.begin(job("t", "j", 2)).unwrap();
    s.set_checkpoint(&k, &[0, 1, 0xfe]).unwrap();
    s.decide(&k, ExecutionStatus::Failed, pairs(&[("a", "b")]))
        .unwrap();
    s.finished.push_back(FinishedExecution {
        key: key("t", "j", 1),
        status: ExecutionStatus::TimedOut,
    });
    let bytes = encode(&s);
    let body = r#"{"active":[{"thing":"t","job_id":"j","execution_number":2,"operation":"install","final":{"status":"FAILED","details":[["a","b"]]},"checkpoint":"0001fe","version_number":0,"started_unix_ms":1700000000000}],"finished":[{"thing":"t","job_id":"j","execution_number":1,"status":"TIMED_OUT"}]}"#;
    assert_eq!(bytes, frame(body));
    assert!(bytes.starts_with(b"iotjobs-journal 1 "));
    assert_eq!(
        encode(&JournalState::default()),
        frame(r#"{"active":[],"finished":[]}"#)
    );
}

/// A random string of `len` characters (a random length in that range) from `alphabet`.
fn pick(rng: &mut fastrand::Rng, alphabet: &[char], len: std::ops::Range<usize>) -> String {
    (0..rng.usize(len))
        .map(|_| alphabet[rng.usize(..alphabet.len())])
        .collect()
}

const NAME: &[char] = &['a', 'Z', '0', '9', ':', '_', '-'];
const JOB: &[char] = &['a', 'Z', '0', '9', '_', '-'];
/// Characters that escape or take several bytes, controls included (operations allow them).
const ANY: &[char] = &[
    'a', '"', '\\', '\n', '\0', '\u{7f}', 'é', '日', '🚀', ' ', '/',
];
/// The same without the control characters status details refuse.
const TEXT: &[char] = &['a', '"', '\\', 'é', '日', '🚀', ' ', '/', '%'];

/// Applies `steps` random transitions, valid or not, to a state over a few things.
fn random_state(rng: &mut fastrand::Rng, steps: usize) -> JournalState {
    let mut s = JournalState::default();
    for _ in 0..steps {
        let thing = format!("t{}", rng.u8(..20));
        let k = match s.active_for(&thing) {
            Some(a) if rng.u8(..4) > 0 => a.key.clone(),
            _ => key(
                &format!("{thing}{}", pick(rng, NAME, 0..4)),
                &pick(rng, JOB, 1..6),
                rng.u64(1..4),
            ),
        };
        let _ = match rng.u8(..6) {
            0 | 1 => {
                let op = pick(rng, ANY, 0..20);
                let mut a = ActiveJob::running(k, op, rng.u64(..));
                if rng.bool() {
                    a.checkpoint = Some((0..rng.usize(0..64)).map(|_| rng.u8(..)).collect());
                }
                s.begin(a)
            }
            2 => {
                let c: Vec<u8> = (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect();
                s.set_checkpoint(&k, &c)
            }
            3 => s.set_version(&k, rng.u64(..)),
            4 => {
                let st = ExecutionStatus::ALL[rng.usize(..ExecutionStatus::ALL.len())];
                let details = (0..rng.usize(0..4))
                    .map(|i| (format!("k{i}"), pick(rng, TEXT, 1..30)))
                    .collect();
                s.decide(&k, st, details)
            }
            _ => {
                let st = ExecutionStatus::ALL[rng.usize(..ExecutionStatus::ALL.len())];
                s.finish(&k, st)
            }
        };
    }
    s
}

#[test]
fn random_transitions_keep_the_invariants_and_round_trip() {
    let mut rng = fastrand::Rng::with_seed(0x10_75_ca_fe);
    let mut decided = 0;
    for round in 0..300 {
        let steps = rng.usize(0..400);
        let s = random_state(&mut rng, steps);
        s.check()
            .unwrap_or_else(|e| panic!("round {round}: {e}: {s:?}"));
        decided += s
            .active
            .iter()
            .filter(|a| matches!(a.phase, Phase::Final { .. }))
            .count();
        let bytes = encode(&s);
        assert!(bytes.len() <= MAX_JOURNAL_BYTES);
        let back = decode(&bytes).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(back, s, "round {round}");
        assert_eq!(encode(&back), bytes, "round {round}");
    }
    assert!(decided > 50, "the random states reach the final phase");
}

#[test]
fn every_cut_is_truncated_and_every_changed_byte_is_refused() {
    let mut rng = fastrand::Rng::with_seed(7);
    let s = random_state(&mut rng, 200);
    assert!(!s.active.is_empty() && !s.finished.is_empty());
    let bytes = encode(&s);
    let header_len = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    for cut in 0..bytes.len() {
        let expected = (cut >= header_len).then_some(bytes.len());
        assert_eq!(
            decode(&bytes[..cut]),
            Err(DecodeError::Truncated {
                found: cut,
                expected
            }),
            "cut at {cut}"
        );
    }
    for i in 0..bytes.len() {
        for flip in [0x01, 0x20, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            let r = decode(&b);
            assert!(r.is_err(), "byte {i} ^ {flip:#x} decoded: {r:?}");
            if i >= header_len {
                assert!(
                    matches!(r, Err(DecodeError::BadChecksum { .. })),
                    "byte {i}: {r:?}"
                );
            }
        }
    }
}

#[test]
fn wrong_versions_are_named() {
    for (v, found) in [("0", 0), ("2", 2), ("4294967295", u32::MAX)] {
        let text = format!("iotjobs-journal {v} 2 00000000\n{{}}");
        let e = decode(text.as_bytes()).unwrap_err();
        assert_eq!(e, DecodeError::WrongVersion { found }, "{v}");
        assert_eq!(
            e.to_string(),
            format!("journal format version {found}, but this library reads version 1 only")
        );
    }
    // A future version may change the rest of the header: only the version is read.
    assert_eq!(
        decode(b"iotjobs-journal 2 whatever follows\n"),
        Err(DecodeError::WrongVersion { found: 2 })
    );
}

#[test]
fn what_is_not_a_journal_says_so() {
    let good = encode(&JournalState::default());
    let body_at = good.iter().position(|&b| b == b'\n').unwrap() + 1;
    let body = std::str::from_utf8(&good[body_at..]).unwrap().to_string();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello world".to_vec(), "does not start with"),
        (b"\x7fELF\x02\x01\x01".to_vec(), "does not start with"),
        (b"{\"active\":[]}".to_vec(), "does not start with"),
        (
            b"IOTJOBS-JOURNAL 1 0 00000000\n".to_vec(),
            "does not start with",
        ),
        (
            [&b"iotjobs-journal "[..], &[b'1'; 60][..]].concat(),
            "longer than 64 bytes",
        ),
        (b"iotjobs-journal x 2 0\n{}".to_vec(), "version \"x\""),
        (b"iotjobs-journal 01 2 0\n{}".to_vec(), "version \"01\""),
        (b"iotjobs-journal -1 2 0\n{}".to_vec(), "version \"-1\""),
        (b"iotjobs-journal 4294967296 2 0\n".to_vec(), "version"),
        (b"iotjobs-journal \xff 2 0\n".to_vec(), "not ASCII"),
        (b"iotjobs-journal 1 2\n{}".to_vec(), "is not \"<version>"),
        (
            b"iotjobs-journal 1 2 0 0\n{}".to_vec(),
            "is not \"<version>",
        ),
        (
            b"iotjobs-journal 1  2 00000000\n{}".to_vec(),
            "is not \"<version>",
        ),
        (
            b"iotjobs-journal 1 +2 00000000\n{}".to_vec(),
            "body length \"+2\"",
        ),
        (
            b"iotjobs-journal 1 99999999999 00000000\n".to_vec(),
            "up to",
        ),
        (
            format!("iotjobs-journal 1 {} 0000000\n{body}", body.len()).into_bytes(),
            "8 lowercase hex",
        ),
        (
            format!("iotjobs-journal 1 {} 0000000G\n{body}", body.len()).into_bytes(),
            "8 lowercase hex",
        ),
        (
            format!(
                "iotjobs-journal 1 {} {:08X}\n{body}",
                body.len(),
                crc32fast::hash(body.as_bytes())
            )
            .into_bytes(),
            "8 lowercase hex",
        ),
    ];
    for (bytes, says) in cases {
        match decode(&bytes) {
            Err(DecodeError::NotAJournal { reason }) => {
                assert!(reason.contains(says), "{reason:?} lacks {says:?}")
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&bytes)),
        }
    }
    let e = decode(b"<html>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a journal: it does not start with \"iotjobs-journal \""
    );
}

#[test]
fn oversized_input_is_refused_unparsed() {
    let mut big = encode(&JournalState::default());
    big.resize(MAX_JOURNAL_BYTES + 1, b' ');
    assert_eq!(
        decode(&big),
        Err(DecodeError::TooBig {
            len: MAX_JOURNAL_BYTES as u64 + 1
        })
    );
    let e = DecodeError::TooBig { len: 5_000_000 };
    assert!(
        e.to_string().contains("5000000 bytes, over the limit"),
        "{e}"
    );
}

#[test]
fn a_bad_checksum_says_both() {
    let mut b = frame(r#"{"active":[],"finished":[]}"#);
    let last = b.len() - 2;
    b[last] = b'}';
    let e = decode(&b).unwrap_err();
    assert!(matches!(e, DecodeError::BadChecksum { .. }), "{e:?}");
    assert!(
        e.to_string().contains("changed after it was written"),
        "{e}"
    );
}

#[test]
fn trailing_bytes_after_the_body_are_refused() {
    let mut b = encode(&JournalState::default());
    b.extend_from_slice(b"\n");
    assert!(invalid_reason(&b).contains("1 bytes follow the"));
}

#[test]
fn every_field_is_checked_on_decode() {
    let active = |fields: &str| {
        format!(
            r#"{{"active":[{{"thing":"t","job_id":"j","execution_number":1,"operation":"op",{fields}}}],"finished":[]}}"#
        )
    };
    let tail = r#""final":null,"checkpoint":null,"version_number":0,"started_unix_ms":0"#;
    let ok = active(tail);
    assert_eq!(
        decode(&frame(&ok)).unwrap().active[0],
        ActiveJob::running(key("t", "j", 1), "op", 0)
    );
    let finished = |entry: &str| format!(r#"{{"active":[],"finished":[{entry}]}}"#);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "expected"),
        ("{}".into(), "missing field `active`"),
        (
            r#"{"active":[],"finished":[],"extra":1}"#.into(),
            "unknown field `extra`",
        ),
        (
            active(&tail.replace("\"started_unix_ms\":0", "\"started_unix_ms\":-1")),
            "invalid value",
        ),
        (
            active(&tail.replace("\"version_number\":0", "\"version_number\":1.5")),
            "invalid type",
        ),
        (
            active(&tail.replace(
                "\"version_number\":0",
                "\"version_number\":18446744073709551616",
            )),
            "",
        ),
        (
            active(&tail.replace("\"version_number\":0,", "")),
            "missing field `version_number`",
        ),
        (
            active(&format!("{tail},\"more\":true")),
            "unknown field `more`",
        ),
        (
            active(&tail.replace(
                "null,\"checkpoint\"",
                "{\"status\":\"SUCCEEDED\",\"details\":[],\"x\":1},\"checkpoint\"",
            )),
            "unknown field `x`",
        ),
        (
            active(&tail.replace("\"checkpoint\":null", "\"checkpoint\":\"abc\"")),
            "lowercase hex",
        ),
        (
            active(&tail.replace("\"checkpoint\":null", "\"checkpoint\":\"AB\"")),
            "lowercase hex",
        ),
        (
            active(&tail.replace("\"checkpoint\":null", "\"checkpoint\":\"zz\"")),
            "lowercase hex",
        ),
        (
            active(&tail.replace(
                "\"checkpoint\":null",
                &format!("\"checkpoint\":\"{}\"", "00".repeat(4097)),
            )),
            "4097 bytes, over the limit of 4096",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"IN_PROGRESS\",\"details\":[]}",
            )),
            "IN_PROGRESS is not final",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"CANCELED\",\"details\":[]}",
            )),
            "CANCELED",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"DONE\",\"details\":[]}",
            )),
            "unknown status \"DONE\"",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"FAILED\",\"details\":[[\"a\",\"1\"],[\"a\",\"2\"]]}",
            )),
            "twice",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"FAILED\",\"details\":[[\"a\",\"\\u0007\"]]}",
            )),
            "statusDetails value",
        ),
        (
            active(&tail.replace(
                "\"final\":null",
                "\"final\":{\"status\":\"FAILED\",\"details\":[[\"a\"]]}",
            )),
            "invalid length 1",
        ),
        (
            ok.replace("\"thing\":\"t\"", "\"thing\":\"t/x\""),
            "thing name has the character '/'",
        ),
        (
            ok.replace("\"thing\":\"t\"", "\"thing\":\"\""),
            "thing name is empty",
        ),
        (
            ok.replace("\"job_id\":\"j\"", "\"job_id\":\"$next\""),
            "$next",
        ),
        (
            ok.replace(
                "\"job_id\":\"j\"",
                &format!("\"job_id\":\"{}\"", "j".repeat(65)),
            ),
            "65 characters",
        ),
        (
            ok.replace("\"execution_number\":1", "\"execution_number\":0"),
            "execution numbers start at 1",
        ),
        (
            ok.replace(
                "\"operation\":\"op\"",
                &format!("\"operation\":\"{}\"", "é".repeat(65)),
            ),
            "130 bytes long",
        ),
        (
            ok.replace(
                "\"finished\":[]",
                r#""finished":[{"thing":"t","job_id":"j","execution_number":1,"status":"FAILED"}]"#,
            ),
            "also listed as finished",
        ),
        (
            ok.replace(
                "}],",
                &format!(
                    "}},{}],",
                    ok.replace("\"j\"", "\"k\"")[11..ok.len() - 16].to_owned()
                ),
            ),
            "thing t has two active jobs",
        ),
        (
            finished(r#"{"thing":"t","job_id":"j","execution_number":1,"status":"IN_PROGRESS"}"#),
            "not terminal",
        ),
        (
            finished(r#"{"thing":"t","job_id":"j","execution_number":1,"status":"NOT_SET"}"#),
            "not terminal",
        ),
        (
            finished(r#"{"thing":"t","job_id":"j","execution_number":1,"status":"done"}"#),
            "unknown status",
        ),
        (
            finished(r#"{"thing":"t","job_id":"j","execution_number":1,"status":"FAILED","x":0}"#),
            "unknown field `x`",
        ),
        (
            finished(
                r#"{"thing":"t","job_id":"j","execution_number":1,"status":"FAILED"},{"thing":"t","job_id":"j","execution_number":1,"status":"SUCCEEDED"}"#,
            ),
            "listed twice",
        ),
        (
            finished(r#"{"thing":"t","job_id":"","execution_number":1,"status":"FAILED"}"#),
            "job id is empty",
        ),
    ];
    for (body, says) in cases {
        let reason = invalid_reason(&frame(&body));
        assert!(
            reason.contains(says),
            "{reason:?} lacks {says:?} for {body}"
        );
    }
}

#[test]
fn more_records_than_the_limits_are_refused() {
    let entry = |i: usize| {
        format!(r#"{{"thing":"t{i}","job_id":"j","execution_number":1,"status":"FAILED"}}"#)
    };
    let list = |n: usize| (0..n).map(entry).collect::<Vec<_>>().join(",");
    let ok = format!(r#"{{"active":[],"finished":[{}]}}"#, list(MAX_FINISHED));
    assert_eq!(decode(&frame(&ok)).unwrap().finished.len(), MAX_FINISHED);
    let over = format!(r#"{{"active":[],"finished":[{}]}}"#, list(MAX_FINISHED + 1));
    assert!(invalid_reason(&frame(&over)).contains("257 finished executions, over the limit"));

    let a = |i: usize| {
        format!(
            r#"{{"thing":"t{i}","job_id":"j","execution_number":1,"operation":"","final":null,"checkpoint":null,"version_number":0,"started_unix_ms":0}}"#
        )
    };
    let actives = |n: usize| (0..n).map(a).collect::<Vec<_>>().join(",");
    let ok = format!(r#"{{"active":[{}],"finished":[]}}"#, actives(MAX_ACTIVE));
    assert_eq!(decode(&frame(&ok)).unwrap().active.len(), MAX_ACTIVE);
    let over = format!(
        r#"{{"active":[{}],"finished":[]}}"#,
        actives(MAX_ACTIVE + 1)
    );
    assert!(invalid_reason(&frame(&over)).contains("17 active jobs, over the limit of 16"));
}

#[test]
fn hex_round_trips_every_byte() {
    let all: Vec<u8> = (0..=255).collect();
    let hex = hex_encode(&all);
    assert_eq!(&hex[..8], "00010203");
    assert_eq!(&hex[hex.len() - 4..], "feff");
    assert_eq!(hex_decode(&hex), Some(all));
    assert_eq!(hex_decode(""), Some(vec![]));
    for bad in ["0", "0g", "FF", " 0", "0 ", "éé"] {
        assert_eq!(hex_decode(bad), None, "{bad:?}");
    }
}

#[test]
fn decimal_is_plain_and_canonical() {
    assert_eq!(parse_decimal("0"), Some(0));
    assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "00",
        "01",
        "+1",
        "-1",
        "1 ",
        "18446744073709551616",
        "1e3",
        "٣",
    ] {
        assert_eq!(parse_decimal(bad), None, "{bad:?}");
    }
}
