//! The agent's decisions, input by input: what is sent, run, journaled and reported.

use super::*;

fn key(id: &str, n: u64) -> Key {
    Key {
        job_id: id.into(),
        execution_number: n,
    }
}

fn exec(id: &str, n: u64, doc: &str) -> ExecInfo {
    ExecInfo {
        key: key(id, n),
        status: ExecutionStatus::InProgress,
        version: 2,
        document: Some(doc.into()),
    }
}

fn details(k: &str, v: &str) -> StatusDetails {
    StatusDetails::from_pairs([(k, v)]).unwrap()
}

struct H {
    m: Machine,
    now: Instant,
}

impl H {
    fn new() -> H {
        let mut cfg = MachineConfig {
            seed: 7,
            ..MachineConfig::default()
        };
        cfg.handlers.insert("install".into(), ResumePolicy::Resume);
        cfg.handlers
            .insert("reboot-once".into(), ResumePolicy::Fail);
        H::with(cfg)
    }

    fn with(cfg: MachineConfig) -> H {
        H {
            m: Machine::new(cfg),
            now: Instant::now(),
        }
    }

    fn actions(&mut self) -> Vec<Action> {
        self.m.take_actions()
    }

    /// The one request sent by the last inputs: (id, request).
    fn sent(&mut self) -> (u64, JobsRequest) {
        let sends: Vec<_> = self
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Send { id, request } => Some((id, request)),
                _ => None,
            })
            .collect();
        assert_eq!(sends.len(), 1, "one request: {sends:?}");
        sends.into_iter().next().unwrap()
    }

    fn start_online(&mut self) -> u64 {
        self.m.start(Recovered::default(), self.now);
        self.m.online(self.now);
        let (id, req) = self.sent();
        assert!(matches!(req, JobsRequest::StartNext { .. }), "{req:?}");
        id
    }

    /// Starts, gets `install` job j1 from start-next, and checks it runs.
    fn running_job(&mut self) {
        let id = self.start_online();
        self.m.reply(
            id,
            Reply::Execution(Some(exec("j1", 1, r#"{"operation":"install"}"#))),
            self.now,
        );
        let acts = self.actions();
        assert!(matches!(
            &acts[0],
            Action::Journal(JournalOp::Begin { decided: None, .. })
        ));
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::Run { resumed: false, .. })));
    }
}

fn accepted_update() -> Reply {
    Reply::Updated { version: Some(3) }
}

fn rejected(code: RejectionCode, state: Option<(ExecutionStatus, u64)>) -> Reply {
    Reply::Rejected {
        code,
        message: "m".into(),
        state,
    }
}

#[test]
fn nothing_is_sent_before_start_or_while_offline() {
    let mut h = H::new();
    h.m.online(h.now);
    assert!(h.actions().is_empty());
    h.m.offline();
    h.m.start(Recovered::default(), h.now);
    assert!(h.actions().is_empty(), "offline: no read is sent or queued");
    h.m.online(h.now);
    let (_, req) = h.sent();
    assert!(matches!(req, JobsRequest::StartNext { .. }));
}

#[test]
fn told_online_again_without_going_offline_asks_nothing_again() {
    // As when the agent starts on a link that is up and then hears that link's online hook.
    let mut h = H::new();
    let id = h.start_online();
    h.m.online(h.now);
    assert!(
        h.actions().is_empty(),
        "the start-next in flight is not sent again"
    );
    h.m.reply(id, Reply::Execution(None), h.now);
    assert_eq!(
        h.m.counters().stale_replies,
        0,
        "its reply is the one awaited"
    );
}

