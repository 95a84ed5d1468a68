//! The insider with files (issue 14): someone holding one account with its
//! password, the vault's files, a SQLCipher tool and our published
//! formats. Each attack is made as they would make it, with their own
//! keys; Kinko must refuse it or report tampering, and nothing may be
//! decrypted by the attacker.

use kinko_core::crypto::{self, stream, Wrapped};
use kinko_core::document::wrap_context;
use kinko_core::keyslots::KeySlots;

use crate::TestVault;

const SECRET: &[u8] = b"PLAINTEXT-MARKER-REVOKED personal data of a citizen";

/// A person's wrap of a document, as they can read it with the database
/// key every account holds: (enc, ciphertext, the document's uid).
fn wrap_of(v: &TestVault, who: &str, pw: &str, doc: i64) -> (Vec<u8>, Vec<u8>, [u8; 16]) {
    let db = v.raw_db(who, pw);
    let (enc, ciphertext, uid): (Vec<u8>, Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT w.enc, w.ciphertext, d.uid FROM wraps w JOIN documents d ON d.id = w.doc_id
             WHERE w.doc_id = ?1 AND w.holder = ?2",
            rusqlite::params![doc, who],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    (enc, ciphertext, uid.try_into().unwrap())
}

/// A revoked person kept a copy of their wrap. The revoke re-encrypted the
/// document under a new key at once, so the kept wrap still opens the old
/// key but that key opens no file the vault holds; putting the wrap back
/// is tampering (exit 5); the remaining holders read on.
#[test]
fn a_wrap_kept_from_before_a_revoke_opens_nothing() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("r.txt", SECRET), &[]);
    let id: i64 = doc.parse().unwrap();
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
    let (enc, ciphertext, old_uid) = wrap_of(&v, "hana", &hana, id);
    let before = v.object_files();

    v.boss(&["revoke", &doc, "--from", "hana"]).ok();
    let after = v.object_files();
    assert_eq!(after.len(), before.len());
    assert!(
        before.iter().all(|old| !after.contains(old)),
        "the old object file is gone"
    );

    // Her own keys open her kept wrap: the old data key ...
    let slots = KeySlots::load(&v.dir.join("keyslots")).unwrap();
    let (keys, _) = slots.unlock("hana", hana.as_bytes(), None).unwrap();
    let kept = Wrapped {
        enc: enc.clone(),
        ciphertext: ciphertext.clone(),
    };
    let old_dek = crypto::hpke_unwrap(
        &keys.hpke_secret,
        &wrap_context(&slots.vault_id, &old_uid, "hana"),
        &kept,
    )
    .expect("her own wrap opens under her own key");
    let old_dek: [u8; 32] = old_dek.as_slice().try_into().unwrap();
    // ... which opens no object file the vault holds.
    let new_uid: [u8; 16] = {
        let db = v.raw_db("hana", &hana);
        let uid: Vec<u8> = db
            .query_row("SELECT uid FROM documents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        uid.try_into().unwrap()
    };
    assert_ne!(new_uid, old_uid, "the document has a new key and file");
    for file in &after {
        let bytes = std::fs::read(file).unwrap();
        for uid in [old_uid, new_uid] {
            let mut plain = Vec::new();
            assert!(
                stream::decrypt(&old_dek, uid, 1, &mut &bytes[..], &mut plain).is_err(),
                "the old key opens {}",
                file.display()
            );
            assert!(!plain.windows(16).any(|w| w == &SECRET[..16]));
        }
    }

    // Putting the kept wrap back is tampering, and shows nothing.
    v.raw_db("hana", &hana)
        .execute(
            "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at)
             VALUES (?1, 'hana', ?2, ?3, 'boss', '2026-12-01T00:00:00.000000Z')",
            rusqlite::params![id, enc, ciphertext],
        )
        .unwrap();
    let r = v
        .as_user("hana", &hana, &["open", &doc, "--out", "-"])
        .code(5);
    assert!(!r.stdout.windows(16).any(|w| w == &SECRET[..16]));
    // The officer, who still holds it, reads it as received.
    let r = v.boss(&["open", &doc, "--out", "-"]).ok();
    assert_eq!(r.stdout, SECRET);
}

