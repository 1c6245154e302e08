//! TLS against a real mosquitto (and an `openssl s_server`) that each test starts itself on
//! free loopback ports: every client key format from files and from memory, server
//! verification (IP address SAN, CA bundles, a wrong CA, a wrong host name), client
//! certificates refused, ALPN, TLS 1.2-only and TLS 1.3-only servers, and the C API's TLS
//! setters.
//!
//! Where a scenario matters at several layers, one test checks it at each: the transport
//! (`Stream` with hand-written MQTT packets, which sees the exact TLS error), the engine
//! (`Connection`, which must report `jobs_result::Tls`) and the C API.
//!
//! Every test is `#[ignore]`d: plain `cargo test` needs no broker; `.ci/run` runs them with
//! `--ignored`. A missing `mosquitto` or `openssl` makes them FAIL (the harness panics), never
//! skip. Run with: `cargo test --test tls -- --ignored`.

mod support;

use bytes::BytesMut;
use iotjobs::error::jobs_result;
use iotjobs::mqtt::tls::{PemSource, TlsSettings, ALPN_AWS_MQTT_CA};
use iotjobs::mqtt::transport::{describe_io_error, is_tls_io_error, Stream, TransportKind};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode, Packet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::certs::{certs, mutual_tls, pem_file, pem_memory, OpensslServer};
use support::engine::{connect, connect_error, connect_line, round_trip, tls_config, WAIT};
use support::mosquitto::{MosqExtra, MosqOpts, Mosquitto};
use support::raw_mqtt::{
    block_on, ca_only, client_tls, connect_ok, ep, mqtt_connect, open, open_and_round_trip, LIMIT,
    MAX_PACKET,
};
use support::{unique_id, wait_until};
use tokio::time::timeout;

type Load = fn(&Path) -> Option<PemSource>;
const FILE_AND_MEMORY: [(&str, Load); 2] = [("file", pem_file), ("memory", pem_memory)];

fn mutual_tls_broker(websockets: bool) -> Mosquitto {
    Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: true,
        websockets,
    })
}

/// Every client key format AWS IoT hands out (RSA PKCS#1/PKCS#8, EC SEC1 with and without
/// parameters, EC PKCS#8), from files and from memory: the transport completes a round trip
/// via `localhost` and `127.0.0.1`, and the engine does too, with the broker authenticating
/// the certificate's CN (`use_identity_as_username`).
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn mutual_tls_every_key_format_from_files_and_memory() {
    let broker = mutual_tls_broker(false);
    let c = certs();
    for (cert, key, label) in c.client_key_formats() {
        for (source, load) in FILE_AND_MEMORY {
            let tls = mutual_tls(load, cert, key);

            // The transport, via both host forms.
            let raw = client_tls(tls.clone());
            for host in ["localhost", "127.0.0.1"] {
                block_on(async {
                    let e = ep(host, broker.tls_port(), TransportKind::Tls);
                    let mut s = open(&e, Some(raw.clone()), None).await;
                    let mut buf = BytesMut::new();
                    assert_eq!(
                        mqtt_connect(&mut s, &mut buf, &unique_id("mtls-raw")).await,
                        Some(ConnectReturnCode::Success),
                        "{label} from {source} via {host}"
                    );
                    support::raw_mqtt::round_trip(&mut s, &mut buf).await;
                    s.shutdown().await;
                });
            }

            // The engine, and the CN the broker authenticated.
            let id = unique_id("mtls");
            let (conn, inbox) = connect(tls_config("localhost", broker.tls_port(), &id, tls));
            round_trip(&conn, &inbox);
            let cn = if label.starts_with("RSA") {
                "thing-rsa"
            } else {
                "thing-ec"
            };
            let line = connect_line(&broker.log(), &id);
            assert!(
                line.contains(&format!("u'{cn}'")),
                "{label} from {source}: broker did not see CN {cn}: {line}"
            );
            conn.disconnect()
                .unwrap_or_else(|e| panic!("{label} from {source}: disconnect: {e}"));
            conn.close();
        }
    }
    // use_identity_as_username: the broker saw both client certificates.
    let log = broker.log();
    assert!(log.contains("u'thing-rsa'"), "{log}");
    assert!(log.contains("u'thing-ec'"), "{log}");
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn tls_to_127_0_0_1_verifies_the_ip_address_san() {
    let broker = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: false,
    });
    let tls = TlsSettings {
        ca: pem_file(&certs().ca),
        ..TlsSettings::default()
    };
    let (conn, inbox) = connect(tls_config(
        "127.0.0.1",
        broker.tls_port(),
        &unique_id("ip"),
        tls,
    ));
    round_trip(&conn, &inbox);
    conn.close();
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn ca_bundle_with_several_certificates_verifies_the_server() {
    let m = Mosquitto::start(MosqOpts {
        tls: true,
        require_cert: false,
        websockets: false,
    });
    let cfg = client_tls(TlsSettings {
        ca: pem_file(&certs().ca_bundle),
        ..TlsSettings::default()
    });
    block_on(async {
        let e = ep("localhost", m.tls_port(), TransportKind::Tls);
        let mut s = open(&e, Some(cfg), None).await;
        let mut buf = BytesMut::new();
        connect_ok(&mut s, &mut buf, &unique_id("bundle")).await;
    });
}

