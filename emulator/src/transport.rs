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
use crate::custom_auth::{self, AuthRequest, AuthVia, ConnAuth, Presented};
use crate::server::{serve, Kind};

/// What the accept path needs besides the socket.
#[derive(Default)]
pub(crate) struct AcceptCtx {
    /// Replaceable: [`crate::Emulator::set_tls_client_ca`] changes which client certificates
    /// new connections may present.
    pub tls: std::sync::Mutex<Option<TlsAcceptor>>,
    pub wss: Option<TlsAcceptor>,
}

/// ALPN protocols the TLS listeners accept: AWS's `x-amzn-mqtt-ca` (MQTT with a certificate on
/// port 443), `mqtt` (custom authorizer) and `http/1.1` (WebSocket). A client offering none of
/// these fails the handshake, as with AWS; a client offering no ALPN is fine.
pub const ALPN: [&[u8]; 3] = [b"x-amzn-mqtt-ca", b"mqtt", b"http/1.1"];

/// Builds a TLS acceptor: server certificate chain + key; when `client_ca` is given, client
/// certificates are verified against it, and required unless `optional_client_cert` (a
/// custom authorizer: such connections must then negotiate ALPN `mqtt`, see [`accept`]).
pub(crate) fn tls_acceptor(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    optional_client_cert: bool,
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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", cert, &e))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| bad("client CA", ca, &e))? {
                let c = c.map_err(|e| bad("client CA", ca, &e))?;
                roots.add(c).map_err(|e| bad("client CA", ca, &e))?;
            }
            let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if optional_client_cert {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier.build().map_err(|e| bad("client CA", ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad("server certificate/key", cert, &e))?;
    cfg.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

pub(crate) async fn accept(
    shared: Arc<Shared>,
    kind: Kind,
    sock: TcpStream,
    peer: SocketAddr,
    ctx: Arc<AcceptCtx>,
) {
    let acceptor = match kind {
        Kind::Tcp => return serve(shared, sock, peer, kind, ConnAuth::None).await,
        Kind::Ws => return websocket(shared, sock, peer, kind, None).await,
        Kind::Tls => crate::broker::lock(&ctx.tls).clone(),
        Kind::Wss => ctx.wss.clone(),
    };
    let Some(acc) = acceptor else { return };
    let who = format!("<{peer} {kind:?}>");
    match tokio::time::timeout(shared.cfg.connect_timeout, acc.accept(sock)).await {
        Ok(Ok(tls)) => {
            let (_, c) = tls.get_ref();
            shared.log.log(
                &who,
                format_args!(
                    "TLS ok: SNI {:?}, ALPN {:?}",
                    c.server_name().unwrap_or("-"),
                    c.alpn_protocol().map(String::from_utf8_lossy)
                ),
            );
            let alpn = c
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let no_cert = c.peer_certificates().is_none_or(|v| v.is_empty());
            if kind == Kind::Wss {
                websocket(shared, tls, peer, kind, alpn).await
            } else if no_cert {
                // Only a custom authorizer lets a TLS client in without a certificate, and AWS
                // runs one only for ALPN `mqtt`.
                if alpn.as_deref() != Some("mqtt") {
                    shared.log.log(
                        &who,
                        format_args!(
                            "closed: no client certificate and ALPN {alpn:?}, not \"mqtt\""
                        ),
                    );
                    return;
                }
                serve(shared, tls, peer, kind, ConnAuth::Username { alpn }).await
            } else {
                serve(shared, tls, peer, kind, ConnAuth::None).await
            }
        }
        Ok(Err(e)) => shared
            .log
            .log(&who, format_args!("TLS handshake failed: {e}")),
        Err(_) => shared
            .log
            .log(&who, format_args!("TLS handshake timed out")),
    }
}

/// Chooses the WebSocket subprotocol: `mqtt` or `mqttv3.1`; refuses other paths. Every
/// upgrade request is kept (URI and headers) for [`crate::Emulator::ws_requests`].
#[allow(clippy::result_large_err)]
fn ws_callback(
    shared: &Shared,
    req: &Request,
    mut resp: Response,
    found: &std::sync::Mutex<Option<(Presented, AuthVia)>>,
) -> Result<Response, ErrorResponse> {
    shared.ws_requests_push(crate::WsRequest {
        uri: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    });
    if req.uri().path() != "/mqtt" {
        let mut e = ErrorResponse::new(Some("MQTT over WebSocket lives at /mqtt".into()));
        *e.status_mut() = StatusCode::NOT_FOUND;
        return Err(e);
    }
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut by_authorizer = false;
    if let Some(ca) = &shared.cfg.custom_authorizer {
        let query = custom_auth::from_query(req.uri().query().unwrap_or(""), &ca.token_key_name);
        let presented = if header(custom_auth::NAME_PARAM).is_some() {
            Some((
                Presented {
                    authorizer_name: header(custom_auth::NAME_PARAM),
                    signature: header(custom_auth::SIGNATURE_PARAM),
                    token: header(&ca.token_key_name),
                },
                AuthVia::Headers,
            ))
        } else if query.authorizer_name.is_some() {
            Some((query, AuthVia::Query))
        } else {
            None
        };
        let refuse = |why: String| {
            shared
                .log
                .log("<ws>", format_args!("upgrade refused (401): {why}"));
            let mut e = ErrorResponse::new(Some(why));
            *e.status_mut() = StatusCode::UNAUTHORIZED;
            e
        };
        match presented {
            Some((p, via)) => {
                if let Err(why) = custom_auth::check_presented(ca, &p) {
                    shared.auth_record_push(crate::AuthRecord {
                        via,
                        alpn: None,
                        authorizer_name: p.authorizer_name.clone(),
                        signature: p.signature.clone(),
                        request: AuthRequest {
                            token: p.token.clone(),
                            username: None,
                            password: None,
                            client_id: String::new(),
                        },
                        outcome: Err(why.clone()),
                    });
                    return Err(refuse(why));
                }
                *crate::broker::lock(found) = Some((p, via));
                by_authorizer = true;
            }
            // With SigV4 configured too, an upgrade without the authorizer is SigV4's.
            None if shared.cfg.sigv4.is_none() => {
                return Err(refuse(format!(
                    "no {} in the headers or the query",
                    custom_auth::NAME_PARAM
                )));
            }
            None => {}
        }
    }
    if let (Some(keys), false) = (&shared.cfg.sigv4, by_authorizer) {
        let upgrade = crate::sigv4::Upgrade {
            path: req.uri().path(),
            query: req.uri().query().unwrap_or(""),
            header: &header,
        };
        if let Err(why) = crate::sigv4::verify(keys, &upgrade, std::time::SystemTime::now()) {
            shared
                .log
                .log("<ws>", format_args!("upgrade refused (403): {why}"));
            let mut e = ErrorResponse::new(Some(why.to_string()));
            *e.status_mut() = StatusCode::FORBIDDEN;
            return Err(e);
        }
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

async fn websocket<S>(
    shared: Arc<Shared>,
    sock: S,
    peer: SocketAddr,
    kind: Kind,
    alpn: Option<String>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let who = format!("<{peer} {kind:?}>");
    let sh = shared.clone();
    let found = Arc::new(std::sync::Mutex::new(None));
    let seen = found.clone();
    #[allow(clippy::result_large_err)]
    let cb = move |req: &Request, resp: Response| ws_callback(&sh, req, resp, &seen);
    let hs = tokio::time::timeout(
        shared.cfg.connect_timeout,
        tokio_tungstenite::accept_hdr_async(sock, cb),
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
    let auth = match crate::broker::lock(&found).take() {
        Some((presented, via)) => ConnAuth::Upgrade {
            presented,
            via,
            alpn,
        },
        None => ConnAuth::None,
    };
    let session = tokio::spawn(serve(shared.clone(), mqtt_side, peer, kind, auth));
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
