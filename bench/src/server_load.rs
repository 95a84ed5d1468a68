//! The office server under load (issue 16):
//!
//! ```text
//! bash bench/server-load.sh [TERMINALS] [SECONDS] [OPEN_MIB]
//! ```
//!
//! A real `kinko-server` (the release binary beside this one) on a
//! PostgreSQL cluster of the bench's own, on loopback. Each simulated
//! terminal is a thread with a home of its own: its device enrolled with
//! a token, its replica, its person (a manager on the handler roster,
//! signed in once: Argon2id is paid once a terminal). For SECONDS every
//! terminal loops over a mix of list (40 %), open (30 %: the app's
//! viewer, in memory), import of 64 KiB of personal data (15 %) and grant
//! (15 %), as fast as it can. Printed: actions a
//! second, p50 and p99 latency, overall and per action, the server's RSS,
//! and beside them the same mix by one person on a standalone vault in
//! the same run; then one open of OPEN_MIB streamed from the server
//! against the same open from a standalone vault.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use kinko_core::roster::{Roster, RosterFields};
use kinko_core::vault::InitOptions;
use kinko_core::{ExportTarget, ImportRequest, Password, Session, Vault};
use kinko_remote::{Device, Enrolment, Outcome, RemoteVault, Server};
use kinko_test_support::postgres::Postgres;

use crate::{init_options, PASSWORD};

const OWN_PASSWORD: &str = "Zq8!Terminal-Own-77";
const SMALL: usize = 64 * 1024;

/// The four actions of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    List,
    Open,
    Import,
    Grant,
}

const KINDS: [Kind; 4] = [Kind::List, Kind::Open, Kind::Import, Kind::Grant];

/// Which action comes next: 40 % list, 30 % open, 15 % import, 15 % grant.
fn pick(roll: u64) -> Kind {
    match roll % 20 {
        0..=7 => Kind::List,
        8..=13 => Kind::Open,
        14..=16 => Kind::Import,
        _ => Kind::Grant,
    }
}

/// A small generator for the mix (not for anything secret).
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What one run of the mix measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<(Kind, Duration)>,
    failures: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.failures.extend(other.failures);
    }

    fn print(&self, label: &str, seconds: f64) {
        let all: Vec<Duration> = self.latencies.iter().map(|(_, d)| *d).collect();
        println!(
            "{label:<34} {:>8.1} actions/s  p50 {:>7.1} ms  p99 {:>7.1} ms  ({} actions, {} failed)",
            all.len() as f64 / seconds,
            percentile(&all, 50.0),
            percentile(&all, 99.0),
            all.len(),
            self.failures.len()
        );
        for kind in KINDS {
            let of: Vec<Duration> = self
                .latencies
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| *d)
                .collect();
            println!(
                "  {:<32} {:>8.1} actions/s  p50 {:>7.1} ms  p99 {:>7.1} ms",
                format!("{kind:?}"),
                of.len() as f64 / seconds,
                percentile(&of, 50.0),
                percentile(&of, 99.0)
            );
        }
        if let Some(first) = self.failures.first() {
            println!("  first failure: {first}");
        }
    }
}