/// A server signed by another CA: the transport names the reason, over TLS and secure
/// WebSocket; the engine reports `Tls`, whether the CA comes from a file or from memory.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn wrong_ca_is_refused_with_a_tls_error() {
    let c = certs();
    let broker = mutual_tls_broker(true);
    for (source, load) in FILE_AND_MEMORY {
        let tls = TlsSettings {
            ca: load(&c.other_ca),
            client_cert: load(&c.client_ec_cert),
            client_key: load(&c.client_ec_pkcs8_key),
            ..TlsSettings::default()
        };
        let raw = client_tls(tls.clone());
        for e in [
            ep("localhost", broker.tls_port(), TransportKind::Tls),
            ep("localhost", broker.wss_port(), TransportKind::WebSocketTls),
        ] {
            let err = block_on(async {
                timeout(LIMIT, Stream::connect(&e, Some(raw.clone()), None))
                    .await
                    .unwrap_or_else(|_| panic!("timed out"))
                    .expect_err("a server signed by another CA must be refused")
            });
            assert!(err.is_tls(), "{source} {:?}: {err}", e.kind);
            assert!(
                err.to_string().contains("not signed by the configured CA"),
                "{source} {:?}: {err}",
                e.kind
            );
        }
        let err = connect_error(tls_config(
            "localhost",
            broker.tls_port(),
            &unique_id("wrongca"),
            tls,
        ));
        assert_eq!(err.code, jobs_result::Tls, "wrong CA from {source}: {err}");
    }
}

/// A server certificate signed by the trusted CA but naming only `wrong.example`: refused via
/// `localhost` and via `127.0.0.1`, at the transport (with the reason) and by the engine.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn wrong_host_name_is_refused_with_a_tls_error() {
    let c = certs();
    let broker = Mosquitto::start_with_server_cert(
        MosqOpts {
            tls: true,
            require_cert: false,
            websockets: false,
        },
        &c.wrong_name_cert,
        &c.wrong_name_key,
    );
    for host in ["localhost", "127.0.0.1"] {
        let err = block_on(async {
            timeout(
                LIMIT,
                Stream::connect(
                    &ep(host, broker.tls_port(), TransportKind::Tls),
                    Some(ca_only()),
                    None,
                ),
            )
            .await
            .unwrap_or_else(|_| panic!("timed out"))
            .expect_err("a certificate for wrong.example must not be accepted")
        });
        assert!(err.is_tls(), "{host}: {err}");
        assert!(
            err.to_string().contains("does not name this host"),
            "{host}: {err}"
        );

        let tls = mutual_tls(pem_file, &c.client_rsa_cert, &c.client_rsa_pkcs1_key);
        let err = connect_error(tls_config(
            host,
            broker.tls_port(),
            &unique_id("wronghost"),
            tls,
        ));
        assert_eq!(err.code, jobs_result::Tls, "wrong host {host}: {err}");
    }
}

