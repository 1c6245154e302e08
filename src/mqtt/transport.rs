//! Byte transports under the MQTT session: TCP, TLS, and MQTT over WebSocket (plain or TLS).
//!
//! The session engine sees one `Stream` type with three operations (read into a buffer, write a
//! packet, shut down), whatever the wire. TLS always verifies the server name (SNI = the host).

use bytes::BytesMut;
#[cfg(feature = "websocket")]
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::http::HeaderValue;
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
#[cfg(feature = "websocket")]
use tokio_tungstenite::tungstenite::{self, Message};
#[cfg(feature = "websocket")]
use tokio_tungstenite::WebSocketStream;

/// The HTTP request of the WebSocket upgrade, as given to a [`RequestHook`].
#[cfg(feature = "websocket")]
pub type WsRequest = tungstenite::handshake::client::Request;
/// Without the `websocket` feature there is no upgrade request: a hook can never be called.
#[cfg(not(feature = "websocket"))]
pub enum WsRequest {}

/// Called with the WebSocket upgrade request on every connect, before it is sent; it may rewrite
/// the URI and headers (for example [`super::sigv4::presign_request`]).
pub type RequestHook = dyn Fn(&mut WsRequest) + Send + Sync;

pub use super::types::TransportKind;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (an IPv6 address may be written with or without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport stack.
    pub kind: TransportKind,
    /// WebSocket request path, normally `/mqtt`; ignored for TCP and TLS.
    pub ws_path: String,
}

/// Which stage of connecting failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Tcp,
    /// TLS setup or handshake (including a certificate the server or we refused).
    Tls,
    /// WebSocket upgrade.
    WebSocket,
}

/// A failure to open a transport: the stage and a message naming the endpoint and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
}

impl TransportError {
    fn new(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// The stage that failed.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// True when TLS failed (bad certificate, wrong name, refused client certificate…), as
    /// opposed to the network: such errors will not go away by retrying.
    pub fn is_tls(&self) -> bool {
        self.kind == TransportErrorKind::Tls
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// TCP or TLS-over-TCP: the byte stream a WebSocket runs on.
enum Io {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

enum Inner {
    Raw(Io),
    #[cfg(feature = "websocket")]
    Ws(Box<WebSocketStream<Io>>),
}

/// An open transport to the broker.
pub struct Stream {
    inner: Inner,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            Inner::Raw(Io::Tcp(_)) => "Tcp",
            Inner::Raw(Io::Tls(_)) => "Tls",
            #[cfg(feature = "websocket")]
            Inner::Ws(_) => "WebSocket",
        };
        f.debug_struct("Stream").field("kind", &kind).finish()
    }
}

/// Bound on the goodbye in [`Stream::shutdown`]: a stuck peer must not stall a disconnect.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(2);
/// Read-ahead reserved before each raw read, so one call moves a useful amount of data.
const READ_RESERVE: usize = 8 * 1024;

/// `host` without the brackets of an IPv6 literal.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Dns,
                    format!("cannot resolve host '{host}': {e}"),
                )
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(TransportError::new(
            TransportErrorKind::Dns,
            format!("host '{host}' resolved to no address"),
        ));
    }
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // MQTT packets are small and latency-bound: never wait for Nagle.
                s.set_nodelay(true).map_err(|e| {
                    TransportError::new(
                        TransportErrorKind::Tcp,
                        format!("TCP_NODELAY on {addr}: {e}"),
                    )
                })?;
                return Ok(s);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let detail = match last {
        Some((addr, e)) => format!("{addr}: {e}"),
        None => "no address".into(),
    };
    Err(TransportError::new(
        TransportErrorKind::Tcp,
        format!("cannot connect to {host}:{port} ({detail})"),
    ))
}

/// The rustls error inside an I/O error, if there is one.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// True when an error from [`Stream::read_buf`] or [`Stream::write_all`] was raised by TLS.
/// With TLS 1.3 the server checks our client certificate after our side of the handshake is
/// done, so a refused certificate first shows up here (typically while waiting for CONNACK),
/// not in [`Stream::connect`]; such a failure should be reported as a TLS error.
pub fn is_tls_io_error(e: &io::Error) -> bool {
    rustls_error(e).is_some()
}

