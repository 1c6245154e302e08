//! A SoftHSM2 token per test process, in its own directory: label [`TOKEN`], user PIN [`PIN`],
//! holding the test client keys (`thing-rsa`, id 01; `thing-ec`, id 02) and a secp256k1 key
//! (`thing-k1`, id 09) no TLS signature scheme is made for. `SOFTHSM2_CONF` is set for the
//! process before any test loads the module.
//!
//! A missing softhsm2 PANICS: the PKCS#11 tests must fail, never skip, in CI.

use super::certs::certs;
use super::process_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The SoftHSM2 module as Debian installs it (package softhsm2).
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const TOKEN: &str = "iotjobs";
pub const PIN: &str = "1234";
pub const SO_PIN: &str = "5678";

pub struct Token {
    pub dir: PathBuf,
    /// The slot SoftHSM moved the initialized token to.
    pub slot_id: u64,
}

/// The token of this process, created on first use.
pub fn token() -> &'static Token {
    static TOKEN_: OnceLock<Token> = OnceLock::new();
    TOKEN_.get_or_init(create)
}

fn util(args: &[&str]) -> String {
    let out = Command::new("softhsm2-util")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run softhsm2-util ({e}): install softhsm2 (apt-get install -y softhsm2)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "softhsm2-util {} failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    text
}

fn create() -> Token {
    assert!(
        Path::new(MODULE).is_file(),
        "{MODULE} is missing: install softhsm2 (apt-get install -y softhsm2)"
    );
    let dir = process_dir().join("softhsm");
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // Before any thread loads the module: it reads the variable when initialized.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = util(&[
        "--init-token",
        "--free",
        "--label",
        TOKEN,
        "--pin",
        PIN,
        "--so-pin",
        SO_PIN,
    ]);
    let slot_id = out
        .split("reassigned to slot ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no slot id in softhsm2-util's output:\n{out}"));
    let c = certs();
    let k1 = dir.join("k1.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
            "-out",
        ])
        .arg(&k1)
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl genpkey secp256k1");
    for (key, label, id) in [
        (&c.client_rsa_pkcs8_key, "thing-rsa", "01"),
        (&c.client_ec_pkcs8_key, "thing-ec", "02"),
        (&k1, "thing-k1", "09"),
    ] {
        util(&[
            "--import",
            key.to_str().unwrap(),
            "--token",
            TOKEN,
            "--label",
            label,
            "--id",
            id,
            "--pin",
            PIN,
        ]);
    }
    Token { dir, slot_id }
}
