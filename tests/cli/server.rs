//! The office server (issue 16), first step: `kinko-server init` and
//! `run` with a real PostgreSQL on loopback, terminals enrolled by token
//! or by an approved code, and everything that is not an enrolled
//! terminal of this server's CA refused.

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::Run;

/// A `kinko-server` with its own folder and database, serving on a free
/// loopback port until dropped.
pub struct TestServer {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub database: String,
    pub url: String,
    pub fingerprint: String,
    pub token: String,
    child: Child,
}

pub fn server_bin() -> PathBuf {
    super::kinko_bin().with_file_name("kinko-server")
}

fn output(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("the program runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(&[])
    }

    /// A server whose `run` also gets `run_args`.
    pub fn start_with(run_args: &[&str]) -> TestServer {
        let database = kinko_test_support::postgres::shared().new_database();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        let init = output(Command::new(server_bin()).args([
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--database",
            &database,
            "--host",
            "localhost",
            "--json",
        ]))
        .ok()
        .json();
        let mut child = Command::new(server_bin())
            .args([
                "run",
                "--dir",
                dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(run_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kinko-server starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_else(|| panic!("kinko-server said: {line}"));
        let port = addr.rsplit(':').next().unwrap();
        TestServer {
            database,
            url: format!("https://localhost:{port}"),
            fingerprint: init["ca_fingerprint"].as_str().unwrap().into(),
            token: init["token"].as_str().unwrap().into(),
            tmp,
            dir,
            child,
        }
    }

    /// `kinko-server ARGS --dir DIR`.
    pub fn admin(&self, args: &[&str]) -> Run {
        output(
            Command::new(server_bin())
                .args(args)
                .args(["--dir", self.dir.to_str().unwrap()]),
        )
    }
}

impl TestServer {
    /// SQL on the server's database, as its operator (superuser) would.
    pub fn sql(&self, sql: &str) -> String {
        let pg = kinko_test_support::postgres::shared();
        pg.sql(
            kinko_test_support::postgres::Postgres::database_of(&self.database),
            sql,
        )
    }

    /// A terminal enrolled with this server by a fresh token.
    pub fn terminal(&self, name: &str) -> Terminal {
        let t = Terminal::new(self.tmp.path(), name);
        let token = self.admin(&["device", "token"]).ok().text();
        t.enrol(self, &["--token", token.trim()]).ok();
        Terminal {
            state: t.state,
            server: Some(self.url.clone()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One terminal: a state folder of its own, and the server it works
/// against once enrolled.
pub struct Terminal {
    pub state: PathBuf,
    pub server: Option<String>,
}

impl Terminal {
    pub fn new(tmp: &Path, name: &str) -> Terminal {
        Terminal {
            state: tmp.join(name),
            server: None,
        }
    }

    /// `kinko --server URL ARGS` as `user` with the officer's password.
    pub fn as_user(&self, user: &str, args: &[&str]) -> Run {
        let mut all = vec![
            "--server",
            self.server.as_deref().expect("an enrolled terminal"),
        ];
        all.extend_from_slice(args);
        output(
            Command::new(super::kinko_bin())
                .args(&all)
                .env("KINKO_STATE_DIR", &self.state)
                .env("KINKO_LANG", "en")
                .env("KINKO_USER", user)
                .env("KINKO_PASSWORD", super::OFFICER_PW)
                .env_remove("KINKO_SERVER")
                .env_remove("KINKO_SESSION"),
        )
    }

    /// The officer `boss`'s command on this terminal.
    pub fn boss(&self, args: &[&str]) -> Run {
        self.as_user("boss", args)
    }

    pub fn kinko(&self, args: &[&str]) -> Run {
        output(
            Command::new(super::kinko_bin())
                .args(args)
                .env("KINKO_STATE_DIR", &self.state)
                .env("KINKO_LANG", "en")
                .env_remove("KINKO_SERVER")
                .env_remove("KINKO_USER")
                .env_remove("KINKO_ENROL_TOKEN"),
        )
    }

    pub fn enrol(&self, server: &TestServer, extra: &[&str]) -> Run {
        let mut args = vec![
            "--json",
            "device",
            "enroll",
            "--server",
            &server.url,
            "--ca-fingerprint",
            &server.fingerprint,
            "--wait",
            "0",
        ];
        args.extend_from_slice(extra);
        self.kinko(&args)
    }

    pub fn status(&self) -> Run {
        self.kinko(&["--json", "device", "status"])
    }
}

#[test]
fn the_first_terminal_enrols_with_the_token_and_the_token_works_once() {
    let server = TestServer::start();
    let first = Terminal::new(server.tmp.path(), "t1");
    let enrolled = first
        .enrol(&server, &["--token", &server.token, "--name", "受付PC"])
        .ok()
        .json();
    assert_eq!(enrolled["status"], "enrolled");
    let status = first.status().ok().json();
    assert_eq!(status["terminal"]["id"], enrolled["terminal"]);
    assert_eq!(status["terminal"]["name"], "受付PC");
    assert_eq!(status["ca_fingerprint"], server.fingerprint.as_str());
    // The terminal's key is its own: private files in a private folder.
    let device = first.state.join("device");
    assert_eq!(
        std::fs::metadata(&device).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in ["terminal.key", "terminal.pem", "ca.pem", "server.json"] {
        let mode = std::fs::metadata(device.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }

    let second = Terminal::new(server.tmp.path(), "t2");
    let reused = second.enrol(&server, &["--token", &server.token]).code(3);
    assert!(
        reused.stderr.contains("token is unknown, used or expired"),
        "{}",
        reused.stderr
    );
    second.status().ok();
    assert_eq!(second.status().json()["enrolled"], false);
}

#[test]
fn a_terminal_without_a_token_waits_for_its_code_to_be_approved() {
    let server = TestServer::start();
    let t = Terminal::new(server.tmp.path(), "t1");
    let asked = t.enrol(&server, &["--user", "hanako"]).ok().json();
    assert_eq!(asked["status"], "waiting");
    let code = asked["code"].as_str().unwrap().to_string();
    // Asking again before the approval collects nothing and keeps the code.
    assert_eq!(t.enrol(&server, &[]).ok().json()["code"], code.as_str());
    assert_eq!(t.status().ok().json()["waiting"], code.as_str());

    // A code nobody was given is not approved.
    server.admin(&["device", "approve", "ZZZZ-ZZZZ"]).code(1);
    // Typed as a person would: small letters, no dash.
    server
        .admin(&["device", "approve", &code.replace('-', "").to_lowercase()])
        .ok();
    let done = t.enrol(&server, &[]).ok().json();
    assert_eq!(done["status"], "enrolled");
    let list = server.admin(&["device", "list", "--json"]).ok().json();
    let row = &list["terminals"][0];
    assert_eq!(row["id"], done["terminal"]);
    assert_eq!(row["account"], "hanako");
    assert_eq!(list["waiting"].as_array().unwrap().len(), 0);
    // An approved code is used up.
    server.admin(&["device", "approve", &code]).code(1);
}

#[test]
fn a_server_whose_ca_is_not_the_pinned_one_is_refused_and_nothing_is_kept() {
    let server = TestServer::start();
    let other = TestServer::start();
    let t = Terminal::new(server.tmp.path(), "t1");
    // The fingerprint of another server's CA: a server in the middle.
    let mut args = vec![
        "device",
        "enroll",
        "--server",
        &server.url,
        "--ca-fingerprint",
        &other.fingerprint,
        "--token",
        &server.token,
    ];
    let refused = t.kinko(&args).code(5);
    assert!(
        refused
            .stderr
            .contains("not the one whose CA fingerprint was given"),
        "{}",
        refused.stderr
    );
    assert_eq!(t.status().ok().json()["enrolled"], false);
    // The token was not spent on the refused attempt.
    args[5] = &server.fingerprint;
    t.kinko(&args).ok();
    // A fingerprint that is not one is a usage error with its reason.
    let bad = Terminal::new(server.tmp.path(), "t2")
        .kinko(&[
            "device",
            "enroll",
            "--server",
            &server.url,
            "--ca-fingerprint",
            "abc",
        ])
        .code(1);
    assert!(
        bad.stderr.contains("64 hexadecimal digits"),
        "{}",
        bad.stderr
    );
    // Plain HTTP is not offered.
    let http = Terminal::new(server.tmp.path(), "t3")
        .kinko(&[
            "device",
            "enroll",
            "--server",
            "http://localhost:1",
            "--ca-fingerprint",
            &server.fingerprint,
        ])
        .code(1);
    assert!(http.stderr.contains("https://"), "{}", http.stderr);
}

#[test]
fn a_certificate_from_another_servers_ca_and_a_revoked_one_are_refused() {
    let server = TestServer::start();
    let other = TestServer::start();
    // A terminal enrolled with the other server, its files then pointed
    // at this one: its certificate is not from this server's CA.
    let stranger = Terminal::new(server.tmp.path(), "stranger");
    stranger.enrol(&other, &["--token", &other.token]).ok();
    let device = stranger.state.join("device");
    std::fs::copy(server.dir.join("ca.pem"), device.join("ca.pem")).unwrap();
    let record = std::fs::read_to_string(device.join("server.json"))
        .unwrap()
        .replace(&other.url, &server.url);
    std::fs::write(device.join("server.json"), record).unwrap();
    let refused = stranger.status().code(3);
    assert!(
        refused.stderr.contains("refused this terminal"),
        "{}",
        refused.stderr
    );

    let t = Terminal::new(server.tmp.path(), "t1");
    let id = t.enrol(&server, &["--token", &server.token]).ok().json()["terminal"]
        .as_str()
        .unwrap()
        .to_string();
    server.admin(&["device", "revoke", &id]).ok();
    let revoked = t.status().code(3);
    assert!(revoked.stderr.contains("revoked"), "{}", revoked.stderr);
}

#[test]
fn without_a_client_certificate_only_enrolment_answers_and_tls_below_1_3_is_refused() {
    let server = TestServer::start();
    let fp = kinko_remote::parse_fingerprint(&server.fingerprint).unwrap();
    let anonymous = kinko_remote::Server::pinned(&server.url, &fp).unwrap();
    let e = anonymous.hello().unwrap_err();
    assert_eq!(e.code(), "terminal_refused", "{e}");

    // A TLS 1.2 client gets no handshake.
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAnything))
        .with_no_client_auth();
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn =
        rustls::ClientConnection::new(std::sync::Arc::new(config), "localhost".try_into().unwrap())
            .unwrap();
    let handshake = conn.complete_io(&mut tcp);
    assert!(handshake.is_err(), "a TLS 1.2 handshake must fail");
    assert!(conn.is_handshaking());
}

/// For the TLS 1.2 probe only: the handshake must fail before any
/// certificate is looked at.
#[derive(Debug)]
struct AcceptAnything;

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A server holding a vault made from its first terminal, with the
/// officer `boss` (one-time codes not required).
fn office() -> (TestServer, Terminal) {
    let server = TestServer::start();
    let first = server.terminal("t1");
    first
        .boss(&[
            "init",
            "--officer",
            "boss",
            "--name",
            "Officer",
            "--policy",
            "totp.required=false",
        ])
        .ok();
    (server, first)
}

fn import(t: &Terminal, tmp: &Path, name: &str, body: &[u8]) -> String {
    let file = tmp.join(name);
    std::fs::write(&file, body).unwrap();
    t.boss(&[
        "import",
        file.to_str().unwrap(),
        "--from",
        "労働局",
        "--purpose",
        "contract",
    ])
    .ok()
    .text()
    .trim()
    .to_string()
}

#[test]
fn terminals_share_the_vault_the_server_holds() {
    let (server, t1) = office();
    let doc = import(&t1, server.tmp.path(), "名簿.txt", b"personal data");
    // A second terminal builds its replica from the log, signs in, sees
    // the document and opens it (its object fetched from the server).
    let t2 = server.terminal("t2");
    let listed = t2.boss(&["--json", "list"]).ok().json();
    assert_eq!(listed[0]["id"].to_string(), doc);
    let out = server.tmp.path().join("out.txt");
    t2.boss(&["open", &doc, "--out", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), b"personal data");
    // The first terminal sees the second's events, and both trails verify.
    let log = t1.boss(&["--json", "audit", "log"]).ok().json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "document.export"),
        "{log}"
    );
    t1.boss(&["audit", "verify"]).ok();
    t2.boss(&["audit", "verify"]).ok();
    t2.boss(&["verify"]).ok();
    // The server holds only sealed units: no title, no name in the clear.
    let units = server.sql("SELECT encode(sealed, 'escape') FROM units");
    assert!(
        !units.contains("名簿") && !units.contains("boss"),
        "a unit in the clear"
    );
}

#[test]
fn writes_from_two_terminals_at_once_all_land_in_one_order() {
    // The officer on one terminal and a manager on another, each
    // receiving files at the same time.
    let v = super::TestVault::on_a_server();
    let pw = v.add("mgr", "manager");
    let writers: Vec<_> = [
        ("boss", super::OFFICER_PW.to_string(), "t1"),
        ("mgr", pw.clone(), "t2"),
    ]
    .into_iter()
    .map(|(user, pw, terminal)| {
        let file = v.file(&format!("{user}.txt"), user.as_bytes());
        let (user, terminal) = (user.to_string(), terminal.to_string());
        v.enrol(&terminal);
        let cmd = |args: &[&str]| {
            let mut c = v.command(args, &[]);
            c.env("KINKO_USER", &user)
                .env("KINKO_PASSWORD", &pw)
                .env("KINKO_STATE_DIR", v.tmp.path().join(&terminal));
            c
        };
        let mut runs: Vec<Command> = (0..4)
            .map(|_| {
                cmd(&[
                    "import",
                    file.to_str().unwrap(),
                    "--from",
                    "労働局",
                    "--purpose",
                    "contract",
                ])
            })
            .collect();
        std::thread::spawn(move || {
            for c in &mut runs {
                let out = c.output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        })
    })
    .collect();
    for w in writers {
        w.join().unwrap();
    }
    for (user, pw, terminal) in [
        ("boss", super::OFFICER_PW, "t1"),
        ("mgr", pw.as_str(), "t2"),
    ] {
        let listed = v
            .user_on(terminal, user, pw, &["--json", "list"])
            .ok()
            .json();
        assert_eq!(listed.as_array().unwrap().len(), 8, "{user}: {listed}");
    }
    v.boss(&["audit", "verify"]).ok();
    let server = v.server.as_ref().unwrap();
    let seqs = server.sql("SELECT count(*), max(seq) FROM units");
    let (count, max) = seqs.trim().split_once('|').unwrap();
    assert_eq!(count, max, "the log has no gaps");
}

#[test]
fn a_terminal_that_asks_too_fast_is_slowed_down() {
    // One request a second (bursts of two) for each terminal.
    let server = TestServer::start_with(&["--rate", "1"]);
    let t = Terminal::new(server.tmp.path(), "t1");
    t.enrol(&server, &["--token", &server.token]).ok();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let runs: Vec<Run> = (0..8).map(|_| t.status()).collect();
    // Eight calls well inside four seconds: some are answered 429.
    let slowed: Vec<&Run> = runs.iter().filter(|r| r.code != 0).collect();
    assert!(!slowed.is_empty(), "eight calls at once were all answered");
    for r in slowed {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains("too many requests"), "{}", r.stderr);
    }
    // After a pause it is answered again.
    std::thread::sleep(std::time::Duration::from_secs(3));
    t.status().ok();
}

#[test]
fn a_server_put_back_to_an_earlier_copy_is_refused() {
    let (server, t1) = office();
    import(&t1, server.tmp.path(), "a.txt", b"a");
    // The operator deletes the newest units (as a restored dump would).
    server.sql("DELETE FROM units WHERE seq > (SELECT max(seq) - 2 FROM units)");
    let refused = t1.boss(&["list"]).code(5);
    assert!(
        refused.stderr.contains("put back to an earlier copy"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_unit_changed_moved_or_given_other_keyslots_by_the_operator_is_refused() {
    // Each edit on an office of its own; a terminal that builds its
    // replica afterwards is refused, naming the unit.
    let edits = [
        // One byte of a unit changed.
        "UPDATE units SET sealed = set_byte(sealed, 40, get_byte(sealed, 40) # 1) WHERE seq = 2",
        // Two units swapped.
        "UPDATE units SET seq = seq + 1000 WHERE seq IN (2, 3); \
         UPDATE units SET seq = 3 WHERE seq = 1002; UPDATE units SET seq = 2 WHERE seq = 1003",
        // The keyslots a unit carries changed (still valid JSON).
        "UPDATE units SET keyslots = keyslots || '\\x20'::bytea WHERE seq = 1",
    ];
    for edit in edits {
        let (server, t1) = office();
        import(&t1, server.tmp.path(), "a.txt", b"a");
        server.sql(edit);
        let refused = server.terminal("t2").boss(&["list"]).code(5);
        assert!(
            refused.stderr.contains("unit 1") || refused.stderr.contains("unit 2"),
            "{edit}: {}",
            refused.stderr
        );
    }
}
