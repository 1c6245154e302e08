"""The names AWS IoT Python SDK v1 jobs programs import, on the iotjobs library.

A program written against `AWSIoTPythonSDK` runs with its imports changed:

    from iotjobs.compat import AWSIoTMQTTClient, AWSIoTMQTTThingJobsClient
    from iotjobs.compat import jobExecutionTopicType, jobExecutionTopicReplyType
    from iotjobs.compat import jobExecutionStatus

The classes keep v1's constructors, method names, signatures, defaults and return values
(True when sent, False when queued offline; packet ids or "QUEUED" for the async forms), its
callback shapes (`callback(client, userdata, message)` with `message.topic` and
`message.payload`; `ackCallback(mid=..., data=...)`) and its enum values (the same tuples).
The jobs methods are the library's v1-style calls (`jobs_send_*`, `jobs_create_subscription*`),
which send v1's payloads. v1's exceptions are here under their names (`publishTimeoutException`,
...), as subclasses of `iotjobs.Error`.

Where v1 would publish something broken (a topic `None`, an empty update payload, a status
only AWS sets) or something AWS rejects, the call raises `iotjobs.Error` with the reason
instead. v1 uses TLS only once `configureCredentials` is called, and so does this layer
(plain TCP otherwise, for local brokers). Settings are read when the connection is made: at
`connect()`, or at the first subscribe or publish before it; a later configure call is
logged (logger "iotjobs.compat") and has no effect. `Ciphers` and
`configureSocketFactory` have no equivalent (TLS is rustls's, the socket the library's own);
metrics collection (a user name suffix in v1) is not sent.
"""

import logging
import sys
import threading

from .._lib import (Delivery, Error, Result, callback_scope, check, cstring, details_json, ffi,
                    from_handle, integer, lib, _c_str)
from .._connection import Connection, _on_ack
from .._client import Client

_log = logging.getLogger("iotjobs.compat")

# MQTTLib's constants.
MQTTv3_1 = 3
MQTTv3_1_1 = 4
DROP_OLDEST = 0
DROP_NEWEST = 1


class jobExecutionTopicType(object):
    """v1's topic types: (value, job id required, operation)."""
    JOB_UNRECOGNIZED_TOPIC = (0, False, '')
    JOB_GET_PENDING_TOPIC = (1, False, 'get')
    JOB_START_NEXT_TOPIC = (2, False, 'start-next')
    JOB_DESCRIBE_TOPIC = (3, True, 'get')
    JOB_UPDATE_TOPIC = (4, True, 'update')
    JOB_NOTIFY_TOPIC = (5, False, 'notify')
    JOB_NOTIFY_NEXT_TOPIC = (6, False, 'notify-next')
    JOB_WILDCARD_TOPIC = (7, False, '+')


class jobExecutionTopicReplyType(object):
    """v1's reply types: (value, topic suffix)."""
    JOB_UNRECOGNIZED_TOPIC_TYPE = (0, '')
    JOB_REQUEST_TYPE = (1, '')
    JOB_ACCEPTED_REPLY_TYPE = (2, '/accepted')
    JOB_REJECTED_REPLY_TYPE = (3, '/rejected')
    JOB_WILDCARD_REPLY_TYPE = (4, '/#')


class jobExecutionStatus(object):
    """v1's execution statuses: (value, AWS name)."""
    JOB_EXECUTION_STATUS_NOT_SET = (0, None)
    JOB_EXECUTION_QUEUED = (1, 'QUEUED')
    JOB_EXECUTION_IN_PROGRESS = (2, 'IN_PROGRESS')
    JOB_EXECUTION_FAILED = (3, 'FAILED')
    JOB_EXECUTION_SUCCEEDED = (4, 'SUCCEEDED')
    JOB_EXECUTION_CANCELED = (5, 'CANCELED')
    JOB_EXECUTION_REJECTED = (6, 'REJECTED')
    JOB_EXECUTION_UNKNOWN_STATUS = (99, None)


# ---------------------------------------------------------------- v1's exceptions