/// A message for an I/O error on an open stream, explaining TLS alerts about our certificate.
pub fn describe_io_error(e: &io::Error) -> String {
    use rustls::AlertDescription as A;
    let hint = match rustls_error(e) {
        Some(rustls::Error::AlertReceived(A::CertificateRequired)) => {
            " (the server requires a client certificate)"
        }
        Some(rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::AccessDenied,
        )) => " (the server refused the client certificate)",
        Some(_) => " (TLS failure)",
        None => "",
    };
    format!("{e}{hint}")
}

/// Explains a TLS handshake failure with the likely cause.
fn tls_failure(host: &str, port: u16, e: &io::Error) -> TransportError {
    use rustls::{CertificateError, Error as E};
    let hint = match rustls_error(e) {
        Some(E::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            " (the server certificate is not signed by the configured CA)"
        }
        Some(E::InvalidCertificate(CertificateError::NotValidForName))
        | Some(E::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            " (the server certificate does not name this host)"
        }
        Some(E::InvalidCertificate(CertificateError::Expired))
        | Some(E::InvalidCertificate(CertificateError::ExpiredContext { .. })) => {
            " (the server certificate has expired, or the system clock is wrong)"
        }
        Some(E::AlertReceived(_)) => {
            " (the server refused the handshake; check the client certificate and key)"
        }
        Some(E::NoApplicationProtocol) => " (the server accepts none of the ALPN protocols)",
        _ if e.kind() == io::ErrorKind::UnexpectedEof => {
            " (the server closed the connection; it may require a client certificate or not speak TLS)"
        }
        _ => "",
    };
    TransportError::new(
        TransportErrorKind::Tls,
        format!("TLS handshake with {host}:{port} failed: {e}{hint}"),
    )
}

async fn connect_tls(
    tcp: TcpStream,
    host: &str,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<TlsStream<TcpStream>, TransportError> {
    let config = tls.ok_or_else(|| {
        TransportError::new(
            TransportErrorKind::Tls,
            "TLS transport without a TLS configuration (a CA is required)",
        )
    })?;
    // An IP literal becomes an IP ServerName (checked against IP SANs, no SNI sent); a name is
    // sent as SNI and verified. There is no way to turn verification off.
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        TransportError::new(
            TransportErrorKind::Tls,
            format!("'{host}' is not a valid TLS server name: {e}"),
        )
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_failure(host, port, &e))
}

#[cfg(feature = "websocket")]
/// The upgrade request for `ep`: standard WebSocket headers plus `Sec-WebSocket-Protocol: mqtt`.
/// The default port is left out of `Host` (AWS signs the bare host name).
fn ws_request(ep: &Endpoint, host: &str) -> Result<WsRequest, TransportError> {
    let tls = ep.kind == TransportKind::WebsocketTls;
    let scheme = if tls { "wss" } else { "ws" };
    let authority_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let default_port = if tls { 443 } else { 80 };
    let authority = if ep.port == default_port {
        authority_host
    } else {
        format!("{authority_host}:{}", ep.port)
    };
    let path = if ep.ws_path.is_empty() {
        "/mqtt".to_owned()
    } else if ep.ws_path.starts_with('/') {
        ep.ws_path.clone()
    } else {
        format!("/{}", ep.ws_path)
    };
    let url = format!("{scheme}://{authority}{path}");
    let mut req = url.as_str().into_client_request().map_err(|e| {
        TransportError::new(
            TransportErrorKind::WebSocket,
            format!("invalid WebSocket URL {url}: {e}"),
        )
    })?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    Ok(req)
}

