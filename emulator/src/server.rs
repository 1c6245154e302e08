//! The MQTT server: listeners and one task per connection (the session protocol).
//!
//! Transport-agnostic: a connection is any `AsyncRead + AsyncWrite` stream (plain TCP, TLS, or a
//! WebSocket bridged to a byte pipe by `transport`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, Publish, SubAck, Subscribe, SubscribeReasonCode,
    UnsubAck, Unsubscribe,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::broker::{lock, ConnCmd, ConnCtl, ConnHandle, Session, Shared};
use crate::connect::{read_connect, ConnectError, ParsedConnect};
use crate::custom_auth::{self, AuthVia, ConnAuth};
use crate::topic;
use crate::Dir;

/// AWS IoT Core: at most 8 filters in one SUBSCRIBE.
pub const MAX_FILTERS_PER_SUBSCRIBE: usize = 8;
/// AWS IoT Core: at most 50 subscriptions per connection.
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// Which listener accepted a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tcp,
    Tls,
    Ws,
    Wss,
}

/// Accept loop for one listener. `restart` carries restart requests (down time).
pub(crate) async fn listen(
    shared: Arc<Shared>,
    kind: Kind,
    std_listener: std::net::TcpListener,
    mut restart: UnboundedReceiver<Duration>,
    accept_ctx: Arc<crate::transport::AcceptCtx>,
) {
    let addr = match std_listener.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut listener = match TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(e) => {
            shared
                .log
                .log("server", format_args!("{kind:?} listener failed: {e}"));
            return;
        }
    };
    loop {
        tokio::select! {
            acc = listener.accept() => match acc {
                Ok((sock, peer)) => {
                    let _ = sock.set_nodelay(true);
                    let shared = shared.clone();
                    let ctx = accept_ctx.clone();
                    tokio::spawn(async move {
                        crate::transport::accept(shared, kind, sock, peer, ctx).await;
                    });
                }
                Err(e) => {
                    shared.log.log("server", format_args!("accept on {addr} failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            cmd = restart.recv() => {
                let Some(down) = cmd else { return };
                drop(listener);
                shared.cut_all();
                shared.log.log("server", format_args!("{kind:?} listener {addr} down for {down:?}"));
                tokio::time::sleep(down).await;
                let mut tries = 0;
                listener = loop {
                    match crate::listen_socket(addr) {
                        Ok(l) => break l,
                        Err(e) if tries < 200 => {
                            tries += 1;
                            if tries == 1 {
                                shared.log.log("server", format_args!("rebind {addr}: {e}, retrying"));
                            }
                            tokio::time::sleep(Duration::from_millis(25)).await;
                        }
                        Err(e) => {
                            shared.log.log("server", format_args!("rebind {addr} failed: {e}"));
                            return;
                        }
                    }
                };
                shared.log.log("server", format_args!("{kind:?} listener {addr} back up"));
            }
        }
    }
}

/// Why a connection ended.
enum End {
    /// Client sent DISCONNECT: no will.
    Graceful,
    /// Anything else: the will is published.
    Abrupt(String),
}

struct Conn<W> {
    shared: Arc<Shared>,
    wr: W,
    id: u64,
    tx: UnboundedSender<ConnCmd>,
    client_id: String,
    level: u8,
    blackholed: Arc<AtomicBool>,
    wbuf: BytesMut,
}

impl<W: AsyncWrite + Unpin> Conn<W> {
    fn log(&self, msg: std::fmt::Arguments<'_>) {
        self.shared.log.log(&self.client_id, msg);
    }

    /// Encodes one packet into the write buffer and records it.
    fn queue(&mut self, p: Packet) {
        if let Err(e) = p.write(&mut self.wbuf, usize::MAX >> 4) {
            self.log(format_args!("cannot encode {p:?}: {e}"));
            return;
        }
        self.shared.record(&self.client_id, Dir::Out, &p);
    }

    /// Writes out everything queued.
    async fn flush_out(&mut self) -> std::io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let r = self.wr.write_all(&self.wbuf).await;
        self.wbuf.clear();
        r?;
        self.wr.flush().await
    }

    async fn write(&mut self, p: Packet) -> std::io::Result<()> {
        self.queue(p);
        self.flush_out().await
    }

    /// Sends an ack now, or later through the channel when a reply delay is set.
    async fn ack(&mut self, p: Packet) -> std::io::Result<()> {
        let d = self.shared.faults.reply_delay();
        if d.is_zero() {
            return self.write(p).await;
        }
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            let _ = tx.send(ConnCmd::Send(p));
        });
        Ok(())
    }
}

