//! End-to-end tests: the real `kinko` binary as a process, against real
//! vault files in temporary directories. One test binary (one link) with
//! a module per subject.

mod accounts;
mod attacks;
mod audit;
mod backup;
mod crash;
mod disposal;
mod documents;
mod errors;
mod incidents;
mod insider;
mod insider_state;
mod insider_trail;
mod permissions;
mod readme;
mod rosters;
mod sealed;
mod server;
mod server_keys;
mod server_limits;
mod server_redundancy;
mod tamper;
mod token;
mod upgrade;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use kinko_test_support::OFFICER_PW;

/// The `kinko` binary next to this test's target directory.
pub fn kinko_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KINKO_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/cli-<hash> → target/<profile>/kinko
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("kinko");
    assert!(
        bin.exists(),
        "build the kinko binary first (cargo build -p kinko-cli): {}",
        bin.display()
    );
    bin
}

/// The state folder of a test's terminal `name`.
fn tmp_terminal(v: &TestVault, name: &str) -> PathBuf {
    v.tmp.path().join(name)
}

/// The outcome of one run of `kinko`.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "kinko failed: {}", self.stderr);
        self
    }
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code,
            expected,
            "stdout: {}\nstderr: {}",
            self.text(),
            self.stderr
        );
        let lines = self.stderr.lines().count();
        if expected != 0 {
            assert!(lines >= 1, "a failure says why on stderr");
            assert!(
                !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
                "{}",
                self.stderr
            );
        }
        self
    }
}

/// Does this run play the tests against an office server
/// (`KINKO_TEST_SERVER=1`, the second half of the test command's matrix)?
/// Then each [`TestVault`] is made on a server of its own, its terminals
/// are enrolled, and every command works through a terminal's replica.
pub fn on_server() -> bool {
    std::env::var_os("KINKO_TEST_SERVER").is_some_and(|v| v == "1")
}

/// A temporary vault and the people in it.
pub struct TestVault {
    pub tmp: tempfile::TempDir,
    /// The vault's folder: on a server, the test terminal's replica.
    pub dir: PathBuf,
    /// What `init` printed once.
    pub recovery: String,
    /// The office server holding the vault, when [`on_server`].
    pub server: Option<server::TestServer>,
    /// On a server: the insider's edits through [`TestVault::raw_db`] not
    /// yet sent as a unit ([`TestVault::send_edits`]).
    edits: std::sync::Mutex<Option<PendingEdits>>,
}

/// A snapshot of the test terminal's replica taken when an insider
/// opened it, and whose keys they opened it with.
struct PendingEdits {
    snapshot: PathBuf,
    insider: kinko_test_support::forge::KeyHolder,
}

impl TestVault {
    /// A new vault whose officer is `boss`, with one-time codes optional
    /// (the tests of two factors use [`TestVault::init_with`] without it).
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestVault {
        Self::init_with(&[
            "--council",
            "テスト協議会",
            "--policy",
            "totp.required=false",
        ])
        .0
    }

    /// A new vault made by `kinko --json init --officer boss --name Officer`
    /// and `extra`; returns it and what `init` printed (the recovery code).
    pub fn init_with(extra: &[&str]) -> (TestVault, serde_json::Value) {
        Self::init_where(on_server(), extra)
    }

    /// [`TestVault::new`] on an office server, whatever the run plays.
    pub fn on_a_server() -> TestVault {
        Self::init_where(
            true,
            &[
                "--council",
                "テスト協議会",
                "--policy",
                "totp.required=false",
            ],
        )
        .0
    }

    /// A vault folder `dir` on this machine (which may not exist yet),
    /// with `tmp` for the test's other files.
    pub fn local_at(tmp: tempfile::TempDir, dir: PathBuf) -> TestVault {
        TestVault {
            dir,
            tmp,
            recovery: String::new(),
            server: None,
            edits: Default::default(),
        }
    }

