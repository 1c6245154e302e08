"""iotjobs.Client: the jobs client of one thing (`jobs_client_*`, requests, notifications)."""

import concurrent.futures
import threading
import weakref

from . import _lib
from ._lib import (NULL, Error, Guard, Holder, Offline, Rejected, Result, Status, callback_scope,
                   check, cstring, details_json, enum_value, ffi, from_handle, integer,
                   last_error, lib, millis, track)
from ._types import (NextJobChanged, PendingJobsChanged, optional_execution_of, pending_jobs_of,
                     pending_of, rejection_of, update_of)

_U64 = 2**64 - 1

# Outcomes of a request the library made (sent or queued), as opposed to one it refused.
_MADE = (Result.REJECTED, Result.TIMEOUT, Result.CANCELLED, Result.DROPPED, Result.PROTOCOL)

# Requests under way, process-wide: each keeps its client alive until it ends, so a future
# outlives a client the caller no longer holds instead of failing CLOSED when it is collected.
_inflight = set()
_inflight_lock = threading.Lock()


class Future(concurrent.futures.Future):
    """A request's outcome. Waiting for it inside a library callback raises Error
    (JOBS_RESULT_INVALID_STATE): the callback thread is the one that would complete it, so
    the wait could never end. Use the blocking call there (it is safe in callbacks)."""

    def _check_wait(self, timeout):
        if not self.done() and timeout != 0 and _lib.on_callback_thread():
            raise Error(Result.INVALID_STATE,
                        "waiting for a request's Future inside a library callback would never end: "
                        "use the blocking call there")

    def result(self, timeout=None):
        self._check_wait(timeout)
        return super().result(timeout)

    def exception(self, timeout=None):
        self._check_wait(timeout)
        return super().exception(timeout)


class _Request:
    """User data of one asynchronous request, until its one completion."""

    def __init__(self, client, convert):
        self.client = client
        self.convert = convert
        self.future = Future()
        self.future.set_running_or_notify_cancel()
        self.handle = None


def _outcome(result, reply, convert):
    """(value, exception) of a request's end; reads a reply that is only borrowed."""
    if result == lib.JOBS_RESULT_OK:
        return convert(lib.jobs_reply_message(reply)), None
    if result == lib.JOBS_RESULT_REJECTED and reply != NULL:
        return None, Rejected(rejection_of(lib.jobs_reply_message(reply)))
    return None, Error(result)


@ffi.callback("jobs_reply_callback")
def _on_reply(user_data, result, reply):
    with callback_scope("request completion"):
        req = from_handle(user_data)
        req.client._request_done(req)
        value, exc = None, None
        try:
            value, exc = _outcome(result, reply, req.convert)
        except BaseException as e:  # a conversion bug must still complete the future
            exc = e
        if exc is not None:
            req.future.set_exception(exc)
        else:
            req.future.set_result(value)


class _Listener:
    """User data of a client's notify / notify-next callback."""

    def __init__(self, fn, convert):
        self.fn = fn
        self.convert = convert


@ffi.callback("jobs_message_handler")
def _on_notification(user_data, message):
    with callback_scope("notification callback"):
        listener = from_handle(user_data)
        listener.fn(listener.convert(message))


def _next_changed(m):
    return NextJobChanged(execution=optional_execution_of(m))


def _pending_changed(m):
    return PendingJobsChanged(in_progress=pending_of(m, lib.JOBS_STATUS_IN_PROGRESS),
                              queued=pending_of(m, lib.JOBS_STATUS_QUEUED))


