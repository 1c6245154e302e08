//! Table-driven tests of the Jobs state machine against docs/jobs-protocol.md.

use super::*;
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn t(suffix: &str) -> String {
    format!("$aws/things/dev1/jobs/{suffix}")
}

/// dev1 has job1 (queued first) and job2; dev2 has job2.
fn setup() -> Jobs {
    let mut j = Jobs::new();
    j.create_job("job1", json!({"op": "one"}), &["dev1"], NOW)
        .unwrap();
    j.create_job("job2", json!({"op": "two"}), &["dev1", "dev2"], NOW)
        .unwrap();
    j
}

fn req(j: &mut Jobs, suffix: &str, payload: &str) -> Outcome {
    j.request(&t(suffix), payload.as_bytes(), NOW + 5)
}

fn reply(o: &Outcome) -> &Value {
    &o.reply.as_ref().unwrap().payload
}

fn topics(msgs: &[Msg]) -> Vec<&str> {
    msgs.iter().map(|m| m.topic.as_str()).collect()
}

#[test]
fn create_job_notifies_like_aws() {
    let mut j = Jobs::new();
    let m = j.create_job("a", json!({}), &["dev1"], NOW).unwrap();
    assert_eq!(
        topics(&m),
        [
            "$aws/things/dev1/jobs/notify",
            "$aws/things/dev1/jobs/notify-next"
        ]
    );
    assert_eq!(m[0].payload["jobs"]["QUEUED"][0]["jobId"], "a");
    assert!(
        m[0].payload["jobs"].get("IN_PROGRESS").is_none(),
        "empty lists are left out"
    );
    assert_eq!(m[1].payload["execution"]["jobDocument"], json!({}));
    assert_eq!(m[1].payload["execution"]["status"], "QUEUED");
    assert_eq!(m[1].payload["execution"]["versionNumber"], 1);
    assert_eq!(m[1].payload["timestamp"], NOW);
    // a second job does not change the head: notify only
    let m = j.create_job("b", json!({}), &["dev1"], NOW).unwrap();
    assert_eq!(topics(&m), ["$aws/things/dev1/jobs/notify"]);
    assert_eq!(m[0].payload["jobs"]["QUEUED"].as_array().unwrap().len(), 2);
}

#[test]
fn create_job_errors() {
    let mut j = setup();
    for (id, doc, things, needle) in [
        ("job1", json!({}), vec!["x"], "already exists"),
        ("bad id", json!({}), vec!["x"], "bad job id"),
        ("ok", json!([1]), vec!["x"], "bad job document"),
        (
            "ok",
            json!({"a": "x".repeat(MAX_JOB_DOCUMENT)}),
            vec!["x"],
            "bad job document",
        ),
        ("ok", json!({}), vec![], "at least one"),
        ("ok", json!({}), vec!["bad/thing"], "bad thing name"),
    ] {
        let e = j.create_job(id, doc, &things, NOW).unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn get_pending() {
    let mut j = setup();
    req(&mut j, "job2/update", r#"{"status":"IN_PROGRESS"}"#);
    let o = req(&mut j, "get", r#"{"clientToken":"tok"}"#);
    let r = reply(&o);
    assert_eq!(o.reply.as_ref().unwrap().topic, t("get/accepted"));
    assert_eq!(r["clientToken"], "tok");
    assert_eq!(r["timestamp"], NOW + 5);
    assert_eq!(r["inProgressJobs"][0]["jobId"], "job2");
    assert_eq!(r["inProgressJobs"][0]["startedAt"], NOW + 5);
    assert_eq!(r["queuedJobs"][0]["jobId"], "job1");
    assert!(r["queuedJobs"][0].get("startedAt").is_none());
    assert!(r["queuedJobs"][0].get("jobDocument").is_none());
    assert!(o.notifications.is_empty());
    // empty payload is {} and has no clientToken
    let o = j.request("$aws/things/nobody/jobs/get", b"", NOW);
    assert_eq!(
        reply(&o),
        &json!({"inProgressJobs": [], "queuedJobs": [], "timestamp": NOW})
    );
}

#[test]
fn pending_lists_are_capped_at_ten() {
    let mut j = Jobs::new();
    for i in 0..12 {
        j.create_job(&format!("j{i:02}"), json!({}), &["dev1"], NOW)
            .unwrap();
    }
    let o = req(&mut j, "get", "{}");
    assert_eq!(
        reply(&o)["queuedJobs"].as_array().unwrap().len(),
        MAX_PENDING_LISTED
    );
    let m = j.create_job("late", json!({}), &["dev1"], NOW).unwrap();
    assert_eq!(
        m[0].payload["jobs"]["QUEUED"].as_array().unwrap().len(),
        MAX_PENDING_LISTED
    );
}

#[test]
fn start_next_takes_the_head_and_sets_details() {
    let mut j = setup();
    let o = req(
        &mut j,
        "start-next",
        r#"{"statusDetails":{"StartedBy":"me"},"stepTimeoutInMinutes":5,"clientToken":"c1"}"#,
    );
    let r = reply(&o);
    assert_eq!(o.reply.as_ref().unwrap().topic, t("start-next/accepted"));
    let e = &r["execution"];
    assert_eq!(e["jobId"], "job1");
    assert_eq!(e["thingName"], "dev1");
    assert_eq!(e["status"], "IN_PROGRESS");
    assert_eq!(e["statusDetails"], json!({"StartedBy": "me"}));
    assert_eq!(e["versionNumber"], 2);
    assert_eq!(e["executionNumber"], 1);
    assert_eq!(e["jobDocument"], json!({"op": "one"}));
    assert_eq!(e["startedAt"], NOW + 5);
    assert_eq!(e["approximateSecondsBeforeTimedOut"], 300);
    assert_eq!(r["clientToken"], "c1");
    // job1 was already the head: notify (status change) but no notify-next
    assert_eq!(topics(&o.notifications), [t("notify")]);
    assert_eq!(o.timers.len(), 1);
    // start-next again returns the same IN_PROGRESS execution, details unchanged, no notices
    let o = req(&mut j, "start-next", r#"{"statusDetails":{"other":"x"}}"#);
    let e = &reply(&o)["execution"];
    assert_eq!(e["jobId"], "job1");
    assert_eq!(e["statusDetails"], json!({"StartedBy": "me"}));
    assert_eq!(e["versionNumber"], 2);
    assert!(o.notifications.is_empty());
}

#[test]
fn start_next_with_nothing_pending_has_no_execution() {
    let mut j = Jobs::new();
    let o = req(&mut j, "start-next", r#"{"clientToken":"x"}"#);
    assert_eq!(
        reply(&o),
        &json!({"timestamp": NOW + 5, "clientToken": "x"})
    );
}

#[test]
fn describe() {
    let mut j = setup();
    let o = req(&mut j, "$next/get", "{}");
    assert_eq!(o.reply.as_ref().unwrap().topic, t("$next/get/accepted"));
    assert_eq!(reply(&o)["execution"]["jobId"], "job1");
    assert_eq!(
        reply(&o)["execution"]["jobDocument"],
        json!({"op": "one"}),
        "default true"
    );
    let o = req(
        &mut j,
        "job2/get",
        r#"{"includeJobDocument":false,"executionNumber":1}"#,
    );
    assert_eq!(reply(&o)["execution"]["jobId"], "job2");
    assert!(reply(&o)["execution"].get("jobDocument").is_none());
    let o = req(&mut j, "job2/get", r#"{"executionNumber":"1"}"#);
    assert!(o.rejected.is_none());
    let o = req(&mut j, "job2/get", r#"{"executionNumber":2}"#);
    assert_eq!(o.rejected, Some(Code::ResourceNotFound));
    let o = req(&mut j, "nope/get", "{}");
    assert_eq!(o.rejected, Some(Code::ResourceNotFound));
    // $next with nothing pending
    let o = j.request("$aws/things/other/jobs/$next/get", b"", NOW);
    assert_eq!(reply(&o), &json!({"timestamp": NOW}));
    // terminal SUCCEEDED is still described
    req(&mut j, "job1/update", r#"{"status":"SUCCEEDED"}"#);
    let o = req(&mut j, "job1/get", "{}");
    assert_eq!(reply(&o)["execution"]["status"], "SUCCEEDED");
    // canceled → TerminalStateReached
    j.cancel_execution("job2", "dev1", false, NOW).unwrap();
    let o = req(&mut j, "job2/get", r#"{"clientToken":"k"}"#);
    assert_eq!(o.rejected, Some(Code::TerminalStateReached));
    assert_eq!(reply(&o)["clientToken"], "k");
    assert!(reply(&o).get("executionState").is_none());
}

/// Every rejection path: (topic suffix, payload, code).
#[test]
fn rejection_table() {
    let long_token = format!(
        r#"{{"status":"IN_PROGRESS","clientToken":"{}"}}"#,
        "x".repeat(65)
    );
    let eleven: String = (0..11)
        .map(|i| format!(r#""k{i}":"v""#))
        .collect::<Vec<_>>()
        .join(",");
    let eleven = format!(r#"{{"status":"IN_PROGRESS","statusDetails":{{{eleven}}}}}"#);
    let long_value = format!(
        r#"{{"status":"IN_PROGRESS","statusDetails":{{"k":"{}"}}}}"#,
        "v".repeat(1025)
    );
    let long_key = format!(
        r#"{{"status":"IN_PROGRESS","statusDetails":{{"{}":"v"}}}}"#,
        "k".repeat(129)
    );
    let cases: Vec<(&str, &str, Code)> = vec![
        ("notify", "{}", Code::InvalidTopic),
        ("notify-next", "{}", Code::InvalidTopic),
        ("job1/update/accepted", "{}", Code::InvalidTopic),
        ("a/b/c", "{}", Code::InvalidTopic),
        ("job1/delete", "{}", Code::InvalidTopic),
        ("job1/update", "{not json", Code::InvalidJson),
        ("get", "\u{7f}garbage", Code::InvalidJson),
        ("job1/update", "[1]", Code::InvalidRequest),
        ("job1/update", "", Code::InvalidRequest), // v1 SDK NOT_SET: zero-length payload
        ("job1/update", "{}", Code::InvalidRequest),
        ("job1/update", r#"{"status":null}"#, Code::InvalidRequest),
        ("job1/update", r#"{"status":"DONE"}"#, Code::InvalidRequest),
        ("job1/update", r#"{"status":1}"#, Code::InvalidRequest),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","statusDetails":{"k":1}}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","statusDetails":{"k":""}}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","statusDetails":{"k":"a\nb"}}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","statusDetails":{"b k":"v"}}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","statusDetails":"x"}"#,
            Code::InvalidRequest,
        ),
        ("job1/update", &eleven, Code::InvalidRequest),
        ("job1/update", &long_value, Code::InvalidRequest),
        ("job1/update", &long_key, Code::InvalidRequest),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","expectedVersion":"abc"}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","expectedVersion":-1}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","executionNumber":"x"}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","includeJobDocument":"yes"}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","includeJobExecutionState":1}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":0}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":10081}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":1.5}"#,
            Code::InvalidRequest,
        ),
        (
            "start-next",
            r#"{"stepTimeoutInMinutes":-1}"#,
            Code::InvalidRequest,
        ),
        (
            "start-next",
            r#"{"statusDetails":{"k":true}}"#,
            Code::InvalidRequest,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","clientToken":5}"#,
            Code::InvalidRequest,
        ),
        ("job1/update", &long_token, Code::InvalidRequest),
        (
            "bad.id/update",
            r#"{"status":"IN_PROGRESS"}"#,
            Code::InvalidRequest,
        ),
        (
            "$next/update",
            r#"{"status":"IN_PROGRESS"}"#,
            Code::InvalidRequest,
        ),
        ("bad.id/get", "{}", Code::InvalidRequest),
        (
            "job1/get",
            r#"{"includeJobDocument":"no"}"#,
            Code::InvalidRequest,
        ),
        (
            "nope/update",
            r#"{"status":"IN_PROGRESS"}"#,
            Code::ResourceNotFound,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","executionNumber":"2"}"#,
            Code::ResourceNotFound,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","expectedVersion":"7"}"#,
            Code::VersionMismatch,
        ),
        (
            "job1/update",
            r#"{"status":"IN_PROGRESS","expectedVersion":7}"#,
            Code::VersionMismatch,
        ),
        (
            "job1/update",
            r#"{"status":"QUEUED"}"#,
            Code::InvalidStateTransition,
        ),
        (
            "job1/update",
            r#"{"status":"CANCELED"}"#,
            Code::InvalidStateTransition,
        ),
        (
            "job1/update",
            r#"{"status":"TIMED_OUT"}"#,
            Code::InvalidStateTransition,
        ),
        (
            "job1/update",
            r#"{"status":"REMOVED"}"#,
            Code::InvalidStateTransition,
        ),
    ];
    for (suffix, payload, code) in cases {
        let mut j = setup();
        let o = req(&mut j, suffix, payload);
        assert_eq!(o.rejected, Some(code), "{suffix} {payload}");
        let m = o.reply.as_ref().unwrap();
        assert_eq!(m.topic, format!("{}/rejected", t(suffix)), "{suffix}");
        assert_eq!(m.payload["code"], code.as_str());
        assert!(m.payload["message"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(m.payload["timestamp"], NOW + 5);
        let has_state = matches!(code, Code::InvalidStateTransition | Code::VersionMismatch);
        assert_eq!(
            m.payload.get("executionState").is_some(),
            has_state,
            "{suffix} {payload}"
        );
        if has_state {
            assert_eq!(
                m.payload["executionState"],
                json!({"status": "QUEUED", "versionNumber": 1})
            );
        }
        assert!(
            o.notifications.is_empty() && o.timers.is_empty(),
            "{suffix} {payload}"
        );
        // nothing changed
        assert_eq!(
            j.execs[&("dev1".into(), "job1".into())].version,
            1,
            "{suffix} {payload}"
        );
    }
    // clientToken is echoed in rejections
    let mut j = setup();
    let o = req(
        &mut j,
        "nope/update",
        r#"{"status":"IN_PROGRESS","clientToken":"ct"}"#,
    );
    assert_eq!(reply(&o)["clientToken"], "ct");
    // bad thing name in the topic
    let o = j.request("$aws/things/bad thing/jobs/get", b"{}", NOW);
    assert_eq!(o.rejected, Some(Code::InvalidTopic));
    // outside the Jobs namespace: no reply at all
    assert!(j
        .request("$aws/things/dev1/shadow/get", b"{}", NOW)
        .reply
        .is_none());
    // state-independent rejections
    for code in [Code::RequestThrottled, Code::InternalError] {
        let m = Jobs::reject_request(&t("get"), br#"{"clientToken":"z"}"#, code, NOW).unwrap();
        assert_eq!(m.topic, t("get/rejected"));
        assert_eq!(m.payload["code"], code.as_str());
        assert_eq!(m.payload["clientToken"], "z");
        assert!(m.payload.get("executionState").is_none());
    }
}

/// statusDetails values follow AWS's pattern `[^\p{C}]+`: a character of any "Other" category
/// (Cc, Cf, Co, Cn; Cs cannot be in a string) is InvalidRequest with a message naming the key,
/// the character and its category; ordinary non-ASCII text is accepted and stored as sent.
#[test]
fn details_values_follow_the_aws_pattern() {
    let update = |value: &str| {
        json!({"status": "IN_PROGRESS", "statusDetails": {"k": value}, "includeJobExecutionState": true})
            .to_string()
    };
    for (value, point, category) in [
        ("a\u{1}b", "U+0001", "Cc"),
        ("a\nb", "U+000A", "Cc"),
        ("a\u{7f}", "U+007F", "Cc"),
        ("\u{85}", "U+0085", "Cc"),
        ("a\u{200b}b", "U+200B", "Cf"),
        ("\u{feff}x", "U+FEFF", "Cf"),
        ("a\u{e000}b", "U+E000", "Co"),
        ("\u{f0000}", "U+F0000", "Co"),
        ("a\u{378}b", "U+0378", "Cn"),
        ("\u{10ffff}", "U+10FFFF", "Cn"),
    ] {
        let mut j = setup();
        let o = req(&mut j, "job1/update", &update(value));
        assert_eq!(o.rejected, Some(Code::InvalidRequest), "{value:?}");
        assert_eq!(
            reply(&o)["message"],
            format!(
                "statusDetails value for \"k\" contains {point}, a character of category {category} (values must match [^\\p{{C}}]+)"
            ),
            "{value:?}"
        );
    }
    for value in ["é", "日本", "😀", "a b", "tab\u{a0}nbsp", "Ünïcödé ✓"] {
        let mut j = setup();
        let o = req(&mut j, "job1/update", &update(value));
        assert_eq!(o.rejected, None, "{value:?}: {}", reply(&o));
        assert_eq!(
            reply(&o)["executionState"]["statusDetails"]["k"],
            value,
            "{value:?}"
        );
    }
    // The same rule on StartNext.
    let mut j = setup();
    let o = req(
        &mut j,
        "start-next",
        &json!({"statusDetails": {"k": "a\u{200b}"}}).to_string(),
    );
    assert_eq!(o.rejected, Some(Code::InvalidRequest));
    // An unpaired surrogate escape cannot become a Rust string: the payload is not valid JSON
    // here (AWS would refuse it as Cs).
    let mut j = setup();
    let o = req(
        &mut j,
        "job1/update",
        r#"{"status":"IN_PROGRESS","statusDetails":{"k":"a\ud800b"}}"#,
    );
    assert_eq!(o.rejected, Some(Code::InvalidJson));
}

#[test]
fn update_lifecycle_and_state_machine() {
    let mut j = setup();
    // QUEUED → IN_PROGRESS with expectedVersion as a string (v1 SDK)
    let o = req(
        &mut j,
        "job1/update",
        r#"{"status":"IN_PROGRESS","statusDetails":{"a":"1"},"expectedVersion":"1","executionNumber":"1","includeJobExecutionState":true,"clientToken":"tok"}"#,
    );
    assert_eq!(o.reply.as_ref().unwrap().topic, t("job1/update/accepted"));
    assert_eq!(
        reply(&o),
        &json!({"executionState": {"status": "IN_PROGRESS", "statusDetails": {"a": "1"}, "versionNumber": 2},
                "timestamp": NOW + 5, "clientToken": "tok"})
    );
    assert_eq!(topics(&o.notifications), [t("notify")]);
    // progress: IN_PROGRESS → IN_PROGRESS merges details, no notifications, number version
    let o = req(
        &mut j,
        "job1/update",
        r#"{"status":"IN_PROGRESS","statusDetails":{"b":"2"},"expectedVersion":2,"includeJobDocument":true}"#,
    );
    assert!(o.rejected.is_none());
    assert_eq!(reply(&o)["jobDocument"], json!({"op": "one"}));
    assert!(reply(&o).get("executionState").is_none());
    assert!(o.notifications.is_empty());
    let e = &j.execs[&("dev1".into(), "job1".into())];
    assert_eq!(e.version, 3);
    assert_eq!(e.details.len(), 2);
    // stale expectedVersion
    let o = req(
        &mut j,
        "job1/update",
        r#"{"status":"SUCCEEDED","expectedVersion":"2"}"#,
    );
    assert_eq!(o.rejected, Some(Code::VersionMismatch));
    assert_eq!(reply(&o)["executionState"]["versionNumber"], 3);
    assert_eq!(
        reply(&o)["executionState"]["statusDetails"],
        json!({"a": "1", "b": "2"})
    );
    // terminal: head changes to job2 → notify + notify-next
    let o = req(&mut j, "job1/update", r#"{"status":"SUCCEEDED"}"#);
    assert_eq!(topics(&o.notifications), [t("notify"), t("notify-next")]);
    assert_eq!(o.notifications[1].payload["execution"]["jobId"], "job2");
    assert!(o.notifications[1].payload["execution"]
        .get("thingName")
        .is_none());
    // terminal never changes
    for s in ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"] {
        let o = req(&mut j, "job1/update", &format!(r#"{{"status":"{s}"}}"#));
        assert_eq!(o.rejected, Some(Code::InvalidStateTransition), "{s}");
        assert_eq!(reply(&o)["executionState"]["status"], "SUCCEEDED");
    }
    // last pending reaches terminal: notify-next with timestamp only, notify with jobs {}
    let o = req(&mut j, "job2/update", r#"{"status":"REJECTED"}"#);
    assert_eq!(
        o.notifications[0].payload,
        json!({"timestamp": NOW + 5, "jobs": {}})
    );
    assert_eq!(o.notifications[1].payload, json!({"timestamp": NOW + 5}));
}

#[test]
fn device_transitions_table() {
    use Status::*;
    // (from, to, allowed)
    for from in [Queued, InProgress] {
        for to in Status::ALL {
            let mut j = setup();
            if from == InProgress {
                req(&mut j, "job1/update", r#"{"status":"IN_PROGRESS"}"#);
            }
            let o = req(
                &mut j,
                "job1/update",
                &format!(r#"{{"status":"{}"}}"#, to.as_str()),
            );
            let allowed = to.device_settable();
            assert_eq!(o.rejected.is_none(), allowed, "{from:?} -> {to:?}");
        }
    }
}

#[test]
fn starting_a_non_head_execution_changes_the_head() {
    let mut j = setup();
    let o = req(&mut j, "job2/update", r#"{"status":"IN_PROGRESS"}"#);
    assert_eq!(topics(&o.notifications), [t("notify"), t("notify-next")]);
    assert_eq!(o.notifications[1].payload["execution"]["jobId"], "job2");
    assert_eq!(
        o.notifications[1].payload["execution"]["status"],
        "IN_PROGRESS"
    );
    // describe $next now gives job2 (IN_PROGRESS first)
    let o = req(&mut j, "$next/get", "{}");
    assert_eq!(reply(&o)["execution"]["jobId"], "job2");
    // other things are not notified
    assert!(o.notifications.iter().all(|m| m.topic.contains("/dev1/")));
}

#[test]
fn step_timer() {
    let mut j = setup();
    let o = req(&mut j, "start-next", r#"{"stepTimeoutInMinutes":2}"#);
    let timer = o.timers[0].clone();
    assert_eq!(
        (timer.thing.as_str(), timer.job_id.as_str(), timer.minutes),
        ("dev1", "job1", 2)
    );
    // stale generation: nothing
    assert!(j
        .step_timeout("dev1", "job1", timer.generation + 1, NOW)
        .is_empty());
    let m = j.step_timeout("dev1", "job1", timer.generation, NOW + 120);
    assert_eq!(topics(&m), [t("notify"), t("notify-next")]);
    let e = &j.execs[&("dev1".into(), "job1".into())];
    assert_eq!(e.status, Status::TimedOut);
    assert_eq!(e.version, 3);
    // TIMED_OUT is terminal
    let o = req(&mut j, "job1/update", r#"{"status":"SUCCEEDED"}"#);
    assert_eq!(o.rejected, Some(Code::InvalidStateTransition));
    // fires once
    assert!(j
        .step_timeout("dev1", "job1", timer.generation, NOW)
        .is_empty());

    // update re-arms; -1 cancels
    let o = req(
        &mut j,
        "job2/update",
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":1}"#,
    );
    let t1 = o.timers[0].clone();
    let o = req(
        &mut j,
        "job2/update",
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":3}"#,
    );
    let t2 = o.timers[0].clone();
    assert!(
        j.step_timeout("dev1", "job2", t1.generation, NOW)
            .is_empty(),
        "replaced"
    );
    let o = req(
        &mut j,
        "job2/update",
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":-1}"#,
    );
    assert!(o.timers.is_empty());
    assert!(
        j.step_timeout("dev1", "job2", t2.generation, NOW)
            .is_empty(),
        "canceled"
    );
    let o = req(&mut j, "job2/get", "{}");
    assert!(reply(&o)["execution"]
        .get("approximateSecondsBeforeTimedOut")
        .is_none());
    // a terminal update cancels the timer too
    let o = req(
        &mut j,
        "job2/update",
        r#"{"status":"IN_PROGRESS","stepTimeoutInMinutes":3}"#,
    );
    let t3 = o.timers[0].clone();
    req(&mut j, "job2/update", r#"{"status":"SUCCEEDED"}"#);
    assert!(j
        .step_timeout("dev1", "job2", t3.generation, NOW)
        .is_empty());
}

#[test]
fn control_plane_cancel_and_remove() {
    let mut j = setup();
    req(&mut j, "start-next", "{}"); // job1 IN_PROGRESS on dev1
                                     // cancel job1 without force: the IN_PROGRESS execution stays
    let m = j.cancel_job("job1", false, NOW).unwrap();
    assert!(m.is_empty());
    assert_eq!(
        j.execs[&("dev1".into(), "job1".into())].status,
        Status::InProgress
    );
    assert_eq!(j.job_status("job1"), Some("CANCELED"));
    assert!(j.cancel_job("job1", true, NOW).is_err(), "already canceled");
    // cancel_execution needs force for IN_PROGRESS
    assert!(j
        .cancel_execution("job1", "dev1", false, NOW)
        .unwrap_err()
        .contains("force"));
    let m = j.cancel_execution("job1", "dev1", true, NOW).unwrap();
    assert_eq!(topics(&m), [t("notify"), t("notify-next")]);
    assert_eq!(m[1].payload["execution"]["jobId"], "job2");
    let e = &j.execs[&("dev1".into(), "job1".into())];
    assert_eq!((e.status, e.version), (Status::Canceled, 3));
    // device update after cancel: InvalidStateTransition
    let o = req(&mut j, "job1/update", r#"{"status":"SUCCEEDED"}"#);
    assert_eq!(o.rejected, Some(Code::InvalidStateTransition));
    assert_eq!(reply(&o)["executionState"]["status"], "CANCELED");
    // remove dev2 from job2
    let m = j.remove_thing("job2", "dev2", NOW).unwrap();
    assert_eq!(m[0].topic, "$aws/things/dev2/jobs/notify");
    assert_eq!(
        j.execs[&("dev2".into(), "job2".into())].status,
        Status::Removed
    );
    assert!(j
        .remove_thing("job2", "dev2", NOW)
        .unwrap_err()
        .contains("terminal"));
    assert!(j
        .remove_thing("job2", "ghost", NOW)
        .unwrap_err()
        .contains("unknown thing"));
    assert!(j
        .cancel_job("ghost", false, NOW)
        .unwrap_err()
        .contains("unknown job"));
    let o = j.request("$aws/things/dev2/jobs/job2/get", b"{}", NOW);
    assert_eq!(o.rejected, Some(Code::TerminalStateReached));
    // force cancel of a job cancels IN_PROGRESS executions
    req(&mut j, "job2/update", r#"{"status":"IN_PROGRESS"}"#);
    j.create_job("job3", json!({}), &["dev3"], NOW).unwrap();
    j.request("$aws/things/dev3/jobs/start-next", b"{}", NOW);
    let m = j.cancel_job("job3", true, NOW).unwrap();
    assert_eq!(m.last().unwrap().payload, json!({"timestamp": NOW}));
    assert_eq!(j.job_status("job2"), Some("IN_PROGRESS"));
    req(&mut j, "job2/update", r#"{"status":"SUCCEEDED"}"#);
    assert_eq!(j.job_status("job2"), Some("COMPLETED"));
    // operator views
    let d = j.describe_execution("job2", "dev1", NOW).unwrap();
    assert_eq!(d["jobDocument"], json!({"op": "two"}));
    assert_eq!(j.list_executions(NOW).len(), 4);
    assert_eq!(j.list_jobs().len(), 3);
}

#[test]
fn topic_parsing() {
    assert_eq!(
        parse_topic("$aws/things/t/jobs/get"),
        Some(("t".into(), Ok(Op::GetPending)))
    );
    assert_eq!(
        parse_topic("$aws/things/t/jobs/start-next"),
        Some(("t".into(), Ok(Op::StartNext)))
    );
    assert_eq!(
        parse_topic("$aws/things/t/jobs/$next/get"),
        Some(("t".into(), Ok(Op::Describe("$next".into()))))
    );
    assert_eq!(
        parse_topic("$aws/things/t/jobs/j/update"),
        Some(("t".into(), Ok(Op::Update("j".into()))))
    );
    assert_eq!(
        parse_topic("$aws/things/t/jobs/j/update/accepted"),
        Some(("t".into(), Err(())))
    );
    assert_eq!(parse_topic("$aws/things/t/shadow/get"), None);
    assert_eq!(parse_topic("aws/things/t/jobs/get"), None);
}

#[test]
fn in_progress_timeout_of_the_job() {
    let mut j = Jobs::new();
    let opts = JobOptions {
        in_progress_timeout_minutes: Some(3),
        ..Default::default()
    };
    assert!(j
        .create_job_with(
            "bad",
            json!({}),
            &["dev1"],
            JobOptions {
                in_progress_timeout_minutes: Some(0),
                ..Default::default()
            },
            NOW
        )
        .is_err());
    j.create_job_with("slow", json!({}), &["dev1", "dev2"], opts, NOW)
        .unwrap();
    // no timer while QUEUED; starting arms it (StartNext and Update alike)
    let o = req(&mut j, "start-next", "{}");
    let t = o
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::InProgress)
        .unwrap()
        .clone();
    assert_eq!(t.minutes, 3);
    assert_eq!(
        reply(&o)["execution"]["approximateSecondsBeforeTimedOut"],
        180
    );
    let o = j.request(
        "$aws/things/dev2/jobs/slow/update",
        br#"{"status":"IN_PROGRESS"}"#,
        NOW,
    );
    let t2 = o.timers[0].clone();
    assert_eq!(t2.kind, TimerKind::InProgress);
    // progress updates do not re-arm it
    assert!(req(&mut j, "slow/update", r#"{"status":"IN_PROGRESS"}"#)
        .timers
        .is_empty());
    let m = j.timer_fired(&t, NOW + 180);
    assert_eq!(topics(&m), [t_("notify"), t_("notify-next")]);
    assert_eq!(
        j.execs[&("dev1".into(), "slow".into())].status,
        Status::TimedOut
    );
    assert!(j.timer_fired(&t, NOW).is_empty(), "once");
    // finished first: nothing happens
    j.request(
        "$aws/things/dev2/jobs/slow/update",
        br#"{"status":"SUCCEEDED"}"#,
        NOW,
    );
    assert!(j.timer_fired(&t2, NOW).is_empty());
    assert_eq!(j.list_jobs()[0]["inProgressTimeoutInMinutes"], 3);
}

fn t_(s: &str) -> String {
    t(s)
}

// ---- retries (jobExecutionsRetryConfig) ----

fn retrying(failed: Option<u32>, timed_out: Option<u32>, all: Option<u32>) -> JobOptions {
    JobOptions {
        retry: RetryConfig {
            failed,
            timed_out,
            all,
        },
        ..Default::default()
    }
}

/// Starts the thing's next execution and ends it with `status` (FAILED, SUCCEEDED, REJECTED);
/// returns the update's outcome.
fn start_and_end(j: &mut Jobs, thing: &str, job: &str, status: &str) -> Outcome {
    let o = j.request(
        &format!("$aws/things/{thing}/jobs/start-next"),
        b"{}",
        NOW + 1,
    );
    assert_eq!(reply(&o)["execution"]["jobId"], job, "{:?}", reply(&o));
    j.request(
        &format!("$aws/things/{thing}/jobs/{job}/update"),
        format!(r#"{{"status":"{status}","statusDetails":{{"why":"x"}}}}"#).as_bytes(),
        NOW + 2,
    )
}

/// Execution numbers of the job on the thing, oldest first, with their statuses.
fn attempts(j: &Jobs, thing: &str, job: &str) -> Vec<(u64, Status)> {
    j.list_executions(NOW)
        .iter()
        .filter(|e| e["thingName"] == thing && e["jobId"] == job)
        .map(|e| {
            (
                e["executionNumber"].as_u64().unwrap(),
                Status::parse(e["status"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn failed_execution_is_retried_up_to_n_times() {
    let mut j = Jobs::new();
    j.create_job_with(
        "fw",
        json!({"v": 2}),
        &["dev1"],
        retrying(Some(2), None, None),
        NOW,
    )
    .unwrap();
    let o = start_and_end(&mut j, "dev1", "fw", "FAILED");
    assert_eq!(o.rejected, None);
    // the ending as without retries, then the new execution as a newly queued one
    assert_eq!(
        topics(&o.notifications),
        [t("notify"), t("notify-next"), t("notify"), t("notify-next")]
    );
    assert_eq!(o.notifications[1].payload, json!({"timestamp": NOW + 2}));
    assert_eq!(
        o.notifications[2].payload["jobs"]["QUEUED"][0],
        json!({"jobId": "fw", "queuedAt": NOW + 2, "lastUpdatedAt": NOW + 2,
               "versionNumber": 1, "executionNumber": 2})
    );
    let next = &o.notifications[3].payload["execution"];
    assert_eq!(next["executionNumber"], 2);
    assert_eq!(next["versionNumber"], 1);
    assert_eq!(next["status"], "QUEUED");
    assert_eq!(next["queuedAt"], NOW + 2);
    assert_eq!(next["jobDocument"], json!({"v": 2}));
    assert!(next.get("statusDetails").is_none(), "a retry starts clean");
    assert!(next.get("startedAt").is_none());
    // pending like any queued execution; start-next starts it
    let o = req(&mut j, "get", "{}");
    assert_eq!(reply(&o)["queuedJobs"][0]["executionNumber"], 2);
    let o = start_and_end(&mut j, "dev1", "fw", "FAILED");
    assert_eq!(o.notifications.len(), 4, "second retry");
    let o = start_and_end(&mut j, "dev1", "fw", "FAILED");
    assert_eq!(
        topics(&o.notifications),
        [t("notify"), t("notify-next")],
        "2 retries used: no third"
    );
    assert_eq!(
        attempts(&j, "dev1", "fw"),
        [
            (1, Status::Failed),
            (2, Status::Failed),
            (3, Status::Failed)
        ]
    );
    assert_eq!(j.job_status("fw"), Some("COMPLETED"));
    assert_eq!(
        j.describe_job("fw").unwrap()["executionCounts"],
        json!({"FAILED": 1}),
        "counts are per thing"
    );
    // a success ends the retries too
    j.create_job_with(
        "ok",
        json!({}),
        &["dev2"],
        retrying(Some(2), None, None),
        NOW,
    )
    .unwrap();
    start_and_end(&mut j, "dev2", "ok", "FAILED");
    let o = start_and_end(&mut j, "dev2", "ok", "SUCCEEDED");
    assert_eq!(o.notifications.len(), 2);
    assert_eq!(
        attempts(&j, "dev2", "ok"),
        [(1, Status::Failed), (2, Status::Succeeded)]
    );
}

#[test]
fn a_retry_queues_behind_the_things_other_jobs() {
    let mut j = Jobs::new();
    j.create_job_with(
        "a",
        json!({}),
        &["dev1"],
        retrying(Some(1), None, None),
        NOW,
    )
    .unwrap();
    j.create_job("b", json!({}), &["dev1"], NOW).unwrap();
    let o = start_and_end(&mut j, "dev1", "a", "FAILED");
    assert_eq!(
        topics(&o.notifications),
        [t("notify"), t("notify-next"), t("notify")],
        "b became the head; the retry does not change it"
    );
    assert_eq!(o.notifications[1].payload["execution"]["jobId"], "b");
    let q = &o.notifications[2].payload["jobs"]["QUEUED"];
    assert_eq!(q[0]["jobId"], "b");
    assert_eq!(
        (q[1]["jobId"].as_str(), q[1]["executionNumber"].as_u64()),
        (Some("a"), Some(2))
    );
}

#[test]
fn timed_out_is_retried_only_with_its_criterion() {
    let mut j = Jobs::new();
    j.create_job_with(
        "f",
        json!({}),
        &["dev1"],
        retrying(Some(3), None, None),
        NOW,
    )
    .unwrap();
    let o = req(&mut j, "start-next", r#"{"stepTimeoutInMinutes":1}"#);
    let m = j.step_timeout("dev1", "f", o.timers[0].generation, NOW + 60);
    assert_eq!(topics(&m), [t("notify"), t("notify-next")], "FAILED only");
    assert_eq!(attempts(&j, "dev1", "f"), [(1, Status::TimedOut)]);

    // step timer
    let mut j = Jobs::new();
    let mut opts = retrying(None, Some(1), None);
    opts.in_progress_timeout_minutes = Some(5);
    j.create_job_with("s", json!({}), &["dev1"], opts, NOW)
        .unwrap();
    let o = req(&mut j, "start-next", r#"{"stepTimeoutInMinutes":1}"#);
    let step1 = o
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::Step)
        .unwrap()
        .clone();
    let ip1 = o
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::InProgress)
        .unwrap()
        .clone();
    let m = j.timer_fired(&step1, NOW + 60);
    assert_eq!(
        topics(&m),
        [t("notify"), t("notify-next"), t("notify"), t("notify-next")]
    );
    assert_eq!(m[3].payload["execution"]["executionNumber"], 2);
    // the first execution's timers do not reach the second
    let o = req(&mut j, "start-next", r#"{"stepTimeoutInMinutes":1}"#);
    assert_eq!(reply(&o)["execution"]["executionNumber"], 2);
    let step2 = o
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::Step)
        .unwrap()
        .clone();
    let ip2 = o
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::InProgress)
        .unwrap()
        .clone();
    assert!(j.timer_fired(&ip1, NOW + 300).is_empty());
    assert!(j.timer_fired(&step1, NOW + 300).is_empty());
    assert_eq!(
        j.execs[&("dev1".into(), "s".into())].status,
        Status::InProgress
    );
    // the in-progress timer times it out as well; the one TIMED_OUT retry is used up
    let m = j.timer_fired(&ip2, NOW + 300);
    assert_eq!(topics(&m), [t("notify"), t("notify-next")]);
    assert!(j.timer_fired(&step2, NOW + 300).is_empty());
    assert_eq!(
        attempts(&j, "dev1", "s"),
        [(1, Status::TimedOut), (2, Status::TimedOut)]
    );

    // in-progress timer, retried
    let mut j = Jobs::new();
    let mut opts = retrying(None, None, Some(1));
    opts.in_progress_timeout_minutes = Some(2);
    j.create_job_with("i", json!({}), &["dev1"], opts, NOW)
        .unwrap();
    let o = req(&mut j, "start-next", "{}");
    let m = j.timer_fired(&o.timers[0], NOW + 120);
    assert_eq!(m.len(), 4);
    assert_eq!(
        attempts(&j, "dev1", "i"),
        [(1, Status::TimedOut), (2, Status::Queued)]
    );
}

#[test]
fn no_retry_for_other_endings() {
    let mut j = Jobs::new();
    let all = || retrying(None, None, Some(5));
    for (job, status) in [("s", "SUCCEEDED"), ("r", "REJECTED")] {
        j.create_job_with(job, json!({}), &["dev1"], all(), NOW)
            .unwrap();
        let o = start_and_end(&mut j, "dev1", job, status);
        assert_eq!(o.notifications.len(), 2, "{status}");
        assert_eq!(attempts(&j, "dev1", job).len(), 1);
    }
    // canceled (queued, in progress), removed
    j.create_job_with("c", json!({}), &["dev1", "dev2"], all(), NOW)
        .unwrap();
    j.request("$aws/things/dev2/jobs/start-next", b"{}", NOW);
    j.cancel_execution("c", "dev2", true, NOW).unwrap();
    j.remove_thing("c", "dev1", NOW).unwrap();
    assert_eq!(attempts(&j, "dev2", "c"), [(1, Status::Canceled)]);
    assert_eq!(attempts(&j, "dev1", "c"), [(1, Status::Removed)]);
    // a job canceled while an execution runs: its failure is not retried
    j.create_job_with("k", json!({}), &["dev3"], all(), NOW)
        .unwrap();
    j.request("$aws/things/dev3/jobs/start-next", b"{}", NOW);
    j.cancel_job("k", false, NOW).unwrap();
    let o = j.request(
        "$aws/things/dev3/jobs/k/update",
        br#"{"status":"FAILED"}"#,
        NOW,
    );
    assert_eq!(topics(&o.notifications).len(), 2);
    assert_eq!(attempts(&j, "dev3", "k"), [(1, Status::Failed)]);
    // a queued retry is canceled with its job, and not retried again
    j.create_job_with("q", json!({}), &["dev4"], all(), NOW)
        .unwrap();
    start_and_end(&mut j, "dev4", "q", "FAILED");
    j.cancel_job("q", false, NOW).unwrap();
    assert_eq!(
        attempts(&j, "dev4", "q"),
        [(1, Status::Failed), (2, Status::Canceled)]
    );
}

#[test]
fn older_executions_stay_readable_by_number() {
    let mut j = Jobs::new();
    j.create_job_with(
        "fw",
        json!({"v": 1}),
        &["dev1"],
        retrying(Some(1), None, None),
        NOW,
    )
    .unwrap();
    start_and_end(&mut j, "dev1", "fw", "FAILED");
    // default: the latest
    let o = req(&mut j, "fw/get", "{}");
    assert_eq!(reply(&o)["execution"]["executionNumber"], 2);
    assert_eq!(reply(&o)["execution"]["status"], "QUEUED");
    // by number, as a number or a digit string
    for p in [r#"{"executionNumber":1}"#, r#"{"executionNumber":"1"}"#] {
        let o = req(&mut j, "fw/get", p);
        let e = &reply(&o)["execution"];
        assert_eq!(o.rejected, None, "{p}");
        assert_eq!(e["executionNumber"], 1);
        assert_eq!(e["status"], "FAILED");
        assert_eq!(e["statusDetails"], json!({"why": "x"}));
        assert_eq!(e["versionNumber"], 3);
        assert_eq!(e["jobDocument"], json!({"v": 1}));
    }
    let o = req(&mut j, "fw/get", r#"{"executionNumber":3}"#);
    assert_eq!(o.rejected, Some(Code::ResourceNotFound));
    // $next names the retry; an older number is found through it too
    let o = req(&mut j, "$next/get", r#"{"executionNumber":1}"#);
    assert_eq!(reply(&o)["execution"]["status"], "FAILED");
    // an update of the older one: terminal
    let o = req(
        &mut j,
        "fw/update",
        r#"{"status":"IN_PROGRESS","executionNumber":1}"#,
    );
    assert_eq!(o.rejected, Some(Code::InvalidStateTransition));
    assert_eq!(reply(&o)["executionState"]["status"], "FAILED");
    // the same with the new number, or none, moves the retry
    let o = req(
        &mut j,
        "fw/update",
        r#"{"status":"IN_PROGRESS","executionNumber":2,"expectedVersion":1}"#,
    );
    assert_eq!(o.rejected, None);
    // operator views
    assert_eq!(
        j.describe_execution_number("fw", "dev1", Some(1), NOW)
            .unwrap()["status"],
        "FAILED"
    );
    assert_eq!(
        j.describe_execution("fw", "dev1", NOW).unwrap()["status"],
        "IN_PROGRESS"
    );
    assert!(j
        .describe_execution_number("fw", "dev1", Some(9), NOW)
        .is_none());
    assert_eq!(
        attempts(&j, "dev1", "fw"),
        [(1, Status::Failed), (2, Status::InProgress)]
    );
}

#[test]
fn list_executions_keeps_each_things_attempts_together() {
    let mut j = Jobs::new();
    j.create_job_with(
        "a",
        json!({}),
        &["dev1", "dev2"],
        retrying(Some(1), None, None),
        NOW,
    )
    .unwrap();
    j.create_job("b", json!({}), &["dev1"], NOW).unwrap();
    start_and_end(&mut j, "dev1", "a", "FAILED");
    let order: Vec<(String, String, u64)> = j
        .list_executions(NOW)
        .iter()
        .map(|e| {
            (
                e["jobId"].as_str().unwrap().into(),
                e["thingName"].as_str().unwrap().into(),
                e["executionNumber"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("a", "dev1", 1),
        ("a", "dev1", 2),
        ("a", "dev2", 1),
        ("b", "dev1", 1),
    ]
    .iter()
    .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
    .collect();
    assert_eq!(order, want);
}

#[test]
fn retry_counts_per_failure_type() {
    // FAILED 2, TIMED_OUT 1: each counts its own type, all together at most 2
    let run = |opts: JobOptions, endings: &[Status]| -> usize {
        let mut j = Jobs::new();
        j.create_job_with("x", json!({}), &["dev1"], opts, NOW)
            .unwrap();
        for end in endings {
            let o = req(&mut j, "start-next", r#"{"stepTimeoutInMinutes":1}"#);
            let timer = o.timers[0].clone();
            match end {
                Status::Failed => {
                    req(&mut j, "x/update", r#"{"status":"FAILED"}"#);
                }
                _ => {
                    j.timer_fired(&timer, NOW + 60);
                }
            }
            let latest = &j.execs[&("dev1".into(), "x".into())];
            if latest.status != Status::Queued {
                break;
            }
        }
        attempts(&j, "dev1", "x").len()
    };
    use Status::{Failed as F, TimedOut as T};
    let both = || retrying(Some(2), Some(1), None);
    assert_eq!(run(both(), &[T, T]), 2, "one TIMED_OUT retry");
    assert_eq!(run(both(), &[F, F, F]), 3, "two FAILED retries");
    assert_eq!(run(both(), &[F, T, F]), 3, "at most 2 in all");
    assert_eq!(run(both(), &[T, F, F]), 3);
    // ALL: one count for both types
    assert_eq!(run(retrying(None, None, Some(2)), &[F, T, F]), 3);
    assert_eq!(run(retrying(None, None, Some(0)), &[F]), 1);
    // ALL with FAILED: FAILED has its own count, ALL stands for TIMED_OUT
    let mixed = || retrying(Some(1), None, Some(3));
    assert_eq!(run(mixed(), &[F, F]), 2);
    assert_eq!(run(mixed(), &[T, T, T, T]), 4);
    assert_eq!(run(mixed(), &[F, T, T, T]), 4, "at most 3 in all");
    // TIMED_OUT alone: FAILED not retried
    assert_eq!(run(retrying(None, Some(10), None), &[T, F]), 2);
    // ten, the most AWS allows
    assert_eq!(run(retrying(None, None, Some(10)), &[F; 12]), 11);
}

#[test]
fn retry_config_limits_and_forms() {
    let parse = |v: Value| RetryConfig::from_json(&v);
    assert_eq!(
        parse(json!({"FAILED": 2, "TIMED_OUT": 1})).unwrap(),
        RetryConfig {
            failed: Some(2),
            timed_out: Some(1),
            all: None
        }
    );
    let aws = json!({"criteriaList": [{"failureType": "ALL", "numberOfRetries": 10}]});
    let c = parse(aws.clone()).unwrap();
    assert_eq!(c.all, Some(10));
    assert_eq!(c.to_json(), aws, "round trip");
    assert!(parse(json!({})).unwrap().is_empty());
    for (v, needle) in [
        (json!({"FAILED": 11}), "0-10"),
        (json!({"FAILED": -1}), "0-10"),
        (json!({"FAILED": "2"}), "0-10"),
        (json!({"REJECTED": 1}), "failure type"),
        (json!({"FAILED": 6, "TIMED_OUT": 5}), "together"),
        (json!({"FAILED": 1, "TIMED_OUT": 1, "ALL": 1}), "at most 2"),
        (json!([1]), "must be an object"),
        (json!({"criteriaList": []}), "1 or 2"),
        (
            json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1},
                                    {"failureType": "FAILED", "numberOfRetries": 2}]}),
            "twice",
        ),
        (
            json!({"criteriaList": [{"numberOfRetries": 1}]}),
            "failureType",
        ),
        (json!({"criteriaList": [{"failureType": "ALL"}]}), "0-10"),
        (json!({"criteriaList": [], "FAILED": 1}), "no other"),
    ] {
        let e = parse(v.clone()).unwrap_err();
        assert!(e.contains(needle), "{v}: {e}");
    }
    // create_job_with checks a config built in code
    let mut j = Jobs::new();
    let e = j
        .create_job_with(
            "x",
            json!({}),
            &["dev1"],
            retrying(Some(11), None, None),
            NOW,
        )
        .unwrap_err();
    assert!(e.contains("0-10"), "{e}");
    assert!(j.jobs.is_empty());
    // the job lists its config in AWS's form; without one, nothing
    j.create_job_with(
        "x",
        json!({}),
        &["dev1"],
        retrying(Some(2), Some(1), None),
        NOW,
    )
    .unwrap();
    j.create_job("y", json!({}), &["dev1"], NOW).unwrap();
    let jobs = j.list_jobs();
    assert_eq!(
        jobs[0]["jobExecutionsRetryConfig"],
        json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2},
                                {"failureType": "TIMED_OUT", "numberOfRetries": 1}]})
    );
    assert!(jobs[1].get("jobExecutionsRetryConfig").is_none());
}
