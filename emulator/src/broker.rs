//! Broker state shared by every connection: sessions, subscriptions, routing, the packet record.
//!
//! All state sits behind std mutexes that are never held across an `.await`; connection tasks
//! receive work through an unbounded channel (`ConnCmd`), so the in-process API (a plain thread)
//! can act on connections synchronously.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use rumqttc::mqttbytes::v4::{Packet, Publish};
use rumqttc::mqttbytes::QoS;
use tokio::sync::mpsc::UnboundedSender;

use crate::faults::Faults;
use crate::jobs::service::JobsService;
use crate::topic;
use crate::{Dir, EmulatorConfig, Record};

/// Work for one connection task.
#[derive(Debug)]
pub(crate) enum ConnCmd {
    /// Write this packet (recorded as `Dir::Out` when written).
    Send(Packet),
    /// Close the socket now (no DISCONNECT in MQTT 3.1.1; the will is published).
    Close,
}

/// How to reach a connection task: its work channel and a kill switch that interrupts it even
/// while it is blocked writing to a peer that does not read.
#[derive(Clone)]
pub(crate) struct ConnCtl {
    pub tx: UnboundedSender<ConnCmd>,
    pub kill: Arc<tokio::sync::Notify>,
}

impl ConnCtl {
    /// Closes the connection now. False when the task is already gone.
    pub fn close(&self) -> bool {
        self.kill.notify_one();
        self.tx.send(ConnCmd::Close).is_ok()
    }
}

/// A live connection as the broker sees it.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub id: u64,
    pub tx: UnboundedSender<ConnCmd>,
    pub kill: Arc<tokio::sync::Notify>,
    pub blackholed: Arc<AtomicBool>,
    pub level: u8,
}

impl ConnHandle {
    pub fn close(&self) -> bool {
        ConnCtl {
            tx: self.tx.clone(),
            kill: self.kill.clone(),
        }
        .close()
    }

    fn deliverable(&self) -> bool {
        !self.blackholed.load(Ordering::Relaxed)
    }
}

/// Outbound QoS 1 publishes kept for a session while offline or while the in-flight window is
/// full (oldest dropped beyond this).
const MAX_QUEUED: usize = 1000;
/// AWS IoT Core: at most 100 unacknowledged outbound QoS 1 publishes per client; more wait in
/// the session queue until PUBACKs arrive.
pub const MAX_INFLIGHT: usize = 100;

pub(crate) struct Session {
    pub clean: bool,
    /// Filter → granted QoS, in subscription order.
    pub subs: Vec<(String, QoS)>,
    pub conn: Option<ConnHandle>,
    /// Server→client QoS 1 publishes written but not yet PUBACKed.
    pub inflight: BTreeMap<u16, Publish>,
    /// QoS 1 publishes that arrived while a persistent session was offline.
    pub queued: VecDeque<Publish>,
    /// When the last connection of a persistent session ended (for expiry).
    pub offline_since: Option<Instant>,
    next_pkid: u16,
}

impl Session {
    pub fn new(clean: bool) -> Session {
        Session {
            clean,
            subs: Vec::new(),
            conn: None,
            inflight: BTreeMap::new(),
            queued: VecDeque::new(),
            offline_since: None,
            next_pkid: 0,
        }
    }