#[cfg(feature = "websocket")]
/// Maps a failed upgrade; TLS failures surfacing during it (TLS 1.3 client-certificate refusal
/// arrives after our side of the handshake) stay TLS errors.
fn ws_failure(url: &str, e: tungstenite::Error) -> TransportError {
    if let tungstenite::Error::Io(io) = &e {
        if is_tls_io_error(io) {
            return TransportError::new(
                TransportErrorKind::Tls,
                format!(
                    "TLS failure during the WebSocket upgrade at {url}: {}",
                    describe_io_error(io)
                ),
            );
        }
    }
    let detail = match &e {
        tungstenite::Error::Http(resp) if resp.status().as_u16() == 403 => format!(
            "HTTP status {} (for AWS SigV4: check the credentials, the region and the clock; for a custom authorizer: its decision)",
            resp.status()
        ),
        tungstenite::Error::Http(resp) if resp.status().as_u16() == 401 => format!(
            "HTTP status {} (for an AWS IoT custom authorizer: check its name, the token and the signature)",
            resp.status()
        ),
        tungstenite::Error::Http(resp) => format!("HTTP status {}", resp.status()),
        other => other.to_string(),
    };
    TransportError::new(
        TransportErrorKind::WebSocket,
        format!("WebSocket upgrade at {url} failed: {detail}"),
    )
}

#[cfg(feature = "websocket")]
fn ws_io_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(io) => io,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "the WebSocket is closed")
        }
        other => io::Error::other(other),
    }
}

impl Stream {
    /// Connects TCP (TCP_NODELAY on), then TLS for the TLS kinds (SNI = host; an IP host uses an
    /// IP server name; the server name is always verified), then the WebSocket upgrade for the
    /// WebSocket kinds (subprotocol `mqtt`; `request_hook` may rewrite the request on every
    /// connect, e.g. to add a SigV4 presigned query). The caller bounds the whole call in time.
    pub async fn connect(
        ep: &Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        request_hook: Option<&RequestHook>,
    ) -> Result<Stream, TransportError> {
        let host = bare_host(ep.host.trim());
        if host.is_empty() {
            return Err(TransportError::new(
                TransportErrorKind::Dns,
                "the endpoint host is empty",
            ));
        }
        let tcp = connect_tcp(host, ep.port).await?;
        let io = if ep.kind.uses_tls() {
            Io::Tls(Box::new(connect_tls(tcp, host, ep.port, tls).await?))
        } else {
            Io::Tcp(tcp)
        };
        if !ep.kind.is_websocket() {
            return Ok(Stream {
                inner: Inner::Raw(io),
            });
        }
        Self::upgrade(ep, host, io, request_hook).await
    }

    /// Defence in depth: the configuration already refuses the WebSocket kinds in this build.
    #[cfg(not(feature = "websocket"))]
    async fn upgrade(
        _ep: &Endpoint,
        _host: &str,
        _io: Io,
        _request_hook: Option<&RequestHook>,
    ) -> Result<Stream, TransportError> {
        Err(TransportError::new(
            TransportErrorKind::WebSocket,
            "this build of iotjobs has no WebSocket transport (cargo feature `websocket`)",
        ))
    }