class operationTimeoutException(Error):
    pass


class operationError(Error):
    pass


class connectTimeoutException(operationTimeoutException):
    pass


class disconnectTimeoutException(operationTimeoutException):
    pass


class publishTimeoutException(operationTimeoutException):
    pass


class subscribeTimeoutException(operationTimeoutException):
    pass


class unsubscribeTimeoutException(operationTimeoutException):
    pass


class connectError(operationError):
    pass


class disconnectError(operationError):
    pass


class publishError(operationError):
    pass


class publishQueueFullException(operationError):
    pass


class publishQueueDisabledException(operationError):
    pass


class subscribeError(operationError):
    pass


class subackError(operationError):
    pass


class subscribeQueueFullException(operationError):
    pass


class subscribeQueueDisabledException(operationError):
    pass


class unsubscribeError(operationError):
    pass


class unsubscribeQueueFullException(operationError):
    pass


class unsubscribeQueueDisabledException(operationError):
    pass


_EXCEPTIONS = {
    "connect": {Result.TIMEOUT: connectTimeoutException, None: connectError},
    "disconnect": {Result.TIMEOUT: disconnectTimeoutException, None: disconnectError},
    "publish": {Result.TIMEOUT: publishTimeoutException,
                Result.QUEUE_FULL: publishQueueFullException,
                Result.QUEUE_DISABLED: publishQueueDisabledException},
    "subscribe": {Result.TIMEOUT: subscribeTimeoutException,
                  Result.QUEUE_FULL: subscribeQueueFullException,
                  Result.QUEUE_DISABLED: subscribeQueueDisabledException,
                  Result.SUBSCRIBE_REFUSED: subackError},
    "unsubscribe": {Result.TIMEOUT: unsubscribeTimeoutException,
                    Result.QUEUE_FULL: unsubscribeQueueFullException,
                    Result.QUEUE_DISABLED: unsubscribeQueueDisabledException},
}


class _As:
    """Re-raises an iotjobs.Error of operation `op` as the exception v1 raises there."""

    def __init__(self, op):
        self.op = op

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if isinstance(exc, Error) and type(exc) is Error:
            table = _EXCEPTIONS[self.op]
            cls = table.get(exc.code, table.get(None))
            if cls is not None:
                raise cls(exc.code, exc.message) from None
        return False


def _value(member, what):
    """A v1 enum member (a tuple) or a plain int, as its int value."""
    if isinstance(member, tuple) and member and isinstance(member[0], int):
        return member[0]
    if isinstance(member, int) and not isinstance(member, bool):
        return member
    raise TypeError("%s must be a member of v1's enum (a tuple) or an int, not %r" % (what, member))


def _step_timeout(minutes, what, cancel_allowed):
    """A step timeout in minutes for the library, where 0 means none: None gives 0; an
    explicit 0 (which v1 sends and AWS rejects) is refused rather than silently dropped."""
    value = integer(minutes, what, -1 if cancel_allowed else 0, 10080, none=0)
    if minutes is not None and value == 0:
        raise Error(Result.INVALID_ARGUMENT, "%s is 0: AWS takes 1..10080%s" % (
            what, " or -1 (cancel the step timer)" if cancel_allowed else ""))
    return value


def _seconds_ms(seconds, what):
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s" % (what, type(seconds).__name__))
    return seconds


class _Message(object):
    """What v1 hands a message callback: `topic` (str) and `payload` (bytes). `qos` is the
    subscription's QoS; `retain`, `dup` and `mid` are not reported by the library (False, 0)."""

    __slots__ = ("topic", "payload", "qos", "retain", "dup", "mid", "state", "timestamp")

    def __init__(self, topic, payload, qos=0):
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = False
        self.dup = False
        self.mid = 0
        self.state = 0
        self.timestamp = 0

    def __repr__(self):
        return "<message %s %r>" % (self.topic, self.payload)