/// The `p`th percentile in milliseconds (nearest rank).
fn percentile(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// A `kinko-server` serving on loopback until dropped.
struct TestServer {
    dir: PathBuf,
    url: String,
    fingerprint: String,
    child: Child,
}

impl TestServer {
    fn start(tmp: &Path, database: &str) -> TestServer {
        let dir = tmp.join("server");
        let init = Command::new(server_bin())
            .args([
                "init",
                "--dir",
                dir.to_str().unwrap(),
                "--host",
                "localhost",
            ])
            .args(["--json", "--database", database])
            .output()
            .expect("kinko-server runs (build it: cargo build --release -p kinko-server)");
        assert!(init.status.success(), "{init:?}");
        let said: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
        let mut child = Command::new(server_bin())
            .args(["run", "--dir", dir.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--rate", "10000"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().rsplit(':').next().unwrap().to_string();
        TestServer {
            dir,
            url: format!("https://localhost:{port}"),
            fingerprint: said["ca_fingerprint"].as_str().unwrap().into(),
            child,
        }
    }

    fn token(&self) -> String {
        let out = Command::new(server_bin())
            .args(["device", "token", "--dir", self.dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The server's resident memory now and at its peak, in MiB.
    fn rss(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_bin() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .with_file_name("kinko-server")
}

/// One terminal: its enrolled device and its replica's folder.
struct Terminal {
    home: PathBuf,
    id: String,
}

impl Terminal {
    fn enrol(server: &TestServer, home: PathBuf, name: &str) -> Terminal {
        let device = Device::in_state_dir(&home);
        let outcome = kinko_remote::enrol(
            &device,
            &Enrolment {
                url: server.url.clone(),
                ca_fingerprint: server.fingerprint.clone(),
                token: Some(server.token()),
                name: name.into(),
                account: None,
            },
        )
        .unwrap();
        let Outcome::Enrolled { terminal } = outcome else {
            panic!("{name} was not enrolled: {outcome:?}")
        };
        Terminal { home, id: terminal }
    }

    fn upstream(&self) -> Arc<RemoteVault> {
        let device = Device::in_state_dir(&self.home);
        let server = Server::enrolled(&device).unwrap();
        Arc::new(RemoteVault::new(server, &self.id))
    }

    fn replica(&self) -> PathBuf {
        self.home.join("replica")
    }

    fn vault(&self) -> Vault {
        Vault::open_replica(&self.replica(), self.upstream())
            .unwrap()
            .remembering_in(&self.home)
    }

    /// Sign in; again when someone else's keys changed meanwhile (the
    /// terminal says "sign in again", as a person would be told).
    fn sign_in(&self, id: &str, password: &str) -> Session {
        for _ in 0..20 {
            match self
                .vault()
                .sign_in(id, &Password::new(password), None, &self.id)
            {
                Ok(s) => return s,
                Err(kinko_core::Error::NotSignedIn(_)) => continue,
                Err(e) => panic!("{id} cannot sign in: {e}"),
            }
        }
        panic!("{id} could not sign in in twenty tries");
    }
}

fn request(source: &Path, title: &str) -> ImportRequest {
    ImportRequest {
        personal_data: true,
        ..plain(source, title)
    }
}

/// A document without personal data: it may be written out without the
/// officer's approval (the streamed open).
fn plain(source: &Path, title: &str) -> ImportRequest {
    ImportRequest {
        source: source.into(),
        origin: "労働局".into(),
        via: "bench".into(),
        purpose: "bench".into(),
        title: Some(title.into()),
        personal_data: false,
    }
}

/// The mix, on `s`, until `until`; `others` are whom grants go to.
fn mix(s: &mut Session, me: usize, file: &Path, others: &[String], until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15 ^ (me as u64 + 1));
    let mut mine = vec![s
        .import(&request(file, "seed.txt"), &mut |_, _| {})
        .unwrap()];
    let mut granted = HashSet::new();
    let mut n = 0;
    while Instant::now() < until {
        let kind = pick(dice.roll());
        let doc = mine[(dice.roll() % mine.len() as u64) as usize];
        let started = Instant::now();
        let done = match kind {
            Kind::List => s.list_documents().map(|_| ()),
            // Opening as staff do: the app's viewer, in memory.
            Kind::Open => s.view_document(doc).map(|_| ()),
            Kind::Import => {
                n += 1;
                s.import(&request(file, &format!("d{n}.txt")), &mut |_, _| {})
                    .map(|id| mine.push(id))
            }
            Kind::Grant if others.is_empty() => s.list_documents().map(|_| ()),
            Kind::Grant => {
                let to = &others[(dice.roll() % others.len() as u64) as usize];
                if granted.insert((doc, to.clone())) {
                    s.grant(doc, to)
                } else {
                    // Already given: list instead, so the mix keeps its shape.
                    s.list_documents().map(|_| ())
                }
            }
        };
        let took = started.elapsed();
        match done {
            Ok(()) => tally.latencies.push((kind, took)),
            Err(e) => tally.failures.push(format!("{kind:?}: {e}")),
        }
    }
    tally
}

fn roster_fields(name: &str) -> RosterFields {
    RosterFields {
        name: name.into(),
        department: "相談課".into(),
        position: "主任".into(),
        address: Some("東京都千代田区1-1".into()),
        birth_date: Some("1985-04-01".into()),
        ..Default::default()
    }
}

/// The officer's options for the server's vault.
fn server_init_options() -> InitOptions {
    init_options()
}

pub fn run(terminals: usize, seconds: u64, open_mib: usize) {
    let tmp = tempfile::tempdir().unwrap();
    // Text, so the app's viewer shows it.
    let small = tmp.path().join("small.txt");
    std::fs::write(&small, "氏名,住所,電話\n".repeat(SMALL / 26)).unwrap();
    let pg = Postgres::own();
    let server = TestServer::start(tmp.path(), &pg.new_database());
    println!(
        "office server on loopback, {terminals} terminals, {seconds} s of list 40 % / open 30 % / import 64 KiB 15 % / grant 15 %"
    );

    // The officer makes the vault and the people, each a manager on the
    // handler roster.
    let setup = Instant::now();
    let officer = Terminal::enrol(&server, tmp.path().join("officer"), "officer");
    Vault::init_on_server(
        &officer.replica(),
        server_init_options(),
        officer.upstream(),
    )
    .unwrap();
    let mut boss = officer.sign_in("bench", PASSWORD);
    let ids: Vec<String> = (0..terminals).map(|i| format!("m{i:02}")).collect();
    let mut initial = Vec::new();
    for id in &ids {
        let made = boss.add_account(id, id, "manager").unwrap();
        let request = boss
            .roster_request_add(Roster::Handler, id, &roster_fields(id))
            .unwrap();
        boss.roster_approve(request, "労発0401第1号", "2026-04-01")
            .unwrap();
        initial.push(made.initial_password.as_str().to_string());
    }
    // Each person, at their own terminal, sets their own password.
    let homes: Vec<Terminal> = ids
        .iter()
        .map(|id| Terminal::enrol(&server, tmp.path().join(id), id))
        .collect();
    std::thread::scope(|scope| {
        for half in 0..2 {
            let (homes, ids, initial) = (&homes, &ids, &initial);
            scope.spawn(move || {
                for i in (half..homes.len()).step_by(2) {
                    let mut s = homes[i].sign_in(&ids[i], &initial[i]);
                    s.change_password(&Password::new(OWN_PASSWORD)).unwrap();
                }
            });
        }
    });
    for id in &ids {
        boss.certify_account(id, None).unwrap();
    }
    drop(boss);
    println!(
        "setup (vault, {terminals} people and terminals): {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // Everyone signs in, then all start at once.
    let start = Arc::new(Barrier::new(terminals + 1));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let window = Duration::from_secs(seconds);
    let until = Arc::new(Mutex::new(None::<Instant>));
    std::thread::scope(|scope| {
        for (me, home) in homes.iter().enumerate() {
            let (start, tally, until, ids, small) = (&start, &tally, &until, &ids, &small);
            scope.spawn(move || {
                let mut s = home.sign_in(&ids[me], OWN_PASSWORD);
                let others: Vec<String> = ids.iter().filter(|o| **o != ids[me]).cloned().collect();
                start.wait();
                let deadline = until.lock().unwrap().expect("the start time");
                let mine = mix(&mut s, me, small, &others, deadline);
                tally.lock().unwrap().merge(mine);
            });
        }
        *until.lock().unwrap() = Some(Instant::now() + window);
        start.wait();
    });
    let (rss, peak) = server.rss();
    tally.lock().unwrap().print(
        &format!("office server, {terminals} terminals"),
        seconds as f64,
    );
    println!("  server RSS {rss:.1} MiB (peak {peak:.1} MiB)");

    // The same mix by one person on a standalone vault, same machine.
    let local = tmp.path().join("standalone");
    Vault::init(&local, init_options()).unwrap();
    let mut s = Vault::open(&local)
        .unwrap()
        .sign_in("bench", &Password::new(PASSWORD), None, "bench")
        .unwrap();
    let alone = seconds.min(20);
    let tally = mix(
        &mut s,
        0,
        &small,
        &[],
        Instant::now() + Duration::from_secs(alone),
    );
    tally.print("standalone vault, 1 person", alone as f64);

    stream_open(
        &server,
        &officer,
        (&homes[0], &ids[0]),
        &mut s,
        tmp.path(),
        open_mib,
    );
}

/// One large open streamed from the server against the same open from a
/// standalone vault: the officer receives it at one terminal, grants it,
/// and the person at another terminal (which never held the object)
/// opens it.
fn stream_open(
    server: &TestServer,
    officer: &Terminal,
    (other, person): (&Terminal, &str),
    local: &mut Session,
    tmp: &Path,
    mib: usize,
) {
    let big = tmp.join("big.bin");
    let mut chunk = vec![0u8; 1 << 20];
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&big).unwrap();
        for i in 0..mib {
            chunk
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (i ^ j) as u8);
            f.write_all(&chunk).unwrap();
        }
    }
    let mut boss = officer.sign_in("bench", PASSWORD);
    let on_server = boss.import(&plain(&big, "big"), &mut |_, _| {}).unwrap();
    boss.grant(on_server, person).unwrap();
    drop(boss);
    let mut remote = other.sign_in(person, OWN_PASSWORD);
    let alone = local.import(&plain(&big, "big"), &mut |_, _| {}).unwrap();
    let timed = |s: &mut Session, id: i64| {
        let t = Instant::now();
        s.export(id, ExportTarget::Writer(&mut std::io::sink()))
            .unwrap();
        t.elapsed().as_secs_f64()
    };
    let from_server = timed(&mut remote, on_server);
    // The terminal keeps the object it fetched: a second open is local.
    let again = timed(&mut remote, on_server);
    let from_local = timed(local, alone);
    let rate = |secs: f64| mib as f64 / secs;
    println!(
        "open of {mib} MiB: first from the server {:.0} MiB/s ({:.0} % of standalone), again {:.0} MiB/s; standalone {:.0} MiB/s",
        rate(from_server),
        100.0 * from_local / from_server,
        rate(again),
        rate(from_local),
    );
    let (rss, peak) = server.rss();
    println!("  server RSS after it {rss:.1} MiB (peak {peak:.1} MiB)");
}