    fn init_where(server: bool, extra: &[&str]) -> (TestVault, serde_json::Value) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let mut v = TestVault::local_at(tmp, dir);
        if server {
            let server = server::TestServer::start();
            v.dir = tmp_terminal(&v, "terminal").join("replica");
            v.server = Some(server);
            v.enrol("terminal");
        }
        let mut args = vec!["--json", "init", "--officer", "boss", "--name", "Officer"];
        args.extend_from_slice(extra);
        let printed = v
            .run_env(&args, &[("KINKO_PASSWORD", OFFICER_PW)])
            .ok()
            .json();
        v.recovery = printed["recovery_code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (v, printed)
    }

    /// The vault's recovery code, as `init` printed it.
    pub fn recovery_code(&self) -> String {
        self.recovery.clone()
    }

    pub fn work(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.work(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Enrol the terminal whose state folder is `name` with this vault's
    /// server (once).
    pub fn enrol(&self, name: &str) {
        let Some(server) = &self.server else { return };
        let state = tmp_terminal(self, name);
        if state.join("device/server.json").exists() {
            return;
        }
        let token = server.admin(&["device", "token"]).ok().text();
        let t = server::Terminal {
            state,
            server: None,
        };
        t.enrol(server, &["--token", token.trim()]).ok();
    }

    /// `kinko` with this vault, no ambient credentials, and `env`.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        self.send_edits();
        let mut cmd = Command::new(kinko_bin());
        match &self.server {
            None => cmd.env("KINKO_VAULT", &self.dir).env_remove("KINKO_SERVER"),
            Some(s) => cmd.env("KINKO_SERVER", &s.url).env_remove("KINKO_VAULT"),
        };
        cmd.args(args)
            // This test's terminal: what it remembers of the trail stays
            // with the test (and a test can play a second terminal).
            .env("KINKO_STATE_DIR", self.tmp.path().join("terminal"))
            .env("KINKO_LANG", "en")
            .env_remove("KINKO_SESSION")
            .env_remove("KINKO_USER")
            .env_remove("KINKO_PASSWORD")
            .env_remove("KINKO_NEW_PASSWORD")
            .env_remove("KINKO_PKCS11_MODULE")
            .env_remove("KINKO_TOKEN_PIN")
            .env_remove("KINKO_TOKEN_LABEL")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Run `kinko` with this vault and no ambient credentials.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out: Output = self.command(args, env).output().expect("run kinko");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run `kinko` as the officer on another terminal, `terminal`, which
    /// remembers only what was done on it (a new name saw nothing yet).
    pub fn boss_on(&self, terminal: &str, args: &[&str]) -> Run {
        self.enrol(terminal);
        let state = self.tmp.path().join(terminal);
        self.run_env(
            args,
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_STATE_DIR", state.to_str().unwrap()),
            ],
        )
    }

    /// Run `kinko` as `user` on the terminal `terminal` (enrolled with
    /// the server first when the vault is on one).
    pub fn user_on(&self, terminal: &str, user: &str, password: &str, args: &[&str]) -> Run {
        self.enrol(terminal);
        let state = self.tmp.path().join(terminal);
        self.run_env(
            args,
            &[
                ("KINKO_USER", user),
                ("KINKO_PASSWORD", password),
                ("KINKO_STATE_DIR", state.to_str().unwrap()),
            ],
        )
    }

    /// Run `kinko` signed in as `user` with `password`.
    pub fn as_user(&self, user: &str, password: &str, args: &[&str]) -> Run {
        self.run_env(args, &[("KINKO_USER", user), ("KINKO_PASSWORD", password)])
    }

    /// Run `kinko` as the officer with the recovery code at hand.
    pub fn boss_with_code(&self, code: &str, args: &[&str]) -> Run {
        self.run_env(
            args,
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", code),
            ],
        )
    }

