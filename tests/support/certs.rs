//! Test certificates, generated once per test process with the `openssl` CLI
//! (self-signed test CA, server and client certificates with every key format AWS IoT accepts).

use super::{process_dir, set_mode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of every generated file. All files are mode 644 so a mosquitto that dropped root
/// privileges can read them.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The directory holding everything below.
    pub dir: PathBuf,
    /// The test CA (RSA 2048, CN "Test CA") that signs the server and client certificates.
    pub ca: PathBuf,
    /// The test CA's key.
    pub ca_key: PathBuf,
    /// Server certificate for `localhost`, SAN DNS:localhost, IP:127.0.0.1, signed by `ca`.
    pub server_cert: PathBuf,
    /// Key of `server_cert`.
    pub server_key: PathBuf,
    /// Server certificate signed by `ca` but naming only `wrong.example` (wrong-host tests).
    pub wrong_name_cert: PathBuf,
    /// Key of `wrong_name_cert`.
    pub wrong_name_key: PathBuf,
    /// Client certificate, CN "thing-rsa", RSA 2048, signed by `ca`.
    pub client_rsa_cert: PathBuf,
    /// Its key as PKCS#8 (`BEGIN PRIVATE KEY`).
    pub client_rsa_pkcs8_key: PathBuf,
    /// Its key as PKCS#1 (`BEGIN RSA PRIVATE KEY`, the AWS console's format).
    pub client_rsa_pkcs1_key: PathBuf,
    /// Client certificate, CN "thing-ec", EC P-256, signed by `ca`.
    pub client_ec_cert: PathBuf,
    /// Its key as SEC1 (`BEGIN EC PRIVATE KEY`).
    pub client_ec_sec1_key: PathBuf,
    /// Its key as SEC1 preceded by a `BEGIN EC PARAMETERS` block (`openssl ecparam -genkey`).
    pub client_ec_sec1_params_key: PathBuf,
    /// Its key as PKCS#8.
    pub client_ec_pkcs8_key: PathBuf,
    /// A second, unrelated CA (CN "Other CA") for wrong-CA tests.
    pub other_ca: PathBuf,
    /// The unrelated CA's key.
    pub other_ca_key: PathBuf,
    /// A client certificate (CN "thing-other", EC P-256) signed by `other_ca`.
    pub other_client_cert: PathBuf,
    /// Key of `other_client_cert` (PKCS#8).
    pub other_client_key: PathBuf,
    /// `other_ca` followed by `ca` in one file: a bundle with several certificates.
    pub ca_bundle: PathBuf,
}

impl Certs {
    /// The client (certificate, key, label) pairs in every supported key format.
    pub fn client_key_formats(&self) -> Vec<(&Path, &Path, &'static str)> {
        vec![
            (
                &self.client_rsa_cert,
                &self.client_rsa_pkcs8_key,
                "RSA PKCS#8",
            ),
            (
                &self.client_rsa_cert,
                &self.client_rsa_pkcs1_key,
                "RSA PKCS#1",
            ),
            (&self.client_ec_cert, &self.client_ec_sec1_key, "EC SEC1"),
            (
                &self.client_ec_cert,
                &self.client_ec_sec1_params_key,
                "EC SEC1 with EC PARAMETERS",
            ),
            (&self.client_ec_cert, &self.client_ec_pkcs8_key, "EC PKCS#8"),
        ]
    }
}

/// The certificates of this test process, generated on first use.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(generate)
}

/// Runs `openssl` with `args` in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run the openssl CLI ({e}); install it (apt-get install -y openssl)")
        });
    if !out.status.success() {
        panic!(
            "openssl {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// Issues `name.crt` from `name.csr` with CA `ca` and extension file `ext`.
fn sign(dir: &Path, name: &str, ca: &str, ext: &str) {
    let (csr, crt) = (format!("{name}.csr"), format!("{name}.crt"));
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "825",
            "-extfile",
            ext,
        ],
    );
}

/// A new RSA 2048 key (PKCS#8) in `key` and a signing request for CN `cn` in `csr`.
fn rsa_key_and_csr(dir: &Path, key: &str, csr: &str, cn: &str) {
    let subject = format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", &subject,
        ],
    );
}

