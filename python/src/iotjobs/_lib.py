"""The cffi binding and what every wrapper needs: result codes, Error, argument conversion,
the handle guard, callback bookkeeping and the close-everything-at-exit hook."""

import atexit
import enum
import json
import logging
import math
import os
import threading
import weakref

from ._native import ffi, lib

log = logging.getLogger("iotjobs")

NULL = ffi.NULL


def _enum(name, prefix, doc):
    """An IntEnum of the header's `prefix*` constants (the header is the one source)."""
    members = {k[len(prefix):]: getattr(lib, k) for k in dir(lib) if k.startswith(prefix)}
    cls = enum.IntEnum(name, sorted(members.items(), key=lambda kv: kv[1]), module=__name__)
    cls.__doc__ = doc
    return cls


Result = _enum("Result", "JOBS_RESULT_", "A `jobs_result` code (`Result.TIMEOUT` is 33).")
Status = _enum("Status", "JOBS_STATUS_", "A job execution status (`jobs_status`).")
TopicType = _enum("TopicType", "JOBS_TOPIC_TYPE_", "A jobs topic type (`jobs_topic_type`).")
ReplyType = _enum("ReplyType", "JOBS_REPLY_TYPE_", "A jobs reply type (`jobs_reply_type`).")
RejectionCode = _enum("RejectionCode", "JOBS_REJECTION_CODE_",
                      "Why AWS rejected a request (`jobs_rejection_code`).")
ConnectionState = _enum("ConnectionState", "JOBS_CONNECTION_STATE_",
                        "A connection's state (`jobs_connection_state`).")
EventKind = _enum("EventKind", "JOBS_EVENT_KIND_", "A connection event (`jobs_event_kind`).")
AgentEventKind = _enum("AgentEventKind", "JOBS_AGENT_EVENT_KIND_",
                       "What a job agent reports (`jobs_agent_event_kind`).")
ResumePolicy = _enum("ResumePolicy", "JOBS_RESUME_POLICY_",
                     "What a restart does with a job that was running (`jobs_resume_policy`).")
Offline = _enum("Offline", "JOBS_OFFLINE_", "What a read does while offline (`jobs_offline`).")
Delivery = _enum("Delivery", "JOBS_DELIVERY_", "Where a publish or subscribe went.")
Counter = _enum("Counter", "JOBS_COUNTER_", "A connection counter (`jobs_counter`).")
LogLevel = _enum("LogLevel", "JOBS_LOG_LEVEL_", "The library's log levels.")


class Error(Exception):
    """A failed call: `code` is the `Result` (an int: `e.code == 33`), `name` its C name
    (`"JOBS_RESULT_TIMEOUT"`) and `message` the library's explanation."""

    def __init__(self, code, message=None):
        try:
            code = Result(code)
        except ValueError:
            pass
        if not message:
            message = _c_str(lib.jobs_result_str(code))
        self.code = code
        self.message = message
        super().__init__("%s: %s" % (self.name, message))

    @property
    def name(self):
        """The C name of the code, e.g. `JOBS_RESULT_TIMEOUT`."""
        return "JOBS_RESULT_%s" % self.code.name if isinstance(self.code, Result) else str(self.code)

    @property
    def value(self):
        return int(self.code)


class Rejected(Error):
    """AWS rejected the request; `rejection` holds its code, message and execution state."""

    def __init__(self, rejection):
        self.rejection = rejection
        super().__init__(Result.REJECTED, "%s: %s" % (rejection.code_text, rejection.message))


def last_error(code):
    """The Error for `code` from a call that just failed on this thread."""
    n = lib.jobs_last_error_message(NULL, 0)
    msg = None
    if n:
        buf = ffi.new("char[]", n + 1)
        lib.jobs_last_error_message(buf, n + 1)
        msg = ffi.string(buf).decode("utf-8", "replace")
    return Error(code, msg)


def check(rc):
    if rc != lib.JOBS_RESULT_OK:
        raise last_error(rc)


# ---------------------------------------------------------------- arguments

def _c_str(p):
    return None if p == NULL else ffi.string(p).decode("utf-8", "replace")


def cstring(value, what, keep, optional=False):
    """`value` (a str) as a NUL-terminated UTF-8 buffer kept alive in `keep`; None gives NULL
    when `optional`."""
    if value is None:
        if optional:
            return NULL
        raise TypeError("%s must be a str, not None" % what)
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))
    if "\0" in value:
        raise Error(Result.INVALID_ARGUMENT, "%s contains a NUL character" % what)
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Error(Result.INVALID_UTF8, "%s is not valid UTF-8: %s" % (what, e)) from None
    buf = ffi.new("char[]", data)
    keep.append(buf)
    return buf


def cpath(value, what, keep):
    """A file path (str or os.PathLike) as a C string."""
    if value is None:
        raise TypeError("%s must be a path, not None" % what)
    try:
        value = os.fspath(value)
    except TypeError:
        raise TypeError("%s must be a path, not %s" % (what, type(value).__name__)) from None
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    return cstring(value, what, keep)


