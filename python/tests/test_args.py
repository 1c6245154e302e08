"""Bad arguments raise iotjobs.Error (with the library's code and reason) or TypeError, with a
clear message, and never crash. No network is needed: the connection is never connected."""

import pytest

import iotjobs
from iotjobs import Error, Result


@pytest.fixture
def conn():
    c = iotjobs.Connection("127.0.0.1", 1, "args-client", plain=True)
    yield c
    c.close()


@pytest.fixture
def client(conn):
    with iotjobs.Client(conn, "args-thing") as c:
        yield c


def code_of(fn, *args, **kw):
    with pytest.raises(Error) as e:
        fn(*args, **kw)
    assert e.value.message, "an Error must say why"
    assert str(e.value).startswith(e.value.name + ": ")
    return e.value.code


def test_error_carries_code_name_value_and_message():
    e = Error(Result.INVALID_JOB_ID, "job id 'a b' is invalid")
    assert e.code == Result.INVALID_JOB_ID == 6 and e.value == 6
    assert e.name == "JOBS_RESULT_INVALID_JOB_ID" and e.message == "job id 'a b' is invalid"
    assert Error(33).message == iotjobs.ffi.string(iotjobs.lib.jobs_result_str(33)).decode()
    assert issubclass(iotjobs.Rejected, Error)


def test_connection_arguments():
    with pytest.raises(TypeError, match="host must be a str, not None"):
        iotjobs.Connection(None, 1883, plain=True)
    with pytest.raises(TypeError, match="port must be an int"):
        iotjobs.Connection("127.0.0.1", "1883", plain=True)
    assert code_of(iotjobs.Connection, "127.0.0.1", 0, plain=True) == Result.INVALID_ARGUMENT
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883, "x" * 129, plain=True) == \
        Result.INVALID_ARGUMENT
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883) == Result.INCOMPLETE_CONFIG
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883, ca=b"not a pem", cert=b"x",
                   key=b"y") == Result.TLS_CONFIG
    with pytest.raises(TypeError, match="ca must be a path"):
        iotjobs.Connection("127.0.0.1", 1883, ca=42)
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883, plain=True,
                   operation_timeout=-1) == Result.INVALID_ARGUMENT
    with pytest.raises(TypeError, match="connect_timeout must be a number of seconds"):
        iotjobs.Connection("127.0.0.1", 1883, plain=True, connect_timeout="10")
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883, plain=True,
                   backoff=(5, 1, 20)) == Result.INVALID_ARGUMENT
    assert code_of(iotjobs.Connection, "127.0.0.1", 1883, plain=True,
                   last_will=("a/#", b"x")) == Result.INVALID_TOPIC
    assert code_of(iotjobs.Connection, "bad\ud800host", 1883, plain=True) == Result.INVALID_UTF8
    assert code_of(iotjobs.Connection, "bad\0host", 1883, plain=True) == Result.INVALID_ARGUMENT
    with pytest.raises(TypeError, match="on_message must be callable"):
        iotjobs.Connection("127.0.0.1", 1883, plain=True, on_message="print")


def test_client_arguments(conn):
    with pytest.raises(TypeError, match="connection must be an iotjobs.Connection"):
        iotjobs.Client("127.0.0.1", "thing")
    with pytest.raises(TypeError, match="thing_name must be a str, not None"):
        iotjobs.Client(conn, None)
    assert code_of(iotjobs.Client, conn, "bad thing!") == Result.INVALID_THING_NAME
    assert code_of(iotjobs.Client, conn, "") == Result.INVALID_THING_NAME
    assert code_of(iotjobs.Client, conn, "t", qos=2) == Result.INVALID_ARGUMENT
    assert code_of(iotjobs.Client, conn, "t", client_token="x" * 65) == Result.INVALID_CLIENT_TOKEN


def test_request_arguments(client):
    with pytest.raises(TypeError, match="job_id must be a str, not None"):
        client.describe(None)
    with pytest.raises(TypeError, match="job_id must be a str, not int"):
        client.describe(123)
    assert code_of(client.describe, "bad id!", offline="fail_fast") == Result.INVALID_JOB_ID
    assert code_of(client.describe, "x" * 65, offline="fail_fast") == Result.INVALID_JOB_ID
    assert code_of(client.describe, "a\0b", offline="fail_fast") == Result.INVALID_ARGUMENT
    assert code_of(client.update, "+", "SUCCEEDED") == Result.INVALID_JOB_ID
    assert code_of(client.update, "$next", "SUCCEEDED") == Result.INVALID_JOB_ID
    with pytest.raises(TypeError, match="execution_number must be an int"):
        client.describe("job", execution_number="1")
    assert code_of(client.describe, "job", execution_number=-1) == Result.INVALID_ARGUMENT
    assert code_of(client.get_pending, timeout=0) == Result.INVALID_ARGUMENT
    assert code_of(client.get_pending, timeout=-3) == Result.INVALID_ARGUMENT
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        client.get_pending(timeout=None)
    assert code_of(client.get_pending, offline="sometimes") == Result.INVALID_ARGUMENT
    assert code_of(client.get_pending, offline=7) == Result.INVALID_ARGUMENT
    assert code_of(client.get_pending, client_token="t" * 65,
                   offline="fail_fast") == Result.INVALID_CLIENT_TOKEN
    assert code_of(client.start_next, step_timeout=10081) == Result.INVALID_ARGUMENT


