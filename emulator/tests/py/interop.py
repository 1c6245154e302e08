#!/usr/bin/env python3
"""Interoperability tests: clients nobody here wrote, against the iotjobs emulator binary.

- AWSIoTPythonSDK v1 jobs client (AWSIoTMQTTThingJobsClient) over TLS with client certificates:
  start-next -> update IN_PROGRESS -> update SUCCEEDED -> describe; the notify-next flow;
  InvalidStateTransition; VersionMismatch with executionState.
- paho-mqtt: plain pub/sub, TLS with client certificates (and refusal without one), MQTT over
  WebSocket (/mqtt), secure WebSocket, MQTT 3.1.

Usage: interop.py EMULATOR_BINARY WORKDIR
Runs the emulator itself on free loopback ports, generates certificates with openssl in WORKDIR,
prints one line per test and ends with "N passed, M failed". Exit status 0 only if all passed.
Every wait is bounded.
"""

import json
import os
import queue
import re
import ssl
import subprocess
import sys
import threading
import time
import traceback

import paho.mqtt.client as mqtt
from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTThingJobsClient
from AWSIoTPythonSDK.core.jobs.thingJobManager import (
    jobExecutionStatus,
    jobExecutionTopicReplyType,
    jobExecutionTopicType,
)

WAIT = 10.0  # seconds, per expected message


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(d):
    """CA, server (localhost/127.0.0.1) and client certificates, EC P-256, valid 2 days."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
       "-subj", "/CN=iotjobs test CA", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, eku, san in [("server", "serverAuth", "DNS:localhost,IP:127.0.0.1"),
                           ("client", "clientAuth", "DNS:dev1")]:
        sh("openssl", "req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
           "-subj", "/CN=" + name)
        ext = p(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=%s\nsubjectAltName=%s\n" % (eku, san))
        sh("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
           p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2",
           "-extfile", ext)
    return {n: p(n) for n in ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"]}


class Emulator:
    def __init__(self, binary, certs):
        self.proc = subprocess.Popen(
            [binary, "--tls-port", "0", "--ws-port", "0", "--wss-port", "0",
             "--cert", certs["server.pem"],
             "--key", certs["server.key"], "--client-ca", certs["ca.pem"], "--minute-ms", "100"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(os.path.dirname(certs["ca.pem"]),
                                                             "emulator.log"), "w"),
            text=True)
        line = self.proc.stdout.readline()
        m = dict(re.findall(r"(\w+)=[\d.]+:(\d+)", line))
        if "mqtt" not in m:
            raise RuntimeError("emulator did not start: %r" % line)
        self.binary = binary
        self.ports = {k: int(v) for k, v in m.items()}

    def ctl(self, *args):
        out = subprocess.run([self.binary, "ctl", "--port", str(self.ports["control"]), *args],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError("ctl %s failed: %s" % (args, out.stderr.strip()))
        return out.stdout

    def execution(self, job, thing):
        return json.loads(self.ctl("describe-execution", "--id", job, "--thing", thing))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------- paho helpers

def paho_client(cid, protocol=mqtt.MQTTv311, transport="tcp"):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol,
                    transport=transport)
    c.q = queue.Queue()
    c.connected = threading.Event()
    c.rc = None

    def on_connect(client, userdata, flags, rc, props=None):
        client.rc = rc
        client.connected.set()

    def on_message(client, userdata, msg):
        client.q.put(msg)

    c.on_connect = on_connect
    c.on_message = on_message
    return c


def paho_connect(c, port):
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    assert c.connected.wait(WAIT), "no CONNACK"
    assert not c.rc.is_failure, "CONNACK %s" % c.rc


def pubsub_roundtrip(make, port, tag):
    sub, pub = make(tag + "-sub"), make(tag + "-pub")
    try:
        paho_connect(sub, port)
        paho_connect(pub, port)
        r, _ = sub.subscribe("demo/+/t", qos=1)
        assert r == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.3)
        info = pub.publish("demo/%s/t" % tag, b"hello " + tag.encode(), qos=1)
        info.wait_for_publish(timeout=WAIT)
        assert info.is_published(), "no PUBACK"
        msg = sub.q.get(timeout=WAIT)
        assert msg.topic == "demo/%s/t" % tag and msg.payload == b"hello " + tag.encode()
        assert msg.qos == 1
    finally:
        for c in (sub, pub):
            c.disconnect()
            c.loop_stop()


def test_paho_plain_pubsub(emu, certs):
    pubsub_roundtrip(lambda cid: paho_client(cid), emu.ports["mqtt"], "plain")


def test_paho_mqtt31(emu, certs):
    pubsub_roundtrip(lambda cid: paho_client(cid, protocol=mqtt.MQTTv31), emu.ports["mqtt"], "v31")


def tls_client(cid, certs, with_cert=True):
    c = paho_client(cid)
    c.tls_set(ca_certs=certs["ca.pem"],
              certfile=certs["client.pem"] if with_cert else None,
              keyfile=certs["client.key"] if with_cert else None)
    return c


def test_paho_tls_client_cert(emu, certs):
    pubsub_roundtrip(lambda cid: tls_client(cid, certs), emu.ports["tls"], "tls")


def test_paho_tls_without_client_cert_is_refused(emu, certs):
    c = tls_client("nocert", certs, with_cert=False)
    refused = False
    try:
        c.connect("127.0.0.1", emu.ports["tls"], keepalive=30)
        c.loop_start()
        refused = not c.connected.wait(3)
    except (ssl.SSLError, OSError):
        refused = True
    finally:
        c.loop_stop()
    assert refused, "a client without certificate got a CONNACK"


def ws_client(cid):
    c = paho_client(cid, transport="websockets")
    c.ws_set_options(path="/mqtt")
    return c


def test_paho_websocket(emu, certs):
    pubsub_roundtrip(ws_client, emu.ports["ws"], "ws")


def test_paho_secure_websocket(emu, certs):
    def wss_client(cid):
        c = ws_client(cid)
        c.tls_set(ca_certs=certs["ca.pem"])
        c.tls_insecure_set(False)
        return c
    pubsub_roundtrip(wss_client, emu.ports["wss"], "wss")


def test_paho_jobs_reply_without_subscription(emu, certs):
    """AWS sends jobs replies to the requester even when it did not subscribe, and only to it."""
    emu.ctl("create-job", "--id", "paho-j1", "--doc", '{"a":"b"}', "--things", "paho-thing")
    dev, spy = paho_client("paho-dev"), paho_client("paho-spy")
    try:
        paho_connect(dev, emu.ports["mqtt"])
        paho_connect(spy, emu.ports["mqtt"])
        spy.subscribe("$aws/things/paho-thing/jobs/+/get/accepted", qos=1)
        spy.subscribe("$aws/things/paho-thing/jobs/get/accepted", qos=1)
        time.sleep(0.3)
        dev.publish("$aws/things/paho-thing/jobs/get", b'{"clientToken":"p1"}', qos=1)
        msg = dev.q.get(timeout=WAIT)
        assert msg.topic == "$aws/things/paho-thing/jobs/get/accepted", msg.topic
        body = json.loads(msg.payload)
        assert body["clientToken"] == "p1" and body["queuedJobs"][0]["jobId"] == "paho-j1", body
        dev.publish("$aws/things/paho-thing/jobs/paho-j1/update", b'{"status":"NOPE"}', qos=1)
        msg = dev.q.get(timeout=WAIT)
        assert msg.topic.endswith("/paho-j1/update/rejected"), msg.topic
        assert json.loads(msg.payload)["code"] == "InvalidRequest"
        dev.publish("$aws/things/paho-thing/jobs/paho-j1/update", b'{not json', qos=1)
        assert json.loads(dev.q.get(timeout=WAIT).payload)["code"] == "InvalidJson"
        time.sleep(0.3)
        assert spy.q.empty(), "another client received a jobs reply"
    finally:
        for c in (dev, spy):
            c.disconnect()
            c.loop_stop()


# ---------------------------------------------------------------- AWSIoTPythonSDK v1 jobs

class Jobs:
    """A v1 jobs client that records every message it gets."""

    def __init__(self, emu, certs, client_id, thing):
        self.q = queue.Queue()
        self.thing = thing
        jc = AWSIoTMQTTThingJobsClient(client_id, thing, QoS=1)
        jc.configureEndpoint("localhost", emu.ports["tls"])
        jc.configureCredentials(certs["ca.pem"], certs["client.key"], certs["client.pem"])
        jc.configureConnectDisconnectTimeout(10)
        jc.configureMQTTOperationTimeout(5)
        jc.configureAutoReconnectBackoffTime(1, 32, 20)
        self.jc = jc
        assert jc.connect(keepAliveIntervalSecond=30)

    def cb(self, client, userdata, message):
        self.q.put((message.topic, json.loads(message.payload.decode() or "{}")))

    def sub(self, ttype, rtype=jobExecutionTopicReplyType.JOB_REQUEST_TYPE, job_id=None):
        assert self.jc.createJobSubscription(self.cb, ttype, rtype, job_id)

    def expect(self, suffix):
        """Next message whose topic ends with suffix (others are skipped, bounded)."""
        deadline = time.time() + WAIT
        seen = []
        while time.time() < deadline:
            try:
                topic, payload = self.q.get(timeout=max(0.05, deadline - time.time()))
            except queue.Empty:
                break
            if topic.endswith(suffix):
                return payload
            seen.append(topic)
        raise AssertionError("no message on ...%s (saw %s)" % (suffix, seen))

    def close(self):
        self.jc.disconnect()


ACC = jobExecutionTopicReplyType.JOB_ACCEPTED_REPLY_TYPE
REJ = jobExecutionTopicReplyType.JOB_REJECTED_REPLY_TYPE
TT = jobExecutionTopicType
ST = jobExecutionStatus


def test_sdk_start_update_describe(emu, certs):
    emu.ctl("create-job", "--id", "sdk-job1", "--doc", '{"operation":"install","v":"1.2"}',
            "--things", "py-thing1")
    j = Jobs(emu, certs, "py-sdk-1", "py-thing1")
    try:
        j.sub(TT.JOB_START_NEXT_TOPIC, ACC)
        j.sub(TT.JOB_START_NEXT_TOPIC, REJ)
        j.sub(TT.JOB_UPDATE_TOPIC, ACC, "+")
        j.sub(TT.JOB_UPDATE_TOPIC, REJ, "+")
        j.sub(TT.JOB_DESCRIBE_TOPIC, ACC, "+")
        assert j.jc.sendJobsStartNext({"StartedBy": "python"})
        r = j.expect("/start-next/accepted")
        ex = r["execution"]
        assert ex["jobId"] == "sdk-job1" and ex["status"] == "IN_PROGRESS", r
        assert ex["jobDocument"] == {"operation": "install", "v": "1.2"}, r
        assert ex["statusDetails"] == {"StartedBy": "python"}, r
        assert r["clientToken"] == "py-sdk-1", r
        assert j.jc.sendJobsUpdate("sdk-job1", ST.JOB_EXECUTION_IN_PROGRESS, {"progress": "50%"},
                                   ex["versionNumber"], ex["executionNumber"], True)
        r = j.expect("/sdk-job1/update/accepted")
        assert r["executionState"]["status"] == "IN_PROGRESS", r
        v = r["executionState"]["versionNumber"]
        assert j.jc.sendJobsUpdate("sdk-job1", ST.JOB_EXECUTION_SUCCEEDED, {"progress": "100%"}, v)
        j.expect("/sdk-job1/update/accepted")
        assert j.jc.sendJobsDescribe("sdk-job1")
        r = j.expect("/sdk-job1/get/accepted")
        assert r["execution"]["status"] == "SUCCEEDED", r
        assert r["execution"]["statusDetails"] == {"StartedBy": "python", "progress": "100%"}, r
        assert r["execution"]["jobDocument"]["operation"] == "install", r
        assert emu.execution("sdk-job1", "py-thing1")["status"] == "SUCCEEDED"
    finally:
        j.close()


def test_sdk_notify_next_flow(emu, certs):
    j = Jobs(emu, certs, "py-sdk-2", "py-thing2")
    try:
        j.sub(TT.JOB_NOTIFY_NEXT_TOPIC)
        j.sub(TT.JOB_START_NEXT_TOPIC, ACC)
        j.sub(TT.JOB_UPDATE_TOPIC, ACC, "+")
        time.sleep(0.3)
        emu.ctl("create-job", "--id", "nn-a", "--doc", '{"n":1}', "--things", "py-thing2")
        emu.ctl("create-job", "--id", "nn-b", "--doc", '{"n":2}', "--things", "py-thing2")
        done = []
        for _ in range(3):  # bounded: two jobs then the empty notification
            n = j.expect("/notify-next")
            if "execution" not in n:
                break
            job_id = n["execution"]["jobId"]
            assert n["execution"]["jobDocument"]["n"] in (1, 2), n
            assert j.jc.sendJobsStartNext()
            ex = j.expect("/start-next/accepted")["execution"]
            assert ex["jobId"] == job_id, (ex, job_id)
            assert j.jc.sendJobsUpdate(job_id, ST.JOB_EXECUTION_SUCCEEDED, None,
                                       ex["versionNumber"], ex["executionNumber"])
            j.expect("/%s/update/accepted" % job_id)
            done.append(job_id)
        assert done == ["nn-a", "nn-b"], done
    finally:
        j.close()


def test_sdk_invalid_transition_and_version_mismatch(emu, certs):
    emu.ctl("create-job", "--id", "bad-1", "--doc", '{"x":1}', "--things", "py-thing3")
    j = Jobs(emu, certs, "py-sdk-3", "py-thing3")
    try:
        j.sub(TT.JOB_UPDATE_TOPIC, ACC, "bad-1")
        j.sub(TT.JOB_UPDATE_TOPIC, REJ, "bad-1")
        assert j.jc.sendJobsUpdate("bad-1", ST.JOB_EXECUTION_IN_PROGRESS)
        j.expect("/update/accepted")
        # stale expectedVersion (the SDK sends it as a JSON string)
        assert j.jc.sendJobsUpdate("bad-1", ST.JOB_EXECUTION_IN_PROGRESS, expectedVersion=1)
        r = j.expect("/update/rejected")
        assert r["code"] == "VersionMismatch", r
        assert r["executionState"] == {"status": "IN_PROGRESS", "versionNumber": 2}, r
        assert r["clientToken"] == "py-sdk-3", r
        assert j.jc.sendJobsUpdate("bad-1", ST.JOB_EXECUTION_SUCCEEDED)
        j.expect("/update/accepted")
        assert j.jc.sendJobsUpdate("bad-1", ST.JOB_EXECUTION_IN_PROGRESS)
        r = j.expect("/update/rejected")
        assert r["code"] == "InvalidStateTransition", r
        assert r["executionState"]["status"] == "SUCCEEDED", r
        # QUEUED cannot be set by a device
        emu.ctl("create-job", "--id", "bad-2", "--doc", "{}", "--things", "py-thing3")
        j.sub(TT.JOB_UPDATE_TOPIC, REJ, "bad-2")
        assert j.jc.sendJobsUpdate("bad-2", ST.JOB_EXECUTION_QUEUED)
        r = j.expect("/bad-2/update/rejected")
        assert r["code"] == "InvalidStateTransition", r
    finally:
        j.close()


def test_sdk_step_timeout(emu, certs):
    # --minute-ms 100: a 1-minute step timer fires after 0.1 s
    emu.ctl("create-job", "--id", "slow-1", "--doc", "{}", "--things", "py-thing4")
    j = Jobs(emu, certs, "py-sdk-4", "py-thing4")
    try:
        j.sub(TT.JOB_NOTIFY_TOPIC)
        j.sub(TT.JOB_START_NEXT_TOPIC, ACC)
        assert j.jc.sendJobsStartNext(stepTimeoutInMinutes=1)
        j.expect("/start-next/accepted")
        emu.ctl("wait", "--id", "slow-1", "--thing", "py-thing4", "--status", "TIMED_OUT",
                "--timeout", "5")
    finally:
        j.close()


TESTS = [
    test_paho_plain_pubsub,
    test_paho_mqtt31,
    test_paho_tls_client_cert,
    test_paho_tls_without_client_cert_is_refused,
    test_paho_websocket,
    test_paho_secure_websocket,
    test_paho_jobs_reply_without_subscription,
    test_sdk_start_update_describe,
    test_sdk_notify_next_flow,
    test_sdk_invalid_transition_and_version_mismatch,
    test_sdk_step_timeout,
]


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, workdir = sys.argv[1], sys.argv[2]
    certs = make_certs(os.path.join(workdir, "certs"))
    emu = Emulator(binary, certs)
    passed = failed = 0
    try:
        for t in TESTS:
            t0 = time.time()
            try:
                t(emu, certs)
                passed += 1
                print("ok    %-55s %.2fs" % (t.__name__, time.time() - t0), flush=True)
            except Exception:
                failed += 1
                print("FAIL  %s" % t.__name__, flush=True)
                traceback.print_exc()
    finally:
        emu.stop()
    if failed:
        print("emulator log: %s" % os.path.join(workdir, "certs", "emulator.log"))
    print("interop: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
