"""The Pythonic API end to end against the emulator: accepted, rejected, timeout, offline,
cancelled requests, notifications, TLS, and exceptions raised in callbacks."""

import logging
import queue
import threading
import time

import pytest

import iotjobs
from iotjobs import Error, Rejected, RejectionCode, Result, Status

from conftest import wait_for


def connect(emulator, client_id, **kw):
    return iotjobs.Connection("127.0.0.1", emulator.mqtt, client_id, plain=True, **kw)


def test_accepted_round_trip(emulator):
    emulator.create_job("job-a", {"operation": "install", "version": "1.2"}, ["dev-a"])
    with connect(emulator, "dev-a") as conn, iotjobs.Client(conn, "dev-a") as client:
        assert conn.state == iotjobs.ConnectionState.ONLINE
        pending = client.get_pending()
        assert [j.job_id for j in pending.queued] == ["job-a"] and pending.in_progress == []
        assert pending.queued[0].version == 1 and pending.queued[0].queued_at is not None

        ex = client.start_next(details={"phase": "download"}, step_timeout=5)
        assert isinstance(ex, iotjobs.Execution)
        assert (ex.job_id, ex.status, ex.execution_number) == ("job-a", Status.IN_PROGRESS, 1)
        assert ex.document == {"operation": "install", "version": "1.2"}
        assert ex.status_details == {"phase": "download"}
        assert ex.started_at is not None and ex.started_at.tzinfo is not None

        up = client.update("job-a", "IN_PROGRESS", details={"phase": "install"},
                           expected_version=ex.version, include_state=True, include_document=True)
        assert up.job_id == "job-a"
        assert up.state.status == Status.IN_PROGRESS and up.state.version == ex.version + 1
        assert up.state.status_details == {"phase": "install"}
        assert up.document == ex.document

        described = client.describe("job-a")
        assert described.version == up.state.version and described.status == Status.IN_PROGRESS
        assert client.describe("$next").job_id == "job-a"  # IN_PROGRESS comes first

        done = client.update("job-a", Status.SUCCEEDED, expected_version=described.version)
        assert done.state is None  # include_state not asked for
        assert client.start_next() is None
        assert client.describe("$next") is None
        assert emulator.execution("job-a", "dev-a")["status"] == "SUCCEEDED"


def test_async_forms_return_futures(emulator):
    emulator.create_job("job-f", {"operation": "x"}, ["dev-f"])
    with connect(emulator, "dev-f") as conn, iotjobs.Client(conn, "dev-f") as client:
        f = client.get_pending_async()
        assert isinstance(f, iotjobs.Future)
        assert [j.job_id for j in f.result(10).queued] == ["job-f"]
        ex = client.start_next_async().result(10)
        assert ex.job_id == "job-f"
        assert client.describe_async("job-f").result(10).status == Status.IN_PROGRESS
        up = client.update_async("job-f", "SUCCEEDED", include_state=True).result(10)
        assert up.state.status == Status.SUCCEEDED
        # The outcome arrives on the callback thread; done callbacks run there.
        seen = queue.Queue()
        g = client.describe_async("job-f")
        g.add_done_callback(lambda fut: seen.put(threading.current_thread() is threading.main_thread()))
        g.result(10)
        assert seen.get(timeout=10) in (True, False)


def test_rejected_carries_code_message_and_state(emulator):
    emulator.create_job("job-r", {"operation": "x"}, ["dev-r"])
    with connect(emulator, "dev-r") as conn, iotjobs.Client(conn, "dev-r") as client:
        ex = client.start_next()
        with pytest.raises(Rejected) as e:
            client.update("job-r", "SUCCEEDED", expected_version=ex.version + 5)
        err = e.value
        assert isinstance(err, Error) and err.code == Result.REJECTED
        assert err.name == "JOBS_RESULT_REJECTED" and err.value == 40
        r = err.rejection
        assert r.code == RejectionCode.VERSION_MISMATCH and r.code_text == "VersionMismatch"
        assert "expectedVersion" in r.message
        assert r.execution_state.status == Status.IN_PROGRESS
        assert r.execution_state.version == ex.version

        with pytest.raises(Rejected) as e:
            client.describe("no-such-job")
        assert e.value.rejection.code == RejectionCode.RESOURCE_NOT_FOUND

        client.update("job-r", "SUCCEEDED")
        f = client.update_async("job-r", "IN_PROGRESS")
        with pytest.raises(Rejected) as e:
            f.result(10)
        assert e.value.rejection.code == RejectionCode.INVALID_STATE_TRANSITION