/// Runs one connection to the end.
pub(crate) async fn serve<S>(
    shared: Arc<Shared>,
    stream: S,
    peer: SocketAddr,
    kind: Kind,
    auth: ConnAuth,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let id = shared
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, mut rx) = unbounded_channel();
    let kill = Arc::new(tokio::sync::Notify::new());
    lock(&shared.conns).insert(
        id,
        ConnCtl {
            tx: tx.clone(),
            kill: kill.clone(),
        },
    );
    let (mut rd, wr) = tokio::io::split(stream);
    let mut conn = Conn {
        shared: shared.clone(),
        wr,
        id,
        tx,
        client_id: format!("<{peer} {kind:?}>"),
        level: 4,
        blackholed: Arc::new(AtomicBool::new(false)),
        wbuf: BytesMut::with_capacity(1024),
    };
    let mut buf = BytesMut::with_capacity(4096);
    let mut will = None;
    let mut registered = false;
    let work = async {
        match handshake(&mut conn, &mut rd, &mut rx, &mut buf, &kill, &auth).await {
            Ok(Some(pc)) => {
                will = pc.connect.last_will.clone();
                registered = true;
                session_loop(&mut conn, &mut rd, &mut rx, &mut buf, &pc).await
            }
            Ok(None) => End::Abrupt("refused".into()),
            Err(e) => End::Abrupt(e),
        }
    };
    // The kill switch interrupts the task wherever it waits (even in a blocked write).
    let end = tokio::select! {
        e = work => e,
        _ = kill.notified() => End::Abrupt("closed by the emulator".into()),
    };
    // Teardown.
    lock(&shared.conns).remove(&id);
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.wr.shutdown()).await;
    if registered {
        let mut b = lock(&shared.broker);
        let mut remove = false;
        if let Some(s) = b.sessions.get_mut(&conn.client_id) {
            if s.conn.as_ref().map(|c| c.id) == Some(id) {
                s.conn = None;
                s.offline_since = Some(std::time::Instant::now());
                remove = s.clean;
            }
        }
        if remove {
            b.sessions.remove(&conn.client_id);
        }
    }
    match end {
        End::Graceful => conn.log(format_args!("disconnected")),
        End::Abrupt(why) => {
            conn.log(format_args!("connection closed: {why}"));
            if let Some(w) = will {
                if topic::validate_topic(&w.topic).is_ok() && !w.topic.starts_with('$') {
                    conn.log(format_args!("publishing will to {}", w.topic));
                    let q = if w.qos == QoS::ExactlyOnce {
                        QoS::AtLeastOnce
                    } else {
                        w.qos
                    };
                    shared.route(&w.topic, w.message, q, w.retain);
                }
            }
        }
    }
}