#[test]
fn a_job_runs_reports_progress_and_its_final_status_once_acknowledged() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.progress(&k, details("step", "1"), None, h.now).unwrap();
    let (id, req) = h.sent();
    match req {
        JobsRequest::Update {
            status,
            expected_version,
            execution_number,
            ..
        } => {
            assert_eq!(status, ExecutionStatus::InProgress);
            assert_eq!(expected_version, 2);
            assert_eq!(execution_number, 1);
        }
        other => panic!("{other:?}"),
    }
    // Two more while the first is in flight: only the latest goes.
    h.m.progress(&k, details("step", "2"), None, h.now).unwrap();
    h.m.progress(&k, details("step", "3"), None, h.now).unwrap();
    assert!(h.actions().is_empty(), "one request in flight");
    h.m.reply(id, accepted_update(), h.now);
    let (id, req) = h.sent();
    match &req {
        JobsRequest::Update {
            details: Some(d),
            expected_version,
            ..
        } => {
            assert_eq!(d.get("step"), Some("3"));
            assert_eq!(*expected_version, 3, "the version from the reply");
        }
        other => panic!("{other:?}"),
    }
    h.m.reply(id, Reply::Updated { version: Some(4) }, h.now);
    h.actions();
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        details("done", "yes"),
        h.now,
    )
    .unwrap();
    let acts = h.actions();
    assert!(matches!(
        &acts[0],
        Action::Journal(JournalOp::Decide {
            status: ExecutionStatus::Succeeded,
            ..
        })
    ));
    let id = match &acts[1] {
        Action::Send {
            id,
            request: JobsRequest::Update { status, .. },
        } => {
            assert_eq!(*status, ExecutionStatus::Succeeded);
            *id
        }
        other => panic!("{other:?}"),
    };
    // A second final status, or progress, is refused.
    let e =
        h.m.decide(&k, ExecutionStatus::Failed, StatusDetails::default(), h.now);
    assert_eq!(e.unwrap_err().code, jobs_result::JobEnded);
    let e = h.m.progress(&k, details("a", "b"), None, h.now);
    assert_eq!(e.unwrap_err().code, jobs_result::JobEnded);
    h.m.reply(id, accepted_update(), h.now);
    let acts = h.actions();
    assert!(acts.contains(&Action::Journal(JournalOp::Finish {
        key: k.clone(),
        status: ExecutionStatus::Succeeded
    })));
    // The handler still runs: the next job waits for it.
    assert!(!acts.iter().any(|a| matches!(a, Action::Send { .. })));
    h.m.handler_returned(&k, h.now);
    let (_, req) = h.sent();
    assert!(
        matches!(req, JobsRequest::StartNext { .. }),
        "then the next job"
    );
    assert_eq!(h.m.counters().finished, 1);
    assert_eq!(h.m.counters().progress_sent, 2);
}

