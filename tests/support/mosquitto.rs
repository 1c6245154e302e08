//! A private mosquitto broker per test, on free loopback ports (logging to a file, no
//! persistence, a plain listener always present).
//!
//! A missing `mosquitto` binary PANICS: interoperability tests must fail, never skip, in CI.

use super::certs::certs;
use super::{process_dir, set_mode};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Which listeners to open besides the always-present plain MQTT listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosqOpts {
    /// A TLS MQTT listener (server certificate for localhost / 127.0.0.1, the test CA).
    pub tls: bool,
    /// TLS listeners require a client certificate signed by the test CA; the certificate CN
    /// becomes the username (it shows in the log, e.g. `u'thing-ec'`).
    pub require_cert: bool,
    /// A WebSocket listener, plus a secure WebSocket listener when `tls` is set.
    pub websockets: bool,
}

/// Less common broker settings for [`Mosquitto::start_with`].
#[derive(Debug, Clone, Default)]
pub struct MosqExtra {
    /// Server certificate and key for the TLS listeners instead of `certs().server_cert`/`_key`
    /// (e.g. `certs().wrong_name_cert` for wrong-host-name tests).
    pub server_cert: Option<(PathBuf, PathBuf)>,
    /// Extra lines appended to every TLS listener, e.g. `"tls_version tlsv1.2\n"`.
    pub tls_lines: String,
    /// Extra global lines placed before the listeners, e.g. `"max_inflight_messages 1\n"`.
    pub global_lines: String,
}

/// The ports of a running broker (`None`: listener not configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MosqPorts {
    /// Plain MQTT over TCP (always present).
    pub plain: u16,
    /// MQTT over TLS.
    pub tls: Option<u16>,
    /// MQTT over WebSocket.
    pub ws: Option<u16>,
    /// MQTT over WebSocket over TLS.
    pub wss: Option<u16>,
}

/// A running mosquitto child process; killed (by its pid) on drop.
pub struct Mosquitto {
    child: Option<Child>,
    /// Listener ports, stable across [`Mosquitto::restart`].
    pub ports: MosqPorts,
    /// This broker's directory (config, log, stderr).
    pub dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    stderr: PathBuf,
    bin: PathBuf,
}

/// Bound on waiting for the broker to come up.
const START_LIMIT: Duration = Duration::from_secs(15);
/// Bound on waiting for the broker to exit after SIGTERM before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// The mosquitto binary: `$MOSQUITTO_BIN`, else `mosquitto` on `PATH`, `/usr/sbin`,
/// `/usr/local/sbin` (Debian installs it in sbin, often not on a user's PATH).
/// Panics with installation advice when it is missing.
pub fn mosquitto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MOSQUITTO_BIN") {
        return require_binary_at(Path::new(&p));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    for d in dirs {
        let candidate = d.join("mosquitto");
        if candidate.is_file() {
            return candidate;
        }
    }
    require_binary_at(Path::new("mosquitto"))
}

/// Returns `path` if it is a file, else panics with the reason these tests cannot run.
pub fn require_binary_at(path: &Path) -> PathBuf {
    if path.is_file() {
        return path.to_path_buf();
    }
    panic!(
        "mosquitto binary not found (looked for {}): these interoperability tests need it and \
         must not be skipped; install it with `apt-get install -y mosquitto mosquitto-clients` \
         or set MOSQUITTO_BIN",
        path.display()
    );
}

/// `n` distinct free loopback ports. The listeners are held until all are chosen, so the
/// ports differ; another process could still take one before mosquitto binds (then start
/// retries with new ports).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("cannot bind a free loopback port: {e}"))
        })
        .collect();
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .unwrap_or_else(|e| panic!("local_addr: {e}"))
                .port()
        })
        .collect()
}

fn tls_lines(cert: &Path, key: &Path, require_cert: bool) -> String {
    let c = certs();
    let mut s = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
        c.ca.display(),
        cert.display(),
        key.display(),
        require_cert
    );
    if require_cert {
        s.push_str("use_identity_as_username true\n");
    }
    s
}

fn config(opts: MosqOpts, ports: &MosqPorts, log: &Path, extra: &MosqExtra) -> String {
    let c = certs();
    let (server_cert, server_key) = match &extra.server_cert {
        Some((cert, key)) => (cert.as_path(), key.as_path()),
        None => (c.server_cert.as_path(), c.server_key.as_path()),
    };
    // per_listener_settings true: TLS options and allow_anonymous belong to each listener.
    let mut s = format!(
        "per_listener_settings true\npersistence false\nlog_dest file {}\nlog_type all\n\
         log_timestamp_format %Y-%m-%dT%H:%M:%S\nconnection_messages true\n\
         set_tcp_nodelay true\n{}\
         listener {} 127.0.0.1\nprotocol mqtt\nallow_anonymous true\n",
        log.display(),
        extra.global_lines,
        ports.plain
    );
    if let Some(p) = ports.tls {
        s.push_str(&format!(
            "listener {p} 127.0.0.1\nprotocol mqtt\nallow_anonymous true\n"
        ));
        s.push_str(&tls_lines(server_cert, server_key, opts.require_cert));
        s.push_str(&extra.tls_lines);
    }
    if let Some(p) = ports.ws {
        s.push_str(&format!(
            "listener {p} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n"
        ));
    }
    if let Some(p) = ports.wss {
        s.push_str(&format!(
            "listener {p} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n"
        ));
        s.push_str(&tls_lines(server_cert, server_key, opts.require_cert));
        s.push_str(&extra.tls_lines);
    }
    s
}