    fn alloc_pkid(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.next_pkid = self.next_pkid.wrapping_add(1);
            if self.next_pkid == 0 {
                self.next_pkid = 1;
            }
            if !self.inflight.contains_key(&self.next_pkid) {
                return Some(self.next_pkid);
            }
        }
        None
    }

    /// Sends (or keeps) one outbound publish, assigning a packet id for QoS 1.
    pub fn push(&mut self, mut p: Publish) {
        let live = self.conn.clone();
        if p.qos == QoS::AtMostOnce {
            if let Some(c) = live.filter(|c| c.deliverable()) {
                let _ = c.tx.send(ConnCmd::Send(Packet::Publish(p)));
            }
            return;
        }
        match live {
            Some(c) if self.inflight.len() < MAX_INFLIGHT && self.queued.is_empty() => {
                let Some(pkid) = self.alloc_pkid() else {
                    return;
                };
                p.pkid = pkid;
                self.inflight.insert(pkid, p.clone());
                if c.deliverable() {
                    let _ = c.tx.send(ConnCmd::Send(Packet::Publish(p)));
                }
            }
            Some(_) => self.enqueue(p),
            None if !self.clean => self.enqueue(p),
            None => {}
        }
    }

    fn enqueue(&mut self, p: Publish) {
        if self.queued.len() >= MAX_QUEUED {
            self.queued.pop_front();
        }
        self.queued.push_back(p);
    }

    /// Sends queued QoS 1 publishes while the in-flight window has room.
    pub fn drain(&mut self) {
        let Some(c) = self.conn.clone() else { return };
        while self.inflight.len() < MAX_INFLIGHT {
            let Some(mut p) = self.queued.pop_front() else {
                return;
            };
            let Some(pkid) = self.alloc_pkid() else {
                return;
            };
            p.pkid = pkid;
            self.inflight.insert(pkid, p.clone());
            if c.deliverable() {
                let _ = c.tx.send(ConnCmd::Send(Packet::Publish(p)));
            }
        }
    }

    /// After a CONNACK with session present: resend unacknowledged publishes with DUP=1, then
    /// the ones queued while offline.
    pub fn resume(&mut self) {
        let Some(c) = self.conn.clone() else { return };
        for p in self.inflight.values() {
            let mut p = p.clone();
            p.dup = true;
            let _ = c.tx.send(ConnCmd::Send(Packet::Publish(p)));
        }
        self.drain();
    }

    /// Highest granted QoS among this session's filters matching `topic`, if any.
    pub fn matching_qos(&self, topic_name: &str) -> Option<QoS> {
        self.subs
            .iter()
            .filter(|(f, _)| topic::matches(f, topic_name))
            .map(|(_, q)| *q)
            .fold(None, |acc: Option<QoS>, q| match acc {
                Some(a) if a >= q => Some(a),
                _ => Some(q),
            })
    }
}

#[derive(Default)]
pub(crate) struct BrokerState {
    pub sessions: HashMap<String, Session>,
    pub retained: BTreeMap<String, Publish>,
}

/// A log sink: per-device lines on stderr when enabled.
pub(crate) struct Logger {
    pub enabled: bool,
    start: Instant,
}

impl Logger {
    pub fn new(enabled: bool) -> Logger {
        Logger {
            enabled,
            start: Instant::now(),
        }
    }