    pub fn boss(&self, args: &[&str]) -> Run {
        self.as_user("boss", OFFICER_PW, args)
    }

    /// Add an account and let its person set their own password (the
    /// initial one allows nothing else); returns that password.
    pub fn add(&self, id: &str, role: &str) -> String {
        let initial = self.add_initial(id, role);
        let own = format!("Zq8!own-Secret-{}", id.len());
        let changed = self.own_password(id, &initial, &own);
        // The person's new keys take effect once the officer certifies
        // them, comparing the fingerprint the person's screen shows.
        let fingerprint = changed["key_fingerprint"].as_str().unwrap().to_string();
        self.boss(&["account", "certify", id, "--fingerprint", &fingerprint])
            .ok();
        if ["officer", "manager", "handler"]
            .iter()
            .any(|r| role.contains(r))
        {
            self.roster(id);
        }
        own
    }

    /// The officer certifies `id` after comparing the key fingerprint the
    /// person's own `kinko status` shows.
    pub fn certify(&self, id: &str, password: &str) {
        let status = self
            .as_user(id, password, &["--json", "status"])
            .ok()
            .json();
        let fingerprint = status["key_fingerprint"].as_str().unwrap().to_string();
        self.boss(&["account", "certify", id, "--fingerprint", &fingerprint])
            .ok();
    }

    /// The person `id` replaces the password they were given (`passwd`);
    /// returns what `passwd --json` printed (their new key fingerprint).
    pub fn own_password(&self, id: &str, given: &str, own: &str) -> serde_json::Value {
        self.run_env(
            &["--json", "passwd"],
            &[
                ("KINKO_USER", id),
                ("KINKO_PASSWORD", given),
                ("KINKO_NEW_PASSWORD", own),
            ],
        )
        .ok()
        .json()
    }

    /// `kinko account list` as the officer sees it.
    pub fn accounts(&self) -> Vec<serde_json::Value> {
        let list = self.boss(&["--json", "account", "list"]).ok().json();
        list.as_array().unwrap().clone()
    }

    /// Put an account on the handler roster: a request and the officer's
    /// record of the bureau's approval.
    pub fn roster(&self, id: &str) {
        let req = self
            .boss(&[
                "roster",
                "request",
                "add",
                id,
                "--name",
                id,
                "--address",
                "東京都千代田区1-1",
                "--birth-date",
                "1985-04-01",
                "--department",
                "相談課",
                "--position",
                "主任",
            ])
            .ok()
            .text();
        self.boss(&[
            "roster",
            "approve",
            req.trim(),
            "--ref",
            "労発0401第1号",
            "--date",
            "2026-04-01",
        ])
        .ok();
    }

    /// Add an account; returns its initial password.
    pub fn add_initial(&self, id: &str, role: &str) -> String {
        let r = self
            .boss(&["--json", "account", "add", id, "--name", id, "--role", role])
            .ok();
        r.json()["initial_password"].as_str().unwrap().to_string()
    }

    /// Import a file as the officer; returns the document id.
    pub fn import(&self, path: &Path, extra: &[&str]) -> String {
        let mut args = vec![
            "import",
            path.to_str().unwrap(),
            "--from",
            "bureau",
            "--purpose",
            "contract",
        ];
        args.extend_from_slice(extra);
        self.boss(&args).ok().text().trim().to_string()
    }

    /// Write a disposal plan (executor mika, confirmer boss) to `name`.
    pub fn plan(&self, name: &str, extra: &[&str]) {
        let out = self.work(name);
        let mut args = vec![
            "disposal",
            "plan",
            "--executor",
            "mika",
            "--confirmer",
            "boss",
            "--out",
            out.to_str().unwrap(),
            "--complete-by",
            "2026-12-25",
        ];
        args.extend_from_slice(extra);
        self.boss(&args).ok();
    }