def test_update_status_and_versions(client):
    with pytest.raises(TypeError, match="status must be an iotjobs.Status, not None"):
        client.update("job", None)
    with pytest.raises(TypeError, match="status must be a Status"):
        client.update("job", 4.0)
    for status in (iotjobs.Status.QUEUED, iotjobs.Status.CANCELED, iotjobs.Status.NOT_SET,
                   iotjobs.Status.TIMED_OUT, "UNKNOWN"):
        assert code_of(client.update, "job", status) == Result.INVALID_STATUS
    assert code_of(client.update, "job", "FINISHED") == Result.INVALID_ARGUMENT
    assert code_of(client.update, "job", 1234) == Result.INVALID_ARGUMENT
    assert code_of(client.update, "job", "SUCCEEDED", expected_version=-1) == Result.INVALID_ARGUMENT
    assert code_of(client.update, "job", "SUCCEEDED",
                   expected_version=2**64) == Result.INVALID_ARGUMENT
    with pytest.raises(TypeError, match="expected_version must be an int, not bool"):
        client.update("job", "SUCCEEDED", expected_version=True)
    assert code_of(client.update, "job", "SUCCEEDED", step_timeout=-2) == Result.INVALID_ARGUMENT


@pytest.mark.parametrize("details", [
    {"k": 1},
    {"k": ""},
    {"": "v"},
    {"bad key!": "v"},
    {"k": "line\nbreak"},
    {"k": "x" * 1025},
    {"k%d" % i: "v" for i in range(11)},
    {"k": {"nested": "v"}},
])
def test_bad_status_details(client, details):
    assert code_of(client.update, "job", "SUCCEEDED", details=details) == \
        Result.INVALID_STATUS_DETAILS
    assert code_of(client.start_next, details=details, offline="fail_fast") == \
        Result.INVALID_STATUS_DETAILS


def test_status_details_of_the_wrong_type(client):
    with pytest.raises(TypeError, match="details must be a dict of str to str, not list"):
        client.update("job", "SUCCEEDED", details=["a", "b"])
    with pytest.raises(TypeError, match="details must be a dict of str to str, not str"):
        client.start_next(details='{"a":"b"}')
    with pytest.raises(TypeError, match="details must be a dict of str to str"):
        client.update("job", "SUCCEEDED", details={"k": object()})


def test_calls_after_close(conn):
    client = iotjobs.Client(conn, "closing-thing")
    client.close()
    assert code_of(client.get_pending) == Result.CLOSED
    assert code_of(client.on_notify, print) == Result.CLOSED
    conn.close()
    assert code_of(conn.connect) == Result.CLOSED
    assert code_of(lambda: conn.state) == Result.CLOSED
    with pytest.raises(Error) as e:
        iotjobs.Client(conn, "late-thing")
    assert e.value.code == Result.CLOSED


def test_notification_handler_must_be_callable(client):
    with pytest.raises(TypeError, match="must be callable"):
        client.on_notify_next(42)


def test_agent_arguments(client, tmp_path):
    with pytest.raises(TypeError, match="client must be an iotjobs.Client"):
        iotjobs.Agent("client")
    assert code_of(iotjobs.Agent, client, request_timeout=0) == Result.INVALID_ARGUMENT
    assert code_of(iotjobs.Agent, client, operation_path="a[") == Result.INVALID_PATH
    with pytest.raises(Error) as e:
        with iotjobs.Agent(client, journal=tmp_path / "journal"):
            pass  # entering starts, and an agent without a handler cannot start
    assert e.value.code == Result.INVALID_STATE
    agent = iotjobs.Agent(client, journal=tmp_path / "journal")
    try:
        assert code_of(agent.start) == Result.INVALID_STATE  # no handler registered
        with pytest.raises(TypeError, match="the handler must be callable"):
            agent.set_handler("install", "not a function")
        assert code_of(agent.set_handler, "", print) == Result.INVALID_ARGUMENT
        assert code_of(agent.set_handler, "x" * 257, print) == Result.INVALID_ARGUMENT
        assert code_of(agent.set_handler, "install", print, resume="maybe") == \
            Result.INVALID_ARGUMENT
        agent.set_handler("install", print)
        assert code_of(agent.set_handler, "install", print) == Result.INVALID_STATE
        assert code_of(agent.stop) == Result.INVALID_STATE  # not running
    finally:
        agent.close()
    assert code_of(agent.start) == Result.CLOSED
