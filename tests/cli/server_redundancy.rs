//! Redundancy of the office server (issue 16): a PostgreSQL streaming
//! standby taken over by a switch-over, and a backup restored on a new
//! box. Each test runs clusters of its own (stopped, promoted and copied
//! here), never the shared one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kinko_test_support::postgres::Postgres;

use super::server::{first_terminal, import, import_run, Terminal, TestServer};

/// The IDs `list` shows on `t`.
fn listed(t: &Terminal) -> Vec<String> {
    t.boss(&["--json", "list"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].to_string())
        .collect()
}

/// Every document in `expected` is on `t`, whole.
fn all_there(t: &Terminal, expected: &[(String, Vec<u8>)]) {
    let ids = listed(t);
    for (id, body) in expected {
        assert!(
            ids.contains(id),
            "document {id} was acknowledged but is gone"
        );
        let opened = t.boss(&["open", id, "--out", "-"]).ok();
        assert_eq!(&opened.stdout, body, "document {id}");
    }
}

#[test]
fn a_switch_over_to_the_standby_loses_nothing_acknowledged() {
    // The primary and its synchronous standby, as two boxes would run
    // them; the server's URL names both and asks for the writable one.
    let primary = Postgres::own();
    let database = primary.new_database();
    let standby = primary.standby();
    primary.wait_for_synchronous_standby();
    let url = format!(
        "postgresql://kinko@127.0.0.1:{},127.0.0.1:{}/{}?target_session_attrs=read-write&connect_timeout=5",
        primary.port,
        standby.port,
        Postgres::database_of(&database)
    );
    let server = TestServer::start_on(url);
    let tmp = server.tmp.path().to_path_buf();
    let t1 = first_terminal(&server);
    let t2 = server.terminal("t2");
    let first = import(&t1, &tmp, "first.txt", b"first");
    // One terminal receives documents without a pause while the primary
    // dies and the standby is promoted.
    let acknowledged = Arc::new(Mutex::new(vec![(first, b"first".to_vec())]));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (acknowledged, refused, stop) = (acknowledged.clone(), refused.clone(), stop.clone());
        let (state, server_url, tmp) = (t1.state.clone(), t1.server.clone(), tmp.clone());
        std::thread::spawn(move || {
            let t1 = Terminal {
                state,
                server: server_url,
            };
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let body = format!("document {n}").into_bytes();
                let run = import_run(&t1, &tmp, &format!("d{n}.txt"), &body);
                match run.code {
                    0 => acknowledged
                        .lock()
                        .unwrap()
                        .push((run.text().trim().to_string(), body)),
                    _ => refused.lock().unwrap().push(run),
                }
            }
        })
    };
    let settled = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acknowledged.lock().unwrap().len() < count {
            assert!(Instant::now() < deadline, "no import got through");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    settled(3);
    primary.halt();
    standby.promote();
    let at_switch = acknowledged.lock().unwrap().len();
    // Work goes on against the promoted standby, with no restart of the
    // server and nothing done on the terminals.
    settled(at_switch + 3);
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    // What failed during the switch said so in one line, exit 1.
    for run in refused.lock().unwrap().iter() {
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("office server") && run.stderr.trim().lines().count() == 1,
            "{}",
            run.stderr
        );
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "acknowledged {} ({} before the switch), refused {}",
        acknowledged.len(),
        at_switch,
        refused.lock().unwrap().len()
    );
    // Every acknowledged document is on the other terminal, whole, and
    // the trail verifies on both.
    all_there(&t2, &acknowledged);
    t2.boss(&["audit", "verify"]).ok();
    t1.boss(&["audit", "verify"]).ok();
    t1.boss(&["verify"]).ok();
}

#[test]
fn a_backup_restored_on_a_new_box_serves_the_vault_again() {
    let pg = Postgres::own();
    let mut server = TestServer::start_on(pg.new_database());
    let tmp = server.tmp.path().to_path_buf();
    let t1 = first_terminal(&server);
    let t2 = server.terminal("t2");
    let mut kept = Vec::new();
    for n in 0..3 {
        let body = format!("kept {n}").into_bytes();
        kept.push((import(&t1, &tmp, &format!("k{n}.txt"), &body), body));
    }
    // The nightly backup, then the box is lost: its cluster and its
    // folder are gone.
    let backup = tmp.join("backup");
    let made = server
        .admin(&["backup", "--to", backup.to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(made["objects"], 3);
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&backup), 0o700);
    assert_eq!(mode(&backup.join("server").join("ca.key")), 0o600);
    // A second backup into the same folder is refused, the first kept.
    let again = server
        .admin(&["backup", "--to", backup.to_str().unwrap()])
        .code(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    // Work after the backup, seen by the first terminal only.
    let lost = import(&t1, &tmp, "after.txt", b"after the backup");
    drop(pg);
    // The new box: a cluster from the backup's copy, the server restored
    // from it, serving on the same name.
    let restored = Postgres::from_base_backup(&backup.join("database"));
    let database = restored.url(Postgres::database_of(&server.database));
    let dir = tmp.join("restored");
    let run = std::process::Command::new(super::server::server_bin())
        .args(["restore", "--from", backup.to_str().unwrap()])
        .args(["--dir", dir.to_str().unwrap()])
        .env("KINKO_SERVER_DATABASE", &database)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    server.serve_from(dir);
    // The terminal that saw the import made after the backup says the
    // server was put back to an earlier copy: the lost work shows.
    let refused = t1.boss(&["list"]).code(5);
    assert!(
        refused.stderr.contains("earlier copy"),
        "{}",
        refused.stderr
    );
    // A terminal that saw nothing after the backup goes on as before:
    // every document is there, whole, the lost one is not; new work is
    // taken; the trail verifies.
    all_there(&t2, &kept);
    assert!(!listed(&t2).contains(&lost));
    let fresh = import(&t2, &tmp, "fresh.txt", b"after the restore");
    all_there(&t2, &[(fresh, b"after the restore".to_vec())]);
    t2.boss(&["audit", "verify"]).ok();
    // A backup is only restored into a database that is its copy.
    let other = Postgres::own();
    let elsewhere = std::process::Command::new(super::server::server_bin())
        .args(["restore", "--from", backup.to_str().unwrap()])
        .args(["--dir", tmp.join("elsewhere").to_str().unwrap()])
        .args(["--database", &other.new_database()])
        .output()
        .unwrap();
    assert_eq!(elsewhere.status.code(), Some(1));
    let said = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(said.contains("no Kinko server's tables"), "{said}");
    assert!(!tmp.join("elsewhere").exists());
    // Pointing a server at a database is checked the same way: another
    // server's or none is refused and the settings stay; its own is taken.
    let settings = || std::fs::read(server.dir.join("server.json")).unwrap();
    let before = settings();
    let other_url = other.new_database();
    let moved = server
        .admin(&["set-database", "--database", &other_url])
        .code(1);
    assert!(
        moved.stderr.contains("no Kinko server's tables"),
        "{}",
        moved.stderr
    );
    assert_eq!(settings(), before);
    server
        .admin(&["set-database", "--database", &database])
        .ok();
}
