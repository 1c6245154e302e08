"""iotjobs.Connection: one MQTT connection (`jobs_config_*`, `jobs_connection_*`)."""

import logging
import threading
import weakref

from . import _lib
from ._lib import (NULL, ConnectionState, Counter, Delivery, Error, EventKind, Guard, Holder,
                   LogLevel, Result, callback_scope, check, cbytes, cpath, cstring, ffi,
                   from_handle, integer, lib, millis, track)
from ._types import ConnectionEvent

_liblog = logging.getLogger("iotjobs.lib")

_LOG_LEVELS = {lib.JOBS_LOG_LEVEL_ERROR: logging.ERROR, lib.JOBS_LOG_LEVEL_WARN: logging.WARNING,
               lib.JOBS_LOG_LEVEL_INFO: logging.INFO, lib.JOBS_LOG_LEVEL_DEBUG: logging.DEBUG}


def _level_for(logger):
    """The most verbose library level `logger` would print."""
    eff = logger.getEffectiveLevel()
    for c_level, py_level in sorted(_LOG_LEVELS.items(), reverse=True):
        if eff <= py_level:
            return c_level
    return lib.JOBS_LOG_LEVEL_OFF


def _callable(fn, what):
    if fn is not None and not callable(fn):
        raise TypeError("%s must be callable or None, not %s" % (what, type(fn).__name__))
    return fn


class _Dispatch:
    """The user data of a connection's callbacks: a weak reference, so the connection can be
    collected (and closed) while C holds this."""

    def __init__(self, conn):
        self.ref = weakref.ref(conn)


def _conn_of(user_data):
    return from_handle(user_data).ref()


@ffi.callback("jobs_state_callback")
def _on_online(user_data):
    with callback_scope("on_online callback"):
        conn = _conn_of(user_data)
        if conn is not None:
            conn._fire_online()


@ffi.callback("jobs_state_callback")
def _on_offline(user_data):
    with callback_scope("on_offline callback"):
        conn = _conn_of(user_data)
        if conn is not None:
            conn._fire_offline()


@ffi.callback("jobs_message_callback")
def _on_message(user_data, topic, topic_len, payload, payload_len):
    with callback_scope("on_message callback"):
        conn = _conn_of(user_data)
        if conn is not None and conn._on_message is not None:
            conn._on_message(ffi.unpack(topic, topic_len).decode("utf-8", "replace"),
                             ffi.unpack(ffi.cast("char *", payload), payload_len))


@ffi.callback("jobs_event_callback")
def _on_event(user_data, kind, result, topic, message):
    with callback_scope("on_event callback"):
        conn = _conn_of(user_data)
        if conn is not None and conn._on_event is not None:
            try:
                kind = EventKind(kind)
            except ValueError:
                pass
            try:
                result = Result(result)
            except ValueError:
                pass
            conn._on_event(ConnectionEvent(kind=kind, result=result,
                                           topic=_lib._c_str(topic) or "",
                                           message=_lib._c_str(message) or ""))


@ffi.callback("jobs_log_callback")
def _on_log(user_data, level, message):
    with callback_scope("log callback"):
        _liblog.log(_LOG_LEVELS.get(level, logging.DEBUG), "%s", _lib._c_str(message))


class _Sub:
    """User data of one subscription's messages (`callback(topic, payload)`)."""

    def __init__(self, fn):
        self.fn = fn


@ffi.callback("jobs_message_callback")
def _on_sub_message(user_data, topic, topic_len, payload, payload_len):
    with callback_scope("subscription callback"):
        fn = from_handle(user_data).fn
        if fn is not None:
            fn(ffi.unpack(topic, topic_len).decode("utf-8", "replace"),
               ffi.unpack(ffi.cast("char *", payload), payload_len))


class _Ack:
    """User data of one asynchronous acknowledgement (`fn(packet_id, result, granted_qos)`);
    dropped by its owner once called."""

    def __init__(self, owner, fn):
        self.owner = owner
        self.fn = fn


@ffi.callback("jobs_ack_callback")
def _on_ack(user_data, packet_id, result, granted_qos):
    with callback_scope("acknowledgement callback"):
        ack = from_handle(user_data)
        ack.owner._oneshot_done(ack)
        if ack.fn is not None:
            try:
                result = Result(result)
            except ValueError:
                pass
            ack.fn(packet_id, result, granted_qos)


