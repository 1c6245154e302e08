"""One request/response jobs flow through the AWS IoT Device SDK v2 for Python.

Driven by tests/sdk_v2_parity.rs, which runs the same flow through iotjobs for another thing
and compares the outcomes. The client is `awsiot.iotjobs.IotJobsClientV2` on an MQTT 3.1.1
connection with mutual TLS (`mtls_from_path`).

Usage: python sdk_v2_flow.py --endpoint HOST --port PORT --ca CA --cert CERT --key KEY
                             --thing THING --client-id ID [--timeout SECONDS]

Prints one JSON object per line on stdout: one per operation (see `outcome`), then
{"done": true}. Every wait is bounded by --timeout; a failed wait prints {"error": ...} and
exits non-zero.
"""

import argparse
import json
import sys

import awscrt.mqtt_request_response
from awsiot import V2ServiceException, iotjobs, mqtt_connection_builder


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def execution_fields(job_id, status, version, details):
    return {
        "job_id": job_id,
        "status": status,
        "version": version,
        "details": details,
    }


def outcome(op, result, code=None, job_id=None, status=None, version=None, details=None,
            queued=None, in_progress=None):
    """The record the Rust test builds from iotjobs' replies: the same keys, the same meaning.

    result: "accepted" or "rejected"; code: the rejection code; job_id, status, version,
    details: from the reply's execution or execution state (details as a JSON object);
    queued, in_progress: job ids of a get-pending reply.
    """
    rec = {"op": op, "result": result, "code": code}
    rec.update(execution_fields(job_id, status, version, details))
    rec["queued"] = queued
    rec["in_progress"] = in_progress
    return rec


def from_execution(op, execution):
    if execution is None:
        return outcome(op, "accepted")
    return outcome(op, "accepted", job_id=execution.job_id, status=execution.status,
                   version=execution.version_number, details=execution.status_details or {})


def from_state(op, result, state, code=None):
    if state is None:
        return outcome(op, result, code=code)
    return outcome(op, result, code=code, status=state.status, version=state.version_number,
                   details=state.status_details or {})


def call(op, future, timeout, on_accepted):
    """Waits for one request's outcome; a rejection comes back as V2ServiceException."""
    try:
        reply = future.result(timeout=timeout)
    except V2ServiceException as e:
        err = e.modeled_error
        if err is None:
            emit({"error": f"{op}: {e.message}: {e.inner_error!r}"})
            sys.exit(1)
        rec = from_state(op, "rejected", err.execution_state, code=err.code)
        emit(rec)
        return rec
    rec = on_accepted(reply)
    emit(rec)
    return rec


def main():
    p = argparse.ArgumentParser()
    for name in ("endpoint", "ca", "cert", "key", "thing", "client-id"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=int, default=20)
    a = p.parse_args()
    t = a.timeout

    conn = mqtt_connection_builder.mtls_from_path(
        endpoint=a.endpoint, port=a.port, cert_filepath=a.cert, pri_key_filepath=a.key,
        ca_filepath=a.ca, client_id=a.client_id, clean_session=True, keep_alive_secs=30)
    conn.connect().result(timeout=t)
    try:
        jobs = iotjobs.IotJobsClientV2(
            conn,
            awscrt.mqtt_request_response.ClientOptions(
                max_request_response_subscriptions=4, max_streaming_subscriptions=2,
                operation_timeout_in_seconds=t))
        thing = a.thing

        def get_pending():
            return call(
                "get_pending",
                jobs.get_pending_job_executions(
                    iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)),
                t,
                lambda r: outcome("get_pending", "accepted",
                                  queued=[j.job_id for j in r.queued_jobs or []],
                                  in_progress=[j.job_id for j in r.in_progress_jobs or []]))

        def start_next():
            return call(
                "start_next",
                jobs.start_next_pending_job_execution(
                    iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing)),
                t,
                lambda r: from_execution("start_next", r.execution))

        def update(job_id, status, expected_version, details=None):
            return call(
                "update",
                jobs.update_job_execution(iotjobs.UpdateJobExecutionRequest(
                    thing_name=thing, job_id=job_id, status=status, status_details=details,
                    expected_version=expected_version, include_job_execution_state=True)),
                t,
                lambda r: from_state("update", "accepted", r.execution_state))

        def describe(job_id):
            return call(
                "describe",
                jobs.describe_job_execution(iotjobs.DescribeJobExecutionRequest(
                    thing_name=thing, job_id=job_id, include_job_document=False)),
                t,
                lambda r: from_execution("describe", r.execution))

        get_pending()
        first = start_next()
        job1, started_version = first["job_id"], first["version"]
        progress = update(job1, "IN_PROGRESS", started_version, {"step": "download"})
        update(job1, "SUCCEEDED", started_version, {"step": "stale"})
        update(job1, "SUCCEEDED", progress["version"], {"result": "installed"})
        describe("no-such-job")
        second = start_next()
        update(second["job_id"], "FAILED", second["version"], {"reason": "disk full"})
        start_next()
        get_pending()
        emit({"done": True})
    finally:
        conn.disconnect().result(timeout=t)


if __name__ == "__main__":
    main()
