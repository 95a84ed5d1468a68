//! The insider with files against state that is a plain row, not a
//! signed statement (issue 14): that an export approval was used, that a
//! roster entry ended or its removal waits, which of the officer's signed
//! policies is current, who executed a disposal plan. Each row is read
//! again against the trail where it is used (`trail_facts.rs`), so a row
//! cleared or put back with a SQLCipher tool is tampering (exit 5, naming
//! what was wrong), and nothing is let through.

use crate::TestVault;

const SECRET: &[u8] = b"PLAINTEXT-MARKER-STATE personal data of a citizen";

/// A personal-data document granted to hana, and the officer's approval
/// of one export of it by her; returns hana's password and the document.
fn one_export_approved() -> (TestVault, String, String) {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("p.csv", SECRET), &["--personal-data"]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.boss(&[
        "approve-export",
        &doc,
        "--ref",
        "労発1206第1号",
        "--for",
        "hana",
    ])
    .ok();
    (v, hana, doc)
}

/// Hana used the officer's one-time export approval, then clears its
/// record of use so that it lets her out once more. The trail holds the
/// export that used it: the second export is refused as tampering and
/// nothing leaves.
#[test]
fn a_used_export_approval_cleared_by_hand_lets_nothing_out() {
    let (v, hana, doc) = one_export_approved();
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
    assert_eq!(r.stdout, SECRET);
    v.as_user("hana", &hana, &["open", &doc, "--out", "-"])
        .code(4);
    v.raw_db("hana", &hana)
        .execute(
            "UPDATE export_approvals SET used_by = NULL, used_at = NULL",
            [],
        )
        .unwrap();
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("was used by audit event"), "{}", r.stderr);
    assert!(!crate::contains(&r.stdout, SECRET));
}

