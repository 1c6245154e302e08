"""A device process running an iotjobs.Agent with a journal, for the restart test.

    agent_proc.py PORT THING JOURNAL first|second

first: the handler saves a checkpoint, reports progress, prints "checkpointed" and then waits
(the test kills the process there). second: the handler prints what it was handed back
({"resumed": ..., "checkpoint": ...}) as JSON and succeeds; the process exits once the job's
final status is acknowledged. Both print "ready" once the agent runs.
"""

import json
import sys
import threading

import iotjobs


def main(port, thing, journal, mode):
    finished = threading.Event()

    def on_event(ev):
        if ev.kind == iotjobs.AgentEventKind.JOB_FINISHED:
            finished.set()

    with iotjobs.Connection("127.0.0.1", int(port), thing + "-device", plain=True) as conn, \
            iotjobs.Client(conn, thing) as client:
        agent = iotjobs.Agent(client, journal=journal, on_event=on_event)

        @agent.handler("update-firmware")
        def update(job):
            if mode == "first":
                job.checkpoint(b"flashed-bank-A")
                job.progress({"step": "flashed"})
                print("checkpointed", flush=True)
                job.wait(120)
            else:
                print(json.dumps({"resumed": job.resumed,
                                  "checkpoint": (job.saved_checkpoint or b"").decode()}),
                      flush=True)
                job.succeed({"bank": "A", "resumed": str(job.resumed).lower()})

        agent.start()
        print("ready", flush=True)
        if mode == "second":
            if not finished.wait(60):
                return 1
            agent.stop(10)
        else:
            threading.Event().wait(120)
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
