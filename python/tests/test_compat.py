"""iotjobs.compat against the emulator: v1's names, values, signatures, return values,
callback shapes and exceptions."""

import json
import logging
import queue
import threading
import time

import pytest

import iotjobs
from iotjobs import Error, Result
from iotjobs.compat import (DROP_NEWEST, DROP_OLDEST, MQTTv3_1, MQTTv3_1_1, AWSIoTMQTTClient,
                            AWSIoTMQTTThingJobsClient, jobExecutionStatus,
                            jobExecutionTopicReplyType, jobExecutionTopicType, thingJobManager)
from iotjobs import compat

from conftest import wait_for

T, R, S = jobExecutionTopicType, jobExecutionTopicReplyType, jobExecutionStatus


def test_enum_values_are_v1s():
    assert (MQTTv3_1, MQTTv3_1_1, DROP_OLDEST, DROP_NEWEST) == (3, 4, 0, 1)
    assert [T.JOB_UNRECOGNIZED_TOPIC, T.JOB_GET_PENDING_TOPIC, T.JOB_START_NEXT_TOPIC,
            T.JOB_DESCRIBE_TOPIC, T.JOB_UPDATE_TOPIC, T.JOB_NOTIFY_TOPIC,
            T.JOB_NOTIFY_NEXT_TOPIC, T.JOB_WILDCARD_TOPIC] == [
        (0, False, ''), (1, False, 'get'), (2, False, 'start-next'), (3, True, 'get'),
        (4, True, 'update'), (5, False, 'notify'), (6, False, 'notify-next'), (7, False, '+')]
    assert [R.JOB_UNRECOGNIZED_TOPIC_TYPE, R.JOB_REQUEST_TYPE, R.JOB_ACCEPTED_REPLY_TYPE,
            R.JOB_REJECTED_REPLY_TYPE, R.JOB_WILDCARD_REPLY_TYPE] == [
        (0, ''), (1, ''), (2, '/accepted'), (3, '/rejected'), (4, '/#')]
    assert [S.JOB_EXECUTION_STATUS_NOT_SET, S.JOB_EXECUTION_QUEUED, S.JOB_EXECUTION_IN_PROGRESS,
            S.JOB_EXECUTION_FAILED, S.JOB_EXECUTION_SUCCEEDED, S.JOB_EXECUTION_CANCELED,
            S.JOB_EXECUTION_REJECTED, S.JOB_EXECUTION_UNKNOWN_STATUS] == [
        (0, None), (1, 'QUEUED'), (2, 'IN_PROGRESS'), (3, 'FAILED'), (4, 'SUCCEEDED'),
        (5, 'CANCELED'), (6, 'REJECTED'), (99, None)]
    # ... and the C library's numbering.
    assert T.JOB_NOTIFY_NEXT_TOPIC[0] == iotjobs.TopicType.NOTIFY_NEXT
    assert S.JOB_EXECUTION_REJECTED[0] == iotjobs.Status.REJECTED


def test_get_job_topic():
    m = thingJobManager("dev1", "tok")
    assert m.getJobTopic(T.JOB_NOTIFY_NEXT_TOPIC) == "$aws/things/dev1/jobs/notify-next"
    assert m.getJobTopic(T.JOB_START_NEXT_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE) == \
        "$aws/things/dev1/jobs/start-next/accepted"
    assert m.getJobTopic(T.JOB_UPDATE_TOPIC, R.JOB_REJECTED_REPLY_TYPE, "+") == \
        "$aws/things/dev1/jobs/+/update/rejected"
    assert m.getJobTopic(T.JOB_DESCRIBE_TOPIC, R.JOB_WILDCARD_REPLY_TYPE, "$next") == \
        "$aws/things/dev1/jobs/$next/get/#"
    assert m.getJobTopic(T.JOB_WILDCARD_TOPIC) == "$aws/things/dev1/jobs/#"
    assert m.getJobTopic(T.JOB_NOTIFY_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE) is None
    assert m.getJobTopic(T.JOB_UPDATE_TOPIC) is None  # needs a job id
    assert m.getJobTopic(T.JOB_GET_PENDING_TOPIC, R.JOB_REQUEST_TYPE, "job") is None
    assert thingJobManager(None).getJobTopic(T.JOB_NOTIFY_TOPIC) is None


