"""The job agent with Python handlers: success, progress, rejects, a raising handler,
cancellation, and a resume after the device process was killed."""

import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

import iotjobs
from iotjobs import AgentEventKind, Error, Result

from conftest import HERE, PYTHON, wait_for


@pytest.fixture
def device(emulator, request):
    thing = "agent-" + request.node.name.replace("_", "-")[:40]
    events = queue.Queue()
    conn = iotjobs.Connection("127.0.0.1", emulator.mqtt, thing + "-c", plain=True)
    conn.connect()
    client = iotjobs.Client(conn, thing)
    yield thing, client, events
    client.close()
    conn.close()


def test_handlers_run_jobs_to_their_final_status(emulator, device, tmp_path):
    thing, client, events = device
    ran = []
    agent = iotjobs.Agent(client, journal=tmp_path / "journal", on_event=events.put)

    @agent.handler("install")
    def install(job):
        assert isinstance(job, iotjobs.Job) and not job.resumed
        assert job.saved_checkpoint is None and not job.is_cancelled
        ran.append((job.job_id, job.operation, job.document, job.execution_number))
        job.progress({"step": "1"})
        job.succeed({"installed": job.document["version"]})

    def refuse(job):
        job.reject({"why": "not for this device"})

    agent.set_handler("configure", refuse, resume=iotjobs.ResumePolicy.FAIL)
    agent.set_handler(None, lambda job: job.fail({"why": "unknown operation " + job.operation}))
    emulator.create_job("j-install", {"operation": "install", "version": "2.0"}, [thing])
    emulator.create_job("j-configure", {"operation": "configure"}, [thing])
    emulator.create_job("j-other", {"operation": "reboot"}, [thing])
    emulator.create_job("j-bad", {"no-operation": "here"}, [thing])
    with agent:
        ex = emulator.wait_status("j-install", thing, "SUCCEEDED")
        assert ex["statusDetails"] == {"step": "1", "installed": "2.0"}
        assert emulator.wait_status("j-configure", thing, "REJECTED")["statusDetails"] == \
            {"why": "not for this device"}
        assert emulator.wait_status("j-other", thing, "FAILED")["statusDetails"] == \
            {"why": "unknown operation reboot"}
        emulator.wait_status("j-bad", thing, "REJECTED")
        wait_for(lambda: agent.counters()["finished"] == 4 and agent.counters()["rejected"] == 1,
                 10, "the counters")
    assert ran == [("j-install", "install", {"operation": "install", "version": "2.0"}, 1)]
    kinds = []
    while not events.empty():
        ev = events.get()
        assert isinstance(ev, iotjobs.AgentEvent)
        kinds.append((ev.kind, ev.job_id))
    assert (AgentEventKind.JOB_STARTED, "j-install") in kinds
    assert (AgentEventKind.JOB_FINISHED, "j-install") in kinds
    assert (AgentEventKind.JOB_REJECTED, "j-bad") in kinds
    assert agent.closed


def test_a_raising_handler_fails_its_job_with_the_exception(emulator, device, caplog):
    thing, client, events = device
    agent = iotjobs.Agent(client)

    @agent.handler("crash")
    def crash(job):
        raise ValueError("disk full\nat sector 7")

    @agent.handler("fine")
    def fine(job):
        job.succeed()

    emulator.create_job("j-crash", {"operation": "crash"}, [thing])
    emulator.create_job("j-fine", {"operation": "fine"}, [thing])
    with caplog.at_level(logging.ERROR, logger="iotjobs"), agent:
        ex = emulator.wait_status("j-crash", thing, "FAILED")
        assert ex["statusDetails"] == {"reason": "ValueError: disk full at sector 7"}
        emulator.wait_status("j-fine", thing, "SUCCEEDED")  # the agent goes on
    assert any(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in caplog.records)


