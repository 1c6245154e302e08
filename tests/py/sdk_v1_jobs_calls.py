#!/usr/bin/env python3
"""Differential-test driver: makes a list of jobs calls with the AWS IoT Python SDK v1, or
with iotjobs.compat (the same program, its imports changed).

Run by tests/differential.rs, which writes the call list and reads the results; every side gets
the identical list. Usage:

    python sdk_v1_jobs_calls.py --port PORT --thing THING --client-id ID \
        --calls calls.json --out results.json --marker-prefix iotjobs-diff/sdk \
        [--impl sdk-v1|compat]

`--impl compat` imports the same names from `iotjobs.compat` instead of `AWSIoTPythonSDK`
(the installed iotjobs package); nothing else in the program changes.

For call number i it first publishes an empty QoS 1 marker to `<marker-prefix>/<i>` (a topic
outside `$aws`, on the same connection, so the observer can tell which call produced which
jobs message), then makes the call on an `AWSIoTMQTTThingJobsClient` (QoS 1, client id = client
token, plain TCP: `configureCredentials` is not called). After the last call it publishes
`<marker-prefix>/end`. It records, per call, what the SDK returned or raised (with the exception's `code`
when it has one, as iotjobs.Error does).

Call objects (the JSON list):
  {"op": "query", "topic_type": 0-7, "job_id": str|null}
  {"op": "start_next", "status_details": obj|null, "step_timeout": int|null}
  {"op": "update", "job_id": str, "status": int, "status_details": obj|null,
   "expected_version": int, "execution_number": int, "include_state": bool,
   "include_doc": bool, "step_timeout": int|null}
  {"op": "describe", "job_id": str, "execution_number": int, "include_doc": bool}
  {"op": "subscribe", "topic_type": 0-7, "reply_type": 0-4, "job_id": str|null}
    (createJobSubscription; its callback records the messages it receives)

With `--wait-for TOPIC` the driver then subscribes to TOPIC, publishes `<marker-prefix>/ready`
and waits (at most 60 s) for a message on TOPIC before it disconnects; the output's
"received" lists every message each subscription callback got, in order:
{"sub": call index, "topic": str, "payload": hex, "qos": int, "retain": bool,
"dup": bool} (the message object's attributes).
"""

import argparse
import json
import sys
import threading
import time


def load(impl):
    """The v1 names the program uses, from the SDK or from iotjobs.compat; and a version."""
    global AWSIoTMQTTThingJobsClient, jobExecutionStatus, jobExecutionTopicReplyType
    global jobExecutionTopicType
    if impl == "compat":
        import iotjobs
        from iotjobs.compat import (
            AWSIoTMQTTThingJobsClient,
            jobExecutionStatus,
            jobExecutionTopicReplyType,
            jobExecutionTopicType,
        )

        version = getattr(iotjobs, "__version__", "iotjobs")
    else:
        import AWSIoTPythonSDK
        from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTThingJobsClient
        from AWSIoTPythonSDK.core.jobs.thingJobManager import (
            jobExecutionStatus,
            jobExecutionTopicReplyType,
            jobExecutionTopicType,
        )

        version = AWSIoTPythonSDK.__version__
    return version


def tables():
    """The call list's numbers as the loaded implementation's enum members."""
    global TOPIC_TYPES, REPLY_TYPES, STATUSES
    TOPIC_TYPES = {
        0: jobExecutionTopicType.JOB_UNRECOGNIZED_TOPIC,
        1: jobExecutionTopicType.JOB_GET_PENDING_TOPIC,
        2: jobExecutionTopicType.JOB_START_NEXT_TOPIC,
        3: jobExecutionTopicType.JOB_DESCRIBE_TOPIC,
        4: jobExecutionTopicType.JOB_UPDATE_TOPIC,
        5: jobExecutionTopicType.JOB_NOTIFY_TOPIC,
        6: jobExecutionTopicType.JOB_NOTIFY_NEXT_TOPIC,
        7: jobExecutionTopicType.JOB_WILDCARD_TOPIC,
    }

    REPLY_TYPES = {
        0: jobExecutionTopicReplyType.JOB_UNRECOGNIZED_TOPIC_TYPE,
        1: jobExecutionTopicReplyType.JOB_REQUEST_TYPE,
        2: jobExecutionTopicReplyType.JOB_ACCEPTED_REPLY_TYPE,
        3: jobExecutionTopicReplyType.JOB_REJECTED_REPLY_TYPE,
        4: jobExecutionTopicReplyType.JOB_WILDCARD_REPLY_TYPE,
    }

    STATUSES = {
        0: jobExecutionStatus.JOB_EXECUTION_STATUS_NOT_SET,
        1: jobExecutionStatus.JOB_EXECUTION_QUEUED,
        2: jobExecutionStatus.JOB_EXECUTION_IN_PROGRESS,
        3: jobExecutionStatus.JOB_EXECUTION_FAILED,
        4: jobExecutionStatus.JOB_EXECUTION_SUCCEEDED,
        5: jobExecutionStatus.JOB_EXECUTION_CANCELED,
        6: jobExecutionStatus.JOB_EXECUTION_REJECTED,
        # Not members of the SDK's enum (AWS has them, the SDK does not); the SDK only reads
        # element [1] of the tuple, so a caller can still pass them this way.
        7: (7, "TIMED_OUT"),
        8: (8, "REMOVED"),
        99: jobExecutionStatus.JOB_EXECUTION_UNKNOWN_STATUS,
    }


