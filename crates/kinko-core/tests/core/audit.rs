//! The audit trail: every action and refusal leaves its event (A1), the
//! clock and holiday alerts (A5, A6), retention and signed archives (A3).

use super::*;

#[test]
fn every_action_and_refusal_is_in_the_audit_trail() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let admin = boss.add_account("admin", "Admin", "sysadmin").unwrap();
    let src = f.file("a.txt", b"x");
    let id = boss.import(&f.request(&src), &mut no_progress()).unwrap();
    let mut admin_s = f.sign_in("admin", admin.initial_password.as_str());
    assert!(matches!(admin_s.list_documents(), Err(Error::Denied(_))));
    assert!(matches!(boss.grant(id, "admin"), Err(Error::Denied(_))));
    let vault = Vault::open(&f.dir).unwrap();
    assert!(matches!(
        vault.sign_in("boss", &Password::new("wrong-password"), None, "t"),
        Err(Error::BadCredentials)
    ));
    assert!(matches!(
        vault.sign_in("nobody", &Password::new("wrong-password"), None, "t"),
        Err(Error::BadCredentials)
    ));

    let mut boss = f.officer();
    let log = boss.audit_log(&Default::default()).unwrap();
    let has = |event: &str, actor: &str, outcome: &str| {
        log.iter()
            .any(|r| r.event.event == event && r.event.actor == actor && r.event.outcome == outcome)
    };
    assert!(has("vault.init", "boss", "ok"));
    assert!(has("account.add", "boss", "ok"));
    assert!(has("document.import", "boss", "ok"));
    assert!(has("document.list", "admin", "denied"));
    assert!(has("document.grant", "boss", "denied"));
    assert!(has("session.signin", "boss", "failed"));
    // An ID that belongs to nobody is kept only as a keyed hash.
    assert!(log.iter().any(|r| r.event.event == "session.signin"
        && r.event.actor.starts_with("unknown#")
        && r.event.outcome == "failed"));
    assert!(log.iter().all(|r| !format!("{r:?}").contains("nobody")));
    for r in &log {
        assert!(!r.event.terminal.is_empty() && r.event.at.ends_with('Z'));
    }
    assert!(
        std::fs::read_dir(f.dir.join("inbox"))
            .unwrap()
            .next()
            .is_none(),
        "inbox drained"
    );
    let report = boss.verify(false).unwrap();
    assert!(report.is_intact(), "{:?}", report.damaged);
}