def test_cancellation_reaches_the_handler(emulator, device):
    thing, client, events = device
    started, cancelled_cb, outcome = threading.Event(), threading.Event(), queue.Queue()
    agent = iotjobs.Agent(client, on_event=events.put)

    def long_job(job):
        started.set()
        interrupted = job.wait(30)
        outcome.put((interrupted, job.is_cancelled))
        with pytest.raises(Error) as e:
            job.succeed()
        outcome.put(e.value.code)

    agent.set_handler("long", long_job, on_cancel=lambda job: cancelled_cb.set())
    emulator.create_job("j-long", {"operation": "long"}, [thing])
    with agent:
        assert started.wait(10)
        t0 = time.monotonic()
        emulator.ctl("cancel-job", id="j-long", force=True)
        assert outcome.get(timeout=10) == (True, True)
        assert time.monotonic() - t0 < 5
        assert cancelled_cb.is_set()
        assert outcome.get(timeout=10) == Result.CANCELLED
        wait_for(lambda: any(ev.kind == AgentEventKind.JOB_CANCELLED
                             for ev in list(events.queue)), 10, "the cancel event")
    assert emulator.execution("j-long", thing)["status"] == "CANCELED"


def test_stop_from_a_handler_is_refused_and_a_timed_out_stop_leaves_the_job(emulator, device,
                                                                          tmp_path):
    thing, client, events = device
    got, release = queue.Queue(), threading.Event()
    agent = iotjobs.Agent(client, journal=tmp_path / "journal")

    @agent.handler("slow")
    def slow(job):
        if job.resumed:
            job.succeed({"second": "run"})
            return
        try:
            agent.stop()
        except Error as e:
            got.put(e.code)
        release.wait(30)
        try:
            job.succeed()
            got.put(Result.OK)
        except Error as e:
            got.put(e.code)

    emulator.create_job("j-slow", {"operation": "slow"}, [thing])
    agent.start()
    assert got.get(timeout=10) == Result.INVALID_STATE
    threading.Timer(1.5, release.set).start()
    t0 = time.monotonic()
    assert agent.stop(timeout=0.5) is False  # the job stays under way...
    assert 1.0 < time.monotonic() - t0 < 10  # ... and stop waited for the handler
    assert got.get(timeout=10) == Result.CLOSED  # too late for a final status
    assert emulator.execution("j-slow", thing)["status"] == "IN_PROGRESS"
    agent.start()  # the journal hands the job back
    emulator.wait_status("j-slow", thing, "SUCCEEDED")
    agent.close()


def test_resume_after_the_process_was_killed(emulator, tmp_path, python_env):
    thing = "agent-restart"
    journal = str(tmp_path / "device.journal")
    helper = os.path.join(HERE, "helpers", "agent_proc.py")
    emulator.create_job("j-fw", {"operation": "update-firmware"}, [thing])
    args = [PYTHON, helper, str(emulator.mqtt), thing, journal]
    first = subprocess.Popen(args + ["first"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=python_env, stdin=subprocess.DEVNULL)
    try:
        lines = []
        end = time.monotonic() + 30
        while "checkpointed" not in lines and time.monotonic() < end and first.poll() is None:
            lines.append(first.stdout.readline().strip())
        assert "checkpointed" in lines, lines + [first.stderr.read() if first.poll() else ""]
        emulator.wait_status("j-fw", thing, "IN_PROGRESS")
        wait_for(lambda: emulator.execution("j-fw", thing).get("statusDetails") == {"step": "flashed"},
                 10, "the progress update")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        first.stdout.close()
        first.stderr.close()
    assert os.path.exists(journal)
    second = subprocess.run(args + ["second"], capture_output=True, text=True, timeout=90,
                            env=python_env, stdin=subprocess.DEVNULL)
    assert second.returncode == 0, second.stdout + second.stderr
    handed_back = json.loads([l for l in second.stdout.splitlines() if l.startswith("{")][0])
    assert handed_back == {"resumed": True, "checkpoint": "flashed-bank-A"}
    ex = emulator.wait_status("j-fw", thing, "SUCCEEDED")
    assert ex["statusDetails"]["bank"] == "A" and ex["statusDetails"]["resumed"] == "true"
