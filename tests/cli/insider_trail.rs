//! The insider with files against the audit trail (issue 14): events
//! edited, deleted or added and signed again with the attacker's own key,
//! and the whole vault put back to an earlier copy. Each one is reported
//! as tampering (exit 5), naming what was wrong.

use kinko_test_support::{own_signing_key, read_trail, write_trail, Insider, StoredEvent};

use crate::TestVault;

const SECRET: &[u8] = b"PLAINTEXT-MARKER-TRAIL personal data of a citizen";

/// The own password `TestVault::add` gives the auditor aki.
const AUDITOR_PW: &str = "Zq8!own-Secret-3";

/// A vault where hana (a handler) opened a document the officer granted
/// her, and the officer acted after that; returns hana's password.
fn trail_with_an_export() -> (TestVault, String) {
    let v = TestVault::new();
    let auditor = v.add("aki", "auditor");
    assert_eq!(auditor, AUDITOR_PW);
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("t.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let out = v.work("out.txt");
    v.as_user(
        "hana",
        &hana,
        &["open", &doc, "--out", out.to_str().unwrap()],
    )
    .ok();
    v.boss(&["list"]).ok();
    (v, hana)
}

/// Rewrite the trail as hana would, with her own key.
fn as_hana(v: &TestVault, hana: &str, edit: impl FnOnce(&mut Vec<StoredEvent>)) {
    let serial = v.cert_serial("hana", hana);
    let db = v.raw_db("hana", hana);
    let (vault_id, secret) = own_signing_key(&v.dir, "hana", hana);
    let mut events = read_trail(&db);
    edit(&mut events);
    let me = Insider {
        vault_id: &vault_id,
        account: "hana",
        serial,
        secret: &secret,
    };
    write_trail(&db, &me, &events);
}

fn is_export(e: &StoredEvent) -> bool {
    e.event.actor == "hana" && e.event.event == "document.export"
}

/// `audit verify` as the auditor on a terminal that never saw the trail
/// (so the signatures, not a memory of it, must tell; and not as the
/// officer, whose own last event the edit may have left unsigned, so
/// that Kinko no longer acts in his name): exit 5 with `needle` in the
/// message.
fn verify_reports(v: &TestVault, needle: &str) {
    v.enrol("auditors-terminal");
    let terminal = v.work("auditors-terminal");
    let r = v
        .run_env(
            &["audit", "verify"],
            &[
                ("KINKO_USER", "aki"),
                ("KINKO_PASSWORD", AUDITOR_PW),
                ("KINKO_STATE_DIR", terminal.to_str().unwrap()),
            ],
        )
        .code(5);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
}

/// The officer's own terminal saw the trail before the edit: his next
/// sign-in refuses, whatever the command.
fn own_terminal_refuses(v: &TestVault) {
    let r = v.boss(&["list"]).code(5);
    assert!(
        r.stderr
            .contains("is not the one you saw when you last used this vault"),
        "{}",
        r.stderr
    );
}

/// Hana deletes her own export from the middle of the trail and signs
/// every event of hers again: the events after it move up one place, and
/// the officer's among them no longer carry his signature.
#[test]
fn an_event_deleted_from_the_middle_shows_even_when_re_signed() {
    let (v, hana) = trail_with_an_export();
    as_hana(&v, &hana, |events| events.retain(|e| !is_export(e)));
    verify_reports(&v, "does not carry a valid signature of boss");
    own_terminal_refuses(&v);
}

/// Hana edits an event of the officer's (what he granted), and signs it
/// either in his name with her key or as herself.
#[test]
fn an_event_of_someone_else_changed_and_re_signed_shows() {
    for sign_as_herself in [false, true] {
        let (v, hana) = trail_with_an_export();
        as_hana(&v, &hana, |events| {
            let grant = events
                .iter_mut()
                .find(|e| e.event.event == "document.grant")
                .unwrap();
            grant.event.detail = "to=sam".into();
            if sign_as_herself {
                grant.signer = Some("hana".into());
            }
        });
        verify_reports(
            &v,
            if sign_as_herself {
                "was signed by hana, who did not act"
            } else {
                "does not carry a valid signature of boss"
            },
        );
        own_terminal_refuses(&v);
    }
}

/// Hana adds an export in the officer's name at the very end of the
/// trail (nothing after it to break), signed with her own key.
#[test]
fn an_event_added_in_someone_elses_name_shows() {
    let (v, hana) = trail_with_an_export();
    as_hana(&v, &hana, |events| {
        let mut forged = events.iter().find(|e| is_export(e)).unwrap().clone();
        forged.event.actor = "boss".into();
        forged.signer = Some("hana".into());
        events.push(forged);
    });
    verify_reports(&v, "was signed by hana, who did not act");
}

/// Hana adds an export in the officer's name at the end, as his: his
/// account as signer, his certificate, linked to his last event as his
/// own next event would be; only the signature cannot be his. The next
/// time he acts, Kinko checks his last event before linking to it and
/// stops; `verify` names the event too.
#[test]
fn an_event_forged_as_someone_elses_next_stops_their_next_action() {
    let (v, hana) = trail_with_an_export();
    let (vault_id, secret) = own_signing_key(&v.dir, "hana", &hana);
    let mut next = 0;
    as_hana(&v, &hana, |events| {
        let (at, his_last) = events
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.signer.as_deref() == Some("boss") && e.serial.is_some())
            .unwrap();
        let his_last = his_last.signed_bytes(&vault_id, at as i64 + 1);
        let mut forged = events.iter().find(|e| is_export(e)).unwrap().clone();
        forged.event.actor = "boss".into();
        forged.signer = Some("boss".into());
        forged.serial = events[at].serial;
        forged.previous = Some(kinko_core::audit::chain_digest(&his_last).to_vec());
        next = events.len() as i64 + 1;
        let message = forged.signed_bytes(&vault_id, next);
        forged.signature = Some(kinko_core::crypto::ecdsa_sign(&secret, &message).unwrap());
        events.push(forged);
    });
    let r = v.boss(&["list"]).code(5);
    assert!(
        r.stderr.contains(&format!(
            "audit event {next} in the name of boss does not carry their signature"
        )),
        "{}",
        r.stderr
    );
    verify_reports(
        &v,
        &format!(
            "audit event {next} (document.export by boss) does not carry a valid signature of boss"
        ),
    );
}

