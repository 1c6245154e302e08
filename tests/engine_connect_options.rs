//! What a client announces in CONNECT reaches a real mosquitto and is honoured, with a broker
//! each test starts itself on free loopback ports: MQTT 3.1, username and password (the Python
//! SDK v1's `configureUsernamePassword`, used by AWS custom authorizers), and the last will,
//! published on an abrupt loss only (through a loopback proxy that cuts connections without a
//! DISCONNECT).
//!
//! Every test is `#[ignore]`d: plain `cargo test` needs no broker; `.ci/run` runs them with
//! `--ignored`. Run with: `cargo test --test engine_connect_options -- --ignored`.

mod support;

use iotjobs::error::jobs_result;
use iotjobs::mqtt::config::{ConnectionConfig, LastWill, Protocol};
use iotjobs::mqtt::tls::TlsSettings;
use iotjobs::mqtt::types::Status;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::certs::{certs, pem_file};
use support::engine::{
    connect, connect_error, connect_line, round_trip, tcp_config, tls_config, WAIT,
};
use support::mosquitto::{MosqExtra, MosqOpts, Mosquitto};
use support::{unique_id, wait_until};

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn mqtt_3_1_is_accepted() {
    let broker = Mosquitto::start(MosqOpts::default());
    let id = format!("v31-{}", fastrand::u32(..100_000)); // MQTT 3.1: at most 23 bytes
    let cfg = ConnectionConfig {
        protocol: Protocol::V31,
        ..tcp_config(broker.port(), &id)
    };
    let (conn, inbox) = connect(cfg);
    round_trip(&conn, &inbox);
    // mosquitto logs the protocol level it accepted: p1 = MQTT 3.1 (p2 = 3.1.1).
    let line = connect_line(&broker.log(), &id);
    assert!(line.contains("(p1,"), "not MQTT 3.1: {line}");
    conn.close();
}

// ---------------------------------------------------------------------------------------------
// Username and password.