def test_exceptions_are_v1s_names_and_iotjobs_errors():
    for name in ("connectTimeoutException", "disconnectTimeoutException",
                 "publishTimeoutException", "subscribeTimeoutException",
                 "unsubscribeTimeoutException"):
        assert issubclass(getattr(compat, name), compat.operationTimeoutException)
    for name in ("connectError", "disconnectError", "publishError", "publishQueueFullException",
                 "publishQueueDisabledException", "subscribeError", "subackError",
                 "subscribeQueueFullException", "subscribeQueueDisabledException",
                 "unsubscribeError", "unsubscribeQueueFullException",
                 "unsubscribeQueueDisabledException"):
        assert issubclass(getattr(compat, name), compat.operationError)
    assert issubclass(compat.operationError, Error)
    assert issubclass(compat.operationTimeoutException, Error)


def jobs_client(emulator, thing, client_id, qos=1, **kw):
    c = AWSIoTMQTTThingJobsClient(client_id, thing, QoS=qos, **kw)
    c.configureEndpoint("127.0.0.1", emulator.mqtt)
    c.configureConnectDisconnectTimeout(10)
    c.configureMQTTOperationTimeout(5)
    return c


def test_jobs_flow_with_v1s_calls_and_callbacks(emulator):
    emulator.create_job("v1-job", {"operation": "x"}, ["v1-dev"])
    c = jobs_client(emulator, "v1-dev", "v1-client")
    online = threading.Event()
    c.onOnline = online.set
    got = queue.Queue()

    def cb(client, userdata, message):
        got.put((client, userdata, message.topic, json.loads(message.payload.decode())))

    try:
        assert c.connect() is True
        assert online.wait(10)
        assert c.createJobSubscription(cb, T.JOB_GET_PENDING_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE) is True
        assert c.createJobSubscription(cb, T.JOB_START_NEXT_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE) is True
        assert c.createJobSubscription(cb, T.JOB_UPDATE_TOPIC, R.JOB_WILDCARD_REPLY_TYPE, "+") is True
        assert c.createJobSubscription(cb, T.JOB_DESCRIBE_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE,
                                       "v1-job") is True
        acks = queue.Queue()
        notified = queue.Queue()
        mid = c.createJobSubscriptionAsync(lambda mid, data: acks.put((mid, data)),
                                           lambda cl, ud, m: notified.put(m.topic),
                                           T.JOB_NOTIFY_TOPIC)
        assert isinstance(mid, int) and mid > 0
        assert acks.get(timeout=10) == (mid, (1,))

        assert c.sendJobsQuery(T.JOB_GET_PENDING_TOPIC) is True
        client, userdata, topic, payload = got.get(timeout=10)
        assert (client, userdata) == (None, None)
        assert topic == "$aws/things/v1-dev/jobs/get/accepted"
        assert payload["clientToken"] == "v1-client"
        assert [j["jobId"] for j in payload["queuedJobs"]] == ["v1-job"]

        assert c.sendJobsStartNext({"StartedBy": "test"}, 5) is True
        _, _, topic, payload = got.get(timeout=10)
        assert topic.endswith("/start-next/accepted")
        ex = payload["execution"]
        assert ex["statusDetails"] == {"StartedBy": "test"}

        assert c.sendJobsUpdate("v1-job", S.JOB_EXECUTION_SUCCEEDED, {"done": "yes"},
                                ex["versionNumber"], ex["executionNumber"], True) is True
        _, _, topic, payload = got.get(timeout=10)
        assert topic == "$aws/things/v1-dev/jobs/v1-job/update/accepted"
        assert payload["executionState"]["status"] == "SUCCEEDED"
        assert notified.get(timeout=10) == "$aws/things/v1-dev/jobs/notify"

        assert c.sendJobsDescribe("v1-job") is True
        _, _, topic, payload = got.get(timeout=10)
        assert topic == "$aws/things/v1-dev/jobs/v1-job/get/accepted"
        assert payload["execution"]["jobDocument"] == {"operation": "x"}

        # A stale version: the rejection arrives on the wildcard reply subscription.
        assert c.sendJobsUpdate("v1-job", S.JOB_EXECUTION_FAILED, expectedVersion=1) is True
        _, _, topic, payload = got.get(timeout=10)
        assert topic == "$aws/things/v1-dev/jobs/v1-job/update/rejected"
        assert payload["code"] in ("VersionMismatch", "InvalidStateTransition")
        assert c.disconnect() is True
    finally:
        c.close()
        c.getMQTTConnection().close()