def _call_ack(fn, mid, data=None):
    # v1 calls ack callbacks with keyword arguments, and `data` only when it has one.
    if fn is None:
        return
    if data is None:
        fn(mid=mid)
    else:
        fn(mid=mid, data=data)


class AWSIoTMQTTClient(object):
    """v1's `AWSIoTMQTTClient`: one MQTT connection with v1's configuration methods."""

    def __init__(self, clientID, protocolType=MQTTv3_1_1, useWebsocket=False, cleanSession=True):
        if not isinstance(clientID, str):
            raise TypeError("clientID must be a str, not %s" % type(clientID).__name__)
        self._client_id = clientID
        self._conn = None
        self._lock = threading.RLock()
        self._settings = dict(client_id=clientID, mqtt31=(_value(protocolType, "protocolType") == MQTTv3_1),
                              websocket=bool(useWebsocket), clean_session=bool(cleanSession))
        self._host = None
        self._port = None
        self._credentials = None
        self._iam = None
        self._keep_alive = 600

    # ---- configuration (read when the connection is made)

    def _set(self, **kw):
        """Records settings for the connection; once it is made they cannot change (v1 says
        to configure before connect), so a late call is logged and has no effect."""
        with self._lock:
            if self._conn is not None:
                _log.warning("%s: the connection is already made; configure before connect "
                             "(or the first subscribe or publish)", sys._getframe(1).f_code.co_name)
                return False
            self._settings.update(kw)
            return True

    def configureLastWill(self, topic, payload, QoS, retain=False):
        self._set(last_will=(topic, payload, integer(QoS, "QoS", 0, 1), bool(retain)))

    def clearLastWill(self):
        self._set(last_will=None)

    def configureEndpoint(self, hostName, portNumber):
        if not isinstance(hostName, str):
            raise TypeError("hostName must be a str, not %s" % type(hostName).__name__)
        port = integer(portNumber, "portNumber", 1, 65535)
        if self._set():
            self._host, self._port = hostName, port

    def configureIAMCredentials(self, AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken=""):
        self._set(iam_credentials=(AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken or None))

    def configureCredentials(self, CAFilePath, KeyPath="", CertificatePath="", Ciphers=None):
        if Ciphers is not None:
            _log.warning("configureCredentials: Ciphers=%r is ignored (TLS 1.2/1.3 with the "
                         "library's cipher suites)", Ciphers)
        if self._set(ca=CAFilePath, key=KeyPath or None, cert=CertificatePath or None):
            self._credentials = True

    def configureAutoReconnectBackoffTime(self, baseReconnectQuietTimeSecond,
                                          maxReconnectQuietTimeSecond, stableConnectionTimeSecond):
        self._set(backoff=(_seconds_ms(baseReconnectQuietTimeSecond, "baseReconnectQuietTimeSecond"),
                           _seconds_ms(maxReconnectQuietTimeSecond, "maxReconnectQuietTimeSecond"),
                           _seconds_ms(stableConnectionTimeSecond, "stableConnectionTimeSecond")))

    def configureOfflinePublishQueueing(self, queueSize, dropBehavior=DROP_NEWEST):
        self._set(offline_queue=integer(queueSize, "queueSize", -1, 2**62),
                  drop_oldest=(integer(dropBehavior, "dropBehavior", 0, 1) == DROP_OLDEST))

    def configureDrainingFrequency(self, frequencyInHz):
        if isinstance(frequencyInHz, bool) or not isinstance(frequencyInHz, (int, float)):
            raise TypeError("frequencyInHz must be a number, not %s" % type(frequencyInHz).__name__)
        self._set(draining_rate=float(frequencyInHz))

    def configureConnectDisconnectTimeout(self, timeoutSecond):
        self._set(connect_timeout=_seconds_ms(timeoutSecond, "timeoutSecond"))

    def configureMQTTOperationTimeout(self, timeoutSecond):
        self._set(operation_timeout=_seconds_ms(timeoutSecond, "timeoutSecond"))

    def configureUsernamePassword(self, username, password=None):
        self._set(username=username, password=password)

    def configureSocketFactory(self, socket_factory):
        raise NotImplementedError("configureSocketFactory: the library opens its own sockets")

    def enableMetricsCollection(self):
        pass

    def disableMetricsCollection(self):
        pass

    # ---- the connection

    def _connection(self):
        with self._lock:
            if self._conn is None:
                if self._host is None:
                    raise Error(Result.INCOMPLETE_CONFIG, "configureEndpoint was not called")
                self._conn = Connection(
                    self._host, self._port, plain=not self._credentials,
                    keep_alive=self._keep_alive,
                    on_online=lambda: self.onOnline(), on_offline=lambda: self.onOffline(),
                    on_message=lambda t, p: self.onMessage(_Message(t, p)),
                    **self._settings)
            return self._conn

    def connect(self, keepAliveIntervalSecond=600):
        """Connects and waits for the CONNACK; True, or raises connectTimeoutException or
        connectError."""
        with self._lock:
            if self._conn is None:
                self._keep_alive = integer(keepAliveIntervalSecond, "keepAliveIntervalSecond", 0, 65535)
        with _As("connect"):
            self._connection().connect()
        return True

    def connectAsync(self, keepAliveIntervalSecond=600, ackCallback=None):
        """Starts connecting; `ackCallback(mid, data)` runs once online. Returns "CONNECTED"."""
        with self._lock:
            if self._conn is None:
                self._keep_alive = integer(keepAliveIntervalSecond, "keepAliveIntervalSecond", 0, 65535)
        if ackCallback is not None:
            once = self.onOnline

            def online():
                self.onOnline = once
                once()
                ackCallback(mid="CONNECTED", data=0)
            self.onOnline = online
        with _As("connect"):
            self._connection().connect_async()
        return "CONNECTED"

    def disconnect(self):
        with _As("disconnect"):
            if self._conn is not None:
                self._conn.disconnect()
        return True

    def disconnectAsync(self, ackCallback=None):
        self.disconnect()
        _call_ack(ackCallback, "DISCONNECTED", 0)
        return "DISCONNECTED"

    def close(self):
        """Closes the connection (not in v1, where it lives as long as the process)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ---- plain MQTT

    def publish(self, topic, payload, QoS):
        with _As("publish"):
            d = self._connection().publish(topic, payload, integer(QoS, "QoS", 0, 1))
        return d == Delivery.SENT

    def publishAsync(self, topic, payload, QoS, ackCallback=None):
        def ack(pid, result, granted):
            if result == Result.OK:
                _call_ack(ackCallback, pid)
        with _As("publish"):
            pid, d = self._connection()._publish_async(topic, payload, integer(QoS, "QoS", 0, 1),
                                                       False, ack)
        return "QUEUED" if d == Delivery.QUEUED else pid

    def _message_callback(self, callback, qos):
        if callback is None:
            return None
        if not callable(callback):
            raise TypeError("callback must be callable, not %s" % type(callback).__name__)
        return lambda t, p: callback(None, None, _Message(t, p, qos))

    def subscribe(self, topic, QoS, callback):
        qos = integer(QoS, "QoS", 0, 1)
        with _As("subscribe"):
            d = self._connection().subscribe(topic, self._message_callback(callback, qos), qos)
        return d == Delivery.SENT

    def subscribeAsync(self, topic, QoS, ackCallback=None, messageCallback=None):
        qos = integer(QoS, "QoS", 0, 1)

        def ack(pid, result, granted):
            _call_ack(ackCallback, pid, (granted,))
        with _As("subscribe"):
            pid, d = self._connection()._subscribe_async(
                topic, qos, self._message_callback(messageCallback, qos), ack)
        return "QUEUED" if d == Delivery.QUEUED else pid

    def unsubscribe(self, topic):
        with _As("unsubscribe"):
            d = self._connection().unsubscribe(topic)
        return d == Delivery.SENT

    def unsubscribeAsync(self, topic, ackCallback=None):
        def ack(pid, result, granted):
            _call_ack(ackCallback, pid)
        with _As("unsubscribe"):
            pid, d = self._connection()._unsubscribe_async(topic, ack)
        return "QUEUED" if d == Delivery.QUEUED else pid

    # ---- v1's overridable callbacks (assign a function to replace them)

    def onOnline(self):
        pass

    def onOffline(self):
        pass

    def onMessage(self, message):
        pass


class _JobsSub(object):
    """User data of one jobs subscription: `callback(client, userdata, message)`."""

    def __init__(self, fn, qos):
        self.fn = fn
        self.qos = qos


@ffi.callback("jobs_message_handler")
def _on_jobs_message(user_data, m):
    with callback_scope("jobs subscription callback"):
        sub = from_handle(user_data)
        n = ffi.new("size_t *")
        topic = lib.jobs_message_topic(m, n)
        topic = ffi.unpack(topic, n[0]).decode("utf-8", "replace")
        payload = lib.jobs_message_payload(m, n)
        payload = ffi.unpack(ffi.cast("char *", payload), n[0]) if payload != ffi.NULL else b""
        sub.fn(None, None, _Message(topic, payload, sub.qos))


class _Delegating(object):
    """v1's `_AWSIoTMQTTDelegatingClient`: configuration passed on to its AWSIoTMQTTClient."""

    def __init__(self, clientID, protocolType=MQTTv3_1_1, useWebsocket=False, cleanSession=True,
                 awsIoTMQTTClient=None):
        self._AWSIoTMQTTClient = awsIoTMQTTClient if awsIoTMQTTClient is not None else \
            AWSIoTMQTTClient(clientID, protocolType, useWebsocket, cleanSession)

    def configureLastWill(self, topic, payload, QoS):
        self._AWSIoTMQTTClient.configureLastWill(topic, payload, QoS)

    def clearLastWill(self):
        self._AWSIoTMQTTClient.clearLastWill()

    def configureEndpoint(self, hostName, portNumber):
        self._AWSIoTMQTTClient.configureEndpoint(hostName, portNumber)

    def configureIAMCredentials(self, AWSAccessKeyID, AWSSecretAccessKey, AWSSTSToken=""):
        self._AWSIoTMQTTClient.configureIAMCredentials(AWSAccessKeyID, AWSSecretAccessKey, AWSSTSToken)

    def configureCredentials(self, CAFilePath, KeyPath="", CertificatePath=""):
        self._AWSIoTMQTTClient.configureCredentials(CAFilePath, KeyPath, CertificatePath)

    def configureAutoReconnectBackoffTime(self, baseReconnectQuietTimeSecond,
                                          maxReconnectQuietTimeSecond, stableConnectionTimeSecond):
        self._AWSIoTMQTTClient.configureAutoReconnectBackoffTime(
            baseReconnectQuietTimeSecond, maxReconnectQuietTimeSecond, stableConnectionTimeSecond)

    def configureConnectDisconnectTimeout(self, timeoutSecond):
        self._AWSIoTMQTTClient.configureConnectDisconnectTimeout(timeoutSecond)

    def configureMQTTOperationTimeout(self, timeoutSecond):
        self._AWSIoTMQTTClient.configureMQTTOperationTimeout(timeoutSecond)

    def configureUsernamePassword(self, username, password=None):
        self._AWSIoTMQTTClient.configureUsernamePassword(username, password)

    def configureSocketFactory(self, socket_factory):
        self._AWSIoTMQTTClient.configureSocketFactory(socket_factory)

    def enableMetricsCollection(self):
        self._AWSIoTMQTTClient.enableMetricsCollection()

    def disableMetricsCollection(self):
        self._AWSIoTMQTTClient.disableMetricsCollection()

    def connect(self, keepAliveIntervalSecond=600):
        # As v1: this client's onOnline/onOffline become the connection's.
        self._AWSIoTMQTTClient.onOnline = self.onOnline
        self._AWSIoTMQTTClient.onOffline = self.onOffline
        return self._AWSIoTMQTTClient.connect(keepAliveIntervalSecond)

    def disconnect(self):
        return self._AWSIoTMQTTClient.disconnect()

    def getMQTTConnection(self):
        return self._AWSIoTMQTTClient

    def onOnline(self):
        pass

    def onOffline(self):
        pass