def test_timeout(emulator):
    with connect(emulator, "dev-t") as conn, iotjobs.Client(conn, "dev-t") as client:
        emulator.ctl("drop-replies", count=2)
        t0 = time.monotonic()
        with pytest.raises(Error) as e:
            client.get_pending(timeout=0.5)
        assert e.value.code == Result.TIMEOUT and e.value.name == "JOBS_RESULT_TIMEOUT"
        assert e.value.message
        assert 0.4 < time.monotonic() - t0 < 5
        with pytest.raises(Error) as e:
            client.get_pending_async(timeout=0.5).result(10)
        assert e.value.code == Result.TIMEOUT
        assert client.get_pending().queued == []  # the next reply comes again


def test_offline(emulator):
    emulator.create_job("job-o", {"operation": "x"}, ["dev-o"])
    conn = connect(emulator, "dev-o")
    client = iotjobs.Client(conn, "dev-o")
    try:
        assert conn.state == iotjobs.ConnectionState.DISCONNECTED
        with pytest.raises(Error) as e:
            client.get_pending(offline="fail_fast")
        assert e.value.code == Result.NOT_CONNECTED
        with pytest.raises(Error) as e:
            client.describe("job-o", offline=iotjobs.Offline.WAIT, timeout=0.3)
        assert e.value.code == Result.TIMEOUT
        # A read waits for the connection within its deadline; an update is queued.
        f = client.start_next_async(timeout=20)
        time.sleep(0.2)
        assert not f.done()
        conn.connect()
        ex = f.result(20)
        assert ex.job_id == "job-o"
        conn.disconnect()
        g = client.update_async("job-o", "SUCCEEDED", timeout=20)
        time.sleep(0.2)
        assert conn.counters()["queued"] >= 1 and not g.done()
        conn.connect()
        g.result(20)
        assert emulator.execution("job-o", "dev-o")["status"] == "SUCCEEDED"
    finally:
        client.close()
        conn.close()


def test_request_cancelled_by_disconnect_and_job_cancelled_at_service(emulator):
    emulator.create_job("job-c", {"operation": "x"}, ["dev-c"])
    events = queue.Queue()
    with connect(emulator, "dev-c") as conn, iotjobs.Client(conn, "dev-c") as client:
        client.on_notify_next(events.put)
        emulator.ctl("reply-delay", ms=3000)
        f = client.get_pending_async(timeout=20)
        time.sleep(0.3)
        conn.disconnect()
        with pytest.raises(Error) as e:
            f.result(10)
        assert e.value.code == Result.CANCELLED
        emulator.ctl("reply-delay", ms=0)
        conn.connect()
        ex = client.start_next()
        assert ex.job_id == "job-c"
        emulator.ctl("cancel-job", id="job-c", force=True)
        emulator.wait_status("job-c", "dev-c", "CANCELED")
        # notify-next: nothing is next any more
        wait_for(lambda: any(ev.execution is None for ev in list(events.queue)), 10, "notify-next")
        with pytest.raises(Rejected) as e:
            client.update("job-c", "SUCCEEDED")
        assert e.value.rejection.code in (RejectionCode.INVALID_STATE_TRANSITION,
                                          RejectionCode.TERMINAL_STATE_REACHED)


def test_notifications_are_typed(emulator):
    nexts, pendings = queue.Queue(), queue.Queue()
    with connect(emulator, "dev-n") as conn, iotjobs.Client(conn, "dev-n") as client:
        @client.on_notify_next
        def next_changed(ev):
            nexts.put(ev)

        client.on_notify(pendings.put)
        time.sleep(0.3)  # the library subscribes in the background
        emulator.create_job("job-n", {"operation": "notify-me"}, ["dev-n"])
        ev = nexts.get(timeout=10)
        assert isinstance(ev, iotjobs.NextJobChanged)
        assert ev.execution.job_id == "job-n" and ev.execution.status == Status.QUEUED
        assert ev.execution.document == {"operation": "notify-me"}
        pj = pendings.get(timeout=10)
        assert isinstance(pj, iotjobs.PendingJobsChanged)
        assert [j.job_id for j in pj.queued] == ["job-n"]
        client.on_notify_next(None)
        client.on_notify(None)


def test_connection_callbacks_and_events(emulator):
    online, offline, events, messages = (threading.Event(), threading.Event(), queue.Queue(),
                                         queue.Queue())
    conn = connect(emulator, "dev-cb", on_online=online.set, on_offline=offline.set,
                   on_event=events.put, on_message=lambda t, p: messages.put((t, p)),
                   backoff=(0.1, 0.5, 2.0))
    with conn:
        assert online.wait(10)
        assert conn.subscribe("plain/topic", lambda t, p: messages.put(("sub", t, p))) == \
            iotjobs.Delivery.SENT
        conn.publish("plain/topic", b"hello")
        got = {messages.get(timeout=10), messages.get(timeout=10)}
        assert got == {("plain/topic", b"hello"), ("sub", "plain/topic", b"hello")}
        online.clear()
        emulator.ctl("cut", client="dev-cb")
        assert offline.wait(10)
        ev = events.get(timeout=10)
        assert ev.kind == iotjobs.EventKind.CONNECTION_LOST
        assert online.wait(10)  # reconnected by itself
        assert conn.counters()["reconnects"] >= 1


