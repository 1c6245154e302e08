"""The AWS IoT Python SDK v1's jobs sample, with only its imports changed to iotjobs.compat,
executes queued jobs to SUCCEEDED over the emulator's mutual-TLS listener."""

import json
import os
import subprocess

from conftest import HERE, PYTHON

SAMPLE = os.path.join(HERE, "sdk_v1", "jobsSample.py")


def test_sample_imports_only_iotjobs_compat():
    with open(SAMPLE) as f:
        imports = [line for line in f if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "AWSIoTPythonSDK" in line]
    assert sum("iotjobs.compat" in line for line in imports) == 5


def test_jobs_sample_runs_queued_jobs_to_succeeded(tls_emulator, certs, python_env):
    thing = "sample-thing"
    jobs = ["sample-job-%d" % i for i in range(3)]
    for i, job in enumerate(jobs):
        tls_emulator.create_job(job, {"operation": "demo", "step": i}, [thing])
    out = subprocess.run(
        [PYTHON, SAMPLE, "--thingName", thing, "--endpoint", "127.0.0.1",
         "--rootCA", certs["ca"], "--cert", certs["cert"], "--key", certs["key"],
         "--port", str(tls_emulator.tls), "--clientId", "sample-client"],
        capture_output=True, text=True, timeout=90, env=python_env, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Done processing jobs" in out.stdout, out.stdout + out.stderr
    stats = json.loads(out.stdout.split("Stats: ", 1)[1].splitlines()[0])
    assert stats["jobsStarted"] == 3 and stats["jobsSucceeded"] == 3, stats
    assert stats["jobsRejected"] == 0, stats
    for job in jobs:
        ex = tls_emulator.execution(job, thing)
        assert ex["status"] == "SUCCEEDED", ex
        # start-next's details, then the update's merged in (as AWS does)
        assert ex["statusDetails"]["HandledBy"] == "ClientToken: sample-client", ex
        assert ex["statusDetails"]["StartedBy"].startswith("ClientToken: sample-client on "), ex
