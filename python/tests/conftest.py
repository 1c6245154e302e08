"""Fixtures: the emulator (the binary cargo builds, on loopback ports it picks, started and
stopped by pid), test certificates made with openssl, and helpers to drive the emulator
through its control port."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _target_dir():
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                         cwd=ROOT, check=True, capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)["target_directory"]


@pytest.fixture(scope="session")
def emulator_binary():
    """IOTJOBS_EMULATOR, or the debug build of iotjobs-emulator (built here if needed)."""
    path = os.environ.get("IOTJOBS_EMULATOR")
    if path:
        return path
    subprocess.run(["cargo", "build", "-q", "-p", "iotjobs-emulator"], cwd=ROOT, check=True,
                   timeout=1200)
    return os.path.join(_target_dir(), "debug", "iotjobs-emulator")


def _sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=60)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """CA, server (localhost, 127.0.0.1) and client certificates, EC P-256, valid 2 days."""
    d = str(tmp_path_factory.mktemp("certs"))
    p = lambda n: os.path.join(d, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _sh("openssl", "req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
        "-subj", "/CN=iotjobs python test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, eku, san in [("server", "serverAuth", "DNS:localhost,IP:127.0.0.1"),
                           ("client", "clientAuth", "DNS:dev1")]:
        _sh("openssl", "req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
            "-subj", "/CN=" + name)
        with open(p(name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=%s\nsubjectAltName=%s\n" % (eku, san))
        _sh("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
            p("ca.key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2",
            "-extfile", p(name + ".ext"))
    return {"ca": p("ca.pem"), "server_cert": p("server.pem"), "server_key": p("server.key"),
            "cert": p("client.pem"), "key": p("client.key")}


class Emulator:
    """One emulator process: `mqtt`, `tls` and `control` ports, `ctl(cmd, **fields)`."""

    def __init__(self, binary, workdir, certs=None, extra=()):
        args = [binary, "--minute-ms", "200", *extra]
        if certs is not None:
            args += ["--tls-port", "0", "--cert", certs["server_cert"], "--key",
                     certs["server_key"], "--client-ca", certs["ca"]]
        self.log_path = os.path.join(workdir, "emulator.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     stdin=subprocess.DEVNULL)
        line = self._first_line(10)
        ports = {k: int(v) for k, v in re.findall(r"(\w+)=[\d.]+:(\d+)", line)}
        if "mqtt" not in ports or "control" not in ports:
            self.stop()
            raise RuntimeError("the emulator did not start: %r\n%s" % (line, self.log()))
        self.mqtt = ports["mqtt"]
        self.control = ports["control"]
        self.tls = ports.get("tls")
        self._sock = None

    def _first_line(self, limit):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(limit):
            return ""
        return self.proc.stdout.readline()

    def log(self):
        self._log.flush()
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def ctl(self, cmd, **fields):
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self.control), timeout=30)
            self._rfile = self._sock.makefile("r")
        self._sock.sendall((json.dumps(dict(fields, cmd=cmd)) + "\n").encode())
        reply = json.loads(self._rfile.readline())
        if not reply.get("ok"):
            raise RuntimeError("emulator %s: %s" % (cmd, reply.get("error")))
        return reply.get("result")

    def create_job(self, job_id, document, things, **options):
        self.ctl("create-job", id=job_id, document=document, things=list(things), **options)

    def execution(self, job_id, thing):
        return self.ctl("describe-execution", id=job_id, thing=thing)

    def wait_status(self, job_id, thing, statuses, timeout=20.0):
        """The execution once its status is one of `statuses`; fails after `timeout`."""
        if isinstance(statuses, str):
            statuses = (statuses,)
        end = time.monotonic() + timeout
        ex = None
        while time.monotonic() < end:
            ex = self.execution(job_id, thing)
            if ex and ex.get("status") in statuses:
                return ex
            time.sleep(0.05)
        raise AssertionError("%s on %s is %s, not %s after %.0f s"
                             % (job_id, thing, ex and ex.get("status"), statuses, timeout))

    def stop(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self._log.close()


@pytest.fixture
def emulator(emulator_binary, tmp_path):
    emu = Emulator(emulator_binary, str(tmp_path))
    yield emu
    emu.stop()


@pytest.fixture
def tls_emulator(emulator_binary, certs, tmp_path):
    emu = Emulator(emulator_binary, str(tmp_path), certs=certs)
    yield emu
    emu.stop()


def wait_for(predicate, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


@pytest.fixture
def python_env():
    """The environment for Python subprocesses (this interpreter's)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable
