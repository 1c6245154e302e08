"""iotjobs.Agent and iotjobs.Job: the job agent (`jobs_agent_*`, `jobs_job_*`)."""

import json
import logging
import threading
import unicodedata
import weakref
from dataclasses import dataclass
from typing import Optional

from . import _lib
from ._lib import (NULL, AgentEventKind, Error, Guard, Holder, ResumePolicy, Result, Status,
                   callback_scope, check, cbytes, cpath, cstring, details_json, enum_value, ffi,
                   from_handle, integer, lib, log, millis, track, _c_str)


@dataclass(frozen=True)
class AgentEvent:
    """What the agent reports: `kind` (AgentEventKind), the job concerned (or None), its
    execution number, a Status (the final or service status of FINISHED and CANCELLED
    events) and a reason in words."""
    kind: AgentEventKind
    job_id: Optional[str]
    execution_number: int
    status: Status
    reason: str


def _reason_details(exc):
    """Status details naming an exception, within AWS's rules (values of 1 to 1024
    characters without control characters)."""
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split())[:1024] or "exception"
    return {"reason": text}


class Job:
    """A job as its handler sees it: `job_id`, `operation`, `document` (the parsed job
    document), `execution_number`, `version`, `resumed` (handed back after a restart) and
    `saved_checkpoint` (the bytes saved with `checkpoint` before it, or None).

    The handler ends the job with `succeed`, `fail` or `reject`; returning without one ends
    it FAILED. `progress` reports IN_PROGRESS details. `is_cancelled` turns true when the
    service cancelled, removed or timed out the job (the handler should return);
    `wait(seconds)` sleeps, returning True early when the job is cancelled. Calls on an
    ended job raise Error (JOBS_RESULT_JOB_ENDED), calls after the agent stopped
    JOBS_RESULT_CLOSED."""

    def __init__(self, agent, ptr):
        self._agent = agent
        self._ptr = ptr
        self._interrupted = threading.Event()
        self.job_id = _c_str(lib.jobs_job_id(ptr))
        self.operation = _c_str(lib.jobs_job_operation(ptr))
        self.document_text = _c_str(lib.jobs_job_document_text(ptr))
        try:
            self.document = json.loads(self.document_text) if self.document_text else None
        except ValueError:
            self.document = None
        self.execution_number = lib.jobs_job_execution_number(ptr)
        self.version = lib.jobs_job_version_number(ptr)
        self.resumed = bool(lib.jobs_job_resumed(ptr))
        out = ffi.new("const uint8_t **")
        n = ffi.new("size_t *")
        rc = lib.jobs_job_saved_checkpoint(ptr, out, n)
        self.saved_checkpoint = ffi.unpack(ffi.cast("char *", out[0]), n[0]) \
            if rc == lib.JOBS_RESULT_OK else None

    def __repr__(self):
        return "<iotjobs.Job %s #%d %s>" % (self.job_id, self.execution_number, self.operation)

    def _call(self, fn, *args):
        with self._agent._guard:
            check(fn(self._ptr, *args))

    @property
    def is_cancelled(self):
        with self._agent._guard:
            return bool(lib.jobs_job_is_cancelled(self._ptr))

    def wait(self, seconds):
        """Sleeps up to `seconds`; True (early) if the job was cancelled, else False."""
        if self._interrupted.wait(seconds):
            return True
        return self.is_cancelled

    def progress(self, details=None, step_timeout=None):
        """Reports IN_PROGRESS with `details` (a dict of str to str); queued, not awaited
        (the latest of several calls is sent). `step_timeout` in minutes sets a new step
        timer."""
        keep = []
        d = details_json(details, "details", keep)
        self._call(lib.jobs_job_progress, d,
                   integer(step_timeout, "step_timeout", 0, 10080, none=0))

    def succeed(self, details=None):
        """Ends the job SUCCEEDED; in the journal when this returns, and sent until the
        service acknowledges it, across reconnects and restarts."""
        keep = []
        self._call(lib.jobs_job_succeed, details_json(details, "details", keep))

    def fail(self, details=None):
        """Ends the job FAILED; as `succeed`."""
        keep = []
        self._call(lib.jobs_job_fail, details_json(details, "details", keep))

    def reject(self, details=None):
        """Ends the job REJECTED (the device refuses it); as `succeed`."""
        keep = []
        self._call(lib.jobs_job_reject, details_json(details, "details", keep))

    def checkpoint(self, data):
        """Saves `data` (bytes, at most 4096) in the journal (written and synced when this
        returns); a resumed job gets it back as `saved_checkpoint`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("checkpoint data must be bytes, not %s" % type(data).__name__)
        keep = []
        buf, n = cbytes(data, "checkpoint", keep)
        self._call(lib.jobs_job_checkpoint, buf, n)


class _Registration:
    """User data of one handler registration."""

    def __init__(self, agent, fn, on_cancel):
        self.agent = weakref.ref(agent)
        self.fn = fn
        self.on_cancel = on_cancel


@ffi.callback("jobs_job_handler")
def _run(user_data, job_ptr):
    with callback_scope("agent handler", handler=True):
        reg = from_handle(user_data)
        agent = reg.agent()
        if agent is None:
            return
        job = Job(agent, job_ptr)
        key = int(ffi.cast("uintptr_t", job_ptr))
        with agent._jobs_lock:
            agent._jobs[key] = job
        try:
            reg.fn(job)
        except BaseException as exc:  # reported and turned into the job's FAILED reason
            log.error("the handler of job %s raised", job.job_id, exc_info=True)
            try:
                job.fail(_reason_details(exc))
            except Error as e:
                if e.code not in (Result.JOB_ENDED, Result.CANCELLED, Result.CLOSED):
                    log.error("could not fail job %s: %s", job.job_id, e)
        finally:
            with agent._jobs_lock:
                agent._jobs.pop(key, None)


@ffi.callback("jobs_job_cancel_callback")
def _cancel(user_data, job_ptr):
    with callback_scope("agent cancel callback"):
        reg = from_handle(user_data)
        agent = reg.agent()
        if agent is None:
            return
        with agent._jobs_lock:
            job = agent._jobs.get(int(ffi.cast("uintptr_t", job_ptr)))
        if job is None:
            return
        job._interrupted.set()
        if reg.on_cancel is not None:
            reg.on_cancel(job)


class _EventSink:
    def __init__(self, agent):
        self.agent = weakref.ref(agent)


@ffi.callback("jobs_agent_event_callback")
def _on_agent_event(user_data, event):
    with callback_scope("agent event callback"):
        agent = from_handle(user_data).agent()
        if agent is None or agent._on_event is None:
            return
        try:
            kind = AgentEventKind(event.kind)
        except ValueError:
            kind = event.kind
        try:
            status = Status(event.status)
        except ValueError:
            status = Status.UNKNOWN
        agent._on_event(AgentEvent(kind=kind, job_id=_c_str(event.job_id),
                                   execution_number=event.execution_number, status=status,
                                   reason=_c_str(event.reason) or ""))


class Agent:
    """Runs each job of `client`'s thing through its handler to one final status, once.

    Register handlers by operation (the document's `operation` member, or `operation_path`)
    with `@agent.handler("install")` or `set_handler`, then `start()`. Each handler runs on
    the agent's worker thread with a `Job`, one job at a time. An exception raised by a
    handler is logged and fails the job with the exception as its reason. With `journal` (a
    file path whose directory exists) the agent's state survives a restart: a job that was
    running is resumed (`job.resumed`, `job.saved_checkpoint`) or failed, as its handler's
    `resume` policy says, and a final status not yet acknowledged is sent again.

    `on_event(AgentEvent)` hears what the agent does. Times are in seconds; `step_timeout`
    in minutes. As a context manager it starts on entry; on exit it stops (waiting up to
    `exit_timeout`, default 10 s, for the job under way) and closes.
    """

    exit_timeout = 10.0

    def __init__(self, client, journal=None, *, operation_path=None, step_timeout=None,
                 progress_interval=None, request_timeout=10.0, backoff=(0.5, 30.0),
                 on_event=None):
        from ._client import Client
        self._guard = None
        if not isinstance(client, Client):
            raise TypeError("client must be an iotjobs.Client, not %s" % type(client).__name__)
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable or None")
        self.client = client
        self._on_event = on_event
        self._holder = Holder()
        self._jobs = {}
        self._jobs_lock = threading.Lock()
        keep = []
        cfg = ffi.new("jobs_agent_config *")
        check(lib.jobs_agent_config_init(cfg))
        if journal is not None:
            cfg.journal_path = cpath(journal, "journal", keep)
        cfg.operation_path = cstring(operation_path, "operation_path", keep, True)
        cfg.step_timeout_minutes = integer(step_timeout, "step_timeout", 0, 10080, none=0)
        if progress_interval is not None:
            cfg.progress_interval_ms = millis(progress_interval, "progress_interval", 0)
        cfg.request_timeout_ms = millis(request_timeout, "request_timeout")
        if len(backoff) != 2:
            raise TypeError("backoff is (base, max) in seconds")
        cfg.backoff_base_ms = millis(backoff[0], "backoff base")
        cfg.backoff_max_ms = millis(backoff[1], "backoff max")
        cfg.on_event = _on_agent_event
        cfg.user_data = self._holder.new(_EventSink(self))
        out = ffi.new("jobs_agent **")
        with client._guard as c:
            check(lib.jobs_agent_new(c, cfg, out))
        self._guard = Guard(out[0], lib.jobs_agent_free, "agent")
        client._agents.add(self)
        track(self, 0)

    def set_handler(self, operation, fn, *, resume="resume", on_cancel=None):
        """Registers `fn(job)` for jobs naming `operation` (None: every operation without a
        handler of its own); `fn` None removes the registration. `resume` ("resume" or
        "fail") says what a restart does with a job this handler was running;
        `on_cancel(job)` (optional, must not block) hears a cancellation on the callback
        thread. Only while the agent is stopped."""
        if fn is not None and not callable(fn):
            raise TypeError("the handler must be callable or None, not %s" % type(fn).__name__)
        if on_cancel is not None and not callable(on_cancel):
            raise TypeError("on_cancel must be callable or None")
        keep = []
        op = cstring(operation, "operation", keep, True)
        if fn is None:
            with self._guard as a:
                check(lib.jobs_agent_set_handler(a, op, NULL))
            return None
        h = ffi.new("jobs_agent_handler *")
        check(lib.jobs_agent_handler_init(h))
        h.run = _run
        h.on_cancel = _cancel
        h.resume = integer(enum_value(resume, ResumePolicy, "resume"), "resume", 0, 2**32 - 1)
        h.user_data = self._holder.new(_Registration(self, fn, on_cancel))
        with self._guard as a:
            check(lib.jobs_agent_set_handler(a, op, h))
        return fn

    def handler(self, operation=None, *, resume="resume", on_cancel=None):
        """Decorator form of `set_handler`: `@agent.handler("install")`."""
        def register(fn):
            self.set_handler(operation, fn, resume=resume, on_cancel=on_cancel)
            return fn
        return register

    def start(self):
        """Reads the journal and starts taking jobs once the connection is up."""
        with self._guard as a:
            check(lib.jobs_agent_start(a))

    def stop(self, timeout=10.0):
        """Stops taking jobs and waits up to `timeout` seconds for the job under way to reach
        its acknowledged final status. True when nothing is left under way; False when a job
        stays in the journal for the next start. Either way it then waits for a running
        handler to return (the library gives a handler no stop signal, and a handler that
        returns without a final status ends its job FAILED)."""
        if _lib.in_callback():
            raise Error(Result.INVALID_STATE,
                        "Agent.stop must not be called from a handler or library callback")
        ms = millis(timeout, "timeout", 0)
        with self._guard as a:
            rc = lib.jobs_agent_stop(a, ms)
        if rc == lib.JOBS_RESULT_TIMEOUT:
            return False
        check(rc)
        return True

    def counters(self):
        """The agent's counts: started, resumed, progress_sent, finished, cancelled,
        rejected, retries, duplicates_suppressed."""
        c = ffi.new("jobs_agent_counters *")
        c.struct_size = ffi.sizeof("jobs_agent_counters")
        with self._guard as a:
            check(lib.jobs_agent_get_counters(a, c))
        return {name: getattr(c, name) for name in (
            "started", "resumed", "progress_sent", "finished", "cancelled", "rejected",
            "retries", "duplicates_suppressed")}

    def close(self):
        """Stops the agent without waiting (a job under way stays in the journal), waits for
        a running handler to return, and releases the agent. Idempotent."""
        if self._guard is None or self._guard.closed:
            return
        if _lib.in_callback():
            raise Error(Result.INVALID_STATE,
                        "Agent.close must not be called from a handler or library callback")
        if self._guard.close():
            self._holder.clear()

    @property
    def closed(self):
        return self._guard is None or self._guard.closed

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.stop(self.exit_timeout)
        except Error as e:
            if e.code != Result.INVALID_STATE:  # not running: nothing to stop
                raise
        finally:
            self.close()

    def __del__(self):
        if getattr(self, "_guard", None) is not None and not _lib.in_callback():
            self.close()