    /// Record the bureau's approval of the current plan, naming its
    /// SHA-256 as printed on it.
    pub fn approve(&self) {
        let status = self.boss(&["--json", "disposal", "status"]).ok().json();
        let sha = status["sha256"]
            .as_str()
            .expect("the plan's SHA-256")
            .to_string();
        self.boss(&[
            "disposal",
            "approve",
            "--ref",
            "労発1201第3号",
            "--date",
            "2026-12-01",
            "--sha256",
            &sha,
        ])
        .ok();
    }

    /// Restore `backup` into `to`, signed in as the officer.
    pub fn restore_as_boss(&self, backup: &str, to: &Path) -> Run {
        self.run_env(
            &[
                "restore",
                backup,
                "--to",
                to.to_str().unwrap(),
                "--user",
                "boss",
            ],
            &[
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &self.recovery),
            ],
        )
    }

    /// Every file under the vault directory.
    pub fn all_files(&self) -> Vec<PathBuf> {
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out)
                } else {
                    out.push(p)
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &mut out);
        out
    }

    /// The object file of the only (or newest) document.
    pub fn object_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.dir.join("objects"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
        v
    }

    /// Open the vault's database directly with a key holder's slot, as
    /// someone with the files and a password could (to tamper with it).
    pub fn raw_db(&self, id: &str, password: &str) -> rusqlite::Connection {
        if self.server.is_none() {
            return kinko_test_support::raw_db(&self.dir, id, password);
        }
        // On a server the insider edits their terminal's replica and
        // sends the edits to every terminal as a unit they seal.
        self.send_edits();
        let insider = kinko_test_support::forge::KeyHolder::of(&self.dir, id, password);
        self.insider_catches_up(&insider);
        let snapshot = self.tmp.path().join("insider-snapshot.db");
        kinko_test_support::forge::snapshot(&self.dir, &snapshot);
        let conn = insider.open(&self.dir);
        *self.edits.lock().unwrap() = Some(PendingEdits { snapshot, insider });
        conn
    }

    /// On a server: bring the test terminal's replica to the head of the
    /// log as the insider would (reading the server's table as its
    /// superuser), so that their edits are made on the newest state.
    fn insider_catches_up(&self, insider: &kinko_test_support::forge::KeyHolder) {
        let Some(server) = &self.server else { return };
        let at = kinko_test_support::forge::position(&self.dir, insider);
        let rows = server.sql(&format!(
            "SELECT seq, encode(sealed, 'hex'), coalesce(encode(keyslots, 'hex'), '') \
             FROM units WHERE seq > {at} ORDER BY seq"
        ));
        let hex = |h: &str| kinko_core::crypto::unhex(h).expect("psql's hex");
        let units: Vec<kinko_test_support::forge::StoredUnit> = rows
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.trim().split('|');
                let seq = parts.next().unwrap().parse().unwrap();
                let sealed = hex(parts.next().unwrap());
                let slots = parts.next().unwrap_or_default();
                kinko_test_support::forge::StoredUnit {
                    seq,
                    sealed,
                    keyslots: (!slots.is_empty()).then(|| hex(slots)),
                }
            })
            .collect();
        kinko_test_support::forge::apply_units(&self.dir, insider, &units);
    }

    /// On a server: what the insider changed through [`TestVault::raw_db`]
    /// since, sealed as a unit with their database key and put at the
    /// head of the server's log as its superuser would. Every command
    /// sends it first.
    pub fn send_edits(&self) {
        let Some(edits) = self.edits.lock().unwrap().take() else {
            return;
        };
        if self.server.is_none() {
            return;
        }
        let forged =
            kinko_test_support::forge::unit_of_edits(&self.dir, &edits.snapshot, &edits.insider);
        if let Some(unit) = forged {
            self.put_unit(&unit);
        }
    }

    /// Put an insider's unit at the head of the server's log, as the
    /// database's superuser.
    pub fn put_unit(&self, unit: &kinko_test_support::forge::ForgedUnit) {
        let server = self.server.as_ref().expect("a vault on a server");
        server.sql(&format!(
            "INSERT INTO units (seq, sealed, terminal) \
             SELECT {}, decode('{}', 'hex'), id FROM terminals ORDER BY issued_at LIMIT 1",
            unit.seq,
            kinko_core::crypto::hex(&unit.sealed)
        ));
    }

    /// The serial of `id`'s newest certificate, read with their own keys.
    /// How many key wraps `holder` has, read as `reader` (id, password)
    /// with the database key.
    pub fn wraps_of(&self, reader: (&str, &str), holder: &str) -> i64 {
        self.raw_db(reader.0, reader.1)
            .query_row(
                "SELECT count(*) FROM wraps WHERE holder = ?1",
                [holder],
                |r| r.get(0),
            )
            .unwrap()
    }

    pub fn cert_serial(&self, id: &str, password: &str) -> i64 {
        self.raw_db(id, password)
            .query_row(
                "SELECT max(serial) FROM certificates WHERE account = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Events in the trail, as JSON, read by the officer.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.boss(&["--json", "audit", "log"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .clone()
    }
}

