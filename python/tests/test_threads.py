"""Many threads making requests at once, on one client and on several, blocking and async,
and a client closed while requests are in flight."""

import concurrent.futures
import threading

import iotjobs
from iotjobs import Error, Result


THREADS = 8
PER_THREAD = 25


def test_many_threads_share_one_client(emulator):
    emulator.create_job("job-m", {"operation": "x"}, ["dev-m"])
    with iotjobs.Connection("127.0.0.1", emulator.mqtt, "dev-m", plain=True) as conn, \
            iotjobs.Client(conn, "dev-m") as client:
        barrier = threading.Barrier(THREADS)

        def work(i):
            barrier.wait(10)
            outcomes = []
            for n in range(PER_THREAD):
                if n % 3 == 0:
                    outcomes.append(len(client.get_pending().queued))
                elif n % 3 == 1:
                    outcomes.append(client.describe("job-m").job_id)
                else:
                    outcomes.append(client.describe_async("job-m").result(20).status)
            return outcomes

        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(work, range(THREADS), timeout=120))
        flat = [x for r in results for x in r]
        assert len(flat) == THREADS * PER_THREAD
        assert set(flat) == {1, "job-m", iotjobs.Status.QUEUED}


def test_threads_with_their_own_clients_on_one_connection(emulator):
    things = ["dev-p%d" % i for i in range(THREADS)]
    for t in things:
        emulator.create_job("job-" + t, {"operation": "x"}, [t])
    with iotjobs.Connection("127.0.0.1", emulator.mqtt, "gateway", plain=True) as conn:
        clients = [iotjobs.Client(conn, t) for t in things]

        def run(client):
            ex = client.start_next()
            client.update(ex.job_id, "IN_PROGRESS", expected_version=ex.version)
            return client.update(ex.job_id, "SUCCEEDED", include_state=True).state.status

        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            statuses = list(pool.map(run, clients, timeout=120))
        assert statuses == [iotjobs.Status.SUCCEEDED] * THREADS
        for t in things:
            assert emulator.execution("job-" + t, t)["status"] == "SUCCEEDED"
        for c in clients:
            c.close()


def test_close_while_threads_are_requesting(emulator):
    with iotjobs.Connection("127.0.0.1", emulator.mqtt, "dev-q", plain=True) as conn:
        client = iotjobs.Client(conn, "dev-q")
        started = threading.Barrier(THREADS + 1)
        emulator.ctl("reply-delay", ms=300)

        def work(i):
            started.wait(10)
            codes = []
            for _ in range(10):
                try:
                    client.get_pending(timeout=5)
                    codes.append(Result.OK)
                except Error as e:
                    codes.append(e.code)
                try:
                    exc = client.get_pending_async(timeout=5).exception(10)
                    codes.append(Result.OK if exc is None else exc.code)
                except Error as e:
                    codes.append(e.code)
            return codes

        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            futs = [pool.submit(work, i) for i in range(THREADS)]
            started.wait(10)
            threading.Event().wait(0.5)
            client.close()
            codes = [c for f in futs for c in f.result(timeout=120)]
        assert set(codes) <= {Result.OK, Result.CLOSED}, set(codes)
        assert Result.CLOSED in codes