class AWSIoTMQTTThingJobsClient(_Delegating):
    """v1's `AWSIoTMQTTThingJobsClient`: the jobs client of `thingName`, with `clientID` as
    the clientToken of every request and `QoS` for every jobs publish and subscription."""

    def __init__(self, clientID, thingName, QoS=0, protocolType=MQTTv3_1_1, useWebsocket=False,
                 cleanSession=True, awsIoTMQTTClient=None):
        super(AWSIoTMQTTThingJobsClient, self).__init__(clientID, protocolType, useWebsocket,
                                                        cleanSession, awsIoTMQTTClient)
        if not isinstance(thingName, str):
            raise TypeError("thingName must be a str, not %s" % type(thingName).__name__)
        self._thing = thingName
        self._token = clientID
        self._QoS = integer(QoS, "QoS", 0, 1)
        self._jobs = None
        self._jobs_lock = threading.Lock()

    def _client(self):
        with self._jobs_lock:
            if self._jobs is None:
                self._jobs = Client(self._AWSIoTMQTTClient._connection(), self._thing,
                                    client_token=self._token, qos=self._QoS)
            return self._jobs

    def close(self):
        """Closes the jobs client, and the connection if this client made it (not in v1)."""
        with self._jobs_lock:
            jobs, self._jobs = self._jobs, None
        if jobs is not None:
            jobs.close()

    def _topic_args(self, jobExecutionType, jobReplyType, jobId, keep):
        return (_value(jobExecutionType, "jobExecutionType"),
                _value(jobReplyType, "jobReplyType"),
                cstring(jobId, "jobId", keep, optional=True))

    def createJobSubscription(self, callback, jobExecutionType=jobExecutionTopicType.JOB_WILDCARD_TOPIC,
                              jobReplyType=jobExecutionTopicReplyType.JOB_REQUEST_TYPE, jobId=None):
        """Subscribes (waiting for the SUBACK); True, or False when queued offline."""
        if not callable(callback):
            raise TypeError("callback must be callable, not %s" % type(callback).__name__)
        keep = []
        tt, rt, job = self._topic_args(jobExecutionType, jobReplyType, jobId, keep)
        client = self._client()
        ud = client._holder.new(_JobsSub(callback, self._QoS))
        delivery = ffi.new("uint32_t *")
        with _As("subscribe"), client._guard as c:
            check(lib.jobs_create_subscription(c, tt, rt, job, _on_jobs_message, ud, delivery))
        return delivery[0] == lib.JOBS_DELIVERY_SENT

    def createJobSubscriptionAsync(self, ackCallback, callback,
                                   jobExecutionType=jobExecutionTopicType.JOB_WILDCARD_TOPIC,
                                   jobReplyType=jobExecutionTopicReplyType.JOB_REQUEST_TYPE,
                                   jobId=None):
        """Subscribes without waiting: `ackCallback(mid=, data=(granted_qos,))` on the SUBACK.
        Returns the packet id, or "QUEUED"."""
        if not callable(callback):
            raise TypeError("callback must be callable, not %s" % type(callback).__name__)
        keep = []
        tt, rt, job = self._topic_args(jobExecutionType, jobReplyType, jobId, keep)
        client = self._client()
        conn = client.connection
        ud = client._holder.new(_JobsSub(callback, self._QoS))
        ack, h = conn._oneshot(lambda pid, result, granted: _call_ack(ackCallback, pid, (granted,)))
        pid = ffi.new("uint16_t *")
        delivery = ffi.new("uint32_t *")
        try:
            with _As("subscribe"), client._guard as c:
                check(lib.jobs_create_subscription_async(c, tt, rt, job, _on_jobs_message, ud,
                                                         _on_ack, h, pid, delivery))
        except BaseException:
            conn._oneshot_done(ack)
            raise
        return "QUEUED" if delivery[0] == lib.JOBS_DELIVERY_QUEUED else pid[0]

    def _send(self, fn, *args):
        delivery = ffi.new("uint32_t *")
        client = self._client()
        with _As("publish"), client._guard as c:
            check(fn(c, *args, delivery))
        return delivery[0] == lib.JOBS_DELIVERY_SENT

    def sendJobsQuery(self, jobExecTopicType, jobId=None):
        """Publishes `{"clientToken": ...}` to the request topic of `jobExecTopicType`."""
        keep = []
        return self._send(lib.jobs_send_query, _value(jobExecTopicType, "jobExecTopicType"),
                          cstring(jobId, "jobId", keep, optional=True))

    def sendJobsStartNext(self, statusDetails=None, stepTimeoutInMinutes=None):
        keep = []
        return self._send(lib.jobs_send_start_next,
                          details_json(statusDetails, "statusDetails", keep),
                          _step_timeout(stepTimeoutInMinutes, "stepTimeoutInMinutes", False))

    def sendJobsUpdate(self, jobId, status, statusDetails=None, expectedVersion=0, executionNumber=0,
                       includeJobExecutionState=False, includeJobDocument=False,
                       stepTimeoutInMinutes=None):
        keep = []
        return self._send(lib.jobs_send_update, cstring(jobId, "jobId", keep),
                          _value(status, "status"),
                          details_json(statusDetails, "statusDetails", keep),
                          integer(expectedVersion, "expectedVersion", 0, 2**64 - 1),
                          integer(executionNumber, "executionNumber", 0, 2**64 - 1),
                          bool(includeJobExecutionState), bool(includeJobDocument),
                          _step_timeout(stepTimeoutInMinutes, "stepTimeoutInMinutes", True))

    def sendJobsDescribe(self, jobId, executionNumber=0, includeJobDocument=True):
        keep = []
        return self._send(lib.jobs_send_describe, cstring(jobId, "jobId", keep),
                          integer(executionNumber, "executionNumber", 0, 2**64 - 1),
                          bool(includeJobDocument))