/// An approval given back by an export that failed (nothing left the
/// vault) may be used again: the trail shows it returned.
#[test]
fn an_export_approval_given_back_by_a_failed_export_is_used_again() {
    let (v, hana, doc) = one_export_approved();
    // A folder that is not there: the export is recorded, then fails to
    // write, and gives its approval back.
    let nowhere = v.work("no-such-folder").join("out.csv");
    let r = v.as_user(
        "hana",
        &hana,
        &["open", &doc, "--out", nowhere.to_str().unwrap()],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(!nowhere.exists());
    let out = v.work("out.csv");
    v.as_user(
        "hana",
        &hana,
        &["open", &doc, "--out", out.to_str().unwrap()],
    )
    .ok();
    assert_eq!(std::fs::read(&out).unwrap(), SECRET);
}

/// Eri was taken off the handler roster (the bureau approved it). Hana
/// clears the end of eri's entry by hand so that the officer's next grant
/// reaches her; or, while the removal waits for the bureau, deletes the
/// request. The trail holds both steps: the grant is refused as
/// tampering and no key is wrapped to eri.
#[test]
fn a_roster_end_or_removal_cleared_by_hand_lets_no_grant() {
    for approved in [true, false] {
        let v = TestVault::new();
        let hana = v.add("hana", "handler");
        v.add("eri", "handler");
        let doc = v.import(&v.file("r.txt", SECRET), &[]);
        let req = v
            .boss(&["roster", "request", "remove", "eri"])
            .ok()
            .text()
            .trim()
            .to_string();
        let edit = if approved {
            v.boss(&[
                "roster",
                "approve",
                &req,
                "--ref",
                "労発1206第3号",
                "--date",
                "2026-12-06",
            ])
            .ok();
            "UPDATE roster_entries SET ended_at = NULL, ended_ref = NULL WHERE person = 'eri'"
        } else {
            "DELETE FROM roster_requests WHERE person = 'eri' AND change = 'remove'"
        };
        v.boss(&["grant", &doc, "--to", "eri"]).code(4);
        v.raw_db("hana", &hana).execute(edit, []).unwrap();
        let r = v.boss(&["grant", &doc, "--to", "eri"]);
        assert_eq!(r.code, 5, "{edit}: {}", r.stderr);
        assert!(
            r.stderr.contains("handler roster") && r.stderr.contains("eri"),
            "{}",
            r.stderr
        );
        assert_eq!(v.wraps_of(("hana", &hana), "eri"), 0);
        if approved {
            v.boss(&["roster", "list"]).code(5);
        }
    }
}

/// The officer tightened the lockout (10 guesses to 3). Hana kept the
/// policy as it was, the officer's own signed statement, and puts it back
/// with its setting. It is a genuine signature, but not of the policy the
/// last change set: every next action reports it.
#[test]
fn an_earlier_policy_put_back_is_tampering() {
    let (v, _) = TestVault::init_with(&[
        "--policy",
        "totp.required=false",
        "--policy",
        "lockout.threshold=10",
    ]);
    let hana = v.add("hana", "handler");
    let kept: Vec<(String, Vec<u8>)> = v
        .raw_db("hana", &hana)
        .prepare(
            "SELECT key, value FROM meta WHERE key IN ('policy_statement', 'policy_signature')",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(kept.len(), 2);
    v.boss(&["policy", "set", "lockout.threshold", "3"]).ok();
    let db = v.raw_db("hana", &hana);
    db.execute(
        "UPDATE policy SET value = '10' WHERE key = 'lockout.threshold'",
        [],
    )
    .unwrap();
    for (key, value) in &kept {
        db.execute(
            "UPDATE meta SET value = ?2 WHERE key = ?1",
            rusqlite::params![key, value],
        )
        .unwrap();
    }
    drop(db);
    let r = v.as_user("hana", &hana, &["list"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("an earlier policy was put back"),
        "{}",
        r.stderr
    );
    v.boss(&["policy", "show"]).code(5);
}

/// Mika executed the disposal and the officer confirmed it. Before the
/// completion report (別添2) is written, mika names the officer as the
/// executor in the plan's row, so the form would say one person did both.
/// The trail holds who executed: the report is refused as tampering.
#[test]
fn a_report_naming_someone_else_as_executor_is_refused() {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    let doc = v.import(&v.file("d.txt", SECRET), &[]);
    v.plan("plan.html", &["--items", &doc]);
    v.approve();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .ok();
    v.raw_db("mika", &mika)
        .execute(
            "UPDATE disposal_plans SET executed_by = 'boss' WHERE state = 'confirmed'",
            [],
        )
        .unwrap();
    let report = v.work("report.html");
    let r = v
        .boss(&["disposal", "report", "--out", report.to_str().unwrap()])
        .code(5);
    assert!(
        r.stderr.contains("shows mika executed disposal plan"),
        "{}",
        r.stderr
    );
    assert!(!report.exists());
}

/// A5: alert rows are bound to their events. hana, a manager with the
/// database key, hides the bulk alert about her (acknowledging it in her
/// own name, or deleting it), or plants a recent alert so the rule stays
/// quiet when she reads in bulk again. Each shows: the listing is refused
/// as tampering (exit 5, naming the alert), and a planted row does not
/// quiet the rule.
#[test]
fn alert_rows_hidden_acknowledged_or_planted_by_hand_show() {
    let v = TestVault::new();
    v.boss(&["policy", "set", "alert.bulk_count", "2"]).ok();
    let hana = v.add("hana", "manager");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let read_three = || {
        for _ in 0..3 {
            v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
        }
    };
    read_three();
    let listed = v.boss(&["--json", "alerts"]).ok().json();
    let bulk = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "bulk_access")
        .expect("the bulk alert is raised");
    let id = bulk["id"].as_i64().unwrap();
    let db = || v.raw_db("hana", &hana);

    // Acknowledged by hand, in her own name: no such acknowledgement.
    db().execute(
        "UPDATE alerts SET acked_by = 'mika', acked_at = '2026-12-07T00:00:00Z', ack_note = 'ok' WHERE id = ?1",
        [id],
    )
    .unwrap();
    let r = v.boss(&["alerts", "--all"]).code(5);
    assert!(r.stderr.contains(&format!("alert {id}")), "{}", r.stderr);
    db().execute(
        "UPDATE alerts SET acked_by = NULL, acked_at = NULL, ack_note = NULL WHERE id = ?1",
        [id],
    )
    .unwrap();
    v.boss(&["alerts"]).ok();

    // Deleted: the trail raised it.
    let row: Vec<rusqlite::types::Value> = {
        let c = db();
        let mut stmt = c.prepare("SELECT * FROM alerts WHERE id = ?1").unwrap();
        let n = stmt.column_count();
        stmt.query_row([id], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
    };
    db().execute("DELETE FROM alerts WHERE id = ?1", [id])
        .unwrap();
    let r = v.boss(&["alerts"]).code(5);
    assert!(r.stderr.contains("deleted"), "{}", r.stderr);
    let slots = vec!["?"; row.len()].join(", ");
    db().execute(
        &format!("INSERT INTO alerts VALUES ({slots})"),
        rusqlite::params_from_iter(row.iter()),
    )
    .unwrap();
    v.boss(&["alerts"]).ok();

    // Its time moved to the future, so the once-per-window rule would stay
    // quiet for her: the row no longer matches the event that raised it.
    db().execute(
        "UPDATE alerts SET at = '9999-01-01T00:00:00Z' WHERE id = ?1",
        [id],
    )
    .unwrap();
    let r = v.boss(&["alerts"]).code(5);
    assert!(r.stderr.contains(&format!("alert {id}")), "{}", r.stderr);
}

/// A5: a bulk alert planted by hand before reading in bulk does not keep
/// the rule quiet: only rows the trail raised count.
#[test]
fn a_planted_alert_quiets_no_rule() {
    let v = TestVault::new();
    v.boss(&["policy", "set", "alert.bulk_count", "2"]).ok();
    let hana = v.add("hana", "manager");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let db = v.raw_db("hana", &hana);
    db.execute(
        "INSERT INTO alerts (rule, actor, object, seq, at, summary) VALUES ('bulk_access', 'hana', 'document:1', 1, '9999-01-01T00:00:00Z', 'planted')",
        [],
    )
    .unwrap();
    let planted = db.last_insert_rowid();
    drop(db);
    for _ in 0..3 {
        v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
    }
    assert!(
        v.events().iter().any(|e| e["event"] == "alert.raise"
            && e["detail"].as_str().unwrap().starts_with("bulk_access")),
        "the planted row quieted the rule"
    );
    let r = v.boss(&["alerts"]).code(5);
    assert!(
        r.stderr.contains(&format!("alert {planted} ")),
        "{}",
        r.stderr
    );
}
