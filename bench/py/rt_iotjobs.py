"""iotjobs Python package round trip: the Pythonic blocking `Client.update(job, "IN_PROGRESS")`,
which sends UpdateJobExecution and returns the accepted reply (an UpdateResult), through the
emulator on plain TCP (the library sets TCP_NODELAY on its sockets).

usage: rt_iotjobs.py PORT THING JOB N WARMUP
Prints "RESULT cost_rt ..." and "RESULT rt ..." lines like the other programs; exits 2 on any
failure."""

import resource
import sys
import time

import iotjobs


def main():
    port, thing, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    n, warmup = int(sys.argv[4]), int(sys.argv[5])
    conn = iotjobs.Connection("127.0.0.1", port, "bench-iotjobs-py-rt", plain=True,
                              keep_alive=600, connect_timeout=10.0, operation_timeout=10.0)
    conn.connect()
    client = iotjobs.Client(conn, thing)
    lat = []
    u0 = None
    for i in range(warmup + n):
        if i == warmup:
            u0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter_ns()
        r = client.update(job, "IN_PROGRESS", timeout=10.0)
        t1 = time.perf_counter_ns()
        if r.job_id != job:
            sys.exit("rt_iotjobs: accepted reply for %r, not %r" % (r.job_id, job))
        if i >= warmup:
            lat.append(t1 - t0)
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime) * 1e6
    csw = (u1.ru_nvcsw + u1.ru_nivcsw - u0.ru_nvcsw - u0.ru_nivcsw)
    lat.sort()
    k = len(lat)
    p99 = min(k - 1, max(0, (k * 99 + 99) // 100 - 1))
    name = "iotjobs-python(Client.update)"
    print("RESULT cost_rt %s ops=%d cpu_us_per_op=%.1f ctxsw_per_op=%.2f" % (name, n, cpu / n, csw / n))
    print("RESULT rt %s n=%d median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f" % (
        name, k, lat[k // 2] / 1e3, lat[p99] / 1e3, sum(lat) / k / 1e3, lat[0] / 1e3, lat[-1] / 1e3),
        flush=True)
    client.close()
    conn.disconnect()
    conn.close()


if __name__ == "__main__":
    try:
        main()
    except iotjobs.Error as e:
        sys.stderr.write("rt_iotjobs: %s\n" % e)
        sys.exit(2)
    except SystemExit as e:
        if e.code not in (None, 0):
            if not isinstance(e.code, int):
                sys.stderr.write("%s\n" % e.code)
            sys.exit(2)
        raise