class Client:
    """The jobs client of `thing_name` on `connection` (which the caller connects).

    Requests block until AWS's reply and return it (dataclasses: `Execution`, `PendingJobs`,
    `UpdateResult`); a rejection raises `iotjobs.Rejected` (an `iotjobs.Error` whose
    `rejection` has AWS's code, message and execution state), anything else `iotjobs.Error`
    (JOBS_RESULT_TIMEOUT, _NOT_CONNECTED, ...). The `*_async` forms return a
    `concurrent.futures.Future` with the same outcome. Every request takes `timeout`
    (seconds, default 10), `offline` ("wait": queued until connected within the timeout, or
    "fail_fast": JOBS_RESULT_NOT_CONNECTED at once; updates are always queued) and
    `client_token` (None: one made per request).

    `qos` (0 or 1, default 1) is used for every jobs publish and subscription. Close the
    client (or leave its `with` block) before its connection.
    """

    def __init__(self, connection, thing_name, *, client_token=None, qos=1):
        from ._connection import Connection
        self._guard = None
        if not isinstance(connection, Connection):
            raise TypeError("connection must be an iotjobs.Connection, not %s"
                            % type(connection).__name__)
        self._holder = Holder()
        self._pending = {}
        self._pending_lock = threading.Lock()
        self._agents = weakref.WeakSet()
        self._warm = False
        self.connection = connection
        self.thing_name = thing_name
        keep = []
        out = ffi.new("jobs_client **")
        t = cstring(thing_name, "thing_name", keep)
        token = cstring(client_token, "client_token", keep, True)
        q = integer(qos, "qos", 0, 1)
        with connection._guard as conn:
            check(lib.jobs_client_new_with_connection(conn, t, token, q, out))
        self._guard = Guard(out[0], lib.jobs_client_free, "client")
        connection._clients.add(self)
        track(self, 1)

    # ------------------------------------------------------------ life cycle

    def close(self):
        """Closes the client's agents, then the client: its subscriptions are removed, the
        connection stays. Requests still waiting fail with JOBS_RESULT_CLOSED."""
        if self._guard is None:
            return
        for agent in list(self._agents):
            agent.close()
        if not self._guard.close():
            return
        self._holder.clear()
        with self._pending_lock:
            left, self._pending = list(self._pending.values()), {}
        for req in left:
            req.handle = None
            with _inflight_lock:
                _inflight.discard(req)
            if not req.future.done():
                req.future.set_exception(
                    Error(Result.CLOSED, "the client was closed before the request ended"))

    @property
    def closed(self):
        return self._guard is None or self._guard.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_guard", None) is not None:
            self.close()

    def __repr__(self):
        return "<iotjobs.Client %s%s>" % (self.thing_name, " closed" if self.closed else "")

    # ------------------------------------------------------------ requests

    def _options(self, opts, timeout, offline, client_token, keep):
        opts.timeout_ms = millis(timeout, "timeout", 1, 86400000)
        opts.offline = enum_value(offline, Offline, "offline")
        opts.client_token = cstring(client_token, "client_token", keep, True)

    def _get_pending_args(self, keep, timeout, offline, client_token):
        args = ffi.new("jobs_get_pending_args *")
        check(lib.jobs_get_pending_args_init(args))
        self._options(args.options, timeout, offline, client_token, keep)
        return args

    def _start_next_args(self, keep, details, step_timeout, timeout, offline, client_token):
        args = ffi.new("jobs_start_next_args *")
        check(lib.jobs_start_next_args_init(args))
        args.status_details = details_json(details, "details", keep)
        args.step_timeout_minutes = integer(step_timeout, "step_timeout", 0, 10080, none=0)
        self._options(args.options, timeout, offline, client_token, keep)
        return args

    def _describe_args(self, keep, job_id, execution_number, include_document, timeout, offline,
                       client_token):
        args = ffi.new("jobs_describe_args *")
        check(lib.jobs_describe_args_init(args))
        args.job_id = cstring(job_id, "job_id", keep)
        args.execution_number = integer(execution_number, "execution_number", 0, _U64, none=0)
        args.include_job_document = bool(include_document)
        self._options(args.options, timeout, offline, client_token, keep)
        return args

    def _update_args(self, keep, job_id, status, details, expected_version, execution_number,
                     include_state, include_document, step_timeout, timeout, client_token):
        args = ffi.new("jobs_update_args *")
        check(lib.jobs_update_args_init(args))
        args.job_id = cstring(job_id, "job_id", keep)
        if status is None:
            raise TypeError("status must be an iotjobs.Status, not None")
        args.status = integer(enum_value(status, Status, "status"), "status", 0, 2**32 - 1)
        args.status_details = details_json(details, "details", keep)
        args.expected_version = integer(expected_version, "expected_version", 0, _U64, none=0)
        args.execution_number = integer(execution_number, "execution_number", 0, _U64, none=0)
        args.include_job_execution_state = bool(include_state)
        args.include_job_document = bool(include_document)
        args.step_timeout_minutes = integer(step_timeout, "step_timeout", -1, 10080, none=0)
        self._options(args.options, timeout, "wait", client_token, keep)
        return args

    def _call(self, fn, fn_async, args, convert):
        if not self._warm:
            return self._first_call(fn, fn_async, args, convert)
        return self._sync_call(fn, args, convert)

    # The library subscribes a thing's reply filters during its first request, and marks
    # them subscribed before their handlers exist: a request made meanwhile from another
    # thread can have its reply arrive unrouted and end JOBS_RESULT_TIMEOUT. So a client's
    # first request is made alone on its connection, up to the point where the library has
    # sent it (the filters are in place by then); later requests run concurrently.

    def _first_call(self, fn, fn_async, args, convert):
        lock = self.connection._first_request_lock
        if _lib.on_callback_thread():
            # A future cannot complete while its callback thread waits: block in the library.
            with lock:
                if not self._warm:
                    try:
                        value = self._sync_call(fn, args, convert)
                    except Error as e:
                        self._warm = e.code in _MADE
                        raise
                    self._warm = True
                    return value
            return self._sync_call(fn, args, convert)
        with lock:
            future = None if self._warm else self._submit(fn_async, args, convert)
            self._warm = True
        if future is None:
            return self._sync_call(fn, args, convert)
        return future.result()

    def _sync_call(self, fn, args, convert):
        reply = ffi.new("jobs_reply **")
        with self._guard as c:
            rc = fn(c, args, reply)
            if rc not in (lib.JOBS_RESULT_OK, lib.JOBS_RESULT_REJECTED) or reply[0] == NULL:
                raise last_error(rc)
        try:
            value, exc = _outcome(rc, reply[0], convert)
        finally:
            lib.jobs_reply_free(reply[0])
        if exc is not None:
            raise exc
        return value

    def _call_async(self, fn, args, convert):
        if not self._warm:
            with self.connection._first_request_lock:
                future = self._submit(fn, args, convert)
                self._warm = True
            return future
        return self._submit(fn, args, convert)

    def _submit(self, fn, args, convert):
        req = _Request(self, convert)
        req.handle = ffi.new_handle(req)
        with self._pending_lock:
            self._pending[id(req)] = req
        with _inflight_lock:
            _inflight.add(req)
        try:
            with self._guard as c:
                check(fn(c, args, _on_reply, req.handle))
        except BaseException:
            self._request_done(req)
            raise
        return req.future

    def _request_done(self, req):
        # C passes the handle back once at most; dropping it breaks the req <-> handle cycle.
        with self._pending_lock:
            self._pending.pop(id(req), None)
            req.handle = None
        with _inflight_lock:
            _inflight.discard(req)

    def get_pending(self, *, timeout=10.0, offline="wait", client_token=None):
        """GetPendingJobExecutions: the thing's `PendingJobs` (in_progress, queued)."""
        keep = []
        args = self._get_pending_args(keep, timeout, offline, client_token)
        return self._call(lib.jobs_get_pending, lib.jobs_get_pending_async, args, pending_jobs_of)

    def get_pending_async(self, *, timeout=10.0, offline="wait", client_token=None):
        keep = []
        args = self._get_pending_args(keep, timeout, offline, client_token)
        return self._call_async(lib.jobs_get_pending_async, args, pending_jobs_of)

    def start_next(self, *, details=None, step_timeout=None, timeout=10.0, offline="wait",
                   client_token=None):
        """StartNextPendingJobExecution: the `Execution` now IN_PROGRESS, or None when no job
        is pending. `details` (a dict of str to str) become its status details;
        `step_timeout` is in minutes (1 to 10080)."""
        keep = []
        args = self._start_next_args(keep, details, step_timeout, timeout, offline, client_token)
        return self._call(lib.jobs_start_next, lib.jobs_start_next_async, args, optional_execution_of)

    def start_next_async(self, *, details=None, step_timeout=None, timeout=10.0, offline="wait",
                         client_token=None):
        keep = []
        args = self._start_next_args(keep, details, step_timeout, timeout, offline, client_token)
        return self._call_async(lib.jobs_start_next_async, args, optional_execution_of)

    def describe(self, job_id, *, execution_number=None, include_document=True, timeout=10.0,
                 offline="wait", client_token=None):
        """DescribeJobExecution of `job_id` (or "$next"): the `Execution`, or None for
        "$next" when nothing is pending. `execution_number` None means the latest."""
        keep = []
        args = self._describe_args(keep, job_id, execution_number, include_document, timeout,
                                   offline, client_token)
        return self._call(lib.jobs_describe, lib.jobs_describe_async, args, optional_execution_of)

    def describe_async(self, job_id, *, execution_number=None, include_document=True,
                       timeout=10.0, offline="wait", client_token=None):
        keep = []
        args = self._describe_args(keep, job_id, execution_number, include_document, timeout,
                                   offline, client_token)
        return self._call_async(lib.jobs_describe_async, args, optional_execution_of)

    def update(self, job_id, status, *, details=None, expected_version=None,
               execution_number=None, include_state=False, include_document=False,
               step_timeout=None, timeout=10.0, client_token=None):
        """UpdateJobExecution: sets `status` (IN_PROGRESS, SUCCEEDED, FAILED or REJECTED; a
        Status, its value or its name) with `details`. `expected_version` (an execution's
        `version`) makes a stale update fail with a VersionMismatch rejection.
        `step_timeout` is in minutes, -1 cancels the step timer. Returns an `UpdateResult`
        (with the new state when `include_state`). Offline, the update is queued."""
        keep = []
        args = self._update_args(keep, job_id, status, details, expected_version,
                                 execution_number, include_state, include_document,
                                 step_timeout, timeout, client_token)
        return self._call(lib.jobs_update, lib.jobs_update_async, args, update_of)

    def update_async(self, job_id, status, *, details=None, expected_version=None,
                     execution_number=None, include_state=False, include_document=False,
                     step_timeout=None, timeout=10.0, client_token=None):
        keep = []
        args = self._update_args(keep, job_id, status, details, expected_version,
                                 execution_number, include_state, include_document,
                                 step_timeout, timeout, client_token)
        return self._call_async(lib.jobs_update_async, args, update_of)

    # ------------------------------------------------------------ notifications

    def _listen(self, topic_type, fn, convert):
        if fn is not None and not callable(fn):
            raise TypeError("the handler must be callable or None, not %s" % type(fn).__name__)
        ud = self._holder.new(_Listener(fn, convert)) if fn is not None else NULL
        with self._guard as c:
            check(lib.jobs_client_set_event_callback(
                c, topic_type, _on_notification if fn is not None else NULL, ud))
        return fn

    def on_notify_next(self, fn):
        """Calls `fn(NextJobChanged)` on each notify-next message (the next pending job
        changed; its `execution` is None when none is left). None removes it. Usable as a
        decorator. Runs on the library's callback thread."""
        return self._listen(lib.JOBS_TOPIC_TYPE_NOTIFY_NEXT, fn, _next_changed)

    def on_notify(self, fn):
        """Calls `fn(PendingJobsChanged)` on each notify message (the pending list changed).
        None removes it. Usable as a decorator."""
        return self._listen(lib.JOBS_TOPIC_TYPE_NOTIFY, fn, _pending_changed)