def test_refused_where_v1_would_publish_something_broken(emulator):
    c = jobs_client(emulator, "v1-bad", "v1-bad-client")
    try:
        c.connect()
        with pytest.raises(Error) as e:
            c.createJobSubscription(print, T.JOB_NOTIFY_TOPIC, R.JOB_ACCEPTED_REPLY_TYPE)
        assert e.value.code == Result.INVALID_TOPIC_COMBINATION
        with pytest.raises(Error) as e:
            c.sendJobsQuery(T.JOB_UPDATE_TOPIC, "job")
        assert e.value.code in (Result.INVALID_TOPIC_COMBINATION, Result.INVALID_ARGUMENT)
        for status in (S.JOB_EXECUTION_QUEUED, S.JOB_EXECUTION_CANCELED,
                       S.JOB_EXECUTION_STATUS_NOT_SET, S.JOB_EXECUTION_UNKNOWN_STATUS):
            with pytest.raises(Error) as e:
                c.sendJobsUpdate("job", status)
            assert e.value.code == Result.INVALID_STATUS
        with pytest.raises(Error) as e:
            c.sendJobsUpdate("job", S.JOB_EXECUTION_SUCCEEDED, {"k": 5})
        assert e.value.code == Result.INVALID_STATUS_DETAILS
        with pytest.raises(TypeError):
            c.sendJobsUpdate("job", "SUCCEEDED")
        with pytest.raises(TypeError):
            c.sendJobsDescribe(None)
        with pytest.raises(Error) as e:
            c.sendJobsDescribe("bad id!")
        assert e.value.code == Result.INVALID_JOB_ID
        c.configureEndpoint("127.0.0.1", 1)  # too late: logged, no effect
        assert c.sendJobsQuery(T.JOB_GET_PENDING_TOPIC) is True
    finally:
        c.close()
        c.getMQTTConnection().close()


def test_an_explicit_zero_step_timeout_is_refused_not_dropped(emulator):
    # The library reads a step timeout of 0 as "none"; v1 sends an explicit 0, which AWS
    # rejects. Passing it through would send a request without the timeout the caller
    # asked for, so compat refuses it like the Rust client (and None still means none).
    c = jobs_client(emulator, "v1-step", "v1-step-client")
    try:
        c.connect()
        with pytest.raises(Error) as e:
            c.sendJobsStartNext(None, 0)
        assert e.value.code == Result.INVALID_ARGUMENT
        assert "stepTimeoutInMinutes" in e.value.message
        with pytest.raises(Error) as e:
            c.sendJobsUpdate("job", S.JOB_EXECUTION_IN_PROGRESS, stepTimeoutInMinutes=0)
        assert e.value.code == Result.INVALID_ARGUMENT
        with pytest.raises(Error) as e:
            c.sendJobsStartNext(None, -1)  # -1 cancels a timer: for updates only
        assert e.value.code == Result.INVALID_ARGUMENT
        with pytest.raises(Error) as e:
            c.sendJobsStartNext(None, 10081)
        assert e.value.code == Result.INVALID_ARGUMENT
        assert c.sendJobsStartNext(None, None) is True
        assert c.sendJobsStartNext(None, 1) is True
        assert c.sendJobsUpdate("job", S.JOB_EXECUTION_IN_PROGRESS, stepTimeoutInMinutes=-1) is True
        assert c.sendJobsUpdate("job", S.JOB_EXECUTION_IN_PROGRESS, stepTimeoutInMinutes=None) is True
    finally:
        c.close()
        c.getMQTTConnection().close()