/// A6: an event dated before the one ahead of it keeps its place in the
/// tree and raises a clock-anomaly alert. A5: work on a public holiday
/// raises an alert.
#[test]
fn a_clock_that_goes_back_is_an_anomaly_and_holidays_alert() {
    use kinko_core::audit::{self, alerts, Event};
    let f = fixture(KdfProfile::Argon2id);
    let raw = f.raw_db("boss", OFFICER_PW);
    let tx = raw.unchecked_transaction().unwrap();
    let mut e = Event::new("boss", "document.list", "documents", "ok", "test", "");
    // 元日 (New Year's Day), noon in Japan: earlier than every event so far.
    e.at = "2026-01-01T03:00:00.000000Z".into();
    let (vault_id, secret) = kinko_test_support::own_signing_key(&f.dir, "boss", OFFICER_PW);
    let root: Vec<u8> = raw
        .query_row(
            "SELECT value FROM meta WHERE key = 'root_public'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let by = audit::EventSigner::new(&vault_id, &root, "boss", Some(1), &secret).unwrap();
    let seq = audit::append(&tx, &e, &by).unwrap();
    tx.commit().unwrap();
    let raised = alerts::list(&raw, true).unwrap();
    assert!(raised
        .iter()
        .any(|a| a.rule == "clock_anomaly" && a.seq == seq && a.summary.contains("went back")));
    assert!(raised
        .iter()
        .any(|a| a.rule == "off_hours" && a.actor == "boss" && a.summary.contains("holiday")));
    drop(raw);
    let mut boss = f.officer();
    let report = boss.audit_verify(None).unwrap();
    assert_eq!(report.clock_anomalies, 1);
    let log = boss.audit_log(&Default::default()).unwrap();
    // The order is the tree's, not the clock's.
    assert!(log.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    assert!(log.iter().any(|r| r.seq == seq && r.event.at == e.at));
}

/// A3: events past the retention period go to a signed archive file that
/// verifies on its own; the vault drops them and its tree still verifies.
#[test]
fn old_events_are_archived_to_a_signed_file_and_the_tree_still_verifies() {
    use kinko_core::audit::retention::{archive, verify_archive};
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    drop(boss);
    // A revocation among the events to be archived: a reset of someone
    // certified (verify must not then miss its event).
    f.activate("hana", &hana.initial_password);
    let mut boss = f.officer();
    boss.reset_account("hana").unwrap();
    boss.audit_checkpoint().unwrap();
    drop(boss);
    let id = vault_id(&f);
    let root = f
        .raw_db("boss", OFFICER_PW)
        .query_row(
            "SELECT value FROM meta WHERE key = 'root_public'",
            [],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .unwrap();
    let far = chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    let first_file = f.work.join("a1.json");

    let raw = f.raw_db("boss", OFFICER_PW);
    let (_, secret) = kinko_test_support::own_signing_key(&f.dir, "boss", OFFICER_PW);
    let boss_signs = kinko_core::grant::Signer {
        vault_id: &id,
        account: "boss",
        serial: 1,
        secret: &secret,
    };
    // Today every event is younger than the retention period.
    let tx = raw.unchecked_transaction().unwrap();
    assert!(matches!(
        archive(
            &tx,
            &boss_signs,
            &root,
            far,
            chrono::Utc::now(),
            &first_file
        ),
        Err(Error::Invalid(_))
    ));
    assert!(!first_file.exists());
    let a1 = archive(&tx, &boss_signs, &root, far, later, &first_file).unwrap();
    tx.commit().unwrap();
    assert_eq!(a1.first, 1);
    let checked = verify_archive(&std::fs::read(&first_file).unwrap(), None).unwrap();
    assert_eq!((checked.first, checked.last), (1, a1.last));

    // The vault goes on; its tree (with the archived leaves) verifies.
    let mut boss = f.officer();
    boss.list_documents().unwrap();
    let r = boss.audit_verify(None).unwrap();
    assert_eq!(r.archived, a1.last as u64);
    assert!(boss
        .audit_log(&Default::default())
        .unwrap()
        .iter()
        .all(|e| e.seq > a1.last));
    drop(boss);

    // A second archive continues where the first ended, and verifies on
    // its own from the subtrees to its left.
    let second_file = f.work.join("a2.json");
    let tx = raw.unchecked_transaction().unwrap();
    let a2 = archive(&tx, &boss_signs, &root, far, later, &second_file).unwrap();
    tx.commit().unwrap();
    assert_eq!(a2.first, a1.last + 1);
    verify_archive(&std::fs::read(&second_file).unwrap(), None).unwrap();
    f.officer().audit_verify(None).unwrap();

    // An archive edited afterwards is tampering.
    let text = std::fs::read_to_string(&second_file).unwrap();
    let edited = text.replacen("\"actor\":\"boss\"", "\"actor\":\"hana\"", 1);
    assert_ne!(edited, text);
    assert!(matches!(
        verify_archive(edited.as_bytes(), None),
        Err(Error::Tampered(m)) if m.contains("was changed")
    ));
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["events"].as_array_mut().unwrap().pop();
    assert!(matches!(
        verify_archive(json.to_string().as_bytes(), None),
        Err(Error::Tampered(_))
    ));
    assert!(matches!(
        verify_archive(b"{}", None),
        Err(Error::Invalid(_))
    ));
    // A subtree slipped in over the archived events, to stand for them.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let root = json["checkpoint"]["root"].clone();
    json["before"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!([20, 0, root]));
    assert!(matches!(
        verify_archive(json.to_string().as_bytes(), None),
        Err(Error::Tampered(_))
    ));
    // The right key, and another.
    let key = checked.key_fingerprint.clone();
    verify_archive(&std::fs::read(&second_file).unwrap(), Some(&key)).unwrap();
    assert!(matches!(
        verify_archive(&std::fs::read(&second_file).unwrap(), Some(&"0".repeat(64))),
        Err(Error::Tampered(_))
    ));
}

/// A4, A5: reading documents in the app's viewer is an access like an
/// export: it raises the bulk alert, and the audit report and the monthly
/// status report count it (views and exports, and of those the exports).
#[test]
fn views_in_the_app_count_in_alerts_and_reports() {
    let f = fixture(KdfProfile::Pbkdf2);
    let mut boss = f.officer();
    boss.policy_set("alert.bulk_count", "2").unwrap();
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            let file = f.file(&format!("v{i}.csv"), format!("a,b\n{i},x\n").as_bytes());
            boss.import(&f.request(&file), &mut no_progress()).unwrap()
        })
        .collect();
    for id in &ids[..2] {
        boss.view_document(*id).unwrap();
    }
    assert!(
        boss.alerts(false)
            .unwrap()
            .iter()
            .all(|a| a.rule != "bulk_access"),
        "two views are within the limit"
    );
    boss.view_document(ids[2]).unwrap();
    let alerts = boss.alerts(false).unwrap();
    let bulk = alerts
        .iter()
        .find(|a| a.rule == "bulk_access")
        .expect("three views in the window raise the bulk alert");
    assert_eq!(bulk.actor, "boss");
    assert!(
        bulk.summary
            .contains("viewed or exported documents 3 times"),
        "{}",
        bulk.summary
    );

    boss.export(ids[0], kinko_core::ExportTarget::Writer(&mut Vec::new()))
        .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .date_naive();
    let report = boss.audit_report(today, today).unwrap();
    let me = report.by_person.iter().find(|p| p.actor == "boss").unwrap();
    assert_eq!(
        (me.opened, me.exported),
        (4, 1),
        "three views and one export"
    );
    let first = report
        .by_document
        .iter()
        .find(|d| d.document == format!("document:{}", ids[0]))
        .unwrap();
    assert_eq!((first.opened, first.exported), (2, 1));
    assert!(report
        .html(kinko_core::audit::report::Language::Japanese)
        .contains("うち持ち出し"));
    let status = boss
        .status_report(&today.format("%Y-%m").to_string())
        .unwrap();
    let me = status
        .report
        .access
        .iter()
        .find(|p| p.actor == "boss")
        .unwrap();
    assert_eq!((me.opened, me.exported), (4, 1));
    assert!(
        status.html.contains("<td>boss</td>") && status.html.contains("うち持ち出し"),
        "the 履行状況報告 shows views and exports, and of those the exports"
    );
}
