//! Crash and concurrency (issue 7): the real `kinko` killed with SIGKILL
//! at random moments of import, grant, revoke, backup, rekey and disposal.
//! After every kill the vault verifies (files and audit trail), nothing
//! half done is visible (a document is there whole or not at all; a grant
//! is held with a key that opens or not held; a backup on record is either
//! complete or not at its path), and the work can be done or resumed.
//! Two processes working on one vault at once corrupt nothing.
//!
//! The kill moments come from a seeded generator: `KINKO_CRASH_SEED=N`
//! repeats a run; each kill prints its moment, so a failure names it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::{TestVault, OFFICER_PW};

/// xorshift64*: a seeded source of kill moments (not for keys).
struct Moments(u64);

impl Moments {
    fn new() -> Self {
        let seed = std::env::var("KINKO_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x4b49_4e4b_4f21);
        eprintln!("crash harness seed {seed} (KINKO_CRASH_SEED)");
        Moments(seed | 1)
    }
    /// A moment in [from, to] of a run that takes `full`.
    fn within(&mut self, full: Duration, from: f64, to: f64) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let unit = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        full.mul_f64(from + (to - from) * unit)
    }
}

/// How long one undisturbed run of `args` takes.
fn timed(v: &TestVault, args: &[&str], env: &[(&str, &str)]) -> Duration {
    let start = Instant::now();
    let out = v.command(args, env).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Start `args`, SIGKILL it after `after` (if it is still running), and
/// say whether it finished first.
fn kill_after(v: &TestVault, args: &[&str], env: &[(&str, &str)], after: Duration) -> bool {
    let mut child = v
        .command(args, env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    eprintln!(
        "  {args:?} killed at {after:?}: {}",
        if finished { "had finished" } else { "killed" }
    );
    finished
}

/// A session token for the officer, so a command's time is its own work
/// and not the password's key derivation.
fn login(v: &TestVault) -> String {
    let out = v.boss(&["--json", "login"]).ok().json();
    out["session"].as_str().unwrap().to_string()
}

/// The vault verifies (objects, database, audit tree), and every document
/// listed opens, for whichever of `sessions` holds it, to exactly the
/// bytes it was received with.
fn check_as(v: &TestVault, sessions: &[&str], contents: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let env = [("KINKO_SESSION", sessions[0])];
    let report = v.run_env(&["--json", "verify"], &env).ok().json();
    assert_eq!(report["damaged"].as_array().unwrap().len(), 0, "{report}");
    v.run_env(&["audit", "verify"], &env).ok();
    let list = v.run_env(&["--json", "list"], &env).ok().json();
    let mut ids = Vec::new();
    for d in list.as_array().unwrap() {
        let id = d["id"].to_string();
        let got = sessions
            .iter()
            .map(|s| v.run_env(&["open", &id, "--out", "-"], &[("KINKO_SESSION", s)]))
            .find(|r| r.code == 0)
            .unwrap_or_else(|| panic!("nobody can open document {id}"))
            .stdout;
        let title = d["title"].as_str().unwrap();
        assert_eq!(
            Some(&got),
            contents.get(title),
            "document {id} ({title}) is not whole"
        );
        ids.push(id);
    }
    ids
}

fn check(v: &TestVault, session: &str, contents: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    check_as(v, &[session], contents)
}

#[test]
fn sigkill_at_random_moments_leaves_a_vault_that_verifies() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let mika = v.add("mika", "manager");
    let mut at = Moments::new();
    let mut contents = BTreeMap::new();
    let mut session = login(&v);

    // Import: a 4 MB file, killed anywhere from start to end.
    let mut file_no = 0;
    let mut import = |v: &TestVault, contents: &mut BTreeMap<String, Vec<u8>>| {
        file_no += 1;
        let title = format!("f{file_no}");
        let bytes: Vec<u8> = (0..4_000_000u32)
            .map(|i| (i.wrapping_mul(31) ^ file_no) as u8)
            .collect();
        let path = v.file(&title, &bytes);
        contents.insert(title.clone(), bytes);
        let args: Vec<String> = [
            "import",
            path.to_str().unwrap(),
            "--from",
            "bureau",
            "--purpose",
            "p",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args
    };
    let args = import(&v, &mut contents);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let full = timed(&v, &args, &[("KINKO_SESSION", &session)]);
    for _ in 0..8 {
        let args = import(&v, &mut contents);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kill_after(
            &v,
            &args,
            &[("KINKO_SESSION", &session)],
            at.within(full, 0.0, 1.2),
        );
        check(&v, &session, &contents);
    }
    let docs = check(&v, &session, &contents);
    assert!(!docs.is_empty());

    // Grant and revoke: after a kill she holds a key that opens, or none.
    let doc = docs[0].clone();
    let full = timed(
        &v,
        &["grant", &doc, "--to", "hana"],
        &[("KINKO_SESSION", &session)],
    );
    v.run_env(
        &["revoke", &doc, "--from", "hana"],
        &[("KINKO_SESSION", &session)],
    )
    .ok();
    for round in 0..8 {
        let (verb, flag) = if round % 2 == 0 {
            ("grant", "--to")
        } else {
            ("revoke", "--from")
        };
        kill_after(
            &v,
            &[verb, &doc, flag, "hana"],
            &[("KINKO_SESSION", &session)],
            at.within(full, 0.0, 1.2),
        );
        let shown = v
            .run_env(&["--json", "show", &doc], &[("KINKO_SESSION", &session)])
            .ok()
            .json();
        let holds = shown["holders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "hana");
        let opened = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
        assert_eq!(
            opened.code == 0,
            holds,
            "hana holds {holds} but open exited {}",
            opened.code
        );
        check(&v, &session, &contents);
    }

    // Backup: a backup on record is complete at its path, or not there.
    let full = timed(
        &v,
        &["backup", "--out", v.work("b0.bak").to_str().unwrap()],
        &[("KINKO_SESSION", &session)],
    );
    for i in 1..=6 {
        let out = v.work(&format!("b{i}.bak"));
        kill_after(
            &v,
            &["backup", "--out", out.to_str().unwrap()],
            &[("KINKO_SESSION", &session)],
            at.within(full, 0.0, 1.2),
        );
        let list = v
            .run_env(&["--json", "backups"], &[("KINKO_SESSION", &session)])
            .ok()
            .json();
        for b in list.as_array().unwrap() {
            let path = std::path::Path::new(b["path"].as_str().unwrap());
            // Finished: the file is at its path. Unfinished (killed): it
            // may be there, complete (the kill came after the link), or
            // not; either way the record names it for disposal.
            if b["finished_at"].is_string() {
                assert!(path.exists(), "finished backup {b} is not at its path");
            }
        }
        if !list
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["path"].as_str() == Some(out.to_str().unwrap()))
        {
            assert!(!out.exists(), "a backup no record names");
        }
        check(&v, &session, &contents);
    }
    // The newest finished backup restores and reads.
    let list = v
        .run_env(&["--json", "backups"], &[("KINKO_SESSION", &session)])
        .ok()
        .json();
    let newest = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["finished_at"].is_string())
        .unwrap();
    let to = v.work("restored");
    v.restore_as_boss(newest["path"].as_str().unwrap(), &to)
        .ok();

    // Rekey: killed anywhere (sign-in included), then finished by a rerun.
    let code = v.recovery_code();
    let rekey_env = [
        ("KINKO_USER", "boss"),
        ("KINKO_PASSWORD", OFFICER_PW),
        ("KINKO_RECOVERY_CODE", code.as_str()),
    ];
    let full = timed(&v, &["rekey", "--suite", "2"], &rekey_env);
    for _ in 0..4 {
        kill_after(&v, &["rekey"], &rekey_env, at.within(full, 0.0, 1.2));
        session = login(&v);
        check(&v, &session, &contents);
    }
    v.run_env(&["rekey"], &rekey_env).ok();
    session = login(&v);
    check(&v, &session, &contents);
    // She still signs in after the database key changed (the key left for her).
    v.as_user("hana", &hana, &["--json", "list"]).ok();

    // Disposal: the execution killed anywhere resumes; the confirmation
    // then finds every item unreadable.
    v.plan("plan.html", &[]);
    v.approve();
    let mika_env = [("KINKO_USER", "mika"), ("KINKO_PASSWORD", mika.as_str())];
    // Signed in once, so the kills land in the execution itself (a
    // whole-vault execution ends every session, so later runs may find
    // theirs gone: that is a refusal, not damage).
    let mika_token = v.as_user("mika", &mika, &["--json", "login"]).ok().json()["session"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..6 {
        let until = at.within(Duration::from_millis(120), 0.0, 1.0);
        kill_after(
            &v,
            &["disposal", "execute"],
            &[("KINKO_SESSION", &mika_token)],
            until,
        );
        let report = v.boss(&["--json", "verify"]).ok().json();
        assert_eq!(report["damaged"].as_array().unwrap().len(), 0, "{report}");
        v.boss(&["audit", "verify"]).ok();
    }
    // Finish it, unless a killed run had already finished.
    let state = v.boss(&["--json", "disposal", "status"]).ok().json();
    if state["state"] != "executed" {
        v.run_env(&["disposal", "execute"], &mika_env).ok();
    }
    let confirmed = v
        .boss_with_code(&v.recovery_code(), &["--json", "disposal", "confirm"])
        .ok()
        .json();
    assert_eq!(confirmed["state"], "confirmed");
    assert!(v.object_files().is_empty());
}

/// Two processes at once: two people importing, granting and backing up
/// on one vault in parallel; every event is in one tree that verifies,
/// every document is whole, every backup restores.
#[test]
fn two_processes_at_once_corrupt_nothing() {
    let v = TestVault::new();
    v.add("hana", "handler");
    let mika = v.add("mika", "manager");
    let boss_session = login(&v);
    let mika_session = v.as_user("mika", &mika, &["--json", "login"]).ok().json()["session"]
        .as_str()
        .unwrap()
        .to_string();
    let mut contents = BTreeMap::new();
    let mut jobs: Vec<(String, Vec<String>)> = Vec::new();
    for (who, session) in [("b", &boss_session), ("m", &mika_session)] {
        let mut args = Vec::new();
        for i in 0..8u8 {
            let title = format!("{who}{i}");
            let bytes: Vec<u8> = (0..300_000u32)
                .map(|b| (b as u8) ^ i ^ who.as_bytes()[0])
                .collect();
            let path = v.file(&title, &bytes);
            contents.insert(title, bytes);
            args.push(path.to_str().unwrap().to_string());
        }
        jobs.push((session.clone(), args));
    }
    let boss_session = &boss_session;
    std::thread::scope(|s| {
        for (session, files) in &jobs {
            let v = &v;
            s.spawn(move || {
                for (i, f) in files.iter().enumerate() {
                    let env = [("KINKO_SESSION", session.as_str())];
                    let id = v
                        .run_env(&["import", f, "--from", "bureau", "--purpose", "p"], &env)
                        .ok()
                        .text();
                    v.run_env(&["grant", id.trim(), "--to", "hana"], &env).ok();
                    if i % 3 == 0 {
                        let out = format!("{f}.bak");
                        v.run_env(
                            &["backup", "--out", &out],
                            &[("KINKO_SESSION", boss_session.as_str())],
                        )
                        .ok();
                    }
                }
            });
        }
    });
    let ids = check_as(&v, &[boss_session, &mika_session], &contents);
    assert_eq!(ids.len(), 16);
    let trail = v
        .run_env(
            &["--json", "audit", "verify"],
            &[("KINKO_SESSION", boss_session.as_str())],
        )
        .ok()
        .json();
    assert!(trail["events"].as_u64().unwrap() > 16 * 2);
    let list = v
        .run_env(
            &["--json", "backups"],
            &[("KINKO_SESSION", boss_session.as_str())],
        )
        .ok()
        .json();
    for (n, b) in list.as_array().unwrap().iter().enumerate() {
        let to = v.work(&format!("r{n}"));
        v.restore_as_boss(b["path"].as_str().unwrap(), &to).ok();
    }
}

/// The paths the running process `pid` has open in `dir`, as the kernel
/// names them (an unnamed file shows as `dir/#inode (deleted)`).
fn open_in(pid: u32, dir: &std::path::Path) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter(|target| target.starts_with(dir))
        .map(|target| target.display().to_string())
        .collect()
}

/// D4: an export killed while it writes leaves no plaintext anywhere: the
/// file being written has no name until it is complete (`O_TMPFILE`), so
/// the kernel frees it with the process. The kill lands while the process
/// holds the output open, seen in `/proc/PID/fd`.
#[test]
fn an_export_killed_while_writing_leaves_no_plaintext() {
    let v = TestVault::new();
    let bytes: Vec<u8> = (0..96_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let doc = v.import(&v.file("big.bin", &bytes), &[]);
    drop(bytes);
    let session = login(&v);
    let out_dir = v.work("exports");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("big.bin");
    let mut child = v
        .command(
            &["open", &doc, "--out", out.to_str().unwrap()],
            &[("KINKO_SESSION", &session)],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let writing = loop {
        let open = open_in(child.id(), &out_dir);
        if !open.is_empty() {
            break open;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export finished before it was seen writing"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the export never began"
        );
        std::thread::sleep(Duration::from_micros(200));
    };
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed while writing {writing:?}");
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "a killed export left {left:?} (it was writing {writing:?})"
    );
    // The next export writes the whole file.
    v.run_env(
        &["open", &doc, "--out", out.to_str().unwrap()],
        &[("KINKO_SESSION", &session)],
    )
    .ok();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 96_000_000);
}
