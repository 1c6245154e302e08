//! The job journal on a real file system (`jobs::journal::file`): states round-trip through the
//! file; a commit leaves no temporary file, whether it succeeds or fails; a truncated, garbage,
//! wrong-version or oversized journal is renamed aside with the matching problem, never
//! deleted; an unreadable path (a regular file as a parent directory, a directory or a FIFO in
//! the journal's place) is a problem at open and `JOBS_RESULT_IO` at commit, never a hang; a
//! commit over a file-size limit (a full disk, in a child process) fails with
//! `JOBS_RESULT_IO` and leaves the previous journal intact.
//!
//! Every test runs on its own thread and is failed if it takes more than 30 s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iotjobs::error::jobs_result;
use iotjobs::jobs::journal::file::{JournalFile, JournalProblem, Opened};
use iotjobs::jobs::journal::{
    decode, encode, ActiveJob, DecodeError, ExecutionKey, JournalState, MAX_CHECKPOINT_BYTES,
    MAX_JOURNAL_BYTES,
};
use iotjobs::jobs::types::ExecutionStatus;

/// Far beyond what any of these file operations takes; only a hang gets near it.
const LIMIT: Duration = Duration::from_secs(30);
/// Set in the child process of the file-size-limit test: the directory to work in.
const CHILD_ENV: &str = "IOTJOBS_JOURNAL_TEST_FSIZE_CHILD";
/// The child's file-size limit, far below the state it commits.
const FSIZE_LIMIT: u64 = 4096;

/// Runs `f` on its own thread; fails the test if it panics or takes longer than [`LIMIT`].
fn bounded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(h.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish within {LIMIT:?}"),
    }
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "iotjobs-journal-{}-{name}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tmp", path.display()))
}

/// A state with a running job (with a checkpoint), a decided one and a finished execution.
fn sample_state() -> JournalState {
    let mut s = JournalState::default();
    let a = ExecutionKey::new("thing-a", "job-1", 1);
    let b = ExecutionKey::new("thing-b", "job-2", 4);
    s.begin(ActiveJob::running(a.clone(), "install", 1_000))
        .unwrap();
    s.set_checkpoint(&a, b"downloaded 3 of 5").unwrap();
    s.set_version(&a, 2).unwrap();
    s.begin(ActiveJob::running(b.clone(), "reboot", 2_000))
        .unwrap();
    s.decide(
        &b,
        ExecutionStatus::Succeeded,
        vec![("uptime".into(), "12 s".into())],
    )
    .unwrap();
    let done = ExecutionKey::new("thing-c", "job-0", 1);
    s.begin(ActiveJob::running(done.clone(), "install", 0))
        .unwrap();
    s.finish(&done, ExecutionStatus::Failed).unwrap();
    s
}

/// `sample_state` with one job more, so a test can tell the two apart.
fn other_state() -> JournalState {
    let mut s = sample_state();
    let k = ExecutionKey::new("thing-c", "job-3", 1);
    s.begin(ActiveJob::running(k.clone(), "noop", 3)).unwrap();
    s.finish(&k, ExecutionStatus::Rejected).unwrap();
    s
}

fn open_clean(path: &Path) -> (JournalFile, JournalState) {
    let Opened {
        file,
        state,
        problem,
    } = JournalFile::open(path);
    assert_eq!(problem, None, "{}", path.display());
    (file, state)
}

#[test]
fn states_round_trip_through_the_file() {
    bounded(|| {
        let dir = Scratch::new("round-trip");
        let path = dir.path("journal");
        let (mut file, state) = open_clean(&path);
        assert_eq!(state, JournalState::default(), "a missing journal is empty");
        assert_eq!(file.path(), path);
        assert!(dir.names().is_empty(), "open creates nothing");

        file.commit(&sample_state()).unwrap();
        assert_eq!(dir.names(), ["journal"], "no temporary file is left");
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"iotjobs-journal 1 "));
        assert_eq!(bytes, encode(&sample_state()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a checkpoint may be private");

        let (mut again, state) = open_clean(&path);
        assert_eq!(state, sample_state());
        again.commit(&other_state()).unwrap();
        again.commit(&other_state()).unwrap();
        assert_eq!(open_clean(&path).1, other_state());
        again.commit(&JournalState::default()).unwrap();
        assert_eq!(open_clean(&path).1, JournalState::default());
        assert_eq!(dir.names(), ["journal"]);
    });
}

