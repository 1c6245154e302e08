"""What requests and events return, and their conversion from a borrowed `jobs_message`.

Every conversion copies: a message lent to a callback is only valid until it returns."""

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ._lib import NULL, RejectionCode, Status, ffi, lib, _c_str


def _time(seconds):
    if not seconds:
        return None
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def _status(value):
    try:
        return Status(value)
    except ValueError:
        return Status.UNKNOWN


@dataclass(frozen=True)
class JobSummary:
    """One pending execution of a get-pending reply or a notify message."""
    job_id: str
    version: int
    execution_number: int
    queued_at: Optional[datetime.datetime]
    started_at: Optional[datetime.datetime]
    last_updated_at: Optional[datetime.datetime]


@dataclass(frozen=True)
class PendingJobs:
    """The pending executions of a thing: get-pending's reply, or a notify event."""
    in_progress: List[JobSummary] = field(default_factory=list)
    queued: List[JobSummary] = field(default_factory=list)


@dataclass(frozen=True)
class Execution:
    """A job execution, as start-next, describe and notify-next report it. `version` is what
    the next update's `expected_version` should be; `document` is the parsed job document."""
    job_id: str
    status: Status
    version: int
    execution_number: int
    status_details: Dict[str, str]
    document: Any
    queued_at: Optional[datetime.datetime]
    started_at: Optional[datetime.datetime]
    last_updated_at: Optional[datetime.datetime]


@dataclass(frozen=True)
class ExecutionState:
    """An execution's status, details and version: in an update's reply (with
    `include_state=True`) and in rejections such as VersionMismatch."""
    status: Status
    status_details: Dict[str, str]
    version: int


@dataclass(frozen=True)
class UpdateResult:
    """An accepted update. `state` is set when asked for with `include_state=True`,
    `document` with `include_document=True`."""
    job_id: str
    state: Optional[ExecutionState]
    document: Any


@dataclass(frozen=True)
class Rejection:
    """Why AWS rejected a request: `code` (a RejectionCode), `code_text` as AWS sent it
    (`"VersionMismatch"`), `message`, and the execution state when AWS included one."""
    code: RejectionCode
    code_text: str
    message: str
    execution_state: Optional[ExecutionState]


@dataclass(frozen=True)
class NextJobChanged:
    """A notify-next event: the next pending execution, or None when none is left."""
    execution: Optional[Execution]


@dataclass(frozen=True)
class PendingJobsChanged:
    """A notify event: the thing's pending executions changed."""
    in_progress: List[JobSummary]
    queued: List[JobSummary]


@dataclass(frozen=True)
class ConnectionEvent:
    """An asynchronous connection event: `kind` (EventKind), `result` (Result), the topic
    concerned (may be empty) and an explanation."""
    kind: Any
    result: Any
    topic: str
    message: str


# ---------------------------------------------------------------- conversion

def details_of(m):
    out = {}
    key = ffi.new("const char **")
    value = ffi.new("const char **")
    for i in range(lib.jobs_message_status_details_count(m)):
        if lib.jobs_message_status_detail(m, i, key, value) == lib.JOBS_RESULT_OK:
            out[_c_str(key[0])] = _c_str(value[0])
    return out


def document_of(m):
    n = ffi.new("size_t *")
    p = lib.jobs_message_job_document(m, n)
    if p == NULL:
        return None
    text = ffi.unpack(p, n[0]).decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def execution_of(m):
    return Execution(
        job_id=_c_str(lib.jobs_message_execution_job_id(m)),
        status=_status(lib.jobs_message_status(m)),
        version=lib.jobs_message_version_number(m),
        execution_number=lib.jobs_message_execution_number(m),
        status_details=details_of(m),
        document=document_of(m),
        queued_at=_time(lib.jobs_message_queued_at(m)),
        started_at=_time(lib.jobs_message_started_at(m)),
        last_updated_at=_time(lib.jobs_message_last_updated_at(m)),
    )


def optional_execution_of(m):
    return execution_of(m) if lib.jobs_message_has_execution(m) else None


def state_of(m):
    status = lib.jobs_message_status(m)
    if status == lib.JOBS_STATUS_NOT_SET:
        return None
    return ExecutionState(status=_status(status), status_details=details_of(m),
                          version=lib.jobs_message_version_number(m))


def pending_of(m, status):
    out = []
    s = ffi.new("jobs_job_summary *")
    for i in range(lib.jobs_message_pending_count(m, status)):
        s.struct_size = ffi.sizeof("jobs_job_summary")
        if lib.jobs_message_pending_job(m, status, i, s) != lib.JOBS_RESULT_OK:
            break
        out.append(JobSummary(
            job_id=_c_str(s.job_id), version=s.version_number,
            execution_number=s.execution_number, queued_at=_time(s.queued_at),
            started_at=_time(s.started_at), last_updated_at=_time(s.last_updated_at)))
    return out


def pending_jobs_of(m):
    return PendingJobs(in_progress=pending_of(m, lib.JOBS_STATUS_IN_PROGRESS),
                       queued=pending_of(m, lib.JOBS_STATUS_QUEUED))


def update_of(m):
    return UpdateResult(job_id=_c_str(lib.jobs_message_execution_job_id(m))
                        or _c_str(lib.jobs_message_job_id(m)),
                        state=state_of(m), document=document_of(m))


def rejection_of(m):
    try:
        code = RejectionCode(lib.jobs_message_rejection_code(m))
    except ValueError:
        code = RejectionCode.OTHER
    return Rejection(code=code, code_text=_c_str(lib.jobs_message_rejection_text(m)) or "",
                     message=_c_str(lib.jobs_message_rejection_message(m)) or "",
                     execution_state=state_of(m))
