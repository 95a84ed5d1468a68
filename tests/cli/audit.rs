//! The audit trail through the real binary: verification and checkpoints
//! (A2), tampering of every kind, failing closed, alerts (A5), reports
//! (A4) and retention (A3).

use crate::{TestVault, OFFICER_PW};

/// A vault with some history: a document imported, granted and opened.
fn busy() -> (TestVault, String, String) {
    let v = TestVault::new();
    let pw = v.add("hana", "handler");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.as_user("hana", &pw, &["open", &doc, "--out", "-"]).ok();
    v.as_user("hana", &pw, &["list"]).ok();
    (v, doc, pw)
}

/// `audit verify` names what was wrong. It runs on a terminal that never
/// saw the trail: on the officer's own, the sign-in already refuses a
/// trail that no longer holds what he saw (`insider_trail.rs`).
fn verify_fails(v: &TestVault, names: &str) {
    let r = v.boss_on("auditors-terminal", &["audit", "verify"]).code(5);
    assert!(r.stderr.contains("tampering detected"), "{}", r.stderr);
    assert!(
        r.stderr.contains(names),
        "expected '{names}' in: {}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);
}

#[test]
fn verify_and_a_kept_checkpoint_pass_on_an_untouched_trail() {
    let (v, _, _) = busy();
    let cp = v.work("cp.json");
    v.boss(&["audit", "checkpoint", "--out", cp.to_str().unwrap()])
        .ok();
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(c["format"], "kinko-audit-checkpoint");
    assert!(c["size"].as_u64().unwrap() > 10);
    let r = v
        .boss(&[
            "--json",
            "audit",
            "verify",
            "--checkpoint",
            cp.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(r["against"]["size"], c["size"]);
    assert!(r["events"].as_u64().unwrap() > c["size"].as_u64().unwrap());
    // The checkpoint file is never written over.
    v.boss(&["audit", "checkpoint", "--out", cp.to_str().unwrap()])
        .code(1);
    // An auditor verifies too; a handler may not.
    let aki = v.add("aki", "auditor");
    v.as_user("aki", &aki, &["audit", "verify"]).ok();
    let hana = v.add("hanako", "handler");
    v.as_user("hanako", &hana, &["audit", "verify"]).code(4);
    // Every event has its inclusion proof.
    let p = v.boss(&["--json", "audit", "proof", "3"]).ok().json();
    assert_eq!(p["verified"], true);
    assert!(!p["path"].as_array().unwrap().is_empty());
}

#[test]
fn an_edited_event_is_named() {
    let (v, _, _) = busy();
    v.raw_db("boss", OFFICER_PW)
        .execute(
            "UPDATE audit_events SET actor = 'someone' WHERE seq = 7",
            [],
        )
        .unwrap();
    verify_fails(&v, "audit event 7 was changed");
    // The damage shows in `verify` of the whole vault as well.
    let r = v.boss(&["verify"]).code(5);
    assert!(r.stderr.contains("audit trail"), "{}", r.stderr);
}

#[test]
fn a_deleted_event_is_named() {
    let (v, _, _) = busy();
    v.raw_db("boss", OFFICER_PW)
        .execute("DELETE FROM audit_events WHERE seq = 5", [])
        .unwrap();
    verify_fails(&v, "audit event 5 is missing");
}

#[test]
fn the_last_events_deleted_are_caught_by_the_tree() {
    let (v, _, _) = busy();
    let db = v.raw_db("boss", OFFICER_PW);
    let max: i64 = db
        .query_row("SELECT max(seq) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    db.execute("DELETE FROM audit_events WHERE seq > ?1", [max - 4])
        .unwrap();
    drop(db);
    verify_fails(&v, "audit");
}

#[test]
fn the_very_last_event_deleted_is_tampering() {
    let (v, _, _) = busy();
    v.raw_db("boss", OFFICER_PW)
        .execute(
            "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)",
            [],
        )
        .unwrap();
    // The next event takes the deleted one's place, but the gap was noted
    // (or, when the deleted leaf closed a stored subtree, the tree refuses
    // the new one at once).
    let r = v.boss(&["audit", "verify"]).code(5);
    assert!(
        r.stderr.contains("were recorded") || r.stderr.contains("were deleted"),
        "{}",
        r.stderr
    );
    v.boss(&["audit", "verify"]).code(5);
}

#[test]
fn bad_input_to_the_audit_commands_is_refused_in_one_line() {
    let (v, _, _) = busy();
    for args in [
        &["audit", "proof", "0"][..],
        &["audit", "proof", "999999"],
        &[
            "audit",
            "report",
            "--from",
            "1999-01-01",
            "--to",
            "1999-01-02",
            "--out",
            "x.html",
        ],
        &[
            "audit",
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--out",
            "x.pdf",
            "--format",
            "pdf",
        ],
        &["audit", "verify-archive", "/nonexistent"],
        &[
            "account", "add", "kinko", "--name", "K", "--role", "handler",
        ],
    ] {
        let r = v.boss(args);
        assert!(
            r.code == 1 || r.code == 2,
            "{args:?}: {} {}",
            r.code,
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn an_inserted_event_is_named() {
    let (v, _, _) = busy();
    let db = v.raw_db("boss", OFFICER_PW);
    // Make room after event 4 and put a made-up event there, copying the
    // leaf hash of a real one.
    db.execute_batch(
        "UPDATE audit_events SET seq = -seq WHERE seq > 4;
         UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0;
         INSERT INTO audit_events (seq, at, actor, event, object, outcome, terminal, detail, leaf)
           SELECT 5, at, 'hana', 'document.export', 'document:1', 'ok', terminal, '', leaf
           FROM audit_events WHERE seq = 4;",
    )
    .unwrap();
    drop(db);
    verify_fails(&v, "audit event 5");
}

#[test]
fn reordered_events_are_named() {
    let (v, _, _) = busy();
    let db = v.raw_db("boss", OFFICER_PW);
    db.execute_batch(
        "UPDATE audit_events SET seq = -1 WHERE seq = 6;
         UPDATE audit_events SET seq = 6 WHERE seq = 8;
         UPDATE audit_events SET seq = 8 WHERE seq = -1;",
    )
    .unwrap();
    drop(db);
    verify_fails(&v, "audit event 6");
}

#[test]
fn an_edited_tree_node_is_tampering() {
    let (v, _, _) = busy();
    v.raw_db("boss", OFFICER_PW)
        .execute(
            "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0",
            [],
        )
        .unwrap();
    verify_fails(&v, "audit events 1–4");
}

#[test]
fn a_rolled_back_vault_fails_against_a_later_checkpoint() {
    let (v, doc, pw) = busy();
    let old = v.work("old-copy");
    copy_dir(&v.dir, &old);
    v.as_user("hana", &pw, &["open", &doc, "--out", "-"]).ok();
    let cp = v.work("later.json");
    v.boss(&["audit", "checkpoint", "--out", cp.to_str().unwrap()])
        .ok();
    std::fs::remove_dir_all(&v.dir).unwrap();
    copy_dir(&old, &v.dir);
    // The officer's own terminal saw the later trail: his sign-in refuses.
    let r = v.boss(&["audit", "verify"]).code(5);
    assert!(
        r.stderr.contains("put back to an earlier copy"),
        "{}",
        r.stderr
    );
    // On a terminal that saw nothing, the kept checkpoint tells.
    let r = v
        .boss_on(
            "new-terminal",
            &["audit", "verify", "--checkpoint", cp.to_str().unwrap()],
        )
        .code(5);
    assert!(r.stderr.contains("rolled back"), "{}", r.stderr);
    // Without it the old copy is self-consistent there: that is what
    // keeping a checkpoint apart (or a terminal that saw more) is for.
    v.boss_on("another-new-terminal", &["audit", "verify"]).ok();
}

#[test]
fn a_forged_or_foreign_checkpoint_is_refused() {
    let (v, _, _) = busy();
    let cp = v.work("cp.json");
    v.boss(&["audit", "checkpoint", "--out", cp.to_str().unwrap()])
        .ok();
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    c["size"] = serde_json::json!(c["size"].as_u64().unwrap() - 1);
    let forged = v.file("forged.json", c.to_string().as_bytes());
    let r = v
        .boss(&["audit", "verify", "--checkpoint", forged.to_str().unwrap()])
        .code(5);
    assert!(r.stderr.contains("signature"), "{}", r.stderr);
    // A real checkpoint of another vault.
    let other = TestVault::new();
    let ocp = other.work("o.json");
    other
        .boss(&["audit", "checkpoint", "--out", ocp.to_str().unwrap()])
        .ok();
    let r = v
        .boss(&["audit", "verify", "--checkpoint", ocp.to_str().unwrap()])
        .code(1);
    assert!(r.stderr.contains("not of this vault"), "{}", r.stderr);
    let junk = v.file("junk.json", b"{\"hello\": 1}");
    v.boss(&["audit", "verify", "--checkpoint", junk.to_str().unwrap()])
        .code(1);
}

/// A3 fail closed: when the event cannot be written the action does not
/// happen, and the person is told why.
#[test]
fn no_event_no_action() {
    let v = TestVault::new();
    let db = v.raw_db("boss", OFFICER_PW);
    db.execute_batch(
        "CREATE TRIGGER full BEFORE INSERT ON audit_events
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    let src = v.file("a.txt", b"must not be kept");
    let r = v
        .boss(&[
            "import",
            src.to_str().unwrap(),
            "--from",
            "b",
            "--purpose",
            "p",
        ])
        .code(1);
    assert!(
        r.stderr.contains("audit event could not be written"),
        "{}",
        r.stderr
    );
    assert!(v.object_files().is_empty(), "an object file was left");
    db.execute_batch("DROP TRIGGER full;").unwrap();
    drop(db);
    let list = v.boss(&["--json", "list"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 0);
    v.boss(&["audit", "verify"]).ok();
}

#[test]
fn alerts_are_raised_listed_and_acknowledged() {
    let v = TestVault::new();
    v.boss(&["policy", "set", "alert.bulk_count", "2"]).ok();
    v.boss(&["policy", "set", "alert.failed_count", "2"]).ok();
    let hana = v.add("hana", "handler");
    let mika = v.add("mika", "manager");
    let aki = v.add("aki", "auditor");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    let pd = v.import(&v.file("p.txt", b"personal"), &["--personal-data"]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    // Bulk: three opens within the window, over a limit of two.
    for _ in 0..3 {
        v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
    }
    // A revoked grant, then an attempt.
    v.boss(&["revoke", &doc, "--from", "hana"]).ok();
    v.as_user("hana", &hana, &["open", &doc, "--out", "-"])
        .code(4);
    // Personal data out of the vault, with the approval it needs.
    v.boss(&["approve-export", &pd, "--ref", "労発1号"]).ok();
    v.boss(&["open", &pd, "--out", "-"]).ok();
    // Failed sign-ins, recorded at the next sign-in.
    v.as_user("mika", "wrong-password-1", &["list"]).code(3);
    v.as_user("mika", "wrong-password-2", &["list"]).code(3);
    v.as_user("mika", &mika, &["list"]).ok();

    let alerts = v.as_user("aki", &aki, &["--json", "alerts"]).ok().json();
    let rules: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "bulk_access",
        "ended_access",
        "personal_data_export",
        "failed_signins",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    assert_eq!(rules.iter().filter(|r| **r == "bulk_access").count(), 1);
    let bulk = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "bulk_access")
        .unwrap();
    assert_eq!(bulk["actor"], "hana");
    let number = bulk["id"].clone();
    let id = number.to_string();
    // The auditor reads alerts but does not acknowledge them; a note is needed.
    v.as_user("aki", &aki, &["alerts", "--ack", &id, "--note", "seen"])
        .code(4);
    v.as_user("mika", &mika, &["alerts", "--ack", &id]).code(2);
    // Nobody acknowledges an alert about themselves.
    let about_mika = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "failed_signins")
        .unwrap()["id"]
        .to_string();
    v.as_user(
        "mika",
        &mika,
        &["alerts", "--ack", &about_mika, "--note", "mine"],
    )
    .code(4);
    v.as_user(
        "mika",
        &mika,
        &["alerts", "--ack", &id, "--note", "本人に確認済み"],
    )
    .ok();
    v.as_user("mika", &mika, &["alerts", "--ack", &id, "--note", "again"])
        .code(1);
    let open = v.boss(&["--json", "alerts"]).ok().json();
    assert!(open.as_array().unwrap().iter().all(|a| a["id"] != number));
    let all = v.boss(&["--json", "alerts", "--all"]).ok().json();
    let acked = all
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == number)
        .unwrap();
    assert_eq!(acked["acked_by"], "mika");
    // Raising and acknowledging are events.
    let events = v.events();
    assert!(events.iter().any(|e| e["event"] == "alert.raise"
        && e["actor"] == "kinko"
        && e["detail"].as_str().unwrap().starts_with("bulk_access")));
    assert!(events
        .iter()
        .any(|e| e["event"] == "alert.ack" && e["actor"] == "mika" && e["outcome"] == "ok"));
    v.boss(&["audit", "verify"]).ok();
}

#[test]
fn work_outside_the_allowed_hours_raises_an_alert() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    // A one-minute window twelve hours away from now (Japan time).
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap());
    let h = (now.format("%H").to_string().parse::<u32>().unwrap() + 12) % 24;
    let window = format!("{h:02}:00-{h:02}:01");
    v.boss(&["policy", "set", "hours.handler", &window]).ok();
    v.as_user("hana", &hana, &["list"]).code(4);
    let alerts = v.boss(&["--json", "alerts"]).ok().json();
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "off_hours" && a["actor"] == "hana"),
        "{alerts}"
    );
}

#[test]
fn reports_print_in_japanese_english_csv_and_json() {
    let (v, _, _) = busy();
    v.as_user("hana", "wrong-password", &["list"]).code(3);
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(3)).to_string();
    let to = (today + chrono::Duration::days(1)).to_string();
    let html = v.work("r.html");
    v.boss(&[
        "--lang",
        "ja",
        "audit",
        "report",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        html.to_str().unwrap(),
    ])
    .ok();
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "監査ログ分析報告書",
        "<svg",
        "令和",
        "hana",
        "document.export",
        "テスト協議会",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    assert!(!page.to_lowercase().contains("<script"));
    let en = v.work("r-en.html");
    v.boss(&[
        "--lang",
        "en",
        "audit",
        "report",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        en.to_str().unwrap(),
    ])
    .ok();
    assert!(std::fs::read_to_string(&en)
        .unwrap()
        .contains("Audit trail report"));
    let csv = v.work("r.csv");
    v.boss(&[
        "audit",
        "report",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        csv.to_str().unwrap(),
    ])
    .ok();
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("day,actor,event,outcome,count"));
    assert!(csv.lines().any(|l| l.contains(",hana,document.export,ok,")));
    let json = v.work("r.json");
    v.boss(&[
        "audit",
        "report",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        json.to_str().unwrap(),
    ])
    .ok();
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(j["events"].as_u64().unwrap() > 10);
    assert!(j["refused"].as_u64().unwrap() >= 1);
    assert_eq!(j["by_day"].as_array().unwrap().len(), 5);
    assert!(j["by_person"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["actor"] == "hana" && p["opened"] == 1));
    // Bad periods and names are refused with one line.
    for (a, b) in [(to.as_str(), from.as_str()), ("2026-13-01", to.as_str())] {
        let r = v
            .boss(&[
                "audit",
                "report",
                "--from",
                a,
                "--to",
                b,
                "--out",
                v.work("x.html").to_str().unwrap(),
            ])
            .code(1);
        assert_eq!(r.stderr.lines().count(), 1);
    }
    v.boss(&[
        "audit",
        "report",
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        html.to_str().unwrap(),
    ])
    .code(1);
}

#[test]
fn retention_can_only_grow_and_young_events_stay() {
    let v = TestVault::new();
    v.boss(&["policy", "set", "audit.retention_days", "300"])
        .code(1);
    v.boss(&["policy", "set", "audit.retention_days", "400"])
        .ok();
    let r = v
        .boss(&["policy", "set", "audit.retention_days", "365"])
        .code(1);
    assert!(r.stderr.contains("can only be raised"), "{}", r.stderr);
    let out = v.work("archive.json");
    let r = v
        .boss(&[
            "audit",
            "archive",
            "--before",
            "2999-01-01",
            "--out",
            out.to_str().unwrap(),
        ])
        .code(1);
    assert!(r.stderr.contains("retention"), "{}", r.stderr);
    assert!(!out.exists());
    let aki = v.add("aki", "auditor");
    v.as_user(
        "aki",
        &aki,
        &[
            "audit",
            "archive",
            "--before",
            "2999-01-01",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .code(4);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A date given to `audit log` means a Japan day, as in the app and the
/// reports: `--since D` starts at 00:00 Japan time (15:00 UTC the day
/// before), `--until D` ends at 24:00 Japan time.
#[test]
fn audit_log_dates_are_japan_days() {
    let v = TestVault::new();
    let all = v.events();
    let japan_day = |e: &serde_json::Value| kinko_core::time::japan_day(e["at"].as_str().unwrap());
    let today = japan_day(all.last().unwrap());
    let yesterday = today.pred_opt().unwrap();
    let count = |flag: &str, day: chrono::NaiveDate| {
        v.boss(&["--json", "audit", "log", flag, &day.to_string()])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    // Counted before each query adds its own event (which is today's).
    let from_today = all.iter().filter(|e| japan_day(e) >= today).count();
    assert!(
        count("--since", today) > from_today,
        "--since must take Japan's today"
    );
    let to_yesterday = all.iter().filter(|e| japan_day(e) <= yesterday).count();
    assert_eq!(count("--until", yesterday), to_yesterday);
    // Off by nine hours either way, the bound would cut the day:
    let since = kinko_core::time::since("--since", &today.to_string()).unwrap();
    assert!(since.ends_with("T15:00:00.000000Z"), "{since}");
    let refused = v.boss(&["audit", "log", "--since", "25/11/2026"]).code(1);
    assert!(refused.stderr.contains("--since"), "{}", refused.stderr);
}

/// Issue 15: a failed sign-in is sealed into the inbox (the database
/// cannot be opened without the password), and the next sign-in moves it
/// into the trail dated when it happened, not when it was moved, so the
/// failed-sign-in and off-hours rules judge it by its own time.
#[test]
fn a_failed_sign_in_is_dated_when_it_happened() {
    let v = TestVault::new();
    let hpw = v.add("hana", "handler");
    v.as_user("hana", "Not-Her-Pass-1!", &["list"]).code(3);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    v.as_user("hana", &hpw, &["list"]).ok();
    let events = v.events();
    let hanas = |outcome: &str| {
        events
            .iter()
            .rev()
            .find(|e| {
                e["event"] == "session.signin" && e["actor"] == "hana" && e["outcome"] == outcome
            })
            .unwrap()
            .clone()
    };
    let (failed, signed_in) = (hanas("failed"), hanas("ok"));
    let at = failed["at"].as_str().unwrap();
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("(at {at}, from the inbox)")),
        "{failed}"
    );
    assert!(
        at < signed_in["at"].as_str().unwrap(),
        "{failed} {signed_in}"
    );
    v.boss(&["audit", "verify"]).ok();
}

/// A5: `kinko alerts --follow` prints the alerts waiting, then each new one
/// as it is raised (one JSON object a line), and stops with exit 3 when its
/// session ends (here: the same person signs in elsewhere).
#[test]
fn alerts_follow_prints_each_new_alert_as_it_is_raised() {
    use std::io::BufRead;
    let v = TestVault::new();
    v.boss(&["policy", "set", "alert.bulk_count", "2"]).ok();
    v.boss(&["policy", "set", "alert.failed_count", "2"]).ok();
    let aki = v.add("aki", "auditor");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    // One alert waits before the watch begins.
    v.as_user("mika", "no-such-password-1", &["list"]).code(3);
    v.as_user("mika", "no-such-password-2", &["list"]).code(3);
    v.boss(&["list"]).ok();
    let token = v.as_user("aki", &aki, &["--json", "login"]).ok().json()["session"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watch = v
        .command(
            &["--json", "alerts", "--follow"],
            &[("KINKO_SESSION", &token)],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(serde_json::from_str(&line).expect("one JSON object a line"));
        }
    });
    let wait = std::time::Duration::from_secs(30);
    let first = rx.recv_timeout(wait).expect("the waiting alert is printed");
    assert_eq!(first["rule"], "failed_signins", "{first}");
    for _ in 0..3 {
        v.boss(&["open", &doc, "--out", "-"]).ok();
    }
    let next = rx
        .recv_timeout(wait)
        .expect("the new alert is printed as it comes");
    assert_eq!(next["rule"], "bulk_access", "{next}");
    assert_eq!(next["actor"], "boss");
    // The watch is no activity and no second session: aki signing in again
    // ends it, and it says so.
    v.as_user("aki", &aki, &["alerts"]).ok();
    let status = watch.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut watch.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("ended"), "{err}");
    // What the watch handed over is in the trail as a reading of alerts.
    assert!(v.events().iter().any(|e| e["event"] == "alert.read"
        && e["actor"] == "aki"
        && e["detail"] == "new since 0: 1"));
}
