"""AWS IoT Python SDK v1 round trip: AWSIoTMQTTThingJobsClient.sendJobsUpdate (QoS 1, which
blocks until PUBACK) -> update/accepted callback, through the emulator on plain TCP.

usage: rt_python.py PORT THING JOB N WARMUP NODELAY [IMPL]
NODELAY=1 gives the SDK a socket with TCP_NODELAY through configureSocketFactory (the SDK itself
never sets it). IMPL "compat" runs the same program on iotjobs.compat (v1's names on the iotjobs
library, which sets TCP_NODELAY itself and has no socket factory: NODELAY must be 1); the
default is "sdk-v1". Prints one "RESULT rt ..." line like the C programs; exits 2 on any
failure."""

import resource
import socket
import sys
import threading
import time

IMPL = sys.argv[7] if len(sys.argv) > 7 else "sdk-v1"
if IMPL == "compat":
    from iotjobs.compat import (AWSIoTMQTTThingJobsClient, jobExecutionStatus,
                                jobExecutionTopicReplyType, jobExecutionTopicType)
elif IMPL == "sdk-v1":
    from AWSIoTPythonSDK.core.jobs.thingJobManager import (
        jobExecutionStatus,
        jobExecutionTopicReplyType,
        jobExecutionTopicType,
    )
    from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTThingJobsClient
else:
    sys.exit("rt_python: IMPL is sdk-v1 or compat, not %r" % IMPL)


def main():
    port, thing, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    n, warmup, nodelay = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
    if IMPL == "compat" and not nodelay:
        sys.exit("rt_python: iotjobs.compat always sets TCP_NODELAY (NODELAY must be 1)")
    cond = threading.Condition()
    state = {"accepted": 0, "rejected": 0}

    def on_accepted(client, userdata, message):
        with cond:
            state["accepted"] += 1
            cond.notify_all()

    def on_rejected(client, userdata, message):
        sys.stderr.write("rt_python: update rejected: %r\n" % (message.payload,))
        with cond:
            state["rejected"] += 1
            cond.notify_all()

    client_id = "bench-python-rt" if IMPL == "sdk-v1" else "bench-compat-rt"
    jobs = AWSIoTMQTTThingJobsClient(client_id, thing, QoS=1)
    jobs.configureEndpoint("127.0.0.1", port)
    jobs.configureConnectDisconnectTimeout(10)
    jobs.configureMQTTOperationTimeout(10)
    if nodelay and IMPL == "sdk-v1":
        def factory():
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s

        jobs.configureSocketFactory(factory)
    if not jobs.connect(keepAliveIntervalSecond=600):
        sys.exit("rt_python: connect failed")
    if not jobs.createJobSubscription(on_accepted, jobExecutionTopicType.JOB_UPDATE_TOPIC,
                                      jobExecutionTopicReplyType.JOB_ACCEPTED_REPLY_TYPE, job):
        sys.exit("rt_python: subscribe (accepted) failed")
    if not jobs.createJobSubscription(on_rejected, jobExecutionTopicType.JOB_UPDATE_TOPIC,
                                      jobExecutionTopicReplyType.JOB_REJECTED_REPLY_TYPE, job):
        sys.exit("rt_python: subscribe (rejected) failed")
    lat = []
    u0 = None
    for i in range(warmup + n):
        if i == warmup:
            u0 = resource.getrusage(resource.RUSAGE_SELF)
        with cond:
            target = state["accepted"] + 1
        t0 = time.perf_counter_ns()
        if not jobs.sendJobsUpdate(job, jobExecutionStatus.JOB_EXECUTION_IN_PROGRESS):
            sys.exit("rt_python: sendJobsUpdate failed")
        with cond:
            ok = cond.wait_for(lambda: state["accepted"] >= target or state["rejected"], 10)
        t1 = time.perf_counter_ns()
        if not ok or state["rejected"]:
            sys.exit("rt_python: no update/accepted within 10 s (or a rejection)")
        if i >= warmup:
            lat.append(t1 - t0)
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime) * 1e6
    csw = (u1.ru_nvcsw + u1.ru_nivcsw - u0.ru_nvcsw - u0.ru_nivcsw)
    lat.sort()
    k = len(lat)
    p99 = min(k - 1, max(0, (k * 99 + 99) // 100 - 1))
    if IMPL == "compat":
        name = "iotjobs-compat(v1-API)"
    else:
        name = "python-sdk-v1(nodelay)" if nodelay else "python-sdk-v1(nagle)"
    print("RESULT cost_rt %s ops=%d cpu_us_per_op=%.1f ctxsw_per_op=%.2f" % (name, n, cpu / n, csw / n))
    print("RESULT rt %s n=%d median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f" % (
        name, k, lat[k // 2] / 1e3, lat[p99] / 1e3, sum(lat) / k / 1e3, lat[0] / 1e3, lat[-1] / 1e3),
        flush=True)
    jobs.disconnect()
    if IMPL == "compat":
        jobs.close()  # not in v1: ends the library's client and connection
        jobs.getMQTTConnection().close()


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (None, 0):
            if not isinstance(e.code, int):
                sys.stderr.write("%s\n" % e.code)
            sys.exit(2)
        raise