/// Does `haystack` contain `needle` anywhere?
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every `kinko` command the core's list of actions names exists: its
/// `--help` parses and exits 0.
#[test]
fn every_command_the_actions_list_names_exists() {
    let v = TestVault::new();
    for e in kinko_core::actions::LIST {
        if let Some(cli) = e.cli {
            let mut args: Vec<&str> = cli.split(' ').collect();
            args.push("--help");
            let r = v.run_env(&args, &[]);
            assert_eq!(r.code, 0, "kinko {cli} (for {}) is not a command", e.method);
        }
    }
}

#[test]
fn help_and_usage_errors() {
    let v = TestVault::new();
    v.run_env(&["--help"], &[]).ok();
    v.run_env(&["no-such-command"], &[]).code(2);
    v.run_env(&["import"], &[]).code(2);
}

#[test]
fn login_session_and_logout() {
    let v = TestVault::new();
    let r = v.boss(&["login"]).ok();
    let line = r.text();
    let token = line
        .trim()
        .strip_prefix("export KINKO_SESSION=")
        .expect("export KINKO_SESSION=<token>, as ../shared/CLI.md says")
        .to_string();
    let with = |args: &[&str]| v.run_env(args, &[("KINKO_SESSION", &token)]);
    with(&["list"]).ok();
    with(&["status"]).ok();
    with(&["logout"]).ok();
    with(&["list"]).code(3);
    assert!(
        std::fs::read_dir(v.dir.join("sessions"))
            .unwrap()
            .next()
            .is_none(),
        "key material destroyed"
    );
    v.run_env(&["list"], &[("KINKO_SESSION", "garbage")])
        .code(3);
}

#[test]
fn status_without_and_with_sign_in() {
    let v = TestVault::new();
    let public = v.run_env(&["--json", "status"], &[]).ok().json();
    assert_eq!(public["accounts_with_keyslots"], 1);
    let full = v.boss(&["--json", "status"]).ok().json();
    assert_eq!(full["state"], "active");
    assert_eq!(full["council"], "テスト協議会");
    assert_eq!(full["documents"], 0);
}

#[test]
fn the_initial_password_allows_only_changing_it() {
    let v = TestVault::new();
    let initial = v.add_initial("eri", "handler");
    let r = v.as_user("eri", &initial, &["list"]).code(3);
    assert!(r.stderr.contains("kinko passwd"), "{}", r.stderr);
    v.run_env(
        &["passwd"],
        &[
            ("KINKO_USER", "eri"),
            ("KINKO_PASSWORD", &initial),
            ("KINKO_NEW_PASSWORD", "Blue-Rock-5n2p!r"),
        ],
    )
    .ok();
    // Own keys now, but not yet vouched for by the officer.
    let r = v.as_user("eri", "Blue-Rock-5n2p!r", &["list"]).code(3);
    assert!(r.stderr.contains("certified"), "{}", r.stderr);
    v.certify("eri", "Blue-Rock-5n2p!r");
    v.as_user("eri", "Blue-Rock-5n2p!r", &["list"]).ok();
    v.as_user("eri", &initial, &["list"]).code(3);
}