/// Only someone who holds a document's key can take it from another: the
/// revoke re-encrypts, which needs the key.
#[test]
fn a_revoke_needs_the_revokers_own_key() {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    v.add("hana", "handler");
    let doc = v.import(&v.file("r.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.as_user("mika", &mika, &["revoke", &doc, "--from", "hana"])
        .code(4);
    v.boss(&["revoke", &doc, "--from", "hana"]).ok();
}

/// The certified key of `who`'s row, read with the database key.
fn row_key(v: &TestVault, reader: (&str, &str), who: &str) -> Vec<u8> {
    v.raw_db(reader.0, reader.1)
        .query_row(
            "SELECT hpke_public FROM accounts WHERE id = ?1",
            [who],
            |r| r.get(0),
        )
        .unwrap()
}

/// Rekey harvest: the system administrator adds wraps rows naming himself
/// for every document (copies of the custodian's), hoping the officer's
/// next `rekey` wraps the new keys to whoever the table names. The rekey
/// wraps only to keys the officer certified to hold documents: it stops,
/// naming the row, and nothing is wrapped to him.
#[test]
fn a_wrap_row_added_for_the_sysadmin_stops_a_rekey() {
    let (v, printed) = TestVault::init_with(&["--policy", "totp.required=false"]);
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("h.txt", SECRET), &[]);
    v.raw_db("sam", &sam)
        .execute(
            "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at)
             SELECT doc_id, 'sam', enc, ciphertext, 'boss', granted_at FROM wraps WHERE holder = '#custodian'",
            [],
        )
        .unwrap();
    let r = v.boss_with_code(&code, &["rekey"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("for sam"), "{}", r.stderr);
    // What the row holds is still the custodian's wrap: his keys open none.
    let (enc, ciphertext, uid) = wrap_of(&v, "sam", &sam, doc.parse().unwrap());
    let slots = KeySlots::load(&v.dir.join("keyslots")).unwrap();
    let (keys, _) = slots.unlock("sam", sam.as_bytes(), None).unwrap();
    let w = Wrapped { enc, ciphertext };
    assert!(crypto::hpke_unwrap(
        &keys.hpke_secret,
        &wrap_context(&slots.vault_id, &uid, "sam"),
        &w
    )
    .is_none());
}

/// Key swap before a grant: the system administrator writes his own
/// public key on the grantee's account row. The grant wraps only to the
/// key the officer certified and refuses an account whose row names
/// other keys; the grantee's next sign-in reports the edit.
#[test]
fn a_public_key_swapped_before_a_grant_gets_nothing() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("k.txt", SECRET), &[]);
    let sams = row_key(&v, ("sam", &sam), "sam");
    v.raw_db("sam", &sam)
        .execute(
            "UPDATE accounts SET hpke_public = ?1 WHERE id = 'hana'",
            [&sams],
        )
        .unwrap();
    let r = v.boss(&["grant", &doc, "--to", "hana"]).code(5);
    assert!(
        r.stderr.contains("neither certified nor asked for"),
        "{}",
        r.stderr
    );
    let wraps: i64 = v
        .raw_db("sam", &sam)
        .query_row(
            "SELECT count(*) FROM wraps WHERE holder = 'hana'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wraps, 0);
    let r = v.as_user("hana", &hana, &["list"]).code(5);
    assert!(r.stderr.contains("other public keys"), "{}", r.stderr);
}

/// Self-promotion: a handler writes `officer` on his own row and signs a
/// certificate for himself with his own key. Roles come from a
/// certificate that chains to the root his own keyslot names: the row
/// alone changes nothing, the forged certificate is tampering.
#[test]
fn a_handler_who_promotes_himself_is_not_an_officer() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("p.txt", SECRET), &[]);
    let db = v.raw_db("hana", &hana);
    db.execute(
        "UPDATE accounts SET roles = 'officer' WHERE id = 'hana'",
        [],
    )
    .unwrap();
    let r = v
        .as_user(
            "hana",
            &hana,
            &["policy", "set", "lockout.threshold", "100"],
        )
        .code(4);
    assert!(r.stderr.contains("handler"), "{}", r.stderr);
    // A certificate of his own making, in the published format.
    let slots = KeySlots::load(&v.dir.join("keyslots")).unwrap();
    let (keys, _) = slots.unlock("hana", hana.as_bytes(), None).unwrap();
    let (hpke, sign): (Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT hpke_public, sign_public FROM accounts WHERE id = 'hana'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let body = serde_json::to_vec(&serde_json::json!({
        "format": "kinko-certificate v1",
        "vault_id": slots.vault_id,
        "serial": 99,
        "account": "hana",
        "name": "hana",
        "roles": "officer",
        "hpke_public": crypto::b64(&hpke),
        "sign_public": crypto::b64(&sign),
        "valid_from": "2026-12-01T00:00:00Z",
        "issuer": "root",
        "issuer_serial": null,
    }))
    .unwrap();
    let message = [b"kinko certificate v1\0".as_slice(), &body].concat();
    let signature = crypto::ecdsa_sign(&keys.sign_secret, &message).unwrap();
    db.execute(
        "INSERT INTO certificates (serial, account, body, signature) VALUES (99, 'hana', ?1, ?2)",
        rusqlite::params![body, signature],
    )
    .unwrap();
    let r = v.as_user(
        "hana",
        &hana,
        &["policy", "set", "lockout.threshold", "100"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("certificate of hana"), "{}", r.stderr);
    v.boss(&["grant", &doc, "--to", "hana"]).code(5);
}

/// The puppet manager: the system administrator adds a manager account
/// and keeps its initial password. Until the officer certifies it (after
/// comparing the fingerprint with the person's own screen) it may only
/// set its credentials: no roster, no alert, no document.
#[test]
fn a_manager_the_sysadmin_made_can_do_nothing_until_certified() {
    let v = TestVault::new();
    let sam = v.add("sam", "sysadmin");
    let initial = v
        .as_user(
            "sam",
            &sam,
            &[
                "--json", "account", "add", "puppet", "--name", "P", "--role", "manager",
            ],
        )
        .ok()
        .json()["initial_password"]
        .as_str()
        .unwrap()
        .to_string();
    let own = "Strings-Held-8k!q";
    let changed = v.own_password("puppet", &initial, own);
    assert_eq!(changed["awaiting_certification"], true);
    for args in [
        &["roster", "list"][..],
        &["alerts", "--ack", "1", "--note", "seen"][..],
        &["list"][..],
        &["import", "/etc/hostname", "--from", "x", "--purpose", "y"][..],
    ] {
        let r = v.as_user("puppet", own, args).code(3);
        assert!(r.stderr.contains("certified"), "{}", r.stderr);
    }
    // The sysadmin cannot certify; the officer refuses a fingerprint that
    // is not the one of the account's keys.
    v.as_user("sam", &sam, &["account", "certify", "puppet"])
        .code(4);
    v.boss(&["account", "certify", "puppet", "--fingerprint", "0000-1111"])
        .code(1);
}

/// The reset takeover: the system administrator resets a handler, signs in
/// with the initial password he was shown and sets a password of his own.
/// The keys he made are nobody's until the officer certifies them after
/// comparing the fingerprint with the person's own screen: the officer's
/// routine `account recover` gives them nothing.
#[test]
fn a_reset_gives_the_sysadmin_no_documents() {
    let (v, printed) = TestVault::init_with(&["--policy", "totp.required=false"]);
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("t.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let before = v.as_user("hana", &hana, &["--json", "status"]).ok().json();
    let initial = v
        .as_user("sam", &sam, &["--json", "account", "reset", "hana"])
        .ok()
        .json()["initial_password"]
        .as_str()
        .unwrap()
        .to_string();
    let taken = "Taken-Over-9x!p";
    let changed = v.own_password("hana", &initial, taken);
    assert_ne!(changed["key_fingerprint"], before["key_fingerprint"]);
    let r = v.boss_with_code(&code, &["account", "recover", "hana"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("await the officer's certification"),
        "{}",
        r.stderr
    );
    let r = v
        .as_user("hana", taken, &["open", &doc, "--out", "-"])
        .code(3);
    assert!(!crate::contains(&r.stdout, SECRET));
    // The fingerprint the real person would show is not his.
    v.boss(&[
        "account",
        "certify",
        "hana",
        "--fingerprint",
        before["key_fingerprint"].as_str().unwrap(),
    ])
    .code(1);
}

/// A certified handler adds a wraps row for himself on a document never
/// granted to him (a copy of the custodian's wrap, which his key cannot
/// open), hoping the next `rekey` wraps the new key to him. The row
/// carries no signed grant: `verify` reports it, the rekey stops naming
/// it, and the handler opens nothing.
#[test]
fn a_wrap_row_a_handler_added_for_himself_gets_nothing() {
    let (v, printed) = TestVault::init_with(&["--policy", "totp.required=false"]);
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("n.txt", SECRET), &[]);
    v.raw_db("hana", &hana)
        .execute(
            "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at, statement, signature)
             SELECT doc_id, 'hana', enc, ciphertext, 'boss', granted_at, statement, signature FROM wraps WHERE holder = 'boss'",
            [],
        )
        .unwrap();
    let r = v.boss(&["verify"]).code(5);
    assert!(r.stderr.contains("for hana"), "{}", r.stderr);
    let r = v.boss_with_code(&code, &["rekey"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("for hana"), "{}", r.stderr);
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
    assert_ne!(r.code, 0);
    assert!(!crate::contains(&r.stdout, SECRET));
}

/// A handler weakens the policy with a SQLCipher tool (a lockout
/// threshold of 100, one-character passwords, a setting deleted so the
/// weaker default applies). The policy is a statement the
/// officer signed: every person's next action reports it, and nothing is
/// done under the edited policy.
#[test]
fn a_policy_edited_outside_kinko_is_tampering() {
    for edit in [
        "UPDATE policy SET value = '100' WHERE key = 'lockout.threshold'",
        "INSERT INTO policy (key, value) VALUES ('password.min_length', '1')",
        "DELETE FROM policy WHERE key = 'lockout.threshold'",
    ] {
        let (v, _) = TestVault::init_with(&[
            "--policy",
            "totp.required=false",
            "--policy",
            "lockout.threshold=3",
        ]);
        let hana = v.add("hana", "handler");
        v.raw_db("hana", &hana).execute(edit, []).unwrap();
        let r = v.as_user("hana", &hana, &["list"]);
        assert_eq!(r.code, 5, "{edit}: {}", r.stderr);
        assert!(r.stderr.contains("policy"), "{}", r.stderr);
        v.boss(&["policy", "show"]).code(5);
    }
}

/// A handler holding a personal-data document adds an export approval
/// row, or clears the document's personal-data flag, with a SQLCipher
/// tool. Neither is the officer's or the receiver's signed word: the
/// export is refused as tampering and nothing leaves.
#[test]
fn a_forged_export_approval_or_flag_lets_nothing_out() {
    for edit in [
        "INSERT INTO export_approvals (doc_id, reference, for_account, approved_by, approved_at)
         VALUES (1, '労発0000第0号', 'hana', 'boss', '2026-12-01T00:00:00Z')",
        "UPDATE documents SET personal_data = 0 WHERE id = 1",
    ] {
        let v = TestVault::new();
        let hana = v.add("hana", "handler");
        let doc = v.import(&v.file("p.csv", SECRET), &["--personal-data"]);
        v.boss(&["grant", &doc, "--to", "hana"]).ok();
        v.as_user("hana", &hana, &["open", &doc, "--out", "-"])
            .code(4);
        v.raw_db("hana", &hana).execute(edit, []).unwrap();
        let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
        assert_eq!(r.code, 5, "{edit}: {}", r.stderr);
        assert!(!crate::contains(&r.stdout, SECRET));
    }
    // An approval the officer did sign, moved to another document.
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let one = v.import(
        &v.file("a.csv", b"other personal data"),
        &["--personal-data"],
    );
    let two = v.import(&v.file("b.csv", SECRET), &["--personal-data"]);
    v.boss(&["grant", &two, "--to", "hana"]).ok();
    v.boss(&[
        "approve-export",
        &one,
        "--ref",
        "労発1202第1号",
        "--for",
        "hana",
    ])
    .ok();
    v.raw_db("hana", &hana)
        .execute("UPDATE export_approvals SET doc_id = ?1", [&two])
        .unwrap();
    let r = v.as_user("hana", &hana, &["open", &two, "--out", "-"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(!crate::contains(&r.stdout, SECRET));
}

/// A handler puts someone on the handler roster with a SQLCipher tool
/// (an entry with no statement, or a copy of his own signed entry with
/// the person changed), so that a grant may go to them. The entry is
/// not the officer's record of the bureau's approval: the grant and the
/// roster list report tampering, and nothing is wrapped.
#[test]
fn a_roster_entry_added_by_hand_lets_no_grant() {
    for copy_statement in [false, true] {
        let v = TestVault::new();
        let hana = v.add("hana", "handler");
        let initial = v.add_initial("eri", "handler");
        let own = "Quiet-Lake-7t!q";
        v.own_password("eri", &initial, own);
        v.certify("eri", own);
        let doc = v.import(&v.file("r.txt", SECRET), &[]);
        v.boss(&["grant", &doc, "--to", "eri"]).code(4);
        let columns = if copy_statement {
            "statement, signature"
        } else {
            "NULL, NULL"
        };
        v.raw_db("hana", &hana)
            .execute(
                &format!(
                    "INSERT INTO roster_entries (roster, person, fields, approved_ref, approved_date, approved_by, approved_at, statement, signature)
                     SELECT roster, 'eri', fields, approved_ref, approved_date, approved_by, approved_at, {columns} FROM roster_entries WHERE person = 'hana'"
                ),
                [],
            )
            .unwrap();
        let r = v.boss(&["grant", &doc, "--to", "eri"]);
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(r.stderr.contains("roster entry of eri"), "{}", r.stderr);
        v.boss(&["roster", "list"]).code(5);
        assert_eq!(v.wraps_of(("hana", &hana), "eri"), 0);
    }
}

/// A handler adds rows to `regrant_pending` naming himself for documents
/// he never held, hoping the officer's routine `account recover` hands
/// him their keys from the custodian's copies. Recovery gives back only
/// what a signed grant shows was held: it stops as tampering, and no key
/// is wrapped to him.
#[test]
fn a_recovery_row_added_by_hand_gives_nothing() {
    let (v, printed) = TestVault::init_with(&["--policy", "totp.required=false"]);
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("g.txt", SECRET), &[]);
    v.raw_db("hana", &hana)
        .execute(
            "INSERT INTO regrant_pending (account, doc_id) VALUES ('hana', ?1)",
            [&doc],
        )
        .unwrap();
    let r = v.boss_with_code(&code, &["account", "recover", "hana"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("set aside for hana"), "{}", r.stderr);
    let wraps: i64 = v
        .raw_db("hana", &hana)
        .query_row(
            "SELECT count(*) FROM wraps WHERE holder = 'hana'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wraps, 0);
}

/// A manager (the plan's executor) marks the current plan approved by
/// hand, with a reference of his choosing, to destroy the documents
/// before the bureau has approved anything; then copies a genuine
/// approval of the officer's from an earlier plan onto a new one. The
/// approval is the officer's signed statement over that plan's number and
/// SHA-256: both are tampering (exit 5) and nothing is destroyed.
#[test]
fn a_disposal_approval_written_by_hand_destroys_nothing() {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    v.import(&v.file("d.txt", SECRET), &[]);
    let objects = v.object_files().len();
    v.plan("plan.html", &[]);
    // The execution needs the vault to itself: each edit closes its
    // connection before Kinko runs.
    let edit = |sql: &str| v.raw_db("mika", &mika).execute_batch(sql).unwrap();
    edit("UPDATE disposal_plans SET state = 'approved', approved_ref = '労発1201第9号', approved_date = '2026-12-01', approved_by = 'boss', approved_at = '2026-12-01T00:00:00Z' WHERE state = 'draft'");
    let r = v.as_user("mika", &mika, &["disposal", "execute"]).code(5);
    assert!(
        r.stderr.contains("approval of disposal plan"),
        "{}",
        r.stderr
    );
    assert_eq!(v.object_files().len(), objects);
    let r = v.boss(&["verify"]).code(5);
    assert!(r.text().contains("disposal plan 1"), "{}", r.text());

    // A genuine approval of plan 1, moved to plan 2.
    edit("UPDATE disposal_plans SET state = 'draft', approved_ref = NULL, approved_date = NULL, approved_by = NULL, approved_at = NULL");
    v.approve();
    v.plan("plan2.html", &[]);
    edit(
        "UPDATE disposal_plans SET state = 'approved',
           (approved_ref, approved_date, approved_by, approved_at, approval_statement, approval_signature) =
           (SELECT approved_ref, approved_date, approved_by, approved_at, approval_statement, approval_signature
              FROM disposal_plans WHERE id = 1)
         WHERE id = 2;",
    );
    let r = v.as_user("mika", &mika, &["disposal", "execute"]).code(5);
    assert!(
        r.stderr.contains("approval of disposal plan 2"),
        "{}",
        r.stderr
    );
    assert_eq!(v.object_files().len(), objects);
}

/// A handler about to be disabled keeps a copy of the keyslots file. Her
/// old slot still opens with her password, but disabling gave the
/// database a new key that only the others hold: the old key opens
/// nothing current, and everyone else works on.
#[test]
fn a_disabled_persons_old_slot_opens_nothing_current() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("d.txt", SECRET), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let kept = std::fs::read(v.dir.join("keyslots")).unwrap();
    v.as_user("sam", &sam, &["account", "disable", "hana"]).ok();
    let old = KeySlots::from_bytes(&kept)
        .unwrap()
        .unlock("hana", hana.as_bytes(), None)
        .unwrap()
        .0;
    let db = rusqlite::Connection::open(v.dir.join("kinko.db")).unwrap();
    db.pragma_update(None, "key", format!("x'{}'", crypto::hex(&old.db_key)))
        .unwrap();
    assert!(db
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
        .is_err());
    // Her kept slot file put back opens nothing current either.
    let now = std::fs::read(v.dir.join("keyslots")).unwrap();
    std::fs::write(v.dir.join("keyslots"), &kept).unwrap();
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
    assert_ne!(r.code, 0);
    assert!(!crate::contains(&r.stdout, SECRET));
    std::fs::write(v.dir.join("keyslots"), &now).unwrap();
    // Everyone else works on: the new key waits beside their slots.
    v.boss(&["open", &doc, "--out", "-"]).ok();
    v.as_user("sam", &sam, &["status"]).ok();
    v.boss(&["verify"]).ok();
}

/// A manager who left kept a copy of her keyslot and her password, so
/// she still holds her signing key and the key of a document she held.
/// After she was disabled, a handler still at the council helps her: she
/// wraps the document's key to him and signs the grant as she always
/// did, he puts the row in with a SQLCipher tool. Her certificate was
/// revoked when she was disabled: a statement under it holds only if she
/// made it before (her real grant to eri still does), so the forged one
/// is tampering and he reads nothing.
#[test]
fn a_disabled_managers_kept_key_grants_nothing() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let eri = v.add("eri", "handler");
    let mia = v.add("mia", "manager");
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("m.txt", SECRET), &[]);
    let id: i64 = doc.parse().unwrap();
    v.boss(&["grant", &doc, "--to", "mia"]).ok();
    v.as_user("mia", &mia, &["grant", &doc, "--to", "eri"]).ok();
    // What she keeps: her wrap, her serial, her slot's keys.
    let (enc, ciphertext, uid) = wrap_of(&v, "mia", &mia, id);
    let serial = v.cert_serial("mia", &mia);
    let slots = KeySlots::load(&v.dir.join("keyslots")).unwrap();
    let (keys, _) = slots.unlock("mia", mia.as_bytes(), None).unwrap();

    let hanas = row_key(&v, ("hana", &hana), "hana");

    v.as_user("sam", &sam, &["account", "disable", "mia"]).ok();

    let dek = crypto::hpke_unwrap(
        &keys.hpke_secret,
        &wrap_context(&slots.vault_id, &uid, "mia"),
        &Wrapped { enc, ciphertext },
    )
    .expect("her kept wrap opens with her kept key");
    let wrap =
        crypto::hpke_wrap(&hanas, &wrap_context(&slots.vault_id, &uid, "hana"), &dek).unwrap();
    let body = serde_json::json!({
        "format": "kinko-grant v1",
        "vault_id": slots.vault_id,
        "document": crypto::hex(&uid),
        "holder": "hana",
        "wrap_sha256": crypto::hex(&crypto::sha256(&[wrap.enc.clone(), wrap.ciphertext.clone()].concat())),
        "right": "grant",
        "signer": "mia",
        "signer_serial": serial,
        "at": "2026-12-01T09:00:00.000000Z",
    });
    let statement = serde_json::to_vec(&body).unwrap();
    let signature = crypto::ecdsa_sign(
        &keys.sign_secret,
        &[b"kinko grant v1\0".as_slice(), &statement].concat(),
    )
    .unwrap();
    v.raw_db("hana", &hana)
        .execute(
            "INSERT INTO wraps (doc_id, holder, enc, ciphertext, granted_by, granted_at, statement, signature)
             VALUES (?1, 'hana', ?2, ?3, 'mia', '2026-12-01T09:00:00.000000Z', ?4, ?5)",
            rusqlite::params![id, wrap.enc, wrap.ciphertext, statement, signature],
        )
        .unwrap();
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);
    assert!(!crate::contains(&r.stdout, SECRET));
    let r = v.boss(&["verify"]).code(5);
    assert!(r.stderr.contains("revoked"), "{}", r.stderr);
    // What she granted while she worked here still holds.
    let r = v.as_user("eri", &eri, &["open", &doc, "--out", "-"]).ok();
    assert_eq!(r.stdout, SECRET);
    v.boss(&["audit", "verify"]).ok();

    // He deletes the revocation. The trail recorded it: the open is
    // tampering at once, and `audit verify` names it too.
    v.raw_db("hana", &hana)
        .execute_batch(&format!(
            "DELETE FROM revocation_kept WHERE serial = {serial};
             DELETE FROM revocations WHERE serial = {serial};"
        ))
        .unwrap();
    let r = v.as_user("hana", &hana, &["open", &doc, "--out", "-"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("revoked certificate {serial}")),
        "{}",
        r.stderr
    );
    assert!(!crate::contains(&r.stdout, SECRET));
    let r = v.boss(&["audit", "verify"]).code(5);
    assert!(
        r.stderr.contains(&format!("revoked certificate {serial}")),
        "{}",
        r.stderr
    );
}