/// Reads CONNECT, answers CONNACK, registers the session. `Ok(None)` when refused.
async fn handshake<R, W>(
    conn: &mut Conn<W>,
    rd: &mut R,
    rx: &mut UnboundedReceiver<ConnCmd>,
    buf: &mut BytesMut,
    kill: &Arc<tokio::sync::Notify>,
    auth: &ConnAuth,
) -> Result<Option<ParsedConnect>, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let shared = conn.shared.clone();
    let deadline = Instant::now() + shared.cfg.connect_timeout;
    let max = shared.cfg.max_payload + 4096;
    let mut pc = loop {
        match read_connect(buf, max) {
            Ok(Some(pc)) => break pc,
            Ok(None) => {}
            Err(ConnectError::UnacceptableProtocol { name, level }) => {
                conn.log(format_args!("unsupported protocol {name:?} level {level}"));
                let p = Packet::ConnAck(ConnAck::new(
                    ConnectReturnCode::RefusedProtocolVersion,
                    false,
                ));
                let _ = conn.write(p).await;
                return Ok(None);
            }
            Err(e) => return Err(e.to_string()),
        }
        tokio::select! {
            r = rd.read_buf(buf) => match r {
                Ok(0) => return Err("closed before CONNECT".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("read error before CONNECT: {e}")),
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Send(_)) => {}
                _ => return Err("closed by the emulator before CONNECT".into()),
            },
            _ = tokio::time::sleep_until(deadline) => return Err("no CONNECT in time".into()),
        }
    };
    let c = &mut pc.connect;
    let mut generated = false;
    if c.client_id.is_empty() && c.clean_session {
        c.client_id = format!("iotjobs-emu-{}", conn.id);
        generated = true;
    }
    conn.client_id = if c.client_id.is_empty() {
        format!("<empty id #{}>", conn.id)
    } else {
        c.client_id.clone()
    };
    conn.level = pc.level;
    shared.record(&conn.client_id, Dir::In, &Packet::Connect(c.clone()));
    conn.log(format_args!(
        "CONNECT mqtt{} clean={} keepalive={}s{}{}",
        if pc.level == 3 { "3.1" } else { "3.1.1" },
        c.clean_session,
        c.keep_alive,
        if generated {
            " (server-assigned id)"
        } else {
            ""
        },
        if c.last_will.is_some() {
            " with will"
        } else {
            ""
        },
    ));
    let refuse = |code: u8| -> Packet {
        let code = match code {
            1 => ConnectReturnCode::RefusedProtocolVersion,
            2 => ConnectReturnCode::BadClientId,
            3 => ConnectReturnCode::ServiceUnavailable,
            4 => ConnectReturnCode::BadUserNamePassword,
            _ => ConnectReturnCode::NotAuthorized,
        };
        Packet::ConnAck(ConnAck::new(code, false))
    };
    let delay = shared.faults.reply_delay();
    if let Some(code) = shared.faults.take_refuse_connack() {
        conn.log(format_args!("fault: CONNACK refused with code {code}"));
        tokio::time::sleep(delay).await;
        let _ = conn.write(refuse(code)).await;
        return Ok(None);
    }
    if c.client_id.is_empty() || c.client_id.len() > 128 {
        conn.log(format_args!(
            "refused: client id empty with clean_session=0, or over 128 bytes"
        ));
        let _ = conn.write(refuse(2)).await;
        return Ok(None);
    }
    if let Err(why) = check_authorizer(&shared, auth, c, &pc.raw_password) {
        conn.log(format_args!("refused (CONNACK 5, not authorized): {why}"));
        let _ = conn.write(refuse(5)).await;
        return Ok(None);
    }
    tokio::time::sleep(delay).await;
    // Register (taking over an existing connection with the same id).
    let handle = ConnHandle {
        id: conn.id,
        tx: conn.tx.clone(),
        kill: kill.clone(),
        blackholed: conn.blackholed.clone(),
        level: pc.level,
    };
    let session_present;
    {
        let mut b = lock(&shared.broker);
        if let Some(old) = b.sessions.get(&c.client_id).and_then(|s| s.conn.as_ref()) {
            old.close();
            shared.log.log(
                &conn.client_id,
                format_args!("takes over the previous connection with the same client id"),
            );
        }
        // A clean session (new or old) ends with its connection: never resume it.
        shared.expire_sessions(&mut b);
        if c.clean_session || b.sessions.get(&c.client_id).is_some_and(|s| s.clean) {
            b.sessions.remove(&c.client_id);
        }
        let existed = b.sessions.contains_key(&c.client_id);
        let s = b
            .sessions
            .entry(c.client_id.clone())
            .or_insert_with(|| Session::new(c.clean_session));
        s.clean = c.clean_session;
        s.conn = Some(handle);
        s.offline_since = None;
        session_present = existed && pc.level == 4;
        // CONNACK must go out before anything queued for the session: write it while holding
        // the lock would block, so send it through the channel first (FIFO with what follows).
        let ack = Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, session_present));
        let _ = conn.tx.send(ConnCmd::Send(ack));
        if existed {
            s.resume();
        }
    }
    if session_present {
        conn.log(format_args!("session resumed"));
    }
    Ok(Some(pc))
}

