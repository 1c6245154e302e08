//! The process-wide runtime thread and the callback thread.
//!
//! One tokio current-thread runtime, driven by a named std thread (`iotjobs-runtime`), runs the
//! I/O of every connection in the process. C callbacks never run there: they are posted to a
//! second named thread (`iotjobs-callback`), so a slow or blocking callback cannot stall network
//! I/O, and a callback that calls a blocking API waits on the runtime thread, which is free
//! (docs/architecture.md). Both threads start lazily on first use and live until the process
//! exits.
//!
//! A [`Gate`] belongs to each handle that has callbacks. `*_free` closes it: once closed, no
//! queued callback for that handle runs, and `close` waits for a running one to return — unless
//! it is called from the callback thread itself (freeing a handle inside its own callback), where
//! waiting would deadlock and is not needed.

use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, ThreadId};

struct Runtime {
    handle: tokio::runtime::Handle,
}

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("iotjobs: cannot build the tokio runtime: {e}"));
    let handle = rt.handle().clone();
    thread::Builder::new()
        .name("iotjobs-runtime".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .unwrap_or_else(|e| panic!("iotjobs: cannot start the runtime thread: {e}"));
    Runtime { handle }
});

/// The runtime every connection task is spawned on.
pub fn handle() -> &'static tokio::runtime::Handle {
    &RUNTIME.handle
}

type Job = Box<dyn FnOnce() + Send>;

struct CallbackThread {
    tx: Mutex<Sender<Job>>,
    id: ThreadId,
}

static CALLBACKS: Lazy<CallbackThread> = Lazy::new(|| {
    let (tx, rx) = channel::<Job>();
    let thread = thread::Builder::new()
        .name("iotjobs-callback".into())
        .spawn(move || {
            for job in rx {
                // A panic inside one callback job must not kill the thread that serves every
                // other handle; the job itself already guards C calls.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })
        .unwrap_or_else(|e| panic!("iotjobs: cannot start the callback thread: {e}"));
    CallbackThread {
        id: thread.thread().id(),
        tx: Mutex::new(tx),
    }
});

/// True when called on the callback thread (that is, from inside a user callback).
pub fn on_callback_thread() -> bool {
    Lazy::get(&CALLBACKS).is_some_and(|c| c.id == thread::current().id())
}

/// Runs `f` on the callback thread if `gate` is still open when its turn comes.
pub fn post(gate: &std::sync::Arc<Gate>, f: impl FnOnce() + Send + 'static) {
    let gate = gate.clone();
    let job: Job = Box::new(move || {
        if gate.enter() {
            let _guard = GateExit(&gate);
            f();
        }
    });
    if let Ok(tx) = CALLBACKS.tx.lock() {
        let _ = tx.send(job);
    }
}

/// Bytes one connection has waiting for the callback thread, against a limit.
///
/// Every posted callback holds a [`Charge`]; dropping it (the callback ran, or was discarded
/// behind a closed gate) gives the bytes back. The connection's task stops reading its socket
/// while the budget is [`spent`](Budget::spent), so memory stays bounded however fast the
/// server sends and however slow the callbacks are.
pub struct Budget {
    limit: usize,
    pending: AtomicUsize,
    relieved: tokio::sync::Notify,
}

/// What a callback costs besides its bytes: the boxed job and its captures.
const CALLBACK_OVERHEAD: usize = 64;

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            pending: AtomicUsize::new(0),
            relieved: tokio::sync::Notify::new(),
        })
    }

    /// Charges `bytes` until the returned value is dropped.
    pub fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        let bytes = bytes + CALLBACK_OVERHEAD;
        self.pending.fetch_add(bytes, Ordering::AcqRel);
        Charge {
            budget: self.clone(),
            bytes,
        }
    }

    /// More than the limit is waiting. At least one callback is always admitted, so a message
    /// larger than the limit still gets through.
    pub fn spent(&self) -> bool {
        self.pending.load(Ordering::Acquire) > self.limit
    }

    /// Bytes waiting now.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Resolves once the budget may have dropped back under its limit.
    pub async fn relieved(&self) {
        self.relieved.notified().await
    }
}

/// Bytes charged to a [`Budget`], given back on drop.
pub struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let before = self.budget.pending.fetch_sub(self.bytes, Ordering::AcqRel);
        let limit = self.budget.limit;
        if before > limit && before - self.bytes <= limit {
            // notify_one keeps a permit if the task is not waiting yet: no lost wake-up.
            self.budget.relieved.notify_one();
        }
    }
}

/// Open/closed state of one handle's callbacks.
#[derive(Default)]
pub struct Gate {
    state: Mutex<GateState>,
    idle: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    running: bool,
}

struct GateExit<'a>(&'a Gate);

impl Drop for GateExit<'_> {
    fn drop(&mut self) {
        let closing = match self.0.state.lock() {
            Ok(mut s) => {
                s.running = false;
                s.closed
            }
            Err(_) => true,
        };
        // Only a closer waits, and it sets `closed` (under the lock) before waiting: no wake-up
        // syscall for the common case of a callback finishing on an open gate.
        if closing {
            self.0.idle.notify_all();
        }
    }
}

impl Gate {
    pub fn new() -> std::sync::Arc<Gate> {
        std::sync::Arc::new(Gate::default())
    }

    fn enter(&self) -> bool {
        match self.state.lock() {
            Ok(mut s) if !s.closed => {
                s.running = true;
                true
            }
            _ => false,
        }
    }

    /// Runs `f` now, on this thread, unless the gate is closed (then `None`). For application
    /// code called on the I/O thread: a gate of its own, since `running` tracks one caller.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        if !self.enter() {
            return None;
        }
        let _exit = GateExit(self);
        Some(f())
    }

    /// Closes the gate. Off the callback thread, waits until a running callback has returned.
    pub fn close(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        s.closed = true;
        if on_callback_thread() {
            return;
        }
        while s.running {
            s = match self.idle.wait(s) {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().map(|s| s.closed).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn posted_jobs_run_in_order_on_the_callback_thread() {
        let gate = Gate::new();
        let (tx, rx) = channel();
        for i in 0..5 {
            let tx = tx.clone();
            post(&gate, move || {
                tx.send((i, on_callback_thread())).unwrap();
            });
        }
        let got: Vec<_> = (0..5)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, (0..5).map(|i| (i, true)).collect::<Vec<_>>());
        assert!(!on_callback_thread());
    }

    #[test]
    fn closed_gate_runs_nothing_and_close_waits_for_a_running_callback() {
        let gate = Gate::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = channel();
        let r = ran.clone();
        post(&gate, move || {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            r.fetch_add(1, Ordering::SeqCst);
        });
        let r = ran.clone();
        post(&gate, move || {
            r.fetch_add(100, Ordering::SeqCst);
        });
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        gate.close();
        // close returned only after the running callback finished.
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        // The queued one never runs: flush the thread with another gate's job.
        let other = Gate::new();
        let (tx, rx) = channel();
        post(&other, move || tx.send(()).unwrap());
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn closing_from_inside_a_callback_does_not_deadlock() {
        let gate = Gate::new();
        let (tx, rx) = channel();
        let g = gate.clone();
        post(&gate, move || {
            g.close();
            tx.send(g.is_closed()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn runtime_runs_spawned_tasks() {
        let (tx, rx) = channel();
        handle().spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            tx.send(thread::current().name().map(str::to_owned))
                .unwrap();
        });
        let name = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(name.as_deref(), Some("iotjobs-runtime"));
    }
}