#[test]
fn a_handler_returning_without_a_status_fails_the_job_with_a_reason() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.handler_returned(&k, h.now);
    let acts = h.actions();
    match &acts[0] {
        Action::Journal(JournalOp::Decide {
            status, details, ..
        }) => {
            assert_eq!(*status, ExecutionStatus::Failed);
            assert!(details
                .get("reason")
                .unwrap()
                .contains("without a final status"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_documents_and_unknown_operations_are_rejected_with_a_reason() {
    let huge = format!(
        r#"{{"operation":"install","x":"{}"}}"#,
        "x".repeat(crate::jobs::document::MAX_DOCUMENT_BYTES)
    );
    let huge_why = format!(
        "the job document is {} bytes, over the {}-byte limit",
        huge.len(),
        crate::jobs::document::MAX_DOCUMENT_BYTES
    );
    for (doc, why) in [
        ("not json", "the job document is not JSON"),
        ("[1]", "the job document is not a JSON object"),
        (r#"{"x":1}"#, "the job document has no operation"),
        (r#"{"operation":5}"#, "the job document has no operation"),
        (
            r#"{"operation":"paint"}"#,
            "no handler for operation \"paint\"",
        ),
        (huge.as_str(), huge_why.as_str()),
    ] {
        let mut h = H::new();
        let id = h.start_online();
        h.m.reply(id, Reply::Execution(Some(exec("j", 1, doc))), h.now);
        let acts = h.actions();
        assert!(
            !acts.iter().any(|a| matches!(a, Action::Run { .. })),
            "{doc}"
        );
        let sent = acts.iter().find_map(|a| match a {
            Action::Send {
                request:
                    JobsRequest::Update {
                        status, details, ..
                    },
                ..
            } => Some((*status, details.clone())),
            _ => None,
        });
        let (status, details) = sent.unwrap_or_else(|| panic!("{doc}: {acts:?}"));
        assert_eq!(status, ExecutionStatus::Rejected);
        let reason = details.unwrap().get("reason").unwrap().to_owned();
        assert!(
            reason.starts_with(why),
            "{}: {reason}",
            &doc[..doc.len().min(40)]
        );
    }
    // A default handler takes other operations.
    let mut h = H::with(MachineConfig {
        default_handler: Some(ResumePolicy::Resume),
        ..MachineConfig::default()
    });
    let id = h.start_online();
    h.m.reply(
        id,
        Reply::Execution(Some(exec("j", 1, r#"{"operation":"paint"}"#))),
        h.now,
    );
    assert!(h.actions().iter().any(|a| matches!(a, Action::Run { .. })));
}

#[test]
fn a_notification_that_the_job_is_gone_is_checked_then_the_handler_is_told() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    // A duplicate notify-next of the running job changes nothing.
    h.m.notify_next(Some(exec("j1", 1, "{}")), h.now);
    assert!(h.actions().is_empty());
    assert_eq!(h.m.counters().duplicates_suppressed, 1);
    // An empty notify-next: describe first.
    h.m.notify_next(None, h.now);
    let (id, req) = h.sent();
    assert!(
        matches!(req, JobsRequest::Describe { ref job_id, execution_number: 1, .. } if job_id == "j1")
    );
    let mut canceled = exec("j1", 1, "{}");
    canceled.status = ExecutionStatus::Canceled;
    h.m.reply(id, Reply::Execution(Some(canceled)), h.now);
    let acts = h.actions();
    assert!(acts.contains(&Action::TellCancelled {
        key: k.clone(),
        status: ExecutionStatus::Canceled
    }));
    assert!(acts.contains(&Action::Journal(JournalOp::Finish {
        key: k.clone(),
        status: ExecutionStatus::Canceled
    })));
    // Later updates are refused and nothing is sent for the job.
    let e =
        h.m.progress(&k, details("a", "b"), None, h.now)
            .unwrap_err();
    assert_eq!(e.code, jobs_result::Cancelled);
    let e =
        h.m.decide(
            &k,
            ExecutionStatus::Succeeded,
            StatusDetails::default(),
            h.now,
        )
        .unwrap_err();
    assert_eq!(e.code, jobs_result::Cancelled);
    assert!(h.actions().is_empty());
    h.m.handler_returned(&k, h.now);
    let (_, req) = h.sent();
    assert!(matches!(req, JobsRequest::StartNext { .. }));
}

#[test]
fn a_hint_during_a_describe_asks_for_another() {
    let mut h = H::new();
    h.running_job();
    h.m.notify(&[], h.now);
    let (id, _) = h.sent();
    h.m.notify_next(None, h.now);
    h.m.reply(id, Reply::Execution(Some(exec("j1", 1, "{}"))), h.now);
    let (_, req) = h.sent();
    assert!(
        matches!(req, JobsRequest::Describe { .. }),
        "described again: {req:?}"
    );
}

#[test]
fn update_rejections_show_the_job_gone_or_are_reconciled() {
    // Terminal state in the rejection: gone.
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.progress(&k, details("s", "1"), None, h.now).unwrap();
    let (id, _) = h.sent();
    h.m.reply(
        id,
        rejected(
            RejectionCode::InvalidStateTransition,
            Some((ExecutionStatus::Canceled, 5)),
        ),
        h.now,
    );
    assert!(h
        .actions()
        .iter()
        .any(|a| matches!(a, Action::TellCancelled { .. })));

    // ResourceNotFound: removed.
    let mut h = H::new();
    h.running_job();
    h.m.progress(&k, details("s", "1"), None, h.now).unwrap();
    let (id, _) = h.sent();
    h.m.reply(id, rejected(RejectionCode::ResourceNotFound, None), h.now);
    assert!(h.actions().contains(&Action::TellCancelled {
        key: k.clone(),
        status: ExecutionStatus::Removed
    }));

    // VersionMismatch: describe, then the update again with the described version.
    let mut h = H::new();
    h.running_job();
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        StatusDetails::default(),
        h.now,
    )
    .unwrap();
    let (id, _) = h.sent();
    h.m.reply(id, rejected(RejectionCode::VersionMismatch, None), h.now);
    let (id, req) = h.sent();
    assert!(matches!(req, JobsRequest::Describe { .. }), "{req:?}");
    let mut e = exec("j1", 1, "{}");
    e.version = 9;
    h.m.reply(id, Reply::Execution(Some(e)), h.now);
    let (id, req) = h.sent();
    assert!(
        matches!(
            req,
            JobsRequest::Update {
                status: ExecutionStatus::Succeeded,
                expected_version: 9,
                ..
            }
        ),
        "{req:?}"
    );
    h.m.reply(id, accepted_update(), h.now);
    assert_eq!(h.m.counters().finished, 1);
}

#[test]
fn throttling_and_internal_errors_on_the_final_status_are_retried_with_backoff() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.decide(&k, ExecutionStatus::Failed, details("why", "x"), h.now)
        .unwrap();
    let (mut id, _) = h.sent();
    let mut last_wait = Duration::ZERO;
    for (i, code) in [
        RejectionCode::RequestThrottled,
        RejectionCode::InternalError,
        RejectionCode::RequestThrottled,
    ]
    .into_iter()
    .enumerate()
    {
        h.m.reply(id, rejected(code, None), h.now);
        let acts = h.actions();
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::Event(e) if e.kind == AgentEventKind::Retrying)));
        assert!(
            !acts.iter().any(|a| matches!(a, Action::Send { .. })),
            "not at once"
        );
        let due = h.m.next_deadline().expect("a retry is due");
        last_wait = due - h.now;
        assert!(
            last_wait >= Duration::from_millis(250),
            "attempt {i}: {last_wait:?}"
        );
        h.now = due;
        h.m.tick(h.now);
        let (next, req) = h.sent();
        assert!(matches!(
            req,
            JobsRequest::Update {
                status: ExecutionStatus::Failed,
                ..
            }
        ));
        id = next;
    }
    assert!(last_wait <= Duration::from_secs(30));
    h.m.reply(id, accepted_update(), h.now);
    assert_eq!(h.m.counters().finished, 1);
    assert_eq!(h.m.counters().retries, 3);
}

#[test]
fn timeouts_and_lost_links_never_drop_the_final_status() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        StatusDetails::default(),
        h.now,
    )
    .unwrap();
    let (id, _) = h.sent();
    h.m.offline();
    h.m.reply(
        id,
        Reply::Failed {
            code: jobs_result::Timeout,
            message: "no reply".into(),
        },
        h.now,
    );
    h.now += Duration::from_secs(60);
    h.m.tick(h.now);
    assert!(
        h.actions()
            .iter()
            .all(|a| !matches!(a, Action::Send { .. })),
        "offline"
    );
    // Back online: describe first, then the final status.
    h.m.online(h.now);
    let (id, req) = h.sent();
    assert!(matches!(req, JobsRequest::Describe { .. }));
    h.m.reply(id, Reply::Execution(Some(exec("j1", 1, "{}"))), h.now);
    let (_, req) = h.sent();
    assert!(matches!(
        req,
        JobsRequest::Update {
            status: ExecutionStatus::Succeeded,
            ..
        }
    ));
}

#[test]
fn a_final_status_the_service_already_shows_counts_as_acknowledged() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        StatusDetails::default(),
        h.now,
    )
    .unwrap();
    let (_, _) = h.sent();
    // The link drops between the update and its reply; the update had arrived.
    h.m.offline();
    h.m.online(h.now);
    let (id, _) = h.sent();
    let mut done = exec("j1", 1, "{}");
    done.status = ExecutionStatus::Succeeded;
    h.m.reply(id, Reply::Execution(Some(done)), h.now);
    let acts = h.actions();
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Event(e) if e.kind == AgentEventKind::JobFinished)));
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::TellCancelled { .. })));
}

