//! TLS with required client certificates and MQTT over WebSocket, with in-test clients.
//! The TLS tests generate certificates with the `openssl` command; without it they do not run,
//! except in CI, where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use iotjobs_emulator::{Emulator, EmulatorConfig, Packet, TlsConfig};
use rumqttc::mqttbytes::v4::{Connect, ConnectReturnCode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connect_bytes(id: &str) -> Vec<u8> {
    let mut b = BytesMut::new();
    Packet::Connect(Connect::new(id))
        .write(&mut b, 1 << 20)
        .unwrap();
    b.to_vec()
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// CA + server (localhost) + client certificates in a fresh directory; None without openssl.
fn make_certs() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "iotjobs-emu-certs-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    if !openssl(&dir, &ca) {
        return None;
    }
    for (name, eku, san) in [
        ("server", "serverAuth", "DNS:localhost,IP:127.0.0.1"),
        ("client", "clientAuth", "DNS:dev1"),
    ] {
        let mut req = vec!["req"];
        req.extend(ec);
        let (k, c) = (format!("{name}.key"), format!("{name}.csr"));
        let subj = format!("/CN={name}");
        req.extend(["-keyout", &k, "-out", &c, "-subj", &subj]);
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={eku}\nsubjectAltName={san}\n"
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).ok()?;
        let (pem, extf) = (format!("{name}.pem"), format!("{name}.ext"));
        let sign = [
            "x509",
            "-req",
            "-in",
            &c,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &extf,
        ];
        if !openssl(&dir, &req) || !openssl(&dir, &sign) {
            return None;
        }
    }
    Some(dir)
}

/// The certificates, or `None` outside CI when openssl is missing (a developer without it can
/// still run the rest). In CI, where `.ci/run` installs openssl, a missing openssl fails.
fn certs_unless_no_openssl() -> Option<std::path::PathBuf> {
    let dir = make_certs();
    if dir.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is required in CI: the TLS tests never skip there"
        );
        eprintln!("not run: openssl not available");
    }
    dir
}

#[test]
fn tls_requires_a_client_certificate() {
    let Some(dir) = certs_unless_no_openssl() else {
        return;
    };
    let cfg = EmulatorConfig {
        tls: Some(TlsConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: dir.join("ca.pem"),
        }),
        ..Default::default()
    };
    let e = Emulator::start(cfg).unwrap();
    let addr = e.tls_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
    };
    let with_cert = builder()
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_file(dir.join("client.pem")).unwrap()],
            PrivateKeyDer::from_pem_file(dir.join("client.key")).unwrap(),
        )
        .unwrap();
    let without = builder().with_no_client_auth();
    rt().block_on(async {
        // with a certificate: CONNECT → CONNACK
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn = tokio_rustls::TlsConnector::from(Arc::new(with_cert));
        let mut tls = conn
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(&connect_bytes("tls-dev")).await.unwrap();
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(buf, [0x20, 0x02, 0x00, 0x00]);
        // without: the handshake or the first read fails, no CONNACK
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn = tokio_rustls::TlsConnector::from(Arc::new(without));
        if let Ok(mut tls) = conn
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
        {
            let _ = tls.write_all(&connect_bytes("nocert")).await;
            let r = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
                .await
                .unwrap();
            assert!(
                !matches!(r, Ok(n) if n > 0),
                "got bytes without a client certificate"
            );
        }
        assert_eq!(e.connected_clients(), vec!["tls-dev".to_string()]);
    });
    drop(e);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_tls_files_are_clear_errors() {
    let cfg = EmulatorConfig {
        tls: Some(TlsConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: "/nonexistent/server.pem".into(),
            key: "/nonexistent/server.key".into(),
            client_ca: "/nonexistent/ca.pem".into(),
        }),
        ..Default::default()
    };
    let err = Emulator::start(cfg).err().unwrap().to_string();
    assert!(
        err.contains("server certificate /nonexistent/server.pem"),
        "{err}"
    );
    let cfg = EmulatorConfig {
        bind: "10.1.2.3:0".parse().unwrap(),
        ..Default::default()
    };
    assert!(Emulator::start(cfg)
        .err()
        .unwrap()
        .to_string()
        .contains("not loopback"));
}

#[test]
fn websocket_with_mqtt_subprotocols() {
    let cfg = EmulatorConfig {
        ws: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let e = Emulator::start(cfg).unwrap();
    let addr = e.ws_addr().unwrap();
    rt().block_on(async {
        let mut keep = Vec::new();
        for proto in ["mqtt", "mqttv3.1"] {
            let mut req = format!("ws://{addr}/mqtt").into_client_request().unwrap();
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", proto.parse().unwrap());
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
            assert_eq!(resp.headers()["Sec-WebSocket-Protocol"], proto);
            ws.send(Message::binary(connect_bytes(&format!("ws-{proto}"))))
                .await
                .unwrap();
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let mut b = BytesMut::from(&msg.into_data()[..]);
            match Packet::read(&mut b, 1024).unwrap() {
                Packet::ConnAck(a) => assert_eq!(a.code, ConnectReturnCode::Success),
                p => panic!("{p:?}"),
            }
            // a PINGREQ split across two frames still parses
            ws.send(Message::binary(vec![0xc0])).await.unwrap();
            ws.send(Message::binary(vec![0x00])).await.unwrap();
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(&msg.into_data()[..], &[0xd0, 0x00]);
            keep.push(ws);
        }
        let ids = e.connected_clients();
        assert!(ids.contains(&"ws-mqtt".to_string()) && ids.contains(&"ws-mqttv3.1".to_string()));
        // wrong path: refused
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("ws://{addr}/other").into_client_request().unwrap();
        assert!(tokio_tungstenite::client_async(req, tcp).await.is_err());
    });
}

#[test]
fn secure_websocket_with_alpn_and_recorded_request() {
    let Some(dir) = certs_unless_no_openssl() else {
        return;
    };
    let cfg = EmulatorConfig {
        wss: Some(iotjobs_emulator::WssConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }),
        ..Default::default()
    };
    let e = Emulator::start(cfg).unwrap();
    let addr = e.wss_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap())
        .unwrap();
    let mut cc = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cc.alpn_protocols = vec![b"http/1.1".to_vec()];
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cc))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut req = format!("wss://localhost:{}/mqtt?X-Amz-Signature=abc", addr.port())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
        ws.send(Message::binary(connect_bytes("wss-dev")))
            .await
            .unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(&msg.into_data()[..], &[0x20, 0x02, 0x00, 0x00]);
    });
    let reqs = e.ws_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].uri, "/mqtt?X-Amz-Signature=abc");
    assert!(reqs[0]
        .headers
        .iter()
        .any(|(k, v)| k == "sec-websocket-protocol" && v == "mqtt"));
    drop(e);
    let _ = std::fs::remove_dir_all(dir);
}