    /// The WebSocket upgrade over `io`.
    #[cfg(feature = "websocket")]
    async fn upgrade(
        ep: &Endpoint,
        host: &str,
        io: Io,
        request_hook: Option<&RequestHook>,
    ) -> Result<Stream, TransportError> {
        let mut req = ws_request(ep, host)?;
        if let Some(hook) = request_hook {
            hook(&mut req);
        }
        // Without the query: a presigned query carries a signature and a session token.
        let url = {
            let u = req.uri();
            let scheme = u.scheme_str().unwrap_or("ws");
            let authority = u.authority().map(|a| a.as_str()).unwrap_or_default();
            format!("{scheme}://{authority}{}", u.path())
        };
        // MQTT enforces its own packet limit; this only guards against absurd frames.
        let config = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(16 << 20));
        let (ws, _response) = tokio_tungstenite::client_async_with_config(req, io, Some(config))
            .await
            .map_err(|e| ws_failure(&url, e))?;
        Ok(Stream {
            inner: Inner::Ws(Box::new(ws)),
        })
    }

    /// Appends received bytes to `buf`; `Ok(0)` means the peer closed. Cancel-safe: dropping the
    /// future loses no data (raw reads are single reads; WebSocket frames are buffered inside
    /// tungstenite until complete).
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Raw(io) => {
                if buf.capacity() - buf.len() < READ_RESERVE / 2 {
                    buf.reserve(READ_RESERVE);
                }
                io.read_buf(buf).await
            }
            #[cfg(feature = "websocket")]
            Inner::Ws(ws) => loop {
                match ws.next().await {
                    None => return Ok(0),
                    Some(Ok(Message::Binary(data))) => {
                        if data.is_empty() {
                            // Ok(0) would read as "closed"; an empty frame carries nothing.
                            continue;
                        }
                        buf.extend_from_slice(&data);
                        return Ok(data.len());
                    }
                    Some(Ok(Message::Close(_))) => return Ok(0),
                    // tungstenite answers pings itself; the pong goes out with the next I/O.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Text(_))) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "text WebSocket frame: MQTT over WebSocket uses binary frames",
                        ))
                    }
                    Some(Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    )) => return Ok(0),
                    Some(Err(e)) => return Err(ws_io_error(e)),
                }
            },
        }
    }

    /// Writes all of `data` and flushes it (for WebSocket: one binary message).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Raw(io) => {
                io.write_all(data).await?;
                io.flush().await
            }
            #[cfg(feature = "websocket")]
            Inner::Ws(ws) => ws
                .send(Message::Binary(bytes::Bytes::copy_from_slice(data)))
                .await
                .map_err(ws_io_error),
        }
    }

    /// Closes politely (TLS close_notify, WebSocket close frame, TCP FIN), bounded in time;
    /// errors are ignored because the connection is being abandoned anyway.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(SHUTDOWN_LIMIT, async {
            match &mut self.inner {
                Inner::Raw(io) => {
                    let _ = io.shutdown().await;
                }
                #[cfg(feature = "websocket")]
                Inner::Ws(ws) => {
                    let _ = WebSocketStream::close(ws.as_mut(), None).await;
                    let _ = ws.get_mut().shutdown().await;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Runs a test body on a fresh runtime, failing it instead of hanging after 20 s.
    fn run<F: std::future::Future<Output = ()>>(body: F) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(20), body)
                    .await
                    .expect("test timed out")
            })
    }

    fn ep(host: &str, port: u16, kind: TransportKind) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
            kind,
            ws_path: "/mqtt".into(),
        }
    }

    #[test]
    fn kinds() {
        assert!(TransportKind::Tls.uses_tls() && TransportKind::WebsocketTls.uses_tls());
        assert!(!TransportKind::Tcp.uses_tls() && !TransportKind::Websocket.uses_tls());
        assert!(TransportKind::Websocket.is_websocket() && !TransportKind::Tls.is_websocket());
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn ws_request_shape() {
        let r = ws_request(
            &ep("h.example", 443, TransportKind::WebsocketTls),
            "h.example",
        )
        .unwrap();
        assert_eq!(r.uri().to_string(), "wss://h.example/mqtt");
        assert_eq!(r.headers()["host"], "h.example");
        assert_eq!(r.headers()["sec-websocket-protocol"], "mqtt");
        let r = ws_request(&ep("::1", 8080, TransportKind::Websocket), "::1").unwrap();
        assert_eq!(r.uri().to_string(), "ws://[::1]:8080/mqtt");
        let mut e = ep("h", 80, TransportKind::Websocket);
        e.ws_path = "custom".into();
        assert_eq!(
            ws_request(&e, "h").unwrap().uri().to_string(),
            "ws://h/custom"
        );
    }

    #[test]
    fn tcp_round_trip_and_close() {
        run(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let server = tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 5];
                s.read_exact(&mut b).await.unwrap();
                s.write_all(&b).await.unwrap();
            });
            let mut st = Stream::connect(&ep("127.0.0.1", port, TransportKind::Tcp), None, None)
                .await
                .unwrap();
            st.write_all(b"hello").await.unwrap();
            let mut buf = BytesMut::new();
            while buf.len() < 5 {
                assert!(st.read_buf(&mut buf).await.unwrap() > 0);
            }
            assert_eq!(&buf[..], b"hello");
            server.await.unwrap();
            assert_eq!(st.read_buf(&mut buf).await.unwrap(), 0);
            st.shutdown().await;
        });
    }

    #[test]
    fn errors_are_classified() {
        run(async {
            // A port nobody listens on (bound, then released).
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let e = Stream::connect(&ep("127.0.0.1", port, TransportKind::Tcp), None, None)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), TransportErrorKind::Tcp, "{e}");
            assert!(!e.is_tls());

            let e = Stream::connect(&ep("", port, TransportKind::Tcp), None, None)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), TransportErrorKind::Dns, "{e}");

            let e = Stream::connect(
                &ep("no-such-host.invalid", 1, TransportKind::Tcp),
                None,
                None,
            )
            .await
            .unwrap_err();
            assert_eq!(e.kind(), TransportErrorKind::Dns, "{e}");

            // TLS without a configuration is refused as a TLS error, never downgraded.
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let e = Stream::connect(&ep("127.0.0.1", port, TransportKind::Tls), None, None)
                .await
                .unwrap_err();
            assert!(e.is_tls(), "{e}");
        });
    }

    #[test]
    fn tls_to_a_non_tls_server_is_a_tls_error() {
        run(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                let _ = s.write_all(b"HTTP/1.0 400 nope\r\n\r\n").await;
            });
            let roots = rustls::RootCertStore::empty();
            let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            let e = Stream::connect(
                &ep("localhost", port, TransportKind::Tls),
                Some(Arc::new(cfg)),
                None,
            )
            .await
            .unwrap_err();
            assert!(e.is_tls(), "{e}");
            assert!(e.to_string().contains(&format!("localhost:{port}")), "{e}");
        });
    }

    #[cfg(feature = "websocket")]
    use std::sync::Mutex;
    #[cfg(feature = "websocket")]
    use tokio_tungstenite::tungstenite::handshake::server::{
        Request as ServerRequest, Response as ServerResponse,
    };

    #[cfg(feature = "websocket")]
    /// An in-process WebSocket server: accepts one client, records the request line and the
    /// subprotocol it asked for, answers `mqtt` (unless `echo_protocol` is false), then runs
    /// `script` on the connection.
    // The callback signature (with its large error type) is tungstenite's.
    #[allow(clippy::result_large_err)]
    async fn ws_server<F, Fut>(
        echo_protocol: bool,
        script: F,
    ) -> (u16, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>)
    where
        F: FnOnce(WebSocketStream<TcpStream>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            let (tcp, _) = l.accept().await.unwrap();
            let cb = move |req: &ServerRequest, mut resp: ServerResponse| {
                let mut v = seen2.lock().unwrap();
                v.push(req.uri().to_string());
                let proto = req
                    .headers()
                    .get("sec-websocket-protocol")
                    .map(|h| h.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                v.push(proto);
                v.push(
                    req.headers()
                        .get("x-test")
                        .map(|h| h.to_str().unwrap().to_owned())
                        .unwrap_or_default(),
                );
                if echo_protocol {
                    resp.headers_mut()
                        .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
                }
                Ok(resp)
            };
            if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await {
                script(ws).await;
            }
        });
        (port, seen, task)
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn websocket_reads_are_cancel_safe_and_in_order() {
        run(async {
            const N: usize = 300;
            let (port, _, server) = ws_server(true, |mut ws| async move {
                for i in 0..N {
                    let msg = vec![(i % 251) as u8; 1 + i % 700];
                    ws.send(Message::Binary(msg.into())).await.unwrap();
                    if i % 7 == 0 {
                        tokio::time::sleep(Duration::from_micros(300)).await;
                    }
                }
                ws.close(None).await.unwrap();
                while ws.next().await.is_some() {}
            })
            .await;
            let mut st =
                Stream::connect(&ep("127.0.0.1", port, TransportKind::Websocket), None, None)
                    .await
                    .unwrap();
            let mut buf = BytesMut::new();
            let mut cancelled = 0usize;
            loop {
                // A timer that often wins: dropping read_buf mid-way must lose nothing.
                tokio::select! {
                    r = st.read_buf(&mut buf) => if r.unwrap() == 0 { break },
                    _ = tokio::time::sleep(Duration::from_micros(50)) => cancelled += 1,
                }
            }
            let expected: Vec<u8> = (0..N)
                .flat_map(|i| vec![(i % 251) as u8; 1 + i % 700])
                .collect();
            assert_eq!(buf.len(), expected.len());
            assert!(buf[..] == expected[..]);
            assert!(cancelled > 0, "the test never cancelled a read");
            // Completes the close handshake the server is waiting for.
            st.shutdown().await;
            server.await.unwrap();
        });
    }

    #[test]
    fn tcp_reads_are_cancel_safe_and_in_order() {
        run(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = l.local_addr().unwrap().port();
            let expected: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
            let data = expected.clone();
            let server = tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap();
                for chunk in data.chunks(1000) {
                    s.write_all(chunk).await.unwrap();
                    tokio::task::yield_now().await;
                }
            });
            let mut st = Stream::connect(&ep("127.0.0.1", port, TransportKind::Tcp), None, None)
                .await
                .unwrap();
            let mut buf = BytesMut::new();
            loop {
                tokio::select! {
                    r = st.read_buf(&mut buf) => if r.unwrap() == 0 { break },
                    _ = tokio::time::sleep(Duration::from_micros(50)) => {}
                }
            }
            assert!(buf[..] == expected[..]);
            server.await.unwrap();
        });
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn websocket_handshake_hook_ping_text_and_close() {
        run(async {
            let (port, seen, server) = ws_server(true, |mut ws| async move {
                // Binary MQTT bytes from the client arrive as one binary message.
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], b"\x10\x00"),
                    other => panic!("{other:?}"),
                }
                ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
                ws.send(Message::Binary(Vec::new().into())).await.unwrap();
                ws.send(Message::Binary(b"ok".to_vec().into()))
                    .await
                    .unwrap();
                // The client answered the ping by itself.
                match ws.next().await {
                    Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"p"),
                    other => panic!("{other:?}"),
                }
                ws.send(Message::Text("nope".into())).await.unwrap();
                ws.close(None).await.unwrap();
                while ws.next().await.is_some() {}
            })
            .await;
            let hook = |req: &mut WsRequest| {
                *req.uri_mut() = "ws://127.0.0.1/mqtt?signed=1".parse().unwrap();
                req.headers_mut()
                    .insert("x-test", HeaderValue::from_static("hooked"));
            };
            let mut e = ep("127.0.0.1", port, TransportKind::Websocket);
            e.ws_path = "mqtt".into();
            let mut st = Stream::connect(&e, None, Some(&hook)).await.unwrap();
            assert_eq!(
                *seen.lock().unwrap(),
                vec!["/mqtt?signed=1".to_owned(), "mqtt".into(), "hooked".into()]
            );
            st.write_all(b"\x10\x00").await.unwrap();
            let mut buf = BytesMut::new();
            // The empty message is skipped (Ok(0) would mean "closed").
            assert_eq!(st.read_buf(&mut buf).await.unwrap(), 2);
            assert_eq!(&buf[..], b"ok");
            let err = st.read_buf(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(st.read_buf(&mut buf).await.unwrap(), 0);
            st.shutdown().await;
            server.await.unwrap();
        });
    }

    #[cfg(feature = "websocket")]
    #[test]
    fn websocket_without_the_mqtt_subprotocol_is_refused() {
        run(async {
            let (port, _, server) = ws_server(false, |_ws| async {}).await;
            let e = Stream::connect(&ep("127.0.0.1", port, TransportKind::Websocket), None, None)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), TransportErrorKind::WebSocket, "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("ws://127.0.0.1:{port}/mqtt ")),
                "{e}"
            );
            let _ = server.await;
            // A presigned query (signature, session token) never appears in error messages.
            let (port, _, server) = ws_server(false, |_ws| async {}).await;
            let hook = move |req: &mut WsRequest| {
                *req.uri_mut() = format!("ws://127.0.0.1:{port}/mqtt?X-Amz-Security-Token=secret")
                    .parse()
                    .unwrap();
            };
            let e = Stream::connect(
                &ep("127.0.0.1", port, TransportKind::Websocket),
                None,
                Some(&hook),
            )
            .await
            .unwrap_err();
            assert!(!e.to_string().contains("secret"), "{e}");
            let _ = server.await;
        });
    }
}