fn generate() -> Certs {
    let dir = process_dir().join("certs");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let d = dir.as_path();

    // CAs.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=Test CA",
        ],
    );
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "other-ca.key",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-key",
            "other-ca.key",
            "-out",
            "other-ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=Other CA",
        ],
    );

    // Server certificates: the right one and one for another name.
    write(
        d,
        "server.ext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    );
    write(
        d,
        "wrong-name.ext",
        "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    );
    write(
        d,
        "client.ext",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    for (name, cn) in [("server", "localhost"), ("wrong-name", "wrong.example")] {
        rsa_key_and_csr(d, &format!("{name}.key"), &format!("{name}.csr"), cn);
        sign(d, name, "ca", &format!("{name}.ext"));
    }

    // RSA client: PKCS#8 (openssl 3 default) and PKCS#1.
    rsa_key_and_csr(d, "client-rsa.pkcs8.key", "client-rsa.csr", "thing-rsa");
    sign(d, "client-rsa", "ca", "client.ext");
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "client-rsa.pkcs8.key",
            "-out",
            "client-rsa.pkcs1.key",
            "-traditional",
        ],
    );

    // EC client: EC PARAMETERS + SEC1, plain SEC1, PKCS#8.
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-out",
            "client-ec.params.key",
        ],
    );
    openssl(
        d,
        &[
            "ec",
            "-in",
            "client-ec.params.key",
            "-out",
            "client-ec.sec1.key",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "client-ec.sec1.key",
            "-out",
            "client-ec.pkcs8.key",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            "client-ec.sec1.key",
            "-out",
            "client-ec.csr",
            "-subj",
            "/CN=thing-ec",
        ],
    );
    sign(d, "client-ec", "ca", "client.ext");

    // A client of the unrelated CA.
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "other-client.key",
            "-out",
            "other-client.csr",
            "-subj",
            "/CN=thing-other",
        ],
    );
    sign(d, "other-client", "other-ca", "client.ext");

    let read =
        |n: &str| std::fs::read_to_string(d.join(n)).unwrap_or_else(|e| panic!("read {n}: {e}"));
    write(
        d,
        "ca-bundle.crt",
        &format!("{}{}", read("other-ca.crt"), read("ca.crt")),
    );

    // mosquitto reads these after dropping privileges to user `mosquitto`.
    for entry in std::fs::read_dir(d).unwrap_or_else(|e| panic!("list {}: {e}", d.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("list {}: {e}", d.display()));
        set_mode(&entry.path(), 0o644);
    }
    set_mode(d, 0o755);

    let p = |n: &str| dir.join(n);
    Certs {
        ca: p("ca.crt"),
        ca_key: p("ca.key"),
        server_cert: p("server.crt"),
        server_key: p("server.key"),
        wrong_name_cert: p("wrong-name.crt"),
        wrong_name_key: p("wrong-name.key"),
        client_rsa_cert: p("client-rsa.crt"),
        client_rsa_pkcs8_key: p("client-rsa.pkcs8.key"),
        client_rsa_pkcs1_key: p("client-rsa.pkcs1.key"),
        client_ec_cert: p("client-ec.crt"),
        client_ec_sec1_key: p("client-ec.sec1.key"),
        client_ec_sec1_params_key: p("client-ec.params.key"),
        client_ec_pkcs8_key: p("client-ec.pkcs8.key"),
        other_ca: p("other-ca.crt"),
        other_ca_key: p("other-ca.key"),
        other_client_cert: p("other-client.crt"),
        other_client_key: p("other-client.key"),
        ca_bundle: p("ca-bundle.crt"),
        dir,
    }
}

/// An `openssl s_server` child for checks mosquitto cannot make (TLS 1.2 only: mosquitto's
/// `tls_version tlsv1.2` still allows 1.3; ALPN: mosquitto ignores it). Killed by pid on drop.
pub struct OpensslServer {
    child: std::process::Child,
    /// The loopback port it listens on.
    pub port: u16,
    output: std::sync::Arc<std::sync::Mutex<String>>,
}

impl OpensslServer {
    /// Starts `openssl s_server` on a free loopback port with the test server certificate and
    /// CA plus `args` (e.g. `["-tls1_2", "-Verify", "1", "-alpn", "x-amzn-mqtt-ca"]`), and
    /// waits (bounded) until it accepts.
    pub fn start(args: &[&str]) -> OpensslServer {
        use std::io::Read;
        use std::process::Stdio;
        let c = certs();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("free port: {e}"))
            .port();
        let mut child = Command::new("openssl")
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&c.server_cert)
            .arg("-key")
            .arg(&c.server_key)
            .arg("-CAfile")
            .arg(&c.ca)
            .args(args)
            // s_server exits at EOF on stdin: keep the pipe open for the child's lifetime.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run openssl s_server: {e}"));
        let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let pipes: Vec<Box<dyn Read + Send>> = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for mut pipe in pipes {
            let out = output.clone();
            // Ends by itself at EOF, when the child is killed.
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    }
                }
            });
        }
        let server = OpensslServer {
            child,
            port,
            output,
        };
        if !server.wait_for("ACCEPT", std::time::Duration::from_secs(10)) {
            panic!("openssl s_server did not start:\n{}", server.output());
        }
        server
    }

    /// Everything it printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Waits up to `limit` for `needle` in its output; true if it appeared.
    pub fn wait_for(&self, needle: &str, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if self.output().contains(needle) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.output().contains(needle)
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// TLS settings that trust the test CA and present `cert` with `key`, every PEM loaded by
/// `load` ([`pem_file`] or [`pem_memory`]); no ALPN.
pub fn mutual_tls(
    load: fn(&Path) -> Option<iotjobs::mqtt::tls::PemSource>,
    cert: &Path,
    key: &Path,
) -> iotjobs::mqtt::tls::TlsSettings {
    iotjobs::mqtt::tls::TlsSettings {
        ca: load(&certs().ca),
        client_cert: load(cert),
        client_key: load(key),
        alpn: Vec::new(),
        ..Default::default()
    }
}

/// The PEM at `path`, for the library to read from the file itself.
pub fn pem_file(path: &Path) -> Option<iotjobs::mqtt::tls::PemSource> {
    Some(iotjobs::mqtt::tls::PemSource::File(path.to_path_buf()))
}

/// The PEM at `path`, read here and handed to the library as bytes in memory.
pub fn pem_memory(path: &Path) -> Option<iotjobs::mqtt::tls::PemSource> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Some(iotjobs::mqtt::tls::PemSource::Memory(bytes))
}

/// The emulator's mutual-TLS listener on a free loopback port: the test server certificate,
/// client certificates checked against the test CA.
pub fn emulator_tls() -> iotjobs_emulator::TlsConfig {
    let c = certs();
    iotjobs_emulator::TlsConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        cert: c.server_cert.clone(),
        key: c.server_key.clone(),
        client_ca: c.ca.clone(),
    }
}

/// An emulator with only that mutual-TLS listener (and its plain one).
pub fn mtls_emulator() -> iotjobs_emulator::Emulator {
    iotjobs_emulator::Emulator::start(iotjobs_emulator::EmulatorConfig {
        tls: Some(emulator_tls()),
        ..iotjobs_emulator::EmulatorConfig::default()
    })
    .expect("start the emulator with a mutual-TLS listener")
}