/// The custom authorizer's verdict on a CONNECT, recorded; `Ok` when none is involved.
fn check_authorizer(
    shared: &Shared,
    auth: &ConnAuth,
    c: &rumqttc::mqttbytes::v4::Connect,
    password: &Option<Vec<u8>>,
) -> Result<(), String> {
    let Some(cfg) = &shared.cfg.custom_authorizer else {
        return Ok(());
    };
    let login_user = c.login.as_ref().map(|l| l.username.clone());
    let (presented, username, via, alpn, outcome) = match auth {
        ConnAuth::None => return Ok(()),
        ConnAuth::Username { alpn } => {
            let (user, presented) = match &login_user {
                Some(u) => {
                    let (user, p) = custom_auth::from_username(u, &cfg.token_key_name);
                    (Some(user), p)
                }
                None => (None, custom_auth::Presented::default()),
            };
            let req = custom_auth::AuthRequest {
                token: presented.token.clone(),
                username: user.clone(),
                password: password.clone(),
                client_id: c.client_id.clone(),
            };
            let outcome = custom_auth::authorize(cfg, &presented, &req);
            (presented, user, AuthVia::MqttUsername, alpn, outcome)
        }
        ConnAuth::Upgrade {
            presented,
            via,
            alpn,
        } => {
            let req = custom_auth::AuthRequest {
                token: presented.token.clone(),
                username: login_user.clone(),
                password: password.clone(),
                client_id: c.client_id.clone(),
            };
            let outcome = if (cfg.decide)(&req) {
                Ok(())
            } else {
                Err("the authorizer denied the connection".to_string())
            };
            (presented.clone(), login_user, *via, alpn, outcome)
        }
    };
    shared.auth_record_push(crate::AuthRecord {
        via,
        alpn: alpn.clone(),
        authorizer_name: presented.authorizer_name.clone(),
        signature: presented.signature.clone(),
        request: custom_auth::AuthRequest {
            token: presented.token,
            username,
            password: password.clone(),
            client_id: c.client_id.clone(),
        },
        outcome: outcome.clone(),
    });
    outcome
}

fn effective_keepalive(shared: &Shared, requested: u16) -> Option<Duration> {
    let secs = if shared.cfg.aws_keepalive_limits {
        match requested {
            0 => 1200,
            1..=29 => 30,
            n if n > 1200 => 1200,
            n => n,
        }
    } else {
        requested
    };
    if secs == 0 {
        None
    } else {
        Some(Duration::from_millis(u64::from(secs) * 1500))
    }
}

async fn session_loop<R, W>(
    conn: &mut Conn<W>,
    rd: &mut R,
    rx: &mut UnboundedReceiver<ConnCmd>,
    buf: &mut BytesMut,
    pc: &ParsedConnect,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let shared = conn.shared.clone();
    let ka = effective_keepalive(&shared, pc.connect.keep_alive);
    let max = shared.cfg.max_payload + 4096;
    let mut last_rx = Instant::now();
    loop {
        // Handle every complete packet already buffered.
        while !conn.blackholed.load(Ordering::Relaxed) {
            let res =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Packet::read(buf, max)));
            match res {
                Ok(Ok(p)) => {
                    if let Err(end) = handle(conn, p).await {
                        return end;
                    }
                }
                Ok(Err(CodecError::InsufficientBytes(_))) => break,
                Ok(Err(CodecError::PayloadSizeLimitExceeded(n))) => {
                    return End::Abrupt(format!(
                        "packet of {n} bytes exceeds the {} byte limit",
                        shared.cfg.max_payload
                    ))
                }
                Ok(Err(e)) => return End::Abrupt(format!("malformed packet: {e}")),
                Err(_) => return End::Abrupt("malformed packet (decoder panic)".into()),
            }
        }
        let black = conn.blackholed.load(Ordering::Relaxed);
        if black {
            buf.clear();
        }
        let deadline = match (ka, black) {
            (Some(ka), false) => last_rx + ka,
            _ => Instant::now() + Duration::from_secs(86400),
        };
        tokio::select! {
            r = rd.read_buf(buf) => match r {
                Ok(0) => return End::Abrupt("closed by client".into()),
                Ok(_) => last_rx = Instant::now(),
                Err(e) => return End::Abrupt(format!("read error: {e}")),
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Send(p)) => {
                    if conn.blackholed.load(Ordering::Relaxed) {
                        continue;
                    }
                    // Batch whatever else is already waiting into one write.
                    conn.queue(p);
                    let mut close = false;
                    while conn.wbuf.len() < 64 * 1024 {
                        match rx.try_recv() {
                            Ok(ConnCmd::Send(p)) => conn.queue(p),
                            Ok(ConnCmd::Close) => {
                                close = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = conn.flush_out().await {
                        return End::Abrupt(format!("write error: {e}"));
                    }
                    if close {
                        return End::Abrupt("closed by the emulator".into());
                    }
                }
                Some(ConnCmd::Close) | None => return End::Abrupt("closed by the emulator".into()),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return End::Abrupt(format!(
                    "keep-alive timeout (no packet for 1.5 x {}s)",
                    pc.connect.keep_alive
                ));
            }
        }
    }
}