    pub fn log(&self, who: &str, msg: std::fmt::Arguments<'_>) {
        if self.enabled {
            use std::io::Write;
            // Wall-clock UTC time of day plus seconds since start; write errors (a closed
            // stderr) are ignored rather than panicking like eprintln! would.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let day = now.as_secs() % 86400;
            let line = format!(
                "{:02}:{:02}:{:02}.{:03} +{:.3}s {:<20} {}\n",
                day / 3600,
                day / 60 % 60,
                day % 60,
                now.subsec_millis(),
                self.start.elapsed().as_secs_f64(),
                who,
                msg
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// Everything the runtime thread and the in-process API share.
pub(crate) struct Shared {
    pub cfg: EmulatorConfig,
    pub faults: Faults,
    pub records: Mutex<Vec<Record>>,
    pub broker: Mutex<BrokerState>,
    /// Every live connection task (also before CONNECT), for cut_all and restarts.
    pub conns: Mutex<HashMap<u64, ConnCtl>>,
    pub next_id: AtomicU64,
    pub log: Logger,
    pub jobs: Mutex<JobsService>,
    pub rt: OnceLock<tokio::runtime::Handle>,
    pub ws_requests: Mutex<Vec<crate::WsRequest>>,
    pub auth_records: Mutex<Vec<crate::AuthRecord>>,
    /// Restart requests, one sender per listener.
    pub restarts: Mutex<Vec<UnboundedSender<std::time::Duration>>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(cfg: EmulatorConfig) -> Shared {
        let log = Logger::new(cfg.log);
        let jobs = JobsService::new();
        Shared {
            cfg,
            faults: Faults::default(),
            records: Mutex::new(Vec::new()),
            broker: Mutex::new(BrokerState::default()),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            log,
            jobs: Mutex::new(jobs),
            rt: OnceLock::new(),
            ws_requests: Mutex::new(Vec::new()),
            auth_records: Mutex::new(Vec::new()),
            restarts: Mutex::new(Vec::new()),
        }
    }

    pub fn record(&self, client_id: &str, dir: Dir, packet: &Packet) {
        if !self.cfg.record {
            return;
        }
        lock(&self.records).push(Record {
            at: Instant::now(),
            client_id: client_id.to_string(),
            dir,
            packet: packet.clone(),
        });
    }

    /// Routes a publish to every matching subscriber (once per client, highest matching QoS).
    /// Drops persistent sessions offline for longer than the configured expiry.
    pub fn expire_sessions(&self, b: &mut BrokerState) {
        let ttl = self.cfg.session_expiry;
        b.sessions.retain(|id, s| {
            let keep = s.conn.is_some() || s.offline_since.is_none_or(|t| t.elapsed() < ttl);
            if !keep {
                self.log.log(id, format_args!("persistent session expired"));
            }
            keep
        });
    }

    pub fn route(&self, topic_name: &str, payload: Bytes, qos: QoS, retain: bool) {
        let mut b = lock(&self.broker);
        self.expire_sessions(&mut b);
        if retain && !topic_name.starts_with('$') {
            if payload.is_empty() {
                b.retained.remove(topic_name);
            } else {
                let mut p = Publish::from_bytes(topic_name, qos, payload.clone());
                p.retain = true;
                b.retained.insert(topic_name.to_string(), p);
            }
        }
        for s in b.sessions.values_mut() {
            if let Some(sq) = s.matching_qos(topic_name) {
                let q = if sq < qos { sq } else { qos };
                s.push(Publish::from_bytes(topic_name, q, payload.clone()));
            }
        }
    }

    /// Sends a publish to one client only (Jobs replies): QoS of its best matching subscription,
    /// QoS 0 when it has none. False when the client has no session.
    pub fn deliver_to(&self, client_id: &str, topic_name: &str, payload: Bytes) -> bool {
        let mut b = lock(&self.broker);
        let Some(s) = b.sessions.get_mut(client_id) else {
            return false;
        };
        let q = s.matching_qos(topic_name).unwrap_or(QoS::AtMostOnce);
        s.push(Publish::from_bytes(topic_name, q, payload));
        true
    }

    pub fn auth_record_push(&self, r: crate::AuthRecord) {
        let mut v = lock(&self.auth_records);
        if v.len() >= 1000 {
            v.remove(0);
        }
        v.push(r);
    }

    pub fn ws_requests_push(&self, r: crate::WsRequest) {
        let mut v = lock(&self.ws_requests);
        if v.len() >= 1000 {
            v.remove(0);
        }
        v.push(r);
    }

    /// Closes every listener and connection; listeners rebind after `down_for`.
    pub fn restart_listeners(&self, down_for: std::time::Duration) {
        for tx in lock(&self.restarts).iter() {
            let _ = tx.send(down_for);
        }
    }

    pub fn cut(&self, client_id: &str) -> bool {
        let b = lock(&self.broker);
        match b.sessions.get(client_id).and_then(|s| s.conn.as_ref()) {
            Some(c) => c.close(),
            None => false,
        }
    }

    pub fn cut_all(&self) {
        for c in lock(&self.conns).values() {
            c.close();
        }
    }

    pub fn blackhole(&self, client_id: &str) -> bool {
        let b = lock(&self.broker);
        match b.sessions.get(client_id).and_then(|s| s.conn.as_ref()) {
            Some(c) => {
                c.blackholed.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    pub fn connected_clients(&self) -> Vec<String> {
        let b = lock(&self.broker);
        let mut v: Vec<String> = b
            .sessions
            .iter()
            .filter(|(_, s)| s.conn.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }
}