/// With TLS 1.3 the server checks the client certificate after our side of the handshake has
/// finished, so the refusal shows up either in `connect` (WebSocket: during the upgrade) or as a
/// TLS alert on the first read (plain TLS: while waiting for CONNACK). Both must be classified
/// as TLS failures, with `hint` in the message, never as a mere closed connection.
async fn expect_refused(m: &Mosquitto, cfg: Arc<rustls::ClientConfig>, hint: &str) {
    for e in [
        ep("localhost", m.tls_port(), TransportKind::Tls),
        ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
    ] {
        match timeout(LIMIT, Stream::connect(&e, Some(cfg.clone()), None)).await {
            Err(_) => panic!("timed out"),
            Ok(Err(err)) => {
                assert!(err.is_tls(), "{:?}: {err}", e.kind);
                assert!(err.to_string().contains(hint), "{:?}: {err}", e.kind);
            }
            Ok(Ok(mut s)) => {
                let mut c = Connect::new(unique_id("refused"));
                c.keep_alive = 30;
                let mut out = BytesMut::new();
                Packet::Connect(c)
                    .write(&mut out, MAX_PACKET)
                    .unwrap_or_else(|e| panic!("{e:?}"));
                let mut buf = BytesMut::new();
                let result = match s.write_all(&out).await {
                    Err(w) => Err(w),
                    Ok(()) => timeout(LIMIT, s.read_buf(&mut buf))
                        .await
                        .unwrap_or_else(|_| panic!("no refusal within {LIMIT:?}")),
                };
                match result {
                    Err(io) => {
                        assert!(is_tls_io_error(&io), "{:?}: {io}", e.kind);
                        let text = describe_io_error(&io);
                        assert!(text.contains(hint), "{:?}: {text}", e.kind);
                    }
                    Ok(n) => panic!("{:?}: expected a TLS alert, read {n} bytes", e.kind),
                }
            }
        }
    }
}

/// A broker that requires a client certificate refuses a client without one and a client
/// whose certificate another CA signed: the transport names the reason (TLS and secure
/// WebSocket), the engine reports `Tls` and no MQTT session starts.
#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn missing_or_foreign_client_certificate_is_refused() {
    let c = certs();
    let broker = mutual_tls_broker(true);
    block_on(async {
        expect_refused(&broker, ca_only(), "requires a client certificate").await;
        let foreign = client_tls(mutual_tls(
            pem_file,
            &c.other_client_cert,
            &c.other_client_key,
        ));
        expect_refused(&broker, foreign, "refused the client certificate").await;
    });

    let tls = TlsSettings {
        ca: pem_file(&c.ca),
        ..TlsSettings::default()
    };
    let id = unique_id("nocert");
    let err = connect_error(tls_config("localhost", broker.tls_port(), &id, tls));
    // TLS 1.3: the refusal arrives as an alert after the client's handshake finished; the
    // engine still reports it as a TLS failure, not as a generic network error.
    assert_eq!(err.code, jobs_result::Tls, "missing client cert: {err}");
    assert!(
        !broker.log().contains(&format!(" as {id} (")),
        "the broker accepted an MQTT session without a client certificate"
    );
}