/// Handles one packet from the client; `Err` ends the connection.
async fn handle<W: AsyncWrite + Unpin>(conn: &mut Conn<W>, p: Packet) -> Result<(), End> {
    let shared = conn.shared.clone();
    shared.record(&conn.client_id, Dir::In, &p);
    let io = |e: std::io::Error| End::Abrupt(format!("write error: {e}"));
    match p {
        Packet::Publish(p) => on_publish(conn, p).await,
        Packet::PubAck(a) => {
            let mut b = lock(&shared.broker);
            if let Some(s) = b.sessions.get_mut(&conn.client_id) {
                s.inflight.remove(&a.pkid);
                s.drain();
            }
            Ok(())
        }
        Packet::Subscribe(s) => on_subscribe(conn, s).await,
        Packet::Unsubscribe(u) => on_unsubscribe(conn, u).await,
        Packet::PingReq => conn.write(Packet::PingResp).await.map_err(io),
        Packet::Disconnect => Err(End::Graceful),
        Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => Err(End::Abrupt(
            "QoS 2 flow refused (AWS IoT supports QoS 0 and 1)".into(),
        )),
        Packet::Connect(_) => Err(End::Abrupt("second CONNECT (protocol violation)".into())),
        other => Err(End::Abrupt(format!(
            "client sent a server-only packet {other:?} (protocol violation)"
        ))),
    }
}

async fn on_publish<W: AsyncWrite + Unpin>(conn: &mut Conn<W>, p: Publish) -> Result<(), End> {
    let shared = conn.shared.clone();
    if p.qos == QoS::ExactlyOnce {
        return Err(End::Abrupt(format!(
            "QoS 2 PUBLISH to {} refused: AWS IoT closes the connection",
            p.topic
        )));
    }
    if let Err(e) = topic::validate_topic(&p.topic) {
        return Err(End::Abrupt(format!(
            "PUBLISH to invalid topic {:?}: {e}",
            p.topic
        )));
    }
    if p.payload.len() > shared.cfg.max_payload {
        return Err(End::Abrupt(format!(
            "PUBLISH payload of {} bytes exceeds {} bytes",
            p.payload.len(),
            shared.cfg.max_payload
        )));
    }
    let jobs_req = crate::jobs::service::is_jobs_topic(&p.topic);
    if p.topic.starts_with('$') && !jobs_req {
        return Err(End::Abrupt(format!(
            "PUBLISH to reserved topic {} is not allowed (AWS disconnects)",
            p.topic
        )));
    }
    if p.retain && jobs_req {
        return Err(End::Abrupt(
            "RETAIN on a reserved topic (AWS disconnects)".into(),
        ));
    }
    if jobs_req {
        conn.log(format_args!(
            "-> {}{} {}",
            crate::jobs::service::short_topic(&p.topic),
            if p.dup { " (dup)" } else { "" },
            crate::jobs::service::short_text(&String::from_utf8_lossy(&p.payload))
        ));
    } else {
        conn.log(format_args!(
            "PUBLISH {} qos={}{} ({} bytes)",
            p.topic,
            p.qos as u8,
            if p.dup { " dup" } else { "" },
            p.payload.len()
        ));
    }
    if p.qos == QoS::AtLeastOnce {
        if shared.faults.take_drop_puback() {
            conn.log(format_args!("fault: PUBACK {} dropped", p.pkid));
        } else {
            conn.ack(Packet::PubAck(PubAck::new(p.pkid)))
                .await
                .map_err(|e| End::Abrupt(format!("write error: {e}")))?;
        }
    }
    if jobs_req {
        crate::jobs::service::on_request(&shared, &conn.client_id, &p.topic, &p.payload);
    } else {
        shared.route(&p.topic, p.payload, p.qos, p.retain);
    }
    Ok(())
}