#[test]
fn a_path_that_names_no_file_is_refused() {
    bounded(|| {
        let Opened { problem, .. } = JournalFile::open(Path::new("/"));
        match problem {
            Some(JournalProblem::Unreadable { error }) => {
                assert_eq!(error.code, jobs_result::InvalidArgument);
                assert!(error.message.contains("names no file"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let mut root = JournalFile::open(Path::new("/")).file;
        assert_eq!(
            root.commit(&sample_state()).unwrap_err().code,
            jobs_result::InvalidArgument
        );
    });
}

#[test]
fn a_temporary_file_left_by_a_cut_commit_is_removed_at_open() {
    bounded(|| {
        let dir = Scratch::new("stale-tmp");
        let path = dir.path("journal");
        open_clean(&path).0.commit(&sample_state()).unwrap();
        // A commit cut short after writing half its temporary file.
        let half = encode(&other_state());
        std::fs::write(tmp_of(&path), &half[..half.len() / 2]).unwrap();
        let (_, state) = open_clean(&path);
        assert_eq!(state, sample_state(), "the journal, not the temporary file");
        assert_eq!(dir.names(), ["journal"]);
    });
}

#[test]
fn a_failed_rename_leaves_no_temporary_file() {
    bounded(|| {
        let dir = Scratch::new("rename-fails");
        let path = dir.path("journal");
        let (mut file, _) = open_clean(&path);
        // A directory appears in the journal's place after open: rename(2) cannot replace it.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let e = file.commit(&sample_state()).unwrap_err();
        assert_eq!(e.code, jobs_result::Io);
        assert!(
            e.message.starts_with(&format!(
                "cannot rename {} over the journal {}: ",
                tmp_of(&path).display(),
                path.display()
            )),
            "{e}"
        );
        assert!(e.message.contains("os error"), "{e}");
        assert_eq!(dir.names(), ["journal"], "no temporary file is left");
        assert_eq!(std::fs::read(path.join("keep")).unwrap(), b"x");
    });
}

#[test]
fn an_invalid_state_is_not_committed() {
    bounded(|| {
        let dir = Scratch::new("invalid-state");
        let path = dir.path("journal");
        let (mut file, _) = open_clean(&path);
        file.commit(&sample_state()).unwrap();
        let mut bad = sample_state();
        bad.active[1].key.thing = "thing-a".into();
        let e = file.commit(&bad).unwrap_err();
        assert_eq!(e.code, jobs_result::InvalidArgument);
        assert!(
            e.message.contains("thing thing-a has two active jobs"),
            "{e}"
        );
        assert!(e.message.contains(&path.display().to_string()), "{e}");
        assert_eq!(dir.names(), ["journal"]);
        assert_eq!(open_clean(&path).1, sample_state());
    });
}

/// Writes `bytes` as the journal, opens it, and checks that it was set aside with the
/// expected error, its bytes unchanged, and the state empty; returns the error.
fn assert_set_aside(dir: &Scratch, bytes: &[u8]) -> DecodeError {
    let path = dir.path("journal");
    std::fs::write(&path, bytes).unwrap();
    let Opened {
        mut file,
        state,
        problem,
    } = JournalFile::open(&path);
    assert_eq!(state, JournalState::default());
    let Some(JournalProblem::SetAside { error, moved_to }) = problem.clone() else {
        panic!("expected the file set aside: {problem:?}");
    };
    assert!(!path.exists(), "the journal's path is free again");
    let name = moved_to.file_name().unwrap().to_str().unwrap();
    let ms = name.strip_prefix("journal.corrupt-").unwrap();
    assert!(ms.parse::<u64>().is_ok(), "{name}");
    assert_eq!(moved_to.parent(), Some(dir.0.as_path()));
    assert_eq!(std::fs::read(&moved_to).unwrap(), bytes, "never changed");
    let text = problem.unwrap().to_string();
    assert!(text.contains(&error.to_string()), "{text}");
    assert!(
        text.contains(&format!("set aside as {}", moved_to.display())),
        "{text}"
    );
    // The journal works again at once.
    file.commit(&sample_state()).unwrap();
    assert_eq!(open_clean(&path).1, sample_state());
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&moved_to).unwrap();
    error
}

#[test]
fn undecodable_journals_are_set_aside_with_their_problem() {
    bounded(|| {
        let dir = Scratch::new("set-aside");
        let good = encode(&sample_state());

        let e = assert_set_aside(&dir, &good[..good.len() - 10]);
        assert_eq!(
            e,
            DecodeError::Truncated {
                found: good.len() - 10,
                expected: Some(good.len())
            }
        );
        assert_eq!(
            assert_set_aside(&dir, &good[..10]),
            DecodeError::Truncated {
                found: 10,
                expected: None
            }
        );
        assert_eq!(
            assert_set_aside(&dir, b""),
            DecodeError::Truncated {
                found: 0,
                expected: None
            }
        );
        assert!(matches!(
            assert_set_aside(&dir, b"\x00\x01garbage\xff"),
            DecodeError::NotAJournal { .. }
        ));
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x01;
        assert!(matches!(
            assert_set_aside(&dir, &flipped),
            DecodeError::BadChecksum { .. }
        ));
        let v2 = String::from_utf8(good.clone()).unwrap().replacen(
            "iotjobs-journal 1 ",
            "iotjobs-journal 2 ",
            1,
        );
        let e = assert_set_aside(&dir, v2.as_bytes());
        assert_eq!(e, DecodeError::WrongVersion { found: 2 });
        assert!(e.to_string().contains("version 2"), "{e}");
    });
}

#[test]
fn an_oversized_journal_is_set_aside_unread() {
    bounded(|| {
        let dir = Scratch::new("oversized");
        let path = dir.path("journal");
        // Sparse: 64 MiB that take no disk and would take memory only if read.
        let big = 64 << 20;
        std::fs::File::create(&path).unwrap().set_len(big).unwrap();
        let Opened { state, problem, .. } = JournalFile::open(&path);
        assert_eq!(state, JournalState::default());
        match problem {
            Some(JournalProblem::SetAside {
                error: DecodeError::TooBig { len },
                moved_to,
            }) => {
                assert_eq!(len, big);
                assert_eq!(std::fs::metadata(moved_to).unwrap().len(), big);
            }
            other => panic!("{other:?}"),
        }
        // One byte over the limit, real bytes.
        let mut over = encode(&sample_state());
        over.resize(MAX_JOURNAL_BYTES + 1, b' ');
        let e = assert_set_aside(&dir, &over);
        assert_eq!(
            e,
            DecodeError::TooBig {
                len: MAX_JOURNAL_BYTES as u64 + 1
            }
        );
    });
}

#[test]
fn set_aside_files_never_replace_each_other() {
    bounded(|| {
        let dir = Scratch::new("twice");
        let path = dir.path("journal");
        for i in 0..5u8 {
            std::fs::write(&path, [b'x', i]).unwrap();
            let problem = JournalFile::open(&path).problem;
            assert!(
                matches!(problem, Some(JournalProblem::SetAside { .. })),
                "{problem:?}"
            );
        }
        let names = dir.names();
        assert_eq!(names.len(), 5, "{names:?}");
        let mut contents: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                assert!(n.starts_with("journal.corrupt-"), "{n}");
                std::fs::read(dir.path(n)).unwrap()
            })
            .collect();
        contents.sort();
        assert_eq!(
            contents,
            (0..5u8).map(|i| vec![b'x', i]).collect::<Vec<_>>()
        );
    });
}

#[test]
fn a_bad_journal_that_cannot_be_moved_is_never_overwritten() {
    bounded(|| {
        let dir = Scratch::new("cannot-move");
        // 250 bytes: the name and `.tmp` fit in NAME_MAX (255), `.corrupt-<ms>` does not.
        let path = dir.path(&"j".repeat(250));
        std::fs::write(&path, b"garbage").unwrap();
        let Opened {
            mut file,
            state,
            problem,
        } = JournalFile::open(&path);
        assert_eq!(state, JournalState::default());
        match &problem {
            Some(JournalProblem::NotSetAside {
                error: DecodeError::NotAJournal { .. },
                rename_error,
            }) => {
                assert_eq!(rename_error.code, jobs_result::Io);
                assert!(
                    rename_error.message.contains("cannot set aside"),
                    "{rename_error}"
                );
                assert!(
                    rename_error.message.contains("os error 36"),
                    "{rename_error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            problem
                .unwrap()
                .to_string()
                .contains("no commit replaces it"),
            "says what happens next"
        );
        let e = file.commit(&sample_state()).unwrap_err();
        assert_eq!(e.code, jobs_result::Io);
        assert!(
            e.message.contains("is not replaced until it is set aside"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"garbage");
        assert_eq!(dir.names().len(), 1, "no temporary file either");
    });
}

#[test]
fn a_regular_file_as_parent_is_a_problem_at_open_and_an_io_error_at_commit() {
    bounded(|| {
        let dir = Scratch::new("enotdir");
        let parent = dir.path("not-a-dir");
        std::fs::write(&parent, b"x").unwrap();
        let path = parent.join("journal");
        let Opened {
            mut file,
            state,
            problem,
        } = JournalFile::open(&path);
        assert_eq!(state, JournalState::default());
        match &problem {
            Some(JournalProblem::Unreadable { error }) => {
                assert_eq!(error.code, jobs_result::Io);
                assert!(
                    error
                        .message
                        .starts_with(&format!("cannot open the journal {}: ", path.display())),
                    "{error}"
                );
                assert!(error.message.contains("os error 20"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let e = file.commit(&sample_state()).unwrap_err();
        assert_eq!(e.code, jobs_result::Io);
        assert_eq!(
            e.message,
            format!(
                "cannot create {}: Not a directory (os error 20)",
                tmp_of(&path).display()
            )
        );
        assert_eq!(std::fs::read(&parent).unwrap(), b"x");
        assert_eq!(dir.names(), ["not-a-dir"]);
    });
}

#[test]
fn a_directory_in_the_journals_place_is_kept_and_moved_aside_by_the_next_commit() {
    bounded(|| {
        let dir = Scratch::new("dir-in-place");
        let path = dir.path("journal");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"kept").unwrap();
        let Opened {
            mut file,
            state,
            problem,
        } = JournalFile::open(&path);
        assert_eq!(state, JournalState::default());
        match &problem {
            Some(JournalProblem::Unreadable { error }) => {
                assert_eq!(error.code, jobs_result::Io);
                assert!(
                    error.message.contains("is a directory, not a regular file"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(path.join("inside").exists(), "open leaves it alone");
        file.commit(&sample_state()).unwrap();
        assert_eq!(open_clean(&path).1, sample_state());
        let names = dir.names();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[1].starts_with("journal.unreadable-"), "{names:?}");
        assert_eq!(
            std::fs::read(dir.path(&names[1]).join("inside")).unwrap(),
            b"kept"
        );
        // Only once: the next commit simply replaces the journal.
        file.commit(&other_state()).unwrap();
        assert_eq!(dir.names().len(), 2);
    });
}

#[test]
fn a_fifo_in_the_journals_place_does_not_block_open() {
    bounded(|| {
        let dir = Scratch::new("fifo");
        let path = dir.path("journal");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = Instant::now();
        let Opened { problem, .. } = JournalFile::open(&path);
        assert!(started.elapsed() < Duration::from_secs(5));
        match problem {
            Some(JournalProblem::Unreadable { error }) => {
                assert!(
                    error.message.contains("a FIFO, not a regular file"),
                    "{error}"
                )
            }
            other => panic!("{other:?}"),
        }
    });
}

/// In the child: under a 4 KiB file-size limit (SIGXFSZ ignored, so write(2) fails with
/// EFBIG instead of killing the process), a larger commit must fail cleanly.
fn child_commits_over_the_limit(dir: &Path) {
    let path = dir.join("journal");
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = FSIZE_LIMIT;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let (mut file, state) = open_clean(&path);
    assert_eq!(state, sample_state());
    let mut big = state.clone();
    let k = big.active[0].key.clone();
    big.set_checkpoint(&k, &[0x5a; MAX_CHECKPOINT_BYTES])
        .unwrap();
    assert!(encode(&big).len() as u64 > FSIZE_LIMIT);
    let e = file.commit(&big).unwrap_err();
    assert_eq!(e.code, jobs_result::Io, "{e}");
    assert_eq!(
        e.message,
        format!(
            "cannot write {}: File too large (os error 27)",
            tmp_of(&path).display()
        )
    );
    assert!(!tmp_of(&path).exists(), "the temporary file is removed");
    assert_eq!(open_clean(&path).1, sample_state());
    // A commit that fits still works under the limit.
    file.commit(&sample_state()).unwrap();
    println!("child: {e}");
}

#[test]
fn a_commit_over_the_file_size_limit_fails_and_keeps_the_old_journal() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child_commits_over_the_limit(Path::new(&dir));
        return;
    }
    bounded(|| {
        let dir = Scratch::new("fsize");
        let path = dir.path("journal");
        open_clean(&path).0.commit(&sample_state()).unwrap();
        let old = std::fs::read(&path).unwrap();
        assert!((old.len() as u64) < FSIZE_LIMIT);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "a_commit_over_the_file_size_limit_fails_and_keeps_the_old_journal",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child did not finish within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            status.success(),
            "child failed: {status}\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("child: file read or write failed: cannot write"),
            "{stdout}"
        );
        assert!(
            stdout.contains("1 passed"),
            "the child ran the test: {stdout}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            old,
            "the old journal is intact"
        );
        assert_eq!(decode(&old), Ok(sample_state()));
        assert_eq!(dir.names(), ["journal"]);
    });
}
