"""AWS IoT Device SDK v2 for Python (awsiotsdk on awscrt) round trip: UpdateJobExecution ->
update/accepted through the emulator on plain TCP (awscrt.mqtt.Client without a TLS context
is plain MQTT 3.1.1; the socket options are awscrt's defaults).

usage: rt_v2.py PORT THING JOB N WARMUP MODE
MODE "pubsub": IotJobsClient.publish_update_job_execution (QoS 1, waits for the PUBACK future)
  then waits for the subscribed update/accepted callback, as the v1 rows do.
MODE "request": IotJobsClientV2.update_job_execution, the request/response client; waits for
  its future (the accepted reply), as iotjobs' Client.update does.
Prints "RESULT cost_rt ..." and "RESULT rt ..." lines; exits 2 on any failure."""

import resource
import sys
import threading
import time

from awscrt import mqtt, mqtt_request_response
from awsiot import iotjobs


def main():
    port, thing, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    n, warmup, mode = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    if mode not in ("pubsub", "request"):
        sys.exit("rt_v2: MODE is pubsub or request")
    conn = mqtt.Connection(client=mqtt.Client(None, None), host_name="127.0.0.1", port=port,
                           client_id="bench-v2-" + mode, clean_session=True,
                           keep_alive_secs=600)
    conn.connect().result(10)
    cond = threading.Condition()
    state = {"accepted": 0, "rejected": 0}
    if mode == "pubsub":
        jobs = iotjobs.IotJobsClient(conn)

        def on_accepted(response):
            with cond:
                state["accepted"] += 1
                cond.notify_all()

        def on_rejected(error):
            sys.stderr.write("rt_v2: update rejected: %r\n" % (error,))
            with cond:
                state["rejected"] += 1
                cond.notify_all()

        sub = iotjobs.UpdateJobExecutionSubscriptionRequest(thing_name=thing, job_id=job)
        f, _ = jobs.subscribe_to_update_job_execution_accepted(sub, mqtt.QoS.AT_LEAST_ONCE, on_accepted)
        f.result(10)
        f, _ = jobs.subscribe_to_update_job_execution_rejected(sub, mqtt.QoS.AT_LEAST_ONCE, on_rejected)
        f.result(10)
    else:
        opts = mqtt_request_response.ClientOptions(max_request_response_subscriptions=2,
                                                   max_streaming_subscriptions=1,
                                                   operation_timeout_in_seconds=10)
        jobs = iotjobs.IotJobsClientV2(conn, opts)
    lat = []
    u0 = None
    for i in range(warmup + n):
        if i == warmup:
            u0 = resource.getrusage(resource.RUSAGE_SELF)
        req = iotjobs.UpdateJobExecutionRequest(thing_name=thing, job_id=job, status="IN_PROGRESS")
        if mode == "pubsub":
            with cond:
                target = state["accepted"] + 1
            t0 = time.perf_counter_ns()
            jobs.publish_update_job_execution(req, mqtt.QoS.AT_LEAST_ONCE).result(10)
            with cond:
                ok = cond.wait_for(lambda: state["accepted"] >= target or state["rejected"], 10)
            t1 = time.perf_counter_ns()
            if not ok or state["rejected"]:
                sys.exit("rt_v2: no update/accepted within 10 s (or a rejection)")
        else:
            t0 = time.perf_counter_ns()
            jobs.update_job_execution(req).result(10)  # raises on a rejection
            t1 = time.perf_counter_ns()
        if i >= warmup:
            lat.append(t1 - t0)
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime) * 1e6
    csw = (u1.ru_nvcsw + u1.ru_nivcsw - u0.ru_nvcsw - u0.ru_nivcsw)
    lat.sort()
    k = len(lat)
    p99 = min(k - 1, max(0, (k * 99 + 99) // 100 - 1))
    name = "python-sdk-v2(IotJobsClient)" if mode == "pubsub" else "python-sdk-v2(IotJobsClientV2)"
    print("RESULT cost_rt %s ops=%d cpu_us_per_op=%.1f ctxsw_per_op=%.2f" % (name, n, cpu / n, csw / n))
    print("RESULT rt %s n=%d median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f" % (
        name, k, lat[k // 2] / 1e3, lat[p99] / 1e3, sum(lat) / k / 1e3, lat[0] / 1e3, lat[-1] / 1e3),
        flush=True)
    conn.disconnect().result(10)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (None, 0):
            if not isinstance(e.code, int):
                sys.stderr.write("%s\n" % e.code)
            sys.exit(2)
        raise
    except Exception as e:  # any SDK failure is a benchmark that could not run
        sys.stderr.write("rt_v2: %s: %s\n" % (type(e).__name__, e))
        sys.exit(2)