/// Hana cuts off the end of the trail from her export on: every event
/// left keeps its signature, the tree is recomputed. The officer saw the
/// longer trail at his last command on this terminal; at his next sign-in
/// Kinko reports that the trail is not the one he saw.
#[test]
fn the_end_of_the_trail_cut_off_is_noticed_at_the_next_sign_in() {
    let (v, hana) = trail_with_an_export();
    as_hana(&v, &hana, |events| {
        let at = events.iter().position(is_export).unwrap();
        events.truncate(at);
    });
    own_terminal_refuses(&v);
}

/// Someone with the vault's files keeps a copy of the whole directory
/// and later puts it back (every file as it was, keyslots and all, so
/// every slot, signature and checkpoint inside it is genuine). The next
/// person who signs in on a terminal that saw the later trail is told.
#[test]
fn a_vault_put_back_to_an_earlier_copy_is_noticed_at_the_next_sign_in() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let copy = v.work("copy");
    copy_dir(&v.dir, &copy);
    let doc = v.import(&v.file("t.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.as_user("hana", &hana, &["list"]).ok();
    std::fs::remove_dir_all(&v.dir).unwrap();
    copy_dir(&copy, &v.dir);
    for r in [v.boss(&["list"]), v.as_user("hana", &hana, &["list"])] {
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(
            r.stderr.contains("put back to an earlier copy"),
            "{}",
            r.stderr
        );
    }
    // A terminal that never saw the later trail cannot tell: the limit
    // docs/key-management.md names.
    let elsewhere = v.work("other-terminal");
    let r = v.run_env(
        &["list"],
        &[
            ("KINKO_USER", "boss"),
            ("KINKO_PASSWORD", kinko_test_support::OFFICER_PW),
            ("KINKO_STATE_DIR", elsewhere.to_str().unwrap()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A restore from a backup into the vault's own place is no rollback:
/// it is the restorer's signed act, and whoever saw the later trail is
/// told of it when they next sign in, not refused.
#[test]
fn a_restore_from_a_backup_is_told_not_refused() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let backup = v.work("vault.kbk");
    v.boss(&["backup", "--out", backup.to_str().unwrap()]).ok();
    v.import(&v.file("t.txt", SECRET), &[]);
    v.as_user("hana", &hana, &["list"]).ok();
    std::fs::rename(&v.dir, v.work("damaged")).unwrap();
    v.boss_with_code(
        &v.recovery_code(),
        &[
            "restore",
            backup.to_str().unwrap(),
            "--to",
            v.dir.to_str().unwrap(),
        ],
    )
    .ok();
    let r = v.as_user("hana", &hana, &["list"]).ok();
    assert!(
        r.stderr.contains("was restored from a backup by boss"),
        "{}",
        r.stderr
    );
    v.boss(&["audit", "verify"]).ok();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let ok = std::process::Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Hana's serial, her signing key and the vault's id.
fn hana_keys(v: &TestVault, hana: &str) -> (i64, [u8; 32], String) {
    let serial: i64 = v
        .raw_db("hana", hana)
        .query_row(
            "SELECT max(serial) FROM certificates WHERE account = 'hana'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (vault_id, secret) = own_signing_key(&v.dir, "hana", hana);
    (serial, secret, vault_id)
}

/// Hana signs checkpoints with her own key: one in the officer's name
/// (his serial, her key) and one in her own (a handler may make none).
/// Kept apart or put among the stored ones, both are tampering.
#[test]
fn a_checkpoint_signed_by_an_insider_is_refused() {
    use kinko_core::audit::checkpoint::Checkpoint;
    use kinko_core::crypto;
    let (v, hana) = trail_with_an_export();
    let real = v.work("real.json");
    v.boss(&["audit", "checkpoint", "--out", real.to_str().unwrap()])
        .ok();
    let (serial, secret, _) = hana_keys(&v, &hana);
    let public = crypto::SigningKeyPair::public_of(&secret).unwrap();
    for (made_by, as_serial) in [("boss", 1), ("hana", serial)] {
        let mut c = Checkpoint::from_json(&std::fs::read(&real).unwrap()).unwrap();
        c.made_by = made_by.into();
        c.serial = Some(as_serial);
        c.public_key = crypto::b64(&public);
        c.signature =
            crypto::b64(&crypto::ecdsa_sign(&secret, &c.signed_bytes().unwrap()).unwrap());
        let forged = v.file("forged.json", &c.to_json());
        let r = v
            .boss(&["audit", "verify", "--checkpoint", forged.to_str().unwrap()])
            .code(5);
        assert!(
            r.stderr.contains("was not signed by someone entitled to"),
            "{}",
            r.stderr
        );
        // The same among the stored checkpoints.
        let db = v.raw_db("hana", &hana);
        db.execute(
            "INSERT OR REPLACE INTO audit_checkpoints (size, root, at, made_by, signature, serial, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                c.size as i64,
                c.root_hash().unwrap().to_vec(),
                c.at,
                made_by,
                crypto::unb64(&c.signature, "sig").unwrap(),
                as_serial,
                public,
            ],
        )
        .unwrap();
        drop(db);
        let r = v.boss_on("auditors-terminal", &["audit", "verify"]).code(5);
        assert!(
            r.stderr.contains("was not signed by someone entitled to"),
            "{}",
            r.stderr
        );
        v.raw_db("hana", &hana)
            .execute(
                "DELETE FROM audit_checkpoints WHERE size = ?1",
                [c.size as i64],
            )
            .unwrap();
    }
}

/// The auditor aki kept her signing key when she left. After she was
/// disabled (which revoked her certificate) she signs a checkpoint of the
/// trail as it now stands, which holds the revocation: refused, naming
/// the revoking event. A checkpoint of the trail as it stood before, the
/// same key's true word about the past, still checks.
#[test]
fn a_checkpoint_signed_after_the_signers_revocation_is_refused() {
    use kinko_core::audit::checkpoint::Checkpoint;
    use kinko_core::crypto;
    let (v, _) = trail_with_an_export();
    let serial = v.cert_serial("aki", AUDITOR_PW);
    let (_, secret) = own_signing_key(&v.dir, "aki", AUDITOR_PW);
    let public = crypto::SigningKeyPair::public_of(&secret).unwrap();
    let before = v.work("before.json");
    v.boss(&["audit", "checkpoint", "--out", before.to_str().unwrap()])
        .ok();
    v.boss(&["account", "disable", "aki"]).ok();
    let after = v.work("after.json");
    v.boss(&["audit", "checkpoint", "--out", after.to_str().unwrap()])
        .ok();
    let as_aki = |file: &std::path::Path| {
        let mut c = Checkpoint::from_json(&std::fs::read(file).unwrap()).unwrap();
        c.made_by = "aki".into();
        c.serial = Some(serial);
        c.public_key = crypto::b64(&public);
        c.signature =
            crypto::b64(&crypto::ecdsa_sign(&secret, &c.signed_bytes().unwrap()).unwrap());
        v.file("aki.json", &c.to_json())
    };
    let r = v
        .boss(&[
            "audit",
            "verify",
            "--checkpoint",
            as_aki(&after).to_str().unwrap(),
        ])
        .code(5);
    assert!(
        r.stderr.contains(&format!("certificate {serial} of aki"))
            && r.stderr.contains("had revoked"),
        "{}",
        r.stderr
    );
    v.boss(&[
        "audit",
        "verify",
        "--checkpoint",
        as_aki(&before).to_str().unwrap(),
    ])
    .ok();
}

/// A system administrator who was disabled kept his signing key. Someone
/// with the files cuts the end of the trail and, to pass the cut off as a
/// restore from a backup (which whoever saw more is told of, not refused),
/// adds a `vault.restore` event in his name, signed and chained with his
/// kept key. The trail still holds the disabling that revoked his
/// certificate: the officer's next sign-in refuses.
#[test]
fn a_restore_signed_after_the_signers_revocation_is_not_believed() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    v.as_user("sam", &sam, &["account", "list"]).ok();
    let (vault_id, secret) = own_signing_key(&v.dir, "sam", &sam);
    let serial = v.cert_serial("sam", &sam);
    v.boss(&["account", "disable", "sam"]).ok();
    let doc = v.import(&v.file("t.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.boss(&["list"]).ok();

    let db = v.raw_db("hana", &hana);
    let mut events = read_trail(&db);
    let revoked_at = events
        .iter()
        .position(|e| e.event.detail.contains(&format!("revoked={serial}:")))
        .unwrap()
        + 1;
    events.truncate(revoked_at);
    let mut restore = events
        .iter()
        .rev()
        .find(|e| e.signer.as_deref() == Some("sam") && e.serial.is_some())
        .unwrap()
        .clone();
    restore.event.event = "vault.restore".into();
    restore.event.object = "vault".into();
    restore.event.outcome = "ok".into();
    restore.event.detail = "restored from vault.kbk".into();
    restore.event.at = kinko_core::audit::now();
    events.push(restore);
    let me = Insider {
        vault_id: &vault_id,
        account: "sam",
        serial,
        secret: &secret,
    };
    write_trail(&db, &me, &events);
    drop(db);
    let r = v.boss(&["list"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "certificate {serial}, which audit event {revoked_at} had revoked"
        )),
        "{}",
        r.stderr
    );
}

/// Hana writes a completion report (別添2) and signs it in the officer's
/// name with her own key. The file's signature holds on its own, but it
/// carries no confirmer's signature (exit 5 with no key given), and the
/// bureau checks it against the officer's key fingerprint (registered
/// from the plan it approved): exit 5, naming the key that signed it.
#[test]
fn a_completion_report_signed_by_an_insider_fails_the_officers_fingerprint() {
    let (v, hana) = trail_with_an_export();
    let (_, secret, vault_id) = hana_keys(&v, &hana);
    let signer =
        kinko_core::signed::Signer::with_key(&vault_id, "boss", "Officer", &secret).unwrap();
    let page = signer
        .html("completion report", "<p>全て消去しました</p>\n")
        .unwrap();
    let forged = v.file("report.html", page.as_bytes());
    // Its signature holds on its own, but it carries no seal of a
    // confirmer (she holds no confirmer's key): exit 5 already.
    let r = v
        .run_env(&["verify-report", forged.to_str().unwrap()], &[])
        .code(5);
    assert!(
        r.stderr.contains("carries no signature of its confirmer"),
        "{}",
        r.stderr
    );
    let officer = v.boss(&["--json", "status"]).ok().json()["report_key_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let r = v
        .run_env(
            &["verify-report", forged.to_str().unwrap(), "--key", &officer],
            &[],
        )
        .code(5);
    assert!(r.stderr.contains("was signed with key"), "{}", r.stderr);
}

/// A manager who left kept her keyslot and password. After she was
/// disabled, a handler helps her add a grant in her name at the end of
/// the trail, signed and chained with her own kept key under her own
/// certificate, as her next event would be. The disabling revoked that
/// certificate: `verify` names the event signed under it afterwards.
#[test]
fn an_event_signed_with_a_revoked_certificate_shows() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let mia = v.add("mia", "manager");
    let sam = v.add("sam", "sysadmin");
    v.add("aki", "auditor");
    let doc = v.import(&v.file("g.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "mia"]).ok();
    v.as_user("mia", &mia, &["grant", &doc, "--to", "hana"])
        .ok();
    let (vault_id, secret) = own_signing_key(&v.dir, "mia", &mia);
    let serial = v.cert_serial("mia", &mia);
    v.as_user("sam", &sam, &["account", "disable", "mia"]).ok();
    v.boss(&["audit", "verify"]).ok();

    let db = v.raw_db("hana", &hana);
    let mut events = read_trail(&db);
    let revoked_at = events
        .iter()
        .position(|e| e.event.detail.contains(&format!("revoked={serial}:")))
        .unwrap() as i64
        + 1;
    let mut forged = events
        .iter()
        .find(|e| e.event.actor == "mia" && e.event.event == "document.grant")
        .unwrap()
        .clone();
    forged.event.at = events.last().unwrap().event.at.clone();
    events.push(forged);
    let me = Insider {
        vault_id: &vault_id,
        account: "mia",
        serial,
        secret: &secret,
    };
    write_trail(&db, &me, &events);
    drop(db);
    verify_reports(
        &v,
        &format!("is signed with certificate {serial}, which audit event {revoked_at} had revoked"),
    );
}

/// Hana revokes the officer's certificate by hand: at the end of the
/// trail an `account.manage` event of her own naming it, signed and
/// chained with her own key, and a revocation row. Only someone whose
/// certificate allows managing accounts revokes: `verify` names the
/// event; with the row, every certificate the officer issued stops
/// holding, and everyone's next sign-in reports it as tampering.
#[test]
fn a_revocation_made_by_a_handler_shows() {
    let (v, hana) = trail_with_an_export();
    let officer: i64 = v
        .raw_db("hana", &hana)
        .query_row(
            "SELECT max(serial) FROM certificates WHERE account = 'boss'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut at = 0;
    as_hana(&v, &hana, |events| {
        let mut forged = events.iter().find(|e| is_export(e)).unwrap().clone();
        forged.event.event = "account.manage".into();
        forged.event.object = "account:boss".into();
        forged.event.detail =
            format!("reset; revoked={officer}:0:00000000000000000000000000000000");
        events.push(forged);
        at = events.len();
    });
    verify_reports(
        &v,
        &format!("audit event {at} revokes a certificate but was not signed by someone entitled"),
    );
    v.raw_db("hana", &hana)
        .execute(
            "INSERT INTO revocations (serial, account) VALUES (?1, 'boss')",
            [officer],
        )
        .unwrap();
    verify_reports(
        &v,
        &format!("certificate {officer} of boss, which was revoked"),
    );
}