fn mtls_rsa_pkcs1(alpn: Vec<Vec<u8>>) -> Arc<rustls::ClientConfig> {
    let c = certs();
    client_tls(TlsSettings {
        alpn,
        ..mutual_tls(pem_file, &c.client_rsa_cert, &c.client_rsa_pkcs1_key)
    })
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn alpn_can_be_requested() {
    let m = mutual_tls_broker(false);
    let e = ep("localhost", m.tls_port(), TransportKind::Tls);
    block_on(open_and_round_trip(
        &e,
        Some(mtls_rsa_pkcs1(vec![ALPN_AWS_MQTT_CA.to_vec()])),
    ));
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn tls_1_3_only_broker_accepts_us() {
    // `tls_version tlsv1.3` pins mosquitto 2.0 to TLS 1.3 (its `tlsv1.2` still allows 1.3).
    let m = Mosquitto::start_with(
        MosqOpts {
            tls: true,
            require_cert: true,
            websockets: true,
        },
        MosqExtra {
            tls_lines: "tls_version tlsv1.3\n".into(),
            ..MosqExtra::default()
        },
    );
    for e in [
        ep("localhost", m.tls_port(), TransportKind::Tls),
        ep("localhost", m.wss_port(), TransportKind::WebSocketTls),
    ] {
        block_on(open_and_round_trip(&e, Some(mtls_rsa_pkcs1(Vec::new()))));
    }
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn tls_1_2_only_server_accepts_us_and_sees_our_alpn() {
    // openssl s_server: TLS 1.2 only, client certificate required, ALPN as AWS IoT on 443.
    let server = OpensslServer::start(&[
        "-tls1_2",
        "-Verify",
        "1",
        "-verify_return_error",
        "-alpn",
        "x-amzn-mqtt-ca",
    ]);
    let cfg = mtls_rsa_pkcs1(vec![ALPN_AWS_MQTT_CA.to_vec()]);
    block_on(async {
        let e = ep("localhost", server.port, TransportKind::Tls);
        let mut s = open(&e, Some(cfg), None).await;
        timeout(LIMIT, s.write_all(b"hello-from-iotjobs\n"))
            .await
            .unwrap_or_else(|_| panic!("write timed out"))
            .unwrap_or_else(|e| panic!("write: {e}"));
        assert!(
            server.wait_for("hello-from-iotjobs", LIMIT),
            "{}",
            server.output()
        );
        let out = server.output();
        assert!(
            out.contains("ALPN protocols selected: x-amzn-mqtt-ca"),
            "{out}"
        );
        s.shutdown().await;
    });
}

// ---------------------------------------------------------------------------------------------
// The C API's TLS setters (through the Rust `extern "C"` functions).

mod c_api {
    use super::support::c_api::{cstr, ok};
    use iotjobs::ffi::config::*;
    use std::ffi::{c_char, c_void};
    use std::sync::Mutex;

    pub type Received = Mutex<Vec<(String, Vec<u8>)>>;

    /// The message callback: appends (topic, payload) to the `Received` behind `user_data`.
    pub unsafe extern "C" fn on_message(
        user_data: *mut c_void,
        topic: *const c_char,
        topic_len: usize,
        payload: *const u8,
        payload_len: usize,
    ) {
        let sink = &*(user_data as *const Received);
        let topic = std::slice::from_raw_parts(topic as *const u8, topic_len);
        let payload = if payload_len == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(payload, payload_len).to_vec()
        };
        if let Ok(mut v) = sink.lock() {
            v.push((String::from_utf8_lossy(topic).into_owned(), payload));
        }
    }

    /// Where the TLS material comes from.
    pub enum Pem {
        Files,
        /// PEM buffers; `with_nul` passes `len + 1` with the terminating NUL, as C code does
        /// with `sizeof` of a string literal.
        Memory {
            with_nul: bool,
        },
    }

    /// A TLS config for `localhost:port` with keep-alive `keep_alive` (clamped by the API).
    pub unsafe fn tls_config(
        port: u16,
        client_id: &str,
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
        pem: &Pem,
        keep_alive: u32,
    ) -> *mut jobs_config {
        let mut cfg = std::ptr::null_mut();
        ok(jobs_config_new(&mut cfg), "jobs_config_new");
        ok(
            jobs_config_set_endpoint(cfg, cstr("localhost").as_ptr(), port),
            "endpoint",
        );
        ok(
            jobs_config_set_transport(cfg, jobs_transport::Tls as u32),
            "transport",
        );
        ok(
            jobs_config_set_client_id(cfg, cstr(client_id).as_ptr()),
            "client id",
        );
        ok(jobs_config_set_keep_alive(cfg, keep_alive), "keep-alive");
        ok(jobs_config_set_timeouts(cfg, 10_000, 10_000), "timeouts");
        match pem {
            Pem::Files => {
                let p = |p: &std::path::Path| cstr(&p.display().to_string());
                ok(jobs_config_set_ca_file(cfg, p(ca).as_ptr()), "ca file");
                ok(
                    jobs_config_set_cert_file(cfg, p(cert).as_ptr()),
                    "cert file",
                );
                ok(jobs_config_set_key_file(cfg, p(key).as_ptr()), "key file");
            }
            Pem::Memory { with_nul, .. } => {
                for (path, set, what) in [
                    (
                        ca,
                        jobs_config_set_ca_pem as unsafe extern "C" fn(_, _, _) -> _,
                        "ca",
                    ),
                    (cert, jobs_config_set_cert_pem, "cert"),
                    (key, jobs_config_set_key_pem, "key"),
                ] {
                    let mut bytes =
                        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    if *with_nul {
                        bytes.push(0);
                    }
                    // The setter copies: the buffer may go away right after.
                    ok(set(cfg, bytes.as_ptr(), bytes.len()), what);
                }
            }
        }
        cfg
    }
}

#[test]
#[ignore = "needs mosquitto: run by .ci/run with --ignored"]
fn c_api_mutual_tls_round_trip_from_files_and_pem_buffers() {
    use c_api::*;
    use iotjobs::ffi::config::jobs_config_free;
    use iotjobs::ffi::connection::*;
    use support::c_api::{cstr, last_error, ok};
    let broker = mutual_tls_broker(false);
    let c = certs();
    let variants = [
        (
            &c.client_rsa_cert,
            &c.client_rsa_pkcs1_key,
            Pem::Files,
            "RSA PKCS#1 files",
        ),
        (
            &c.client_ec_cert,
            &c.client_ec_sec1_key,
            Pem::Memory { with_nul: false },
            "EC SEC1 buffers",
        ),
        (
            &c.client_rsa_cert,
            &c.client_rsa_pkcs8_key,
            Pem::Memory { with_nul: true },
            "RSA PKCS#8 buffers with their NUL",
        ),
    ];
    for (cert, key, pem, label) in variants {
        let id = unique_id("capi");
        let received: Received = Mutex::new(Vec::new());
        // SAFETY: every handle is created, used and freed here, in order; `received` outlives
        // the connection (freed below, after which no callback runs).
        unsafe {
            // 10 s is below AWS's floor: the C API clamps it to 30 s, and says so on the wire.
            let cfg = tls_config(broker.tls_port(), &id, &c.ca, cert, key, &pem, 10);
            let mut conn = std::ptr::null_mut();
            ok(jobs_connection_new(cfg, &mut conn), label);
            jobs_config_free(cfg); // the connection keeps its own copy
            ok(jobs_connection_connect(conn), label);
            let topic = format!("$aws/things/{id}/jobs/notify-next");
            let (mut granted, mut delivery) = (0u8, 99u32);
            ok(
                jobs_connection_subscribe(
                    conn,
                    cstr(&topic).as_ptr(),
                    1,
                    Some(on_message),
                    &received as *const Received as *mut std::ffi::c_void,
                    &mut granted,
                    &mut delivery,
                ),
                label,
            );
            assert_eq!(
                (granted, delivery),
                (1, jobs_delivery::Sent as u32),
                "{label}"
            );
            let payload = format!("{{\"execution\":{{\"jobId\":\"{id}\"}}}}");
            ok(
                jobs_connection_publish(
                    conn,
                    cstr(&topic).as_ptr(),
                    payload.as_ptr(),
                    payload.len(),
                    1,
                    false,
                    &mut delivery,
                ),
                label,
            );
            assert_eq!(
                delivery,
                jobs_delivery::Sent as u32,
                "{label}: acknowledged"
            );
            let arrived = wait_until(WAIT, || {
                received.lock().map(|v| !v.is_empty()).unwrap_or(false)
            });
            ok(jobs_connection_disconnect(conn), label);
            jobs_connection_free(conn);
            assert!(arrived, "{label}: no message back");
            let got = received.lock().map(|v| v.clone()).unwrap_or_default();
            assert_eq!(got, vec![(topic, payload.into_bytes())], "{label}");
        }
        let line = connect_line(&broker.log(), &id);
        assert!(
            line.contains("k30"),
            "{label}: keep-alive clamped to 30 s: {line}"
        );
    }

    // A wrong CA through the C API: JOBS_RESULT_TLS with an explanation.
    // SAFETY: as above.
    unsafe {
        let cfg = tls_config(
            broker.tls_port(),
            &unique_id("capi-wrongca"),
            &c.other_ca,
            &c.client_ec_cert,
            &c.client_ec_pkcs8_key,
            &Pem::Files,
            30,
        );
        let mut conn = std::ptr::null_mut();
        ok(jobs_connection_new(cfg, &mut conn), "wrong CA: new");
        jobs_config_free(cfg);
        let r = jobs_connection_connect(conn);
        let why = last_error();
        jobs_connection_free(conn);
        assert_eq!(r, jobs_result::Tls, "wrong CA: {why}");
        assert!(
            !why.is_empty(),
            "a last-error message explains the TLS failure"
        );
    }
}
