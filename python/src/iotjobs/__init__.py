"""iotjobs: an AWS IoT Jobs client (the iotjobs C library, through cffi).

    import iotjobs

    with iotjobs.Connection("xxx-ats.iot.eu-west-1.amazonaws.com", 8883, "dev1",
                            ca="AmazonRootCA1.pem", cert="dev1.pem.crt",
                            key="dev1.private.key") as conn, \\
            iotjobs.Client(conn, "dev1") as client:
        job = client.start_next()
        if job is not None:
            client.update(job.job_id, iotjobs.Status.SUCCEEDED,
                          expected_version=job.version)

`Connection` is one MQTT connection, `Client` the jobs client of one thing on it (requests
block, their `*_async` forms return futures, notifications are callbacks), and `Agent` runs
each job through a Python handler to one final status, once, with a crash-safe journal.
Every failing call raises `Error`. `iotjobs.compat` has the names of the AWS IoT Python SDK
v1 (`AWSIoTMQTTThingJobsClient`, ...) for programs written against it.

Callbacks and handlers run on the library's threads, with the GIL taken. An exception they
raise is logged (logger "iotjobs") and never reaches the library. The library's own log
lines go to the "iotjobs.lib" logger.
"""

from ._lib import (AgentEventKind, ConnectionState, Delivery, Error, EventKind, LogLevel,
                   Offline, Rejected, RejectionCode, ReplyType, Result, ResumePolicy, Status,
                   TopicType, ffi, lib)
from ._types import (ConnectionEvent, Execution, ExecutionState, JobSummary, NextJobChanged,
                     PendingJobs, PendingJobsChanged, Rejection, UpdateResult)
from ._connection import Connection
from ._client import Client, Future
from ._agent import Agent, AgentEvent, Job

__version__ = "0.1.0"


def library_version():
    """The C library's version string, e.g. "iotjobs/0.1.0 (rumqttc-codec/0.25, ...)"."""
    return ffi.string(lib.jobs_version()).decode()


__all__ = [
    "Agent", "AgentEvent", "AgentEventKind", "Client", "Connection", "ConnectionEvent",
    "ConnectionState", "Delivery", "Error", "EventKind", "Execution", "ExecutionState",
    "Future", "Job", "JobSummary", "LogLevel", "NextJobChanged", "Offline", "PendingJobs",
    "PendingJobsChanged", "Rejected", "Rejection", "RejectionCode", "ReplyType", "Result",
    "ResumePolicy", "Status", "TopicType", "UpdateResult", "library_version",
]