RECEIVED = []
RECEIVED_LOCK = threading.Lock()


def recorder(index):
    def callback(client, userdata, message):
        with RECEIVED_LOCK:
            RECEIVED.append(
                {
                    "sub": index,
                    "topic": message.topic,
                    "payload": message.payload.hex(),
                    "qos": message.qos,
                    "retain": bool(message.retain),
                    "dup": bool(message.dup),
                }
            )

    return callback


def make_call(client, call, index):
    op = call["op"]
    if op == "query":
        return client.sendJobsQuery(TOPIC_TYPES[call["topic_type"]], call["job_id"])
    if op == "start_next":
        return client.sendJobsStartNext(call["status_details"], call["step_timeout"])
    if op == "update":
        return client.sendJobsUpdate(
            call["job_id"],
            STATUSES[call["status"]],
            call["status_details"],
            call["expected_version"],
            call["execution_number"],
            call["include_state"],
            call["include_doc"],
            call["step_timeout"],
        )
    if op == "describe":
        return client.sendJobsDescribe(
            call["job_id"], call["execution_number"], call["include_doc"]
        )
    if op == "subscribe":
        return client.createJobSubscription(
            recorder(index),
            TOPIC_TYPES[call["topic_type"]],
            REPLY_TYPES[call["reply_type"]],
            call["job_id"],
        )
    raise SystemExit("unknown op %r" % op)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--thing", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--marker-prefix", required=True)
    ap.add_argument("--wait-for", default=None)
    ap.add_argument("--impl", choices=["sdk-v1", "compat"], default="sdk-v1")
    args = ap.parse_args()
    version = load(args.impl)
    tables()

    with open(args.calls) as f:
        calls = json.load(f)

    client = AWSIoTMQTTThingJobsClient(args.client_id, args.thing, QoS=1)
    client.configureEndpoint("127.0.0.1", args.port)  # loopback, plain TCP
    client.configureConnectDisconnectTimeout(10)
    client.configureMQTTOperationTimeout(10)
    if not client.connect(keepAliveIntervalSecond=60):
        raise SystemExit("SDK client did not connect")
    mqtt = client.getMQTTConnection()
    # publish() queues (returns False) until the core calls the connection stable; wait for it
    # (bounded) so every call below goes straight to the broker, in order.
    deadline = time.time() + 10
    while not mqtt.publish(args.marker_prefix + "/start", "", 1):
        if time.time() > deadline:
            raise SystemExit("SDK client never became ready to publish")
        time.sleep(0.1)

    results = []
    for i, call in enumerate(calls):
        if not mqtt.publish("%s/%d" % (args.marker_prefix, i), "", 1):
            raise SystemExit("marker %d was queued instead of sent" % i)
        try:
            ret = make_call(client, call, i)
            results.append({"returned": ret})
        except Exception as e:  # the outcome being recorded, whatever it is
            r = {"raised": type(e).__name__, "message": str(e)}
            if getattr(e, "code", None) is not None:
                r["code"] = int(e.code)
            results.append(r)
    if not mqtt.publish(args.marker_prefix + "/end", "", 1):
        raise SystemExit("end marker was queued instead of sent")
    if args.wait_for:
        done = threading.Event()
        mqtt.subscribe(args.wait_for, 1, lambda c, u, m: done.set())
        if not mqtt.publish(args.marker_prefix + "/ready", "", 1):
            raise SystemExit("ready marker was queued instead of sent")
        if not done.wait(60):
            raise SystemExit("nothing arrived on %s within 60 s" % args.wait_for)
    client.disconnect()
    if args.impl == "compat":
        # Not in v1 (its connection lives as long as the process): end the library's client.
        client.close()
        mqtt.close()

    with open(args.out, "w") as f:
        json.dump(
            {
                "impl": args.impl,
                "sdk_version": version if args.impl == "sdk-v1" else None,
                "iotjobs_version": version if args.impl == "compat" else None,
                "python": sys.version,
                "results": results,
                "received": RECEIVED,
            },
            f,
            indent=1,
        )


if __name__ == "__main__":
    main()