/// A TLS listener that requires a username and password (from `mosquitto_passwd`): the right
/// pair connects, a wrong password and a missing username are refused by CONNACK with
/// `ConnectRefused`, and the connection stays down (a blocking connect does not retry).
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn username_and_password_are_checked_by_the_broker() {
    let dir = support::scratch_dir("passwd", 0o755);
    let passwd = dir.join("passwd");
    let user = "thing-user";
    let password = "s3cr3t?SDK=Python&Version=1.5.4"; // any bytes, as AWS metrics strings
    let out = std::process::Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwd)
        .args([user, password])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run mosquitto_passwd ({e}): apt-get install -y mosquitto")
        });
    assert!(out.status.success(), "mosquitto_passwd: {out:?}");
    support::set_mode(&passwd, 0o644);
    let broker = Mosquitto::start_with(
        MosqOpts {
            tls: true,
            require_cert: false,
            websockets: false,
        },
        MosqExtra {
            tls_lines: format!(
                "password_file {}\nallow_anonymous false\n",
                passwd.display()
            ),
            ..MosqExtra::default()
        },
    );
    let with = |username: Option<&str>, pass: Option<&str>| ConnectionConfig {
        username: username.map(str::to_owned),
        password: pass.map(str::to_owned),
        ..tls_config(
            "localhost",
            broker.tls_port(),
            &unique_id("userpass"),
            TlsSettings {
                ca: pem_file(&certs().ca),
                ..TlsSettings::default()
            },
        )
    };

    let (conn, inbox) = connect(with(Some(user), Some(password)));
    round_trip(&conn, &inbox);
    conn.close();

    for (label, cfg) in [
        ("wrong password", with(Some(user), Some("wrong"))),
        ("unknown user", with(Some("nobody"), Some(password))),
        ("no username", with(None, None)),
    ] {
        let err = connect_error(cfg);
        assert_eq!(err.code, jobs_result::ConnectRefused, "{label}: {err}");
        assert!(
            err.message.contains("return code 5") || err.message.contains("return code 4"),
            "{label}: the CONNACK code is named: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Last will, through a loopback TCP proxy that can cut a connection without a DISCONNECT.

/// A loopback TCP proxy to the broker; [`Proxy::cut`] shuts every relayed connection down
/// abruptly (the broker sees the socket close without DISCONNECT). Its threads end when the
/// proxy is dropped (accept loop) or their sockets close (relays).
struct Proxy {
    port: u16,
    streams: Arc<Mutex<Vec<std::net::TcpStream>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        use std::net::{TcpListener, TcpStream};
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("proxy bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy addr: {e}"))
            .port();
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("proxy nonblocking: {e}"));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (streams.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let pairs = [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ];
                for (from, to) in pairs {
                    if let (Ok(mut from), Ok(mut to)) = (from, to) {
                        std::thread::spawn(move || {
                            let _ = std::io::copy(&mut from, &mut to);
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
                if let Ok(mut v) = s.lock() {
                    v.push(client);
                    v.push(server);
                }
            }
        });
        Proxy {
            port,
            streams,
            stop,
        }
    }

    /// Closes every relayed connection on both sides at once.
    fn cut(&self) {
        if let Ok(mut v) = self.streams.lock() {
            for s in v.drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// The last will (topic, payload, QoS 1, retain) reaches the broker intact, is published when
/// the link dies without DISCONNECT, is retained, and is not published after a clean
/// disconnect.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn last_will_is_published_on_abrupt_loss_only() {
    let broker = Mosquitto::start(MosqOpts::default());
    let proxy = Proxy::start(broker.port());
    let (watcher, inbox) = connect(tcp_config(broker.port(), &unique_id("watcher")));
    let will_topic = format!("iotjobs/will/{}", fastrand::u32(..));
    assert_eq!(
        watcher
            .subscribe_sync(&format!("{will_topic}/#"), 1, None)
            .ok(),
        Some(Some(1))
    );

    let with_will = |id: &str, suffix: &str| ConnectionConfig {
        last_will: Some(LastWill {
            topic: format!("{will_topic}/{suffix}"),
            payload: format!("{{\"gone\":\"{id}\"}}").into_bytes(),
            qos: 1,
            retain: true,
        }),
        ..tcp_config(proxy.port, id)
    };

    // A clean disconnect: no will.
    let polite_id = unique_id("polite");
    let (polite, _) = connect(with_will(&polite_id, "polite"));
    polite
        .disconnect()
        .unwrap_or_else(|e| panic!("disconnect: {e}"));
    polite.close();
    assert!(
        broker.wait_for_log(&format!("Client {polite_id} disconnected."), WAIT),
        "clean disconnect logged"
    );

    // An abrupt loss: the will, as configured.
    let id = unique_id("abrupt");
    let (abrupt, _) = connect(with_will(&id, "abrupt"));
    let log = broker.log();
    let line = log
        .lines()
        .skip_while(|l| !l.contains(&format!(" as {id} (")))
        .find(|l| l.contains("Will message specified"))
        .unwrap_or_else(|| panic!("no will in the CONNECT of {id}:\n{log}"));
    let payload = format!("{{\"gone\":\"{id}\"}}");
    assert!(
        line.contains(&format!("({} bytes) (r1, q1)", payload.len())),
        "will flags and size as configured: {line}"
    );
    proxy.cut();
    // The first message on the will filter is the abrupt client's will: the polite client's
    // would have come earlier, had it been published.
    let (t, got) = inbox
        .rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no will within {WAIT:?}"));
    assert_eq!(t, format!("{will_topic}/abrupt"), "the first will");
    assert_eq!(got, payload.as_bytes(), "the will payload");
    assert!(
        inbox.rx.try_recv().is_err(),
        "a will was published after a clean disconnect"
    );
    // Retained: a later subscriber gets it too.
    let (late, late_inbox) = connect(tcp_config(broker.port(), &unique_id("late")));
    assert_eq!(
        late.subscribe_sync(&format!("{will_topic}/#"), 1, None)
            .ok(),
        Some(Some(1))
    );
    assert_eq!(
        late_inbox.expect(&format!("{will_topic}/abrupt")),
        payload.as_bytes()
    );
    // And the client itself came back through the proxy on its own.
    assert!(
        wait_until(WAIT, || abrupt.status() == Status::Online
            && abrupt.counters().reconnects >= 1),
        "reconnected after the cut: {:?}",
        abrupt.counters()
    );
    for c in [abrupt, late, watcher] {
        c.close();
    }
}