async fn on_subscribe<W: AsyncWrite + Unpin>(conn: &mut Conn<W>, s: Subscribe) -> Result<(), End> {
    let shared = conn.shared.clone();
    let mut codes = Vec::with_capacity(s.filters.len());
    let mut retained = Vec::new();
    {
        let mut b = lock(&shared.broker);
        let retained_all: Vec<rumqttc::mqttbytes::v4::Publish> =
            b.retained.values().cloned().collect();
        let Some(sess) = b.sessions.get_mut(&conn.client_id) else {
            return Err(End::Abrupt("no session".into()));
        };
        for (i, f) in s.filters.iter().enumerate() {
            let code = if f.qos == QoS::ExactlyOnce {
                shared.log.log(
                    &conn.client_id,
                    format_args!("SUBSCRIBE {} qos 2 refused", f.path),
                );
                SubscribeReasonCode::Failure
            } else if let Err(e) = topic::validate_filter(&f.path) {
                shared.log.log(
                    &conn.client_id,
                    format_args!("SUBSCRIBE {:?} refused: {e}", f.path),
                );
                SubscribeReasonCode::Failure
            } else if i >= MAX_FILTERS_PER_SUBSCRIBE {
                shared.log.log(
                    &conn.client_id,
                    format_args!(
                        "SUBSCRIBE {} refused: over 8 filters in one SUBSCRIBE",
                        f.path
                    ),
                );
                SubscribeReasonCode::Failure
            } else if shared.faults.take_refuse_suback(&f.path) {
                shared.log.log(
                    &conn.client_id,
                    format_args!("fault: SUBSCRIBE {} refused", f.path),
                );
                SubscribeReasonCode::Failure
            } else if sess.subs.len() >= MAX_SUBSCRIPTIONS
                && !sess.subs.iter().any(|(x, _)| *x == f.path)
            {
                shared.log.log(
                    &conn.client_id,
                    format_args!("SUBSCRIBE {} refused: 50 subscriptions already", f.path),
                );
                SubscribeReasonCode::Failure
            } else {
                let q = f.qos;
                match sess.subs.iter_mut().find(|(x, _)| *x == f.path) {
                    Some(e) => e.1 = q,
                    None => sess.subs.push((f.path.clone(), q)),
                }
                shared.log.log(
                    &conn.client_id,
                    format_args!("SUBSCRIBE {} qos={}", f.path, q as u8),
                );
                // AWS: wildcard subscriptions do not receive retained messages.
                if !f.path.contains(['+', '#']) {
                    for r in retained_all.iter().filter(|r| r.topic == f.path) {
                        let mut r = r.clone();
                        if q < r.qos {
                            r.qos = q;
                        }
                        retained.push(r);
                    }
                }
                SubscribeReasonCode::Success(q)
            };
            codes.push(code);
        }
    }
    conn.ack(Packet::SubAck(SubAck::new(s.pkid, codes)))
        .await
        .map_err(|e| End::Abrupt(format!("write error: {e}")))?;
    if !retained.is_empty() {
        let mut b = lock(&shared.broker);
        if let Some(sess) = b.sessions.get_mut(&conn.client_id) {
            for r in retained {
                sess.push(r);
            }
        }
    }
    Ok(())
}

async fn on_unsubscribe<W: AsyncWrite + Unpin>(
    conn: &mut Conn<W>,
    u: Unsubscribe,
) -> Result<(), End> {
    let shared = conn.shared.clone();
    {
        let mut b = lock(&shared.broker);
        if let Some(sess) = b.sessions.get_mut(&conn.client_id) {
            sess.subs.retain(|(f, _)| !u.topics.contains(f));
        }
    }
    conn.log(format_args!("UNSUBSCRIBE {}", u.topics.join(", ")));
    conn.ack(Packet::UnsubAck(UnsubAck::new(u.pkid)))
        .await
        .map_err(|e| End::Abrupt(format!("write error: {e}")))
}
