//! The agent's side of the journal: the machine's [`JournalOp`]s applied to the journal state
//! and committed to its file (or kept in memory when the agent has no journal path).

use super::machine::{JournalOp, Key, Recovered, RecoveredJob};
use crate::error::Result;
use crate::jobs::journal::file::JournalFile;
use crate::jobs::journal::{ActiveJob, ExecutionKey, JournalState, Phase};
use crate::jobs::validate::StatusDetails;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Store {
    file: Option<JournalFile>,
    state: JournalState,
    thing: String,
}

impl Store {
    /// Opens the journal at `path` (none: memory only) and reads what it holds for `thing`.
    /// Problems with the file (set aside, unreadable) come back as messages; the agent then
    /// starts from the service's state.
    pub fn open(path: Option<&Path>, thing: &str) -> (Store, Recovered, Vec<String>) {
        let (file, state, problems) = match path {
            None => (None, JournalState::default(), Vec::new()),
            Some(p) => {
                let opened = JournalFile::open(p);
                let problems = opened.problem.iter().map(|p| p.to_string()).collect();
                (Some(opened.file), opened.state, problems)
            }
        };
        let recovered = Recovered {
            active: state.active_for(thing).map(|a| RecoveredJob {
                key: key_of(&a.key),
                operation: a.operation.clone(),
                version: a.version_number,
                checkpoint: a.checkpoint.clone(),
                decided: match &a.phase {
                    Phase::Running => None,
                    Phase::Final { status, details } => Some((
                        *status,
                        StatusDetails::from_pairs(details.clone()).unwrap_or_default(),
                    )),
                },
            }),
            finished: state
                .finished
                .iter()
                .filter(|f| f.key.thing == thing)
                .map(|f| (key_of(&f.key), f.status))
                .collect(),
        };
        let store = Store {
            file,
            state,
            thing: thing.to_owned(),
        };
        (store, recovered, problems)
    }

    fn key(&self, k: &Key) -> ExecutionKey {
        ExecutionKey::new(self.thing.clone(), k.job_id.clone(), k.execution_number)
    }

    /// Records `op`. A refused transition changes nothing; a failed write keeps the change in
    /// memory (the agent goes on) and reports the error.
    pub fn apply(&mut self, op: &JournalOp) -> Result<()> {
        let mut next = self.state.clone();
        match op {
            JournalOp::Begin {
                key,
                operation,
                version,
                decided,
            } => {
                let started_unix_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let mut job = ActiveJob::running(self.key(key), operation.clone(), started_unix_ms);
                job.version_number = *version;
                if let Some((status, details)) = decided {
                    job.phase = Phase::Final {
                        status: *status,
                        details: details.pairs().to_vec(),
                    };
                }
                // A stale entry of this thing (left by a journal the service overtook) goes.
                if let Some(old) = next.active_for(&self.thing).map(|a| a.key.clone()) {
                    if old != job.key {
                        next.active.retain(|a| a.key != old);
                    }
                }
                next.begin(job)?;
            }
            JournalOp::Decide {
                key,
                status,
                details,
            } => next.decide(&self.key(key), *status, details.pairs().to_vec())?,
            JournalOp::Finish { key, status } => {
                let k = self.key(key);
                if next.active_for(&self.thing).is_some_and(|a| a.key == k) {
                    next.finish(&k, *status)?;
                }
            }
        }
        self.commit(next)
    }

    /// Saves a checkpoint of the job under way; the caller hears whether it reached the disk.
    pub fn checkpoint(&mut self, key: &Key, bytes: &[u8]) -> Result<()> {
        let mut next = self.state.clone();
        next.set_checkpoint(&self.key(key), bytes)?;
        self.commit(next)
    }

    fn commit(&mut self, next: JournalState) -> Result<()> {
        let written = match &mut self.file {
            Some(f) => f.commit(&next),
            None => Ok(()),
        };
        self.state = next;
        written
    }
}

fn key_of(k: &ExecutionKey) -> Key {
    Key {
        job_id: k.job_id.clone(),
        execution_number: k.execution_number,
    }
}