class Connection:
    """An MQTT connection to AWS IoT (or the emulator), shareable by several `Client`s.

    `host` and `port` name the endpoint. Mutual TLS (the default) needs `ca`, `cert` and
    `key`: each a file path or the PEM bytes themselves. `plain=True` uses plain TCP (local
    brokers only); `websocket=True` MQTT over WebSocket (TLS unless plain), with
    `iam_credentials=(key_id, secret[, session_token[, region]])` for SigV4.

    Times are in seconds. `backoff` is (base, max, stable) of the reconnect backoff;
    `offline_queue` the offline queue's size (None unbounded, 0 disabled; `drop_oldest` makes
    room instead of refusing), drained at `draining_rate` requests per second; `last_will` a
    (topic, payload, qos, retain) tuple; `max_packet_size` and `callback_queue_limit` are in
    bytes (the library's defaults: 128 KiB, and 256 KiB of messages waiting for callbacks
    before the socket is no longer read). Callbacks run on the library's callback thread:
    `on_online()`, `on_offline()`, `on_message(topic, payload)` for every message,
    `on_event(ConnectionEvent)`. The library's log lines go to the `iotjobs.lib` logger, at
    the levels that logger enables when the connection is made (or `log_level`).

    Nothing connects until `connect()` (or entering a `with` block, which connects and
    closes on exit). Every failing call raises `iotjobs.Error`.
    """

    def __init__(self, host, port=8883, client_id="", *, ca=None, cert=None, key=None,
                 plain=False, websocket=False, alpn=None, mqtt31=False, clean_session=True,
                 keep_alive=600, username=None, password=None, iam_credentials=None,
                 connect_timeout=30.0, operation_timeout=5.0, backoff=(1.0, 32.0, 20.0),
                 jitter=False, offline_queue=None, drop_oldest=False, draining_rate=2.0,
                 max_packet_size=None, callback_queue_limit=None, last_will=None,
                 on_online=None, on_offline=None, on_message=None, on_event=None,
                 log_level=None):
        self._guard = None
        self._holder = Holder()
        self._oneshots = {}
        self._oneshot_lock = threading.Lock()
        self._clients = weakref.WeakSet()
        self._first_request_lock = threading.Lock()
        self._on_online = _callable(on_online, "on_online")
        self._on_offline = _callable(on_offline, "on_offline")
        self._on_message = _callable(on_message, "on_message")
        self._on_event = _callable(on_event, "on_event")
        self._dispatch = self._holder.new(_Dispatch(self))
        keep = []
        out = ffi.new("jobs_config **")
        check(lib.jobs_config_new(out))
        cfg = out[0]
        try:
            if not isinstance(port, int) or isinstance(port, bool):
                raise TypeError("port must be an int, not %s" % type(port).__name__)
            if not 1 <= port <= 65535:
                raise Error(Result.INVALID_ARGUMENT, "port %d is outside 1..65535" % port)
            check(lib.jobs_config_set_endpoint(cfg, cstring(host, "host", keep), port))
            if websocket:
                transport = lib.JOBS_TRANSPORT_WEBSOCKET if plain else lib.JOBS_TRANSPORT_WEBSOCKET_TLS
            else:
                transport = lib.JOBS_TRANSPORT_TCP if plain else lib.JOBS_TRANSPORT_TLS
            check(lib.jobs_config_set_transport(cfg, transport))
            check(lib.jobs_config_set_client_id(cfg, cstring(client_id, "client_id", keep, True)))
            if mqtt31:
                check(lib.jobs_config_set_protocol(cfg, lib.JOBS_PROTOCOL_MQTT31))
            check(lib.jobs_config_set_clean_session(cfg, bool(clean_session)))
            check(lib.jobs_config_set_keep_alive(cfg, integer(keep_alive, "keep_alive", 0, 65535)))
            if username is not None or password is not None:
                check(lib.jobs_config_set_username_password(
                    cfg, cstring(username, "username", keep, True),
                    cstring(password, "password", keep, True)))
            for value, what, file_fn, pem_fn in (
                    (ca, "ca", lib.jobs_config_set_ca_file, lib.jobs_config_set_ca_pem),
                    (cert, "cert", lib.jobs_config_set_cert_file, lib.jobs_config_set_cert_pem),
                    (key, "key", lib.jobs_config_set_key_file, lib.jobs_config_set_key_pem)):
                if value is None:
                    continue
                if isinstance(value, (bytes, bytearray, memoryview)):
                    check(pem_fn(cfg, *cbytes(value, what, keep)))
                else:
                    check(file_fn(cfg, cpath(value, what, keep)))
            if alpn is not None:
                check(lib.jobs_config_set_alpn(cfg, cstring(alpn, "alpn", keep)))
            if iam_credentials is not None:
                creds = list(iam_credentials) + [None] * (4 - len(iam_credentials))
                if len(creds) != 4:
                    raise TypeError("iam_credentials is (key_id, secret[, session_token[, region]])")
                check(lib.jobs_config_set_iam_credentials(
                    cfg, cstring(creds[0], "access key id", keep),
                    cstring(creds[1], "secret access key", keep),
                    cstring(creds[2], "session token", keep, True),
                    cstring(creds[3], "region", keep, True)))
            check(lib.jobs_config_set_timeouts(
                cfg, millis(connect_timeout, "connect_timeout"),
                millis(operation_timeout, "operation_timeout")))
            if len(backoff) != 3:
                raise TypeError("backoff is (base, max, stable) in seconds")
            check(lib.jobs_config_set_backoff(
                cfg, millis(backoff[0], "backoff base"), millis(backoff[1], "backoff max"),
                millis(backoff[2], "backoff stable time"), bool(jitter)))
            size = -1 if offline_queue is None else integer(offline_queue, "offline_queue", -1, 2**62)
            check(lib.jobs_config_set_offline_queue(
                cfg, size, lib.JOBS_DROP_POLICY_DROP_OLDEST if drop_oldest
                else lib.JOBS_DROP_POLICY_DROP_NEWEST))
            if isinstance(draining_rate, bool) or not isinstance(draining_rate, (int, float)):
                raise TypeError("draining_rate must be a number, not %s" % type(draining_rate).__name__)
            check(lib.jobs_config_set_draining_rate(cfg, float(draining_rate)))
            if max_packet_size is not None:
                check(lib.jobs_config_set_max_packet_size(
                    cfg, integer(max_packet_size, "max_packet_size", 0, 2**63)))
            if callback_queue_limit is not None:
                check(lib.jobs_config_set_callback_queue_limit(
                    cfg, integer(callback_queue_limit, "callback_queue_limit", 0, 2**63)))
            if last_will is not None:
                if not isinstance(last_will, (tuple, list)) or not 2 <= len(last_will) <= 4:
                    raise TypeError("last_will is (topic, payload[, qos[, retain]])")
                topic, payload, qos, retain = (tuple(last_will) + (0, False))[:4]
                data, n = cbytes(payload, "last will payload", keep)
                check(lib.jobs_config_set_last_will(
                    cfg, cstring(topic, "last will topic", keep), data, n,
                    integer(qos, "last will qos", 0, 1), bool(retain)))
            check(lib.jobs_config_set_user_data(cfg, self._dispatch))
            # Only the callbacks asked for: each one costs a GIL round trip per message or event.
            check(lib.jobs_config_set_on_online_offline(
                cfg, _on_online if on_online is not None else NULL,
                _on_offline if on_offline is not None else NULL))
            if on_message is not None:
                check(lib.jobs_config_set_on_message(cfg, _on_message))
            if on_event is not None:
                check(lib.jobs_config_set_on_event(cfg, _on_event))
            level = _level_for(_liblog) if log_level is None else log_level
            check(lib.jobs_config_set_log(cfg, _on_log, integer(int(level), "log_level", 0, 4)))
            conn = ffi.new("jobs_connection **")
            check(lib.jobs_connection_new(cfg, conn))
        finally:
            lib.jobs_config_free(cfg)
        self._guard = Guard(conn[0], lib.jobs_connection_free, "connection")
        track(self, 2)

    # ------------------------------------------------------------ life cycle

    def connect(self):
        """Connects and waits for the CONNACK (at most the connect timeout); reconnects on
        its own from then on, until `disconnect()`."""
        with self._guard as c:
            check(lib.jobs_connection_connect(c))

    def connect_async(self):
        """Starts connecting (retrying with backoff) and returns at once."""
        with self._guard as c:
            check(lib.jobs_connection_connect_async(c))

    def disconnect(self):
        """Disconnects; queued and unacknowledged requests are kept for the next connect."""
        with self._guard as c:
            check(lib.jobs_connection_disconnect(c))

    def close(self):
        """Closes the clients on this connection, then the connection itself. No callback
        of it runs after this returns. Idempotent."""
        if self._guard is None:
            return
        for client in list(self._clients):
            client.close()
        if self._guard.close():
            self._holder.clear()
            with self._oneshot_lock:
                self._oneshots.clear()

    @property
    def closed(self):
        return self._guard is None or self._guard.closed

    def __enter__(self):
        try:
            if self.state == ConnectionState.DISCONNECTED:
                self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Safe anywhere, a callback of this connection included: nothing else can be using an
        # unreachable connection.
        if getattr(self, "_guard", None) is not None:
            self.close()

    def __repr__(self):
        state = "closed" if self.closed else self.state.name.lower()
        return "<iotjobs.Connection %s>" % state

    # ------------------------------------------------------------ state

    @property
    def state(self):
        """The ConnectionState now."""
        with self._guard as c:
            return ConnectionState(lib.jobs_connection_get_state(c))

    @property
    def client_id(self):
        """The MQTT client id in use (the generated one when none was given)."""
        with self._guard as c:
            n = lib.jobs_connection_client_id(c, NULL, 0)
            buf = ffi.new("char[]", n + 1)
            lib.jobs_connection_client_id(c, buf, n + 1)
            return ffi.string(buf).decode("utf-8", "replace")

    def counters(self):
        """The connection's counters, e.g. {"reconnects": 0, "queued": 0, ...}."""
        out = {}
        value = ffi.new("uint64_t *")
        with self._guard as c:
            for counter in Counter:
                check(lib.jobs_connection_counter(c, counter, value))
                out[counter.name.lower()] = value[0]
        return out

    def _fire_online(self):
        if self._on_online is not None:
            self._on_online()

    def _fire_offline(self):
        if self._on_offline is not None:
            self._on_offline()

    # ------------------------------------------------------------ plain MQTT

    def publish(self, topic, payload=b"", qos=1, retain=False):
        """Publishes (QoS 1 waits for the PUBACK); returns the Delivery: SENT, or QUEUED
        while offline."""
        keep = []
        data, n = cbytes(payload, "payload", keep)
        delivery = ffi.new("uint32_t *")
        t = cstring(topic, "topic", keep)
        with self._guard as c:
            check(lib.jobs_connection_publish(c, t, data, n, integer(qos, "qos", 0, 1),
                                              bool(retain), delivery))
        return Delivery(delivery[0])

    def subscribe(self, topic_filter, callback, qos=1):
        """Subscribes and waits for the SUBACK; `callback(topic, payload)` gets each
        matching message. Returns the Delivery."""
        keep = []
        _callable(callback, "callback")
        f = cstring(topic_filter, "topic_filter", keep)
        ud = self._holder.new(_Sub(callback))
        granted = ffi.new("uint8_t *")
        delivery = ffi.new("uint32_t *")
        with self._guard as c:
            check(lib.jobs_connection_subscribe(c, f, integer(qos, "qos", 0, 1),
                                                _on_sub_message, ud, granted, delivery))
        return Delivery(delivery[0])

    def unsubscribe(self, topic_filter):
        """Unsubscribes and waits for the UNSUBACK; returns the Delivery."""
        keep = []
        f = cstring(topic_filter, "topic_filter", keep)
        delivery = ffi.new("uint32_t *")
        with self._guard as c:
            check(lib.jobs_connection_unsubscribe(c, f, delivery))
        return Delivery(delivery[0])

    # Asynchronous forms, for the compat layer: each returns (packet id, Delivery) and calls
    # `ack(packet_id, result, granted_qos)` once on the callback thread.

    def _oneshot(self, fn):
        ack = _Ack(self, fn)
        h = ffi.new_handle(ack)
        with self._oneshot_lock:
            self._oneshots[id(ack)] = h
        return ack, h

    def _oneshot_done(self, ack):
        with self._oneshot_lock:
            self._oneshots.pop(id(ack), None)

    def _publish_async(self, topic, payload, qos, retain, ack_fn):
        keep = []
        data, n = cbytes(payload, "payload", keep)
        t = cstring(topic, "topic", keep)
        ack, h = self._oneshot(ack_fn)
        pid = ffi.new("uint16_t *")
        delivery = ffi.new("uint32_t *")
        try:
            with self._guard as c:
                check(lib.jobs_connection_publish_async(c, t, data, n, integer(qos, "qos", 0, 1),
                                                        bool(retain), _on_ack, h, pid, delivery))
        except BaseException:
            self._oneshot_done(ack)
            raise
        return pid[0], Delivery(delivery[0])

    def _subscribe_async(self, topic_filter, qos, callback, ack_fn):
        keep = []
        f = cstring(topic_filter, "topic_filter", keep)
        ud = self._holder.new(_Sub(callback))
        ack, h = self._oneshot(ack_fn)
        pid = ffi.new("uint16_t *")
        delivery = ffi.new("uint32_t *")
        try:
            with self._guard as c:
                check(lib.jobs_connection_subscribe_async(c, f, integer(qos, "qos", 0, 1),
                                                          _on_sub_message, ud, _on_ack, h,
                                                          pid, delivery))
        except BaseException:
            self._oneshot_done(ack)
            raise
        return pid[0], Delivery(delivery[0])

    def _unsubscribe_async(self, topic_filter, ack_fn):
        keep = []
        f = cstring(topic_filter, "topic_filter", keep)
        ack, h = self._oneshot(ack_fn)
        pid = ffi.new("uint16_t *")
        delivery = ffi.new("uint32_t *")
        try:
            with self._guard as c:
                check(lib.jobs_connection_unsubscribe_async(c, f, _on_ack, h, pid, delivery))
        except BaseException:
            self._oneshot_done(ack)
            raise
        return pid[0], Delivery(delivery[0])