#[test]
fn progress_while_offline_coalesces_and_goes_after_the_check() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.offline();
    for i in 0..5 {
        h.m.progress(&k, details("step", &i.to_string()), None, h.now)
            .unwrap();
    }
    assert!(h.actions().is_empty());
    h.m.online(h.now);
    let (id, req) = h.sent();
    assert!(matches!(req, JobsRequest::Describe { .. }));
    h.m.reply(id, Reply::Execution(Some(exec("j1", 1, "{}"))), h.now);
    let (_, req) = h.sent();
    match req {
        JobsRequest::Update {
            details: Some(d), ..
        } => assert_eq!(d.get("step"), Some("4")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn progress_is_rate_limited_when_asked() {
    let mut cfg = MachineConfig::default();
    cfg.handlers.insert("install".into(), ResumePolicy::Resume);
    cfg.progress_interval = Duration::from_secs(2);
    let mut h = H::with(cfg);
    h.running_job();
    let k = key("j1", 1);
    h.m.progress(&k, details("s", "1"), Some(5), h.now).unwrap();
    let (id, req) = h.sent();
    assert!(matches!(
        req,
        JobsRequest::Update {
            step_timeout: Some(5),
            ..
        }
    ));
    h.m.reply(id, accepted_update(), h.now);
    h.actions();
    h.m.progress(&k, details("s", "2"), None, h.now).unwrap();
    assert!(h.actions().is_empty(), "too soon");
    assert_eq!(h.m.next_deadline(), Some(h.now + Duration::from_secs(2)));
    h.now += Duration::from_secs(2);
    h.m.tick(h.now);
    let (_, req) = h.sent();
    assert!(matches!(req, JobsRequest::Update { .. }));
}

#[test]
fn after_a_restart_a_running_job_resumes_or_fails_as_registered() {
    let mut h = H::new();
    h.m.start(
        Recovered {
            active: Some(RecoveredJob {
                key: key("fw", 3),
                operation: "install".into(),
                version: 4,
                checkpoint: Some(b"rebooting".to_vec()),
                decided: None,
            }),
            finished: vec![],
        },
        h.now,
    );
    assert!(h.actions().is_empty(), "the handler waits for the check");
    h.m.online(h.now);
    let (id, req) = h.sent();
    assert!(
        matches!(
            req,
            JobsRequest::Describe {
                include_job_document: true,
                execution_number: 3,
                ..
            }
        ),
        "{req:?}"
    );
    h.m.reply(
        id,
        Reply::Execution(Some(exec("fw", 3, r#"{"operation":"install","v":2}"#))),
        h.now,
    );
    let acts = h.actions();
    let run = acts.iter().find_map(|a| match a {
        Action::Run {
            resumed,
            checkpoint,
            document,
            ..
        } => Some((*resumed, checkpoint.clone(), document.clone())),
        _ => None,
    });
    assert_eq!(
        run,
        Some((
            true,
            Some(b"rebooting".to_vec()),
            r#"{"operation":"install","v":2}"#.into()
        ))
    );
    assert_eq!(h.m.counters().resumed, 1);

    // Registered to fail on resume: FAILED with a reason, the handler not run.
    let mut h = H::new();
    h.m.start(
        Recovered {
            active: Some(RecoveredJob {
                key: key("r", 1),
                operation: "reboot-once".into(),
                version: 2,
                checkpoint: None,
                decided: None,
            }),
            finished: vec![],
        },
        h.now,
    );
    let acts = h.actions();
    assert!(matches!(
        &acts[0],
        Action::Journal(JournalOp::Decide {
            status: ExecutionStatus::Failed,
            ..
        })
    ));
    h.m.online(h.now);
    let (id, _) = h.sent();
    h.m.reply(id, Reply::Execution(Some(exec("r", 1, "{}"))), h.now);
    let acts = h.actions();
    assert!(!acts.iter().any(|a| matches!(a, Action::Run { .. })));
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Send {
            request: JobsRequest::Update {
                status: ExecutionStatus::Failed,
                ..
            },
            ..
        }
    )));
}

#[test]
fn a_resumed_job_cancelled_while_the_device_was_down_is_not_run() {
    let mut h = H::new();
    h.m.start(
        Recovered {
            active: Some(RecoveredJob {
                key: key("fw", 1),
                operation: "install".into(),
                version: 2,
                checkpoint: None,
                decided: None,
            }),
            finished: vec![],
        },
        h.now,
    );
    h.m.online(h.now);
    let (id, _) = h.sent();
    let mut e = exec("fw", 1, "{}");
    e.status = ExecutionStatus::TimedOut;
    h.m.reply(id, Reply::Execution(Some(e)), h.now);
    let acts = h.actions();
    assert!(!acts.iter().any(|a| matches!(a, Action::Run { .. })));
    assert!(acts.iter().any(|a| matches!(a, Action::Event(e) if e.kind == AgentEventKind::JobCancelled && e.status == ExecutionStatus::TimedOut)));
    // Nothing runs: the next job is asked for.
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Send {
            request: JobsRequest::StartNext { .. },
            ..
        }
    )));
}

