//! Transports: plain TCP, TLS with required client certificates (rustls, ring), and MQTT over
//! WebSocket (path `/mqtt`, subprotocol `mqtt` or `mqttv3.1`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

use crate::broker::Shared;
use crate::server::{serve, Kind};

/// What the accept path needs besides the socket.
#[derive(Default)]
pub(crate) struct AcceptCtx {
    pub tls: Option<TlsAcceptor>,
}

/// Builds the TLS acceptor: server certificate chain + key, client certificates required and
/// verified against `client_ca`.
pub(crate) fn tls_acceptor(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> std::io::Result<TlsAcceptor> {
    let bad = |what: &str, p: &Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} {}: {e}", p.display()),
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("server certificate", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("server certificate", cert, &e))?;
    if chain.is_empty() {
        return Err(bad("server certificate", cert, &"no CERTIFICATE in file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("server key", key, &e))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in
        CertificateDer::pem_file_iter(client_ca).map_err(|e| bad("client CA", client_ca, &e))?
    {
        let c = c.map_err(|e| bad("client CA", client_ca, &e))?;
        roots.add(c).map_err(|e| bad("client CA", client_ca, &e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| bad("client CA", client_ca, &e))?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", cert, &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad("server certificate/key", cert, &e))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

pub(crate) async fn accept(
    shared: Arc<Shared>,
    kind: Kind,
    sock: TcpStream,
    peer: SocketAddr,
    ctx: Arc<AcceptCtx>,
) {
    match kind {
        Kind::Tcp => serve(shared, sock, peer, kind).await,
        Kind::Tls => {
            let Some(acc) = ctx.tls.clone() else { return };
            let hs = tokio::time::timeout(shared.cfg.connect_timeout, acc.accept(sock)).await;
            match hs {
                Ok(Ok(tls)) => serve(shared, tls, peer, kind).await,
                Ok(Err(e)) => shared.log.log(
                    &format!("<{peer} Tls>"),
                    format_args!("TLS handshake failed: {e}"),
                ),
                Err(_) => shared.log.log(
                    &format!("<{peer} Tls>"),
                    format_args!("TLS handshake timed out"),
                ),
            }
        }
        Kind::Ws => websocket(shared, sock, peer).await,
    }
}

/// Chooses the WebSocket subprotocol: `mqtt` or `mqttv3.1`; refuses other paths.
#[allow(clippy::result_large_err)]
fn ws_callback(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() != "/mqtt" {
        let mut e = ErrorResponse::new(Some("MQTT over WebSocket lives at /mqtt".into()));
        *e.status_mut() = StatusCode::NOT_FOUND;
        return Err(e);
    }
    let offered: Vec<String> = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some(p) = offered.iter().find(|p| *p == "mqtt" || *p == "mqttv3.1") {
        if let Ok(v) = HeaderValue::from_str(p) {
            resp.headers_mut().insert("Sec-WebSocket-Protocol", v);
        }
    }
    Ok(resp)
}

async fn websocket(shared: Arc<Shared>, sock: TcpStream, peer: SocketAddr) {
    let who = format!("<{peer} Ws>");
    let hs = tokio::time::timeout(
        shared.cfg.connect_timeout,
        tokio_tungstenite::accept_hdr_async(sock, ws_callback),
    )
    .await;
    let ws = match hs {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            shared
                .log
                .log(&who, format_args!("WebSocket handshake failed: {e}"));
            return;
        }
        Err(_) => {
            shared
                .log
                .log(&who, format_args!("WebSocket handshake timed out"));
            return;
        }
    };
    // Bridge WebSocket binary frames to a byte pipe that the MQTT session reads and writes.
    let (mqtt_side, mut pump_side) = tokio::io::duplex(256 * 1024);
    let session = tokio::spawn(serve(shared.clone(), mqtt_side, peer, Kind::Ws));
    let (mut sink, mut stream) = ws.split();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(b))) => {
                    if pump_side.write_all(&b).await.is_err() { break; }
                }
                Some(Ok(Message::Ping(p))) => { let _ = sink.send(Message::Pong(p)).await; }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            n = pump_side.read(&mut buf) => match n {
                Ok(0) | Err(_) => { let _ = sink.send(Message::Close(None)).await; break; }
                Ok(n) => {
                    if sink.send(Message::binary(buf[..n].to_vec())).await.is_err() { break; }
                }
            }
        }
    }
    drop(pump_side);
    let _ = session.await;
}