#[test]
fn passwd_changes_the_password() {
    let v = TestVault::new();
    let pw = v.add_initial("dora", "handler");
    v.run_env(
        &["passwd"],
        &[
            ("KINKO_USER", "dora"),
            ("KINKO_PASSWORD", &pw),
            ("KINKO_NEW_PASSWORD", "Pine-Sky-4m8z!w"),
        ],
    )
    .ok();
    v.as_user("dora", &pw, &["list"]).code(3);
    v.certify("dora", "Pine-Sky-4m8z!w");
    v.as_user("dora", "Pine-Sky-4m8z!w", &["list"]).ok();
}

#[test]
fn pbkdf2_vault_works_end_to_end() {
    let (v, _) = TestVault::init_with(&["--kdf", "pbkdf2", "--policy", "totp.required=false"]);
    let keyslots = std::fs::read_to_string(v.dir.join("keyslots")).unwrap();
    assert!(keyslots.contains("pbkdf2-sha256") && keyslots.contains("600000"));
    let f = v.file("p.txt", b"pbkdf2 doc");
    let id = v.import(&f, &[]);
    assert_eq!(
        v.boss(&["open", &id, "--out", "-"]).ok().stdout,
        b"pbkdf2 doc"
    );
}

#[test]
fn password_from_standard_input() {
    use std::io::Write;
    let v = TestVault::new();
    let run = |input: &str| {
        let mut child = v
            .command(
                &["--user", "boss", "--password-stdin", "--json", "list"],
                &[],
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap().status.code()
    };
    assert_eq!(run(&format!("{OFFICER_PW}\n")), Some(0));
    assert_eq!(run("wrong-password\n"), Some(3));
    assert_eq!(run(""), Some(1));
}

/// I4: `kinko about` needs no vault and shows the version, the algorithms
/// with their ids and the dependency inventory, which is the embedded
/// CycloneDX SBOM (`--sbom` prints it whole).
#[test]
fn about_shows_version_algorithms_and_the_sbom() {
    let v = TestVault::new();
    let nowhere = v.work("no-vault");
    let env = [("KINKO_VAULT", nowhere.to_str().unwrap())];
    let about = v.run_env(&["--json", "about"], &env).ok().json();
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    let algorithms = about["algorithms"].as_array().unwrap();
    for needle in [
        "AES-256-GCM",
        "Camellia-256-GCM",
        "ECDSA P-256",
        "Argon2id",
        "PBKDF2",
    ] {
        assert!(
            algorithms
                .iter()
                .any(|a| a["algorithm"].as_str().unwrap().contains(needle)),
            "{needle}"
        );
    }
    let components = about["components"].as_array().unwrap();
    for name in [
        "kinko-core",
        "aes-gcm",
        "camellia",
        "rusqlite",
        "hpke",
        "zeroize",
    ] {
        assert!(
            components.iter().any(|c| c["name"] == name),
            "{name} missing"
        );
    }
    assert!(components
        .iter()
        .all(|c| c["license"].as_str().is_some_and(|l| !l.is_empty())));
    let sbom = v.run_env(&["about", "--sbom"], &env).ok().json();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(
        sbom["components"].as_array().unwrap().len(),
        components.len()
    );
    let text = v.run_env(&["--lang", "ja", "about"], &env).ok().text();
    assert!(
        text.contains("依存ソフトウェア一覧") && text.contains("CycloneDX"),
        "{text}"
    );
    assert!(!nowhere.exists(), "about touched the vault path");
}