def test_tls_with_files_and_pem_bytes(tls_emulator, certs):
    with open(certs["ca"], "rb") as f:
        ca_pem = f.read()
    for ca in (certs["ca"], ca_pem):
        with iotjobs.Connection("127.0.0.1", tls_emulator.tls, "dev-tls", ca=ca,
                                cert=certs["cert"], key=certs["key"]) as conn, \
                iotjobs.Client(conn, "dev-tls") as client:
            assert client.get_pending().queued == []
    with pytest.raises(Error) as e:
        iotjobs.Connection("127.0.0.1", tls_emulator.tls, "dev-tls", ca="/nonexistent/ca.pem",
                           cert=certs["cert"], key=certs["key"])
    assert e.value.code == Result.TLS_CONFIG and "/nonexistent/ca.pem" in e.value.message
    with pytest.raises(Error) as e:
        iotjobs.Connection("127.0.0.1", tls_emulator.tls, "dev-tls", cert=certs["cert"],
                           key=certs["key"])
    assert e.value.code == Result.INCOMPLETE_CONFIG
    # A server certificate the CA did not sign fails the handshake, with a reason.
    with pytest.raises(Error) as e:
        with iotjobs.Connection("127.0.0.1", tls_emulator.tls, "dev-tls", ca=certs["cert"],
                                cert=certs["cert"], key=certs["key"], connect_timeout=5):
            pass
    assert e.value.code == Result.TLS


def test_exception_in_callbacks_is_logged_and_never_stalls(emulator, caplog):
    seen = queue.Queue()
    with connect(emulator, "dev-x", on_message=lambda t, p: 1 / 0) as conn, \
            iotjobs.Client(conn, "dev-x") as client:
        calls = []

        def bad(ev):
            calls.append(ev)
            raise RuntimeError("handler bug %d" % len(calls))

        client.on_notify_next(bad)
        conn.subscribe("x/topic", lambda t, p: seen.put(p))
        time.sleep(0.3)
        with caplog.at_level(logging.ERROR, logger="iotjobs"):
            emulator.create_job("job-x1", {"operation": "x"}, ["dev-x"])
            wait_for(lambda: len(calls) >= 1, 10, "the first notification")
            conn.publish("x/topic", b"after")
            assert seen.get(timeout=10) == b"after"  # later callbacks still run
            wait_for(lambda: any("handler bug 1" in r.getMessage() or
                                 (r.exc_info and "handler bug 1" in str(r.exc_info[1]))
                                 for r in caplog.records), 10, "the log line")
            assert any(r.exc_info and isinstance(r.exc_info[1], ZeroDivisionError)
                       for r in caplog.records)
        # The client still works, from a callback too (notify: the pending list changed).
        got = queue.Queue()
        client.on_notify(lambda ev: got.put(client.get_pending()))
        time.sleep(0.5)  # the library subscribes in the background
        emulator.create_job("job-x2", {"operation": "x"}, ["dev-x"])
        pending = got.get(timeout=10)
        assert {j.job_id for j in pending.queued} == {"job-x1", "job-x2"}


def test_waiting_for_a_future_inside_a_callback_is_refused(emulator):
    out = queue.Queue()
    with connect(emulator, "dev-w") as conn, iotjobs.Client(conn, "dev-w") as client:
        def cb(topic, payload):
            try:
                client.get_pending_async().result(5)
                out.put("no error")
            except Error as e:
                out.put(e.code)
        conn.subscribe("w/topic", cb)
        conn.publish("w/topic", b"go")
        assert out.get(timeout=10) == Result.INVALID_STATE


def test_close_fails_requests_still_waiting(emulator):
    with connect(emulator, "dev-z") as conn:
        client = iotjobs.Client(conn, "dev-z")
        emulator.ctl("reply-delay", ms=5000)
        f = client.get_pending_async(timeout=30)
        client.close()
        with pytest.raises(Error) as e:
            f.result(5)
        assert e.value.code == Result.CLOSED
        with pytest.raises(Error) as e:
            client.get_pending()
        assert e.value.code == Result.CLOSED
        client.close()  # idempotent
    with pytest.raises(Error) as e:
        conn.connect()
    assert e.value.code == Result.CLOSED


def test_a_future_outlives_a_client_nobody_holds(emulator):
    import gc
    with connect(emulator, "dev-g") as conn:
        emulator.ctl("reply-delay", ms=300)
        f = iotjobs.Client(conn, "dev-g").get_pending_async()
        gc.collect()
        assert f.result(10).queued == []