impl Mosquitto {
    /// Starts a broker with the listeners `opts` asks for and waits (bounded) until it accepts.
    pub fn start(opts: MosqOpts) -> Mosquitto {
        Self::start_with(opts, MosqExtra::default())
    }

    /// Like [`Mosquitto::start`], with another server certificate for the TLS listeners (e.g.
    /// `certs().wrong_name_cert` for wrong-host-name tests).
    pub fn start_with_server_cert(opts: MosqOpts, cert: &Path, key: &Path) -> Mosquitto {
        Self::start_with(
            opts,
            MosqExtra {
                server_cert: Some((cert.to_path_buf(), key.to_path_buf())),
                ..MosqExtra::default()
            },
        )
    }

    /// Like [`Mosquitto::start`], with the less common settings of `extra`.
    pub fn start_with(opts: MosqOpts, extra: MosqExtra) -> Mosquitto {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let bin = mosquitto_binary();
        let mut last_failure = String::new();
        // Retries only cover the race where another process takes a chosen port.
        for _attempt in 0..3 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = process_dir().join(format!("mosquitto-{n}"));
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            set_mode(&dir, 0o777);
            let wanted = 1
                + usize::from(opts.tls) * (1 + usize::from(opts.websockets))
                + usize::from(opts.websockets);
            let mut free = free_ports(wanted).into_iter();
            let mut take = || free.next().unwrap_or_else(|| panic!("port allocation"));
            let plain = take();
            let ports = MosqPorts {
                plain,
                tls: opts.tls.then(&mut take),
                ws: opts.websockets.then(&mut take),
                wss: (opts.tls && opts.websockets).then(&mut take),
            };
            let log = dir.join("mosquitto.log");
            let conf = dir.join("mosquitto.conf");
            std::fs::write(&conf, config(opts, &ports, &log, &extra))
                .unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
            set_mode(&conf, 0o644);
            // Pre-created and world-writable: the broker writes it after dropping privileges.
            std::fs::write(&log, "").unwrap_or_else(|e| panic!("write {}: {e}", log.display()));
            set_mode(&log, 0o666);
            let mut m = Mosquitto {
                child: None,
                ports,
                stderr: dir.join("stderr.txt"),
                dir,
                conf,
                log,
                bin: bin.clone(),
            };
            match m.spawn_and_wait() {
                Ok(()) => return m,
                Err(e) => last_failure = e,
            }
        }
        panic!("mosquitto did not start after 3 attempts: {last_failure}");
    }

    /// Spawns the child and waits until it runs and the plain port accepts.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let stderr = std::fs::File::create(&self.stderr)
            .map_err(|e| format!("create {}: {e}", self.stderr.display()))?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_LIMIT;
        let plain = SocketAddr::from(([127, 0, 0, 1], self.ports.plain));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "mosquitto exited with {status}\nstderr:\n{}\nlog:\n{}",
                        std::fs::read_to_string(&self.stderr).unwrap_or_default(),
                        self.log()
                    ));
                }
            }
            // "running" is logged once every listener is open; then the port must accept.
            if self.log().contains(" running")
                && TcpStream::connect_timeout(&plain, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "mosquitto did not accept on port {} within {START_LIMIT:?}\nlog:\n{}",
                    self.ports.plain,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The plain MQTT port.
    pub fn port(&self) -> u16 {
        self.ports.plain
    }

    /// The TLS MQTT port; panics if the broker was started without `tls`.
    pub fn tls_port(&self) -> u16 {
        self.ports
            .tls
            .unwrap_or_else(|| panic!("mosquitto was started without tls"))
    }

    /// The WebSocket port; panics if the broker was started without `websockets`.
    pub fn ws_port(&self) -> u16 {
        self.ports
            .ws
            .unwrap_or_else(|| panic!("mosquitto was started without websockets"))
    }

    /// The secure WebSocket port; panics unless started with `tls` and `websockets`.
    pub fn wss_port(&self) -> u16 {
        self.ports
            .wss
            .unwrap_or_else(|| panic!("mosquitto was started without tls + websockets"))
    }

    /// The child's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the broker logged so far (across restarts; the file is appended to).
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits up to `limit` for `needle` to appear in the log; true if it did.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker: SIGTERM to its pid, SIGKILL if it has not exited within 5 s.
    /// Clients see their connections drop. Does nothing if it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// Starts the broker again on the same ports and configuration (after [`Mosquitto::stop`]).
    /// Panics if it does not come up in time.
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        if let Err(e) = self.spawn_and_wait() {
            panic!("mosquitto did not restart: {e}");
        }
    }

    /// Stops and starts the broker on the same ports (no persistence: sessions are lost).
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
