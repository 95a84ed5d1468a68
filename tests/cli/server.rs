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
    child: std::sync::Mutex<Child>,
    /// What `run` is started with again after a kill: `run`'s arguments
    /// and environment.
    run_args: Vec<String>,
    env: Vec<(String, String)>,
}

/// Start `kinko-server run` on `listen`; the child and the port it
/// listens on.
fn run_server(
    dir: &Path,
    listen: &str,
    run_args: &[String],
    env: &[(String, String)],
) -> (Child, String) {
    let mut child = Command::new(server_bin())
        .args(["run", "--dir", dir.to_str().unwrap(), "--listen", listen])
        .args(run_args)
        .envs(env.iter().map(|(k, v)| (k, v)))
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
    let port = addr.rsplit(':').next().unwrap().to_string();
    (child, port)
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
        Self::start_full(None, &[], run_args)
    }

    /// A server whose tables are in `database` (a URL).
    pub fn start_on(database: String) -> TestServer {
        Self::start_in(database, None, &[], &[])
    }

    /// A server whose objects go where `objects` says (default: its
    /// folder), run with `env` added and `run_args`.
    pub fn start_full(
        objects: Option<&str>,
        env: &[(String, String)],
        run_args: &[&str],
    ) -> TestServer {
        let database = kinko_test_support::postgres::shared().new_database();
        Self::start_in(database, objects, env, run_args)
    }

    fn start_in(
        database: String,
        objects: Option<&str>,
        env: &[(String, String)],
        run_args: &[&str],
    ) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        let mut init = Command::new(server_bin());
        init.args([
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--database",
            &database,
            "--host",
            "localhost",
            "--json",
        ]);
        if let Some(objects) = objects {
            init.args(["--objects", objects]);
        }
        let init = output(&mut init).ok().json();
        let run_args: Vec<String> = run_args.iter().map(|a| a.to_string()).collect();
        let (child, port) = run_server(&dir, "127.0.0.1:0", &run_args, env);
        TestServer {
            database,
            url: format!("https://localhost:{port}"),
            fingerprint: init["ca_fingerprint"].as_str().unwrap().into(),
            token: init["token"].as_str().unwrap().into(),
            tmp,
            dir,
            child: std::sync::Mutex::new(child),
            run_args,
            env: env.to_vec(),
        }
    }

    /// SIGKILL the server wherever it is, then start it again on the same
    /// address.
    pub fn kill_and_restart(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let port = self.url.rsplit(':').next().unwrap();
        let (again, _) = run_server(
            &self.dir,
            &format!("127.0.0.1:{port}"),
            &self.run_args,
            &self.env,
        );
        *child = again;
    }

    /// Stop the server and serve from the folder `dir` instead (a server
    /// restored on a new box), on the same address.
    pub fn serve_from(&mut self, dir: PathBuf) {
        self.dir = dir;
        self.kill_and_restart();
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
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
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

    /// The officer `boss` makes the vault on this terminal's server
    /// (one-time codes not required).
    pub fn make_vault(&self) {
        self.boss(&[
            "init",
            "--officer",
            "boss",
            "--name",
            "Officer",
            "--policy",
            "totp.required=false",
        ])
        .ok();
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
    let first = first_terminal(&server);
    (server, first)
}

/// The terminal `t1` of `server`, where the officer `boss` makes the
/// vault (one-time codes not required).
pub(crate) fn first_terminal(server: &TestServer) -> Terminal {
    let first = server.terminal("t1");
    first.make_vault();
    first
}

/// The officer receives `body` as `name` on `t`.
pub(crate) fn import_run(t: &Terminal, tmp: &Path, name: &str, body: &[u8]) -> Run {
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
}

pub(crate) fn import(t: &Terminal, tmp: &Path, name: &str, body: &[u8]) -> String {
    import_run(t, tmp, name, body)
        .ok()
        .text()
        .trim()
        .to_string()
}

/// An import that fails with exit 1 and one line saying `needle`.
fn import_fails(t: &Terminal, tmp: &Path, name: &str, needle: &str) {
    let failed = import_run(t, tmp, name, b"never stored").code(1);
    assert!(
        failed.stderr.contains(needle) && failed.stderr.trim().lines().count() == 1,
        "{}",
        failed.stderr
    );
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

#[test]
fn keyslots_from_before_a_password_change_open_nothing() {
    // The officer's password leaked and was changed; the operator then
    // hides the keyslots units carried since, so the server hands out the
    // first unit's (validly sealed there) and the old password would open
    // them.
    let v = super::TestVault::on_a_server();
    let new_pw = "Another-Secret-7q2!x";
    v.run_env(
        &["passwd"],
        &[
            ("KINKO_USER", "boss"),
            ("KINKO_PASSWORD", super::OFFICER_PW),
            ("KINKO_NEW_PASSWORD", new_pw),
        ],
    )
    .ok();
    let server = v.server.as_ref().unwrap();
    server.sql(
        "CREATE TABLE hidden AS SELECT seq, keyslots FROM units WHERE keyslots IS NOT NULL AND seq > 1; \
         UPDATE units SET keyslots = NULL WHERE seq IN (SELECT seq FROM hidden)",
    );
    let old = [
        ("KINKO_USER", "boss"),
        ("KINKO_PASSWORD", super::OFFICER_PW),
    ];
    let refused = v.run_env(&["list"], &old).code(5);
    assert!(
        refused.stderr.contains("not the newest its log carries"),
        "{}",
        refused.stderr
    );
    // Put back, the new password opens the vault here and on a new terminal.
    server.sql("UPDATE units u SET keyslots = h.keyslots FROM hidden h WHERE u.seq = h.seq");
    v.run_env(
        &["list"],
        &[("KINKO_USER", "boss"), ("KINKO_PASSWORD", new_pw)],
    )
    .ok();
    v.user_on("t2", "boss", new_pw, &["list"]).ok();
    v.run_env(&["list"], &old).code(3);
}

/// `scripts/server.sh` with this build's binaries: the lines it printed
/// until the server listened (it keeps serving until stopped).
fn start_trial(env: &[(&str, String)]) -> (Child, Vec<String>) {
    use std::os::unix::process::CommandExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new("bash")
        .arg(root.join("scripts/server.sh"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env(
            "KINKO_TRIAL_BIN",
            super::kinko_bin().parent().unwrap().as_os_str(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
        {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let Ok(line) = lines.recv_timeout(std::time::Duration::from_secs(120)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scripts/server.sh did not start serving: {seen:?}");
        };
        let done = line.contains("listening on");
        seen.push(line);
        if done {
            return (child, seen);
        }
    }
}

/// Ctrl-C to the script: the server stops, then the script stops
/// PostgreSQL.
fn stop_trial(mut child: Child) {
    let group = format!("-{}", child.id());
    Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[test]
fn the_trial_script_makes_a_server_a_terminal_enrols_with_and_serves_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    // As root the script runs PostgreSQL as its own user, which must
    // reach the folder.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (pg_port, port) = (free(), free());
    let env = [
        (
            "KINKO_TRIAL_DIR",
            tmp.path().join("trial").display().to_string(),
        ),
        ("KINKO_TRIAL_PG_PORT", pg_port.to_string()),
        ("KINKO_TRIAL_LISTEN", format!("127.0.0.1:{port}")),
    ];
    let (child, said) = start_trial(&env);
    let after = |label: &str| {
        said.iter()
            .find_map(|l| l.split_once(label).map(|(_, v)| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {label:?} in {said:?}"))
    };
    let fingerprint = after("CA fingerprint:");
    let token = after("(24 hours):");
    let url = format!("https://127.0.0.1:{port}");
    let mut t = Terminal::new(tmp.path(), "t1");
    t.kinko(&[
        "device",
        "enroll",
        "--server",
        &url,
        "--ca-fingerprint",
        &fingerprint,
        "--token",
        &token,
        "--wait",
        "0",
    ])
    .ok();
    t.server = Some(url);
    t.make_vault();
    stop_trial(child);
    // PostgreSQL stopped with the script: nothing listens on its port.
    assert!(std::net::TcpStream::connect(("127.0.0.1", pg_port)).is_err());
    // Run again: the same server, its vault and its terminal.
    let (child, said) = start_trial(&env);
    assert!(
        said.iter().any(|l| l.contains("the trial server in")),
        "{said:?}"
    );
    t.boss(&["list"]).ok();
    t.boss(&["audit", "verify"]).ok();
    stop_trial(child);
}

#[test]
fn objects_kept_in_an_s3_store_and_a_store_gone_mid_import_records_nothing() {
    let mut moto = kinko_test_support::moto::Moto::start();
    moto.create_bucket("kinko-office");
    let server = TestServer::start_full(Some("s3://kinko-office/objects"), &moto.env(), &[]);
    let t1 = first_terminal(&server);
    let doc = import(&t1, server.tmp.path(), "a.txt", b"held in S3");
    // The ciphertext is in the bucket, under the prefix; the server's
    // folder holds no objects.
    let listed = moto.list("kinko-office");
    assert!(listed.contains("<Key>objects/"), "{listed}");
    assert!(!server.dir.join("objects").exists());
    // A second terminal opens it from there.
    let t2 = server.terminal("t2");
    let out = server.tmp.path().join("out.txt");
    t2.boss(&["open", &doc, "--out", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), b"held in S3");
    // The store goes away: an import says so in one line, exit 1, and
    // the vault records no document for it.
    moto.stop();
    import_fails(
        &t1,
        server.tmp.path(),
        "b.txt",
        "object store is not answering",
    );
    let listed = t2.boss(&["--json", "list"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    t2.boss(&["audit", "verify"]).ok();
}

#[test]
fn a_revoke_racing_opens_never_lets_an_open_through_after_it() {
    // The officer revokes and grants again on one terminal while the
    // handler opens on another, as fast as each can.
    let v = super::TestVault::on_a_server();
    let hpw = v.add("hana", "handler");
    let doc = v.import(&v.file("d.txt", b"doc"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.enrol("t2");
    let t2 = v.tmp.path().join("t2");
    let opens: Vec<Command> = (0..16)
        .map(|_| {
            v.command(
                &["open", &doc, "--out", "-"],
                &[
                    ("KINKO_USER", "hana"),
                    ("KINKO_PASSWORD", &hpw),
                    ("KINKO_STATE_DIR", t2.to_str().unwrap()),
                ],
            )
        })
        .collect();
    let opener = std::thread::spawn(move || {
        opens
            .into_iter()
            .map(|mut c| {
                let out = c.output().unwrap();
                (out.status.code(), out.stdout)
            })
            .collect::<Vec<_>>()
    });
    // Revoke and grant again for as long as the opens go on.
    while !opener.is_finished() {
        v.boss(&["revoke", &doc, "--from", "hana"]).ok();
        v.boss(&["grant", &doc, "--to", "hana"]).ok();
    }
    let opened = opener.join().unwrap();
    for (code, stdout) in &opened {
        match code {
            Some(0) => assert_eq!(stdout, b"doc"),
            // Refused while not granted, nothing written out.
            Some(4) => assert!(stdout.is_empty()),
            other => panic!("an open ended with {other:?}"),
        }
    }
    // In the one order of the log, every open that got through came
    // while hana held the grant, and each has its event.
    let object = format!("document:{doc}");
    let mut granted = true;
    let mut through = 0;
    for e in v.events() {
        if e["object"] != object.as_str() || e["outcome"] != "ok" {
            continue;
        }
        match e["event"].as_str().unwrap() {
            "document.revoke" => granted = false,
            "document.grant" => granted = true,
            "document.export" if e["actor"] == "hana" => {
                assert!(granted, "an open got through after the revoke: {e}");
                through += 1;
            }
            _ => {}
        }
    }
    let succeeded = opened.iter().filter(|(c, _)| *c == Some(0)).count();
    assert_eq!(
        through, succeeded,
        "every open that got through is in the trail"
    );
    // The race was run: some opens got through, some were refused.
    assert!(
        succeeded > 0 && succeeded < opened.len(),
        "{succeeded} of {} opens got through",
        opened.len()
    );
    v.boss(&["audit", "verify"]).ok();
}

#[test]
fn a_server_killed_during_writes_loses_nothing_acknowledged() {
    let v = super::TestVault::on_a_server();
    let mut acknowledged = Vec::new();
    for round in 0..8u64 {
        let file = v.file(
            &format!("r{round}.txt"),
            format!("round {round}").as_bytes(),
        );
        let mut import = v.command(
            &[
                "import",
                file.to_str().unwrap(),
                "--from",
                "労働局",
                "--purpose",
                "contract",
            ],
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", super::OFFICER_PW),
            ],
        );
        let running = import
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // SIGKILL at a different moment of the import each round.
        std::thread::sleep(std::time::Duration::from_millis(40 * round));
        v.server.as_ref().unwrap().kill_and_restart();
        let out = running.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => {
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                acknowledged.push((id, format!("round {round}")));
            }
            // The server went away: said in one line, exit 1.
            Some(1) => {
                let said = String::from_utf8_lossy(&out.stderr);
                assert!(said.contains("office server"), "{said}");
            }
            other => panic!("an import ended with {other:?}: {out:?}"),
        }
    }
    eprintln!("acknowledged {} of 8", acknowledged.len());
    assert!(!acknowledged.is_empty(), "no import lived through a kill");
    // Another terminal sees every acknowledged document whole; the trail
    // verifies on both.
    let listed = v
        .user_on("t2", "boss", super::OFFICER_PW, &["--json", "list"])
        .ok()
        .json();
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].to_string())
        .collect();
    for (id, body) in &acknowledged {
        assert!(
            ids.contains(id),
            "document {id} was acknowledged but is gone"
        );
        let opened = v
            .user_on("t2", "boss", super::OFFICER_PW, &["open", id, "--out", "-"])
            .ok();
        assert_eq!(opened.stdout, body.as_bytes());
    }
    for id in &ids {
        v.user_on("t2", "boss", super::OFFICER_PW, &["show", id])
            .ok();
    }
    v.boss(&["audit", "verify"]).ok();
    v.user_on("t2", "boss", super::OFFICER_PW, &["audit", "verify"])
        .ok();
    v.boss(&["verify"]).ok();
}

#[test]
fn postgresql_gone_mid_work_gives_a_clear_error_and_records_nothing_half() {
    // A cluster of this test's own: it is stopped as a crash would.
    let pg = kinko_test_support::postgres::Postgres::own();
    let server = TestServer::start_on(pg.new_database());
    let t1 = first_terminal(&server);
    let doc = import(&t1, server.tmp.path(), "a.txt", b"before");
    pg.halt();
    import_fails(&t1, server.tmp.path(), "b.txt", "database is not answering");
    // Back: the server answers again without a restart of its own, the
    // failed import left nothing, and work goes on.
    pg.start_again();
    let t2 = server.terminal("t2");
    let listed = t2.boss(&["--json", "list"]).ok().json();
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].to_string())
        .collect();
    assert_eq!(ids, vec![doc.clone()]);
    let after = import(&t1, server.tmp.path(), "c.txt", b"after");
    let out = server.tmp.path().join("out.txt");
    t2.boss(&["open", &after, "--out", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), b"after");
    t2.boss(&["audit", "verify"]).ok();
    t1.boss(&["audit", "verify"]).ok();
}

#[test]
fn three_terminals_grant_and_revoke_to_each_other() {
    // The officer at one PC, a manager at another, a handler at a third,
    // each with a home of its own.
    let v = super::TestVault::on_a_server();
    let mpw = v.add("mgr", "manager");
    let hpw = v.add("hana", "handler");
    let doc = v.import(&v.file("d.txt", b"shared"), &[]);
    v.boss(&["grant", &doc, "--to", "mgr"]).ok();
    let hana_opens = || v.user_on("t3", "hana", &hpw, &["open", &doc, "--out", "-"]);
    hana_opens().code(4);
    // The manager grants from her PC; the handler opens at his.
    v.user_on("t2", "mgr", &mpw, &["grant", &doc, "--to", "hana"])
        .ok();
    assert_eq!(hana_opens().ok().stdout, b"shared");
    // The officer revokes from his; the handler is refused at once.
    v.boss(&["revoke", &doc, "--from", "hana"]).ok();
    hana_opens().code(4);
    // The manager sees the holders as the officer left them.
    let shown = v
        .user_on("t2", "mgr", &mpw, &["--json", "show", &doc])
        .ok()
        .json();
    assert_eq!(shown["holders"], serde_json::json!(["boss", "mgr"]));
    v.boss(&["audit", "verify"]).ok();
    v.boss_on("t3", &["audit", "verify"]).ok();
}

#[test]
fn a_unit_that_rewrites_a_terminals_own_bookkeeping_is_refused() {
    // An insider with the database key and the server's superuser seals
    // a unit that empties the table where each terminal keeps which
    // keyslots the log carried (so that older ones would pass).
    let v = super::TestVault::on_a_server();
    v.boss(&["list"]).ok();
    let snapshot = v.tmp.path().join("before.db");
    kinko_test_support::forge::snapshot(&v.dir, &snapshot);
    let insider = kinko_test_support::forge::KeyHolder::of(&v.dir, "boss", super::OFFICER_PW);
    insider
        .open(&v.dir)
        .execute("DELETE FROM replica_keyslots", [])
        .unwrap();
    let unit = kinko_test_support::forge::unit_of_edits_with(&v.dir, &snapshot, &insider, true)
        .expect("the edit makes a unit");
    v.put_unit(&unit);
    for refused in [v.boss(&["list"]), v.boss_on("t2", &["list"])] {
        let refused = refused.code(5);
        assert!(
            refused.stderr.contains("replica_keyslots"),
            "{}",
            refused.stderr
        );
    }
}

#[test]
fn the_system_administrator_approves_a_waiting_terminal_from_theirs() {
    let v = super::TestVault::on_a_server();
    let sam = v.add("sam", "sysadmin");
    let hpw = v.add("hana", "handler");
    let server = v.server.as_ref().unwrap();
    let waiting = Terminal::new(v.tmp.path(), "new-pc");
    let asked = waiting.enrol(server, &["--user", "hana"]).ok().json();
    let code = asked["code"].as_str().unwrap().to_string();
    // A handler may not; a code nobody was given approves nothing; on a
    // vault folder there is nothing to approve.
    v.as_user("hana", &hpw, &["device", "approve", &code])
        .code(4);
    let unknown = v.as_user("sam", &sam, &["device", "approve", "ZZZZ-ZZZZ"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no terminal is waiting"),
        "{}",
        unknown.stderr
    );
    assert_eq!(waiting.enrol(server, &[]).ok().json()["status"], "waiting");
    // The system administrator approves from their own terminal.
    let approved = v
        .as_user("sam", &sam, &["--json", "device", "approve", &code])
        .ok()
        .json();
    let id = approved["approved"]["id"].as_str().unwrap().to_string();
    assert_eq!(approved["approved"]["account"], "hana");
    let done = waiting.enrol(server, &[]).ok().json();
    assert_eq!(done["status"], "enrolled");
    assert_eq!(done["terminal"], id.as_str());
    // The approval is in the signed trail, by sam, and the server knows
    // which unit of the log recorded it.
    let events = v
        .boss(&["--json", "audit", "log", "--event", "device.approve"])
        .ok()
        .json();
    let events = events.as_array().unwrap();
    let ok: Vec<_> = events.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1, "{events:?}");
    assert_eq!(ok[0]["actor"], "sam");
    // The event names the key the server certified for the new terminal.
    let key = server.sql(&format!(
        "SELECT key_digest FROM terminals WHERE id = '{id}'"
    ));
    assert_eq!(key.trim().len(), 64, "{key}");
    assert_eq!(ok[0]["object"], format!("device:{}", key.trim()));
    assert!(
        ok[0]["detail"].as_str().unwrap().contains(&code),
        "{:?}",
        ok[0]
    );
    assert!(events
        .iter()
        .any(|e| e["actor"] == "hana" && e["outcome"] == "denied"));
    let recorded = server.sql(&format!(
        "SELECT approved_in IS NOT NULL FROM terminals WHERE id = '{id}'"
    ));
    assert_eq!(recorded.trim(), "t");
    let verified = v.boss(&["--json", "audit", "verify"]).ok().json();
    assert_eq!(verified["terminals"]["approved"], 1, "{verified}");
    // The approved terminal works on the vault as hana.
    let at_new = Terminal {
        state: waiting.state.clone(),
        server: Some(server.url.clone()),
    };
    let listed = Command::new(super::kinko_bin())
        .args(["--server", &server.url, "list"])
        .env("KINKO_STATE_DIR", &at_new.state)
        .env("KINKO_USER", "hana")
        .env("KINKO_PASSWORD", &hpw)
        .env_remove("KINKO_VAULT")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
}

#[test]
fn a_terminal_approved_without_a_signed_approval_is_tampering() {
    // Hana, a handler, runs a modified terminal: it appends a unit of her
    // own (sealed with the database key her slot gives her) and asks the
    // server to approve a waiting terminal with it. The server cannot
    // read the unit; it checks only that the key digest matches what
    // waits under the code. No signed approval by the officer or a system
    // administrator names that key, and audit verify says so.
    use kinko_test_support::forge;
    let v = super::TestVault::on_a_server();
    let hpw = v.add("hana", "handler");
    let server = v.server.as_ref().unwrap();
    let waiting = Terminal::new(v.tmp.path(), "outsider-pc");
    let code = waiting.enrol(server, &["--user", "hana"]).ok().json()["code"]
        .as_str()
        .unwrap()
        .to_string();
    v.as_user("hana", &hpw, &["list"]).ok();
    let insider = forge::KeyHolder::of(&v.dir, "hana", &hpw);
    let snapshot = v.tmp.path().join("before.db");
    forge::snapshot(&v.dir, &snapshot);
    insider
        .open(&v.dir)
        .execute(
            "UPDATE sessions SET last_seen_at = '2026-01-01T00:00:00Z' WHERE account = 'hana'",
            [],
        )
        .unwrap();
    let unit = forge::unit_of_edits(&v.dir, &snapshot, &insider).expect("a unit");
    let device = kinko_remote::Device::in_state_dir(&v.tmp.path().join("terminal"));
    let at = kinko_remote::Server::enrolled(&device).unwrap();
    let described = at.waiting(&code).unwrap();
    let new_unit = kinko_protocol::NewUnit {
        sealed: data_encoding::BASE64.encode(&unit.sealed),
        keyslots: None,
        snapshot: false,
    };
    // Another key than the one waiting: the server refuses, and the log
    // does not take the unit.
    let turn = at.take_turn(unit.seq - 1).unwrap();
    let wrong = kinko_protocol::Approve {
        code: code.clone(),
        key: "0".repeat(64),
    };
    let refused = at.append(
        &turn.lease,
        unit.seq - 1,
        new_unit.clone(),
        Some(wrong),
        Vec::new(),
    );
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(at.vault_state().unwrap().head, unit.seq - 1);
    // The key that waits: approved, with the unit's number beside it.
    let turn = at.take_turn(unit.seq - 1).unwrap();
    let approve = kinko_protocol::Approve {
        code: code.clone(),
        key: described.key.clone(),
    };
    let appended = at
        .append(
            &turn.lease,
            unit.seq - 1,
            new_unit,
            Some(approve),
            Vec::new(),
        )
        .unwrap();
    let id = appended.approved.expect("approved").id;
    assert_eq!(waiting.enrol(server, &[]).ok().json()["status"], "enrolled");
    let caught = v.boss(&["audit", "verify"]).code(5);
    assert!(
        caught.stderr.contains(&id) && caught.stderr.contains("no signed approval"),
        "{}",
        caught.stderr
    );
}

#[test]
fn a_key_already_certified_is_not_enrolled_again() {
    // A terminal's key (a revoked laptop's, say) offered again: an
    // approval of a key vouches for one terminal, so the server refuses
    // to certify it a second time, with or without a token.
    let v = super::TestVault::on_a_server();
    let device = kinko_remote::Device::in_state_dir(&v.tmp.path().join("terminal"));
    let pem = std::fs::read_to_string(device.dir().join("terminal.key")).unwrap();
    let key = rcgen::KeyPair::from_pem(&pem).unwrap();
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let at = kinko_remote::Server::enrolled(&device).unwrap();
    let token = v
        .server
        .as_ref()
        .unwrap()
        .admin(&["device", "token"])
        .ok()
        .text();
    for token in [None, Some(token.trim().to_string())] {
        let refused = at.enrol(&kinko_protocol::EnrolRequest {
            csr: csr.clone(),
            name: "again".into(),
            account: None,
            token,
        });
        let e = refused.expect_err("a second certificate for one key");
        assert!(e.to_string().contains("already certified"), "{e}");
    }
}

#[test]
fn device_approve_needs_a_server() {
    let v = super::TestVault::new();
    let r = v.boss(&["device", "approve", "ABCD-EFGH"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--server"), "{}", r.stderr);
}

#[test]
fn an_object_erased_without_a_disposal_step_is_tampering() {
    // Hana, a handler, runs a modified terminal: it appends a unit of her
    // own sealing and asks the server to erase a document's object with
    // it, destroying what she may not. The server cannot read the unit;
    // it deletes the object. No signed disposal step records that
    // removal, and audit verify says so.
    use kinko_test_support::forge;
    let v = super::TestVault::on_a_server();
    let hpw = v.add("hana", "handler");
    let doc = v.import(&v.file("kept.txt", b"evidence"), &[]);
    let object: String = forge::KeyHolder::of(&v.dir, "boss", super::OFFICER_PW)
        .open(&v.dir)
        .query_row(
            "SELECT object_name FROM documents WHERE id = ?1",
            [doc.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    v.as_user("hana", &hpw, &["list"]).ok();
    let insider = forge::KeyHolder::of(&v.dir, "hana", &hpw);
    let before = v.tmp.path().join("before.db");
    forge::snapshot(&v.dir, &before);
    insider
        .open(&v.dir)
        .execute(
            "UPDATE sessions SET last_seen_at = '2026-01-01T00:00:00Z' WHERE account = 'hana'",
            [],
        )
        .unwrap();
    let unit = forge::unit_of_edits(&v.dir, &before, &insider).expect("a unit");
    let device = kinko_remote::Device::in_state_dir(&v.tmp.path().join("terminal"));
    let at = kinko_remote::Server::enrolled(&device).unwrap();
    let turn = at.take_turn(unit.seq - 1).unwrap();
    at.append(
        &turn.lease,
        unit.seq - 1,
        kinko_protocol::NewUnit {
            sealed: data_encoding::BASE64.encode(&unit.sealed),
            keyslots: None,
            snapshot: false,
        },
        None,
        vec![object.clone()],
    )
    .unwrap();
    // Gone from the server, and never stored again under that name.
    assert!(!at.has_object(&object).unwrap());
    let caught = v.boss(&["audit", "verify"]).code(5);
    assert!(
        caught.stderr.contains(&object) && caught.stderr.contains("no signed disposal step"),
        "{}",
        caught.stderr
    );
}