#[test]
fn an_unacknowledged_final_status_is_sent_again_after_a_restart() {
    let mut h = H::new();
    h.m.start(
        Recovered {
            active: Some(RecoveredJob {
                key: key("j", 2),
                operation: "install".into(),
                version: 5,
                checkpoint: None,
                decided: Some((ExecutionStatus::Succeeded, details("r", "ok"))),
            }),
            finished: vec![],
        },
        h.now,
    );
    h.m.online(h.now);
    let (id, _) = h.sent();
    h.m.reply(id, Reply::Execution(Some(exec("j", 2, "{}"))), h.now);
    let acts = h.actions();
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Run { .. })),
        "never run again"
    );
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Send {
            request: JobsRequest::Update {
                status: ExecutionStatus::Succeeded,
                execution_number: 2,
                ..
            },
            ..
        }
    )));
}

#[test]
fn a_finished_execution_never_runs_again_but_a_retried_one_does() {
    let mut h = H::new();
    h.m.start(
        Recovered {
            active: None,
            finished: vec![(key("j", 1), ExecutionStatus::Failed)],
        },
        h.now,
    );
    h.m.online(h.now);
    let (id, _) = h.sent();
    // The service still offers execution 1 (its final status was lost): sent again, not run.
    h.m.reply(
        id,
        Reply::Execution(Some(exec("j", 1, r#"{"operation":"install"}"#))),
        h.now,
    );
    let acts = h.actions();
    assert!(!acts.iter().any(|a| matches!(a, Action::Run { .. })));
    let id = acts
        .iter()
        .find_map(|a| match a {
            Action::Send {
                id,
                request:
                    JobsRequest::Update {
                        status: ExecutionStatus::Failed,
                        ..
                    },
            } => Some(*id),
            _ => None,
        })
        .expect("the final status again");
    assert_eq!(h.m.counters().duplicates_suppressed, 1);
    h.m.reply(id, accepted_update(), h.now);
    let (id, req) = h.sent();
    assert!(matches!(req, JobsRequest::StartNext { .. }));
    // Execution 2 of the same job (a retry by the service) runs; the notification of it
    // while start-next is in flight asks for nothing more.
    h.m.notify_next(Some(exec("j", 2, "{}")), h.now);
    assert!(h.actions().is_empty());
    h.m.reply(
        id,
        Reply::Execution(Some(exec("j", 2, r#"{"operation":"install"}"#))),
        h.now,
    );
    assert!(h
        .actions()
        .iter()
        .any(|a| matches!(a, Action::Run { key, .. } if key.execution_number == 2)));
}

#[test]
fn stale_replies_are_counted_and_ignored() {
    let mut h = H::new();
    let id = h.start_online();
    h.m.offline();
    h.m.online(h.now);
    let (id2, _) = h.sent();
    assert_ne!(id, id2, "asked again after the reconnect");
    h.m.reply(id, Reply::Execution(Some(exec("j", 1, "{}"))), h.now);
    assert!(h.actions().is_empty());
    assert_eq!(h.m.counters().stale_replies, 1);
}

#[test]
fn the_finished_memory_is_bounded() {
    let mut h = H::with(MachineConfig {
        finished_capacity: 3,
        ..MachineConfig::default()
    });
    h.m.start(
        Recovered {
            active: None,
            finished: (0..10)
                .map(|i| (key("j", i), ExecutionStatus::Succeeded))
                .collect(),
        },
        h.now,
    );
    assert_eq!(h.m.finished.len(), 3);
    assert!(h.m.finished.contains_key(&key("j", 9)));
    assert!(!h.m.finished.contains_key(&key("j", 0)));
}

#[test]
fn stop_starts_no_new_job() {
    let mut h = H::new();
    h.running_job();
    h.m.stop();
    let k = key("j1", 1);
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        StatusDetails::default(),
        h.now,
    )
    .unwrap();
    let (id, _) = h.sent();
    h.m.reply(id, accepted_update(), h.now);
    h.m.handler_returned(&k, h.now);
    assert!(!h.actions().iter().any(|a| matches!(a, Action::Send { .. })));
    assert!(!h.m.busy());
}

#[test]
fn replies_are_read_from_outcomes() {
    use crate::jobs::event::JobsEvent;
    use crate::mqtt::types::Message;
    use std::sync::Arc;
    let ev = |topic: &str, payload: &str| {
        Arc::new(JobsEvent::parse(Message {
            topic: Arc::from(format!("$aws/things/t/jobs/{topic}").as_str()),
            payload: bytes::Bytes::from(payload.to_owned()),
            qos: 1,
            retain: false,
            dup: false,
            derived: Default::default(),
        }))
    };
    let r = Reply::of(&Outcome::Accepted(ev(
        "start-next/accepted",
        r#"{"execution":{"jobId":"a","status":"IN_PROGRESS","versionNumber":2,"executionNumber":3,"jobDocument":{"operation":"x"}}}"#,
    )));
    match r {
        Reply::Execution(Some(e)) => {
            assert_eq!(e.key, key("a", 3));
            assert_eq!(e.version, 2);
            assert_eq!(e.document.as_deref(), Some(r#"{"operation":"x"}"#));
        }
        other => panic!("{other:?}"),
    }
    let r = Reply::of(&Outcome::Accepted(ev(
        "start-next/accepted",
        r#"{"timestamp":1}"#,
    )));
    assert_eq!(r, Reply::Execution(None));
    let r = Reply::of(&Outcome::Accepted(ev(
        "a/update/accepted",
        r#"{"executionState":{"status":"IN_PROGRESS","versionNumber":7},"timestamp":1}"#,
    )));
    assert_eq!(r, Reply::Updated { version: Some(7) });
    let r = Reply::of(&Outcome::Accepted(ev(
        "a/update/accepted",
        r#"{"timestamp":1}"#,
    )));
    assert_eq!(r, Reply::Updated { version: None });
    let r = Reply::of(&Outcome::Rejected(ev(
        "a/update/rejected",
        r#"{"code":"VersionMismatch","message":"v","executionState":{"status":"IN_PROGRESS","versionNumber":4}}"#,
    )));
    assert_eq!(
        r,
        Reply::Rejected {
            code: RejectionCode::VersionMismatch,
            message: "v".into(),
            state: Some((ExecutionStatus::InProgress, 4))
        }
    );
}

#[test]
fn a_job_that_ended_while_offline_leaves_the_agent_idle() {
    let mut h = H::new();
    h.running_job();
    let k = key("j1", 1);
    h.m.decide(
        &k,
        ExecutionStatus::Succeeded,
        StatusDetails::default(),
        h.now,
    )
    .unwrap();
    let (id, _) = h.sent();
    h.m.reply(id, accepted_update(), h.now);
    h.m.offline();
    h.m.stop();
    h.m.handler_returned(&k, h.now);
    assert!(!h.m.busy(), "a stop need not wait for the link");
}