def test_offline_requests_are_queued_and_drained(emulator):
    emulator.create_job("v1-off", {"operation": "x"}, ["v1-off"])
    c = jobs_client(emulator, "v1-off", "v1-off-client")
    got = queue.Queue()
    try:
        # Before connect: v1 queues and returns False.
        assert c.createJobSubscription(lambda cl, ud, m: got.put(m.topic), T.JOB_WILDCARD_TOPIC) \
            is False
        assert c.sendJobsQuery(T.JOB_GET_PENDING_TOPIC) is False
        assert c.createJobSubscriptionAsync(None, lambda cl, ud, m: None,
                                            T.JOB_NOTIFY_NEXT_TOPIC) == "QUEUED"
        c.connect()
        wait_for(lambda: "$aws/things/v1-off/jobs/get/accepted" in list(got.queue), 10,
                 "the queued query's reply")
    finally:
        c.close()
        c.getMQTTConnection().close()


def test_v1_exceptions_are_raised(emulator):
    mqtt = AWSIoTMQTTClient("v1-exc")
    mqtt.configureEndpoint("127.0.0.1", emulator.mqtt)
    mqtt.configureOfflinePublishQueueing(0)
    c = AWSIoTMQTTThingJobsClient("v1-exc", "v1-exc", QoS=1, awsIoTMQTTClient=mqtt)
    try:
        with pytest.raises(compat.publishQueueDisabledException) as e:
            c.sendJobsQuery(T.JOB_GET_PENDING_TOPIC)
        assert e.value.code == Result.QUEUE_DISABLED
        with pytest.raises(compat.subscribeQueueDisabledException):
            c.createJobSubscription(print, T.JOB_NOTIFY_TOPIC)
    finally:
        c.close()
        mqtt.close()
    dead = AWSIoTMQTTClient("v1-dead")
    dead.configureEndpoint("127.0.0.1", 1)  # nothing listens on port 1
    dead.configureConnectDisconnectTimeout(2)
    try:
        with pytest.raises((compat.connectError, compat.connectTimeoutException)) as e:
            dead.connect()
        assert e.value.code in (Result.NETWORK, Result.TIMEOUT)
    finally:
        dead.close()


def test_mqtt_client_callbacks_and_plain_pub_sub(emulator, caplog):
    mqtt = AWSIoTMQTTClient("v1-mqtt", protocolType=MQTTv3_1_1, cleanSession=True)
    mqtt.configureEndpoint("127.0.0.1", emulator.mqtt)
    mqtt.configureAutoReconnectBackoffTime(1, 32, 20)
    mqtt.configureDrainingFrequency(10)
    mqtt.configureLastWill("v1/will", "gone", 0)
    mqtt.configureUsernamePassword("user", "secret")
    online, everything, mine = threading.Event(), queue.Queue(), queue.Queue()
    mqtt.onOnline = online.set
    mqtt.onMessage = lambda message: everything.put((message.topic, message.payload))
    try:
        assert mqtt.connect(keepAliveIntervalSecond=60) is True
        assert online.wait(10)
        calls = []

        def bad(client, userdata, message):
            calls.append(message)
            raise KeyError("callback bug")

        assert mqtt.subscribe("v1/bad", 1, bad) is True
        assert mqtt.subscribe("v1/ok", 1, lambda c, u, m: mine.put((m.topic, m.payload, m.qos)))
        with caplog.at_level(logging.ERROR, logger="iotjobs"):
            assert mqtt.publish("v1/bad", "first", 1) is True
            assert mqtt.publish("v1/ok", b"second", 0) is True
            assert mine.get(timeout=10) == ("v1/ok", b"second", 1)
            wait_for(lambda: len(calls) == 1, 10, "the raising callback")
        assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)
        assert {everything.get(timeout=10), everything.get(timeout=10)} == \
            {("v1/bad", b"first"), ("v1/ok", b"second")}
        acks = queue.Queue()
        mid = mqtt.publishAsync("v1/ok", "third", 1, ackCallback=lambda mid: acks.put(mid))
        assert acks.get(timeout=10) == mid
        assert mqtt.unsubscribe("v1/bad") is True
        assert mqtt.disconnect() is True
    finally:
        mqtt.close()