def cbytes(value, what, keep):
    """A bytes-like or str value as (pointer, length)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("%s must be bytes or str, not %s" % (what, type(value).__name__))
    data = bytes(value)
    buf = ffi.new("uint8_t[]", data) if data else NULL
    keep.append(buf)
    return buf, len(data)


def integer(value, what, lo, hi, none=None):
    """An int in [lo, hi]; None gives `none` when that is not None."""
    if value is None and none is not None:
        return none
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    if not lo <= value <= hi:
        raise Error(Result.INVALID_ARGUMENT, "%s is %d, outside %d..%d" % (what, value, lo, hi))
    return value


def millis(seconds, what, lo_ms=1, hi_ms=0xFFFFFFFF):
    """A duration in seconds (int or float) as whole milliseconds within [lo_ms, hi_ms]."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(seconds).__name__))
    if math.isnan(seconds) or seconds < 0:
        raise Error(Result.INVALID_ARGUMENT, "%s must be a positive number of seconds" % what)
    ms = int(round(seconds * 1000)) if not math.isinf(seconds) else hi_ms + 1
    if not lo_ms <= ms <= hi_ms:
        raise Error(Result.INVALID_ARGUMENT, "%s is %r s, outside %g..%g s"
                    % (what, seconds, lo_ms / 1000.0, hi_ms / 1000.0))
    return ms


def details_json(details, what, keep):
    """Status details (a dict of str to str, or None) as JSON text for the library, which
    checks AWS's rules and answers JOBS_RESULT_INVALID_STATUS_DETAILS with the reason."""
    if details is None:
        return NULL
    if not isinstance(details, dict):
        raise TypeError("%s must be a dict of str to str, not %s" % (what, type(details).__name__))
    try:
        text = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise TypeError("%s must be a dict of str to str: %s" % (what, e)) from None
    return cstring(text, what, keep)


def enum_value(value, cls, what):
    """An enum argument given as a member, its int value or its name ("SUCCEEDED")."""
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            raise Error(Result.INVALID_ARGUMENT, "%s: no %s named %r" % (what, cls.__name__, value)) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be a %s, not %s" % (what, cls.__name__, type(value).__name__))
    return int(value)


# ---------------------------------------------------------------- handles

class Guard:
    """A C handle and its users: free never runs while another thread is inside a call on
    it (the C API forbids that), and calls after close fail with JOBS_RESULT_CLOSED."""

    def __init__(self, ptr, free, what):
        self._ptr = ptr
        self._free = free
        self._what = what
        self._users = 0
        self._closing = False
        self._cond = threading.Condition()

    @property
    def closed(self):
        return self._closing

    def enter(self):
        with self._cond:
            if self._closing:
                raise Error(Result.CLOSED, "the %s is closed" % self._what)
            self._users += 1
            return self._ptr

    def leave(self):
        with self._cond:
            self._users -= 1
            if not self._users:
                self._cond.notify_all()

    def __enter__(self):
        return self.enter()

    def __exit__(self, *exc):
        self.leave()

    def close(self):
        """Frees the handle once no call is inside it; False if it was already closed."""
        with self._cond:
            if self._closing:
                return False
            self._closing = True
            while self._users:
                self._cond.wait()
            ptr, self._ptr = self._ptr, NULL
        # Outside the lock: free may wait for a running callback of this handle.
        self._free(ptr)
        return True


class Holder:
    """Keeps the cffi handles (user data) that C may still pass back alive, per owner, until
    the owner's C handle is freed: a callback must never find its user data collected."""

    def __init__(self):
        self._handles = []
        self._lock = threading.Lock()

    def new(self, obj):
        h = ffi.new_handle(obj)
        with self._lock:
            self._handles.append(h)
        return h

    def clear(self):
        with self._lock:
            self._handles = []


_tls = threading.local()


def in_callback():
    """True on a thread that is running one of this package's callbacks or agent handlers."""
    return getattr(_tls, "depth", 0) > 0


def on_callback_thread():
    """True inside a callback on the library's callback thread (not an agent handler): the
    thread that delivers every asynchronous outcome, so it must never wait for one."""
    return getattr(_tls, "callbacks", 0) > 0


class callback_scope:
    """Marks the current thread as inside a library callback (or, with `handler`, an agent
    handler) and reports, never raises, an exception of the user code it runs."""

    def __init__(self, what, handler=False):
        self.what = what
        self.handler = handler

    def __enter__(self):
        _tls.depth = getattr(_tls, "depth", 0) + 1
        if not self.handler:
            _tls.callbacks = getattr(_tls, "callbacks", 0) + 1
        return self

    def __exit__(self, typ, exc, tb):
        _tls.depth -= 1
        if not self.handler:
            _tls.callbacks -= 1
        if exc is not None:
            log.error("exception in %s", self.what, exc_info=(typ, exc, tb))
        return True  # an exception never reaches C


def from_handle(p):
    return ffi.from_handle(p)


# ---------------------------------------------------------------- closing at exit

# Objects with live C handles, closed at interpreter exit (agents, then clients, then
# connections) while Python can still run their callbacks: a library thread calling into a
# finalizing interpreter would crash it.
_live = {0: weakref.WeakSet(), 1: weakref.WeakSet(), 2: weakref.WeakSet()}
_live_lock = threading.Lock()


def track(obj, rank):
    with _live_lock:
        _live[rank].add(obj)


@atexit.register
def _close_all():
    for rank in (0, 1, 2):
        with _live_lock:
            objs = list(_live[rank])
        for obj in objs:
            try:
                obj.close()
            except Exception:  # at exit, report and go on closing the rest
                log.exception("closing %r at exit", obj)