class thingJobManager(object):
    """v1's topic builder, for programs that call `getJobTopic` themselves."""

    def __init__(self, thingName, clientToken=None):
        self._thingName = thingName
        self._clientToken = clientToken

    def getJobTopic(self, srcJobExecTopicType,
                    srcJobExecTopicReplyType=jobExecutionTopicReplyType.JOB_REQUEST_TYPE, jobId=None):
        """The topic, or None where v1 returns None (no such jobs topic)."""
        if self._thingName is None:
            return None
        keep = []
        buf = ffi.new("char[]", 256)
        rc = lib.jobs_topic_build(cstring(self._thingName, "thingName", keep),
                                  _value(srcJobExecTopicType, "srcJobExecTopicType"),
                                  _value(srcJobExecTopicReplyType, "srcJobExecTopicReplyType"),
                                  cstring(jobId, "jobId", keep, optional=True), buf, 256, ffi.NULL)
        if rc == lib.JOBS_RESULT_INVALID_TOPIC_COMBINATION:
            return None
        check(rc)
        return _c_str(buf)


__all__ = [
    "AWSIoTMQTTClient", "AWSIoTMQTTThingJobsClient", "DROP_NEWEST", "DROP_OLDEST", "MQTTv3_1",
    "MQTTv3_1_1", "jobExecutionStatus", "jobExecutionTopicReplyType", "jobExecutionTopicType",
    "thingJobManager",
    "connectError", "connectTimeoutException", "disconnectError", "disconnectTimeoutException",
    "operationError", "operationTimeoutException", "publishError", "publishQueueDisabledException",
    "publishQueueFullException", "publishTimeoutException", "subackError", "subscribeError",
    "subscribeQueueDisabledException", "subscribeQueueFullException", "subscribeTimeoutException",
    "unsubscribeError", "unsubscribeQueueDisabledException", "unsubscribeQueueFullException",
    "unsubscribeTimeoutException",
]
