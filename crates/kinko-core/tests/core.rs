//! Core-level tests against real vault files in temporary directories.

use std::path::{Path, PathBuf};

use kinko_core::crypto::{self, kdf::KdfProfile, Wrapped};
use kinko_core::keyslots::KeySlots;
use kinko_core::vault::InitOptions;
use kinko_core::{Error, ImportRequest, Password, Session, Vault};

const OFFICER_PW: &str = "Kinko-Vault-7q2x!";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    work: PathBuf,
    recovery_code: String,
}

fn fixture(kdf: KdfProfile) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let created = Vault::init(
        &dir,
        InitOptions {
            officer_id: "boss".into(),
            officer_name: "Officer".into(),
            council: "Test council".into(),
            password: Password::new(OFFICER_PW),
            kdf,
            terminal: "test".into(),
            policy: vec![("totp.required".into(), "false".into())],
        },
    )
    .unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        work,
        recovery_code: created.recovery_code.to_string(),
    }
}

impl Fixture {
    fn sign_in(&self, id: &str, pw: &str) -> Session {
        Vault::open(&self.dir)
            .unwrap()
            .sign_in(id, &Password::new(pw), None, "test")
            .unwrap()
    }

    fn officer(&self) -> Session {
        self.sign_in("boss", OFFICER_PW)
    }

    /// Sign in with the initial password and set one's own (the initial
    /// one allows nothing else); returns the new password.
    fn activate(&self, id: &str, initial: &Password) -> String {
        let own = format!("Zq8!own-Secret-{}", id.len());
        let mut s = self.sign_in(id, initial.as_str());
        assert!(matches!(
            s.list_documents(),
            Err(Error::NotSignedIn(_)) | Err(Error::Denied(_))
        ));
        s.change_password(&Password::new(own.as_str())).unwrap();
        own
    }

    /// Open the database as someone holding `id`'s keyslot and a SQLCipher
    /// tool would: with the raw database key, outside Kinko.
    fn raw_db(&self, id: &str, pw: &str) -> rusqlite::Connection {
        let slots = KeySlots::load(&self.dir.join("keyslots")).unwrap();
        let keys = slots.unlock(id, pw.as_bytes()).unwrap();
        let conn = rusqlite::Connection::open(self.dir.join("kinko.db")).unwrap();
        conn.pragma_update(None, "key", format!("x'{}'", crypto::hex(&keys.db_key)))
            .unwrap();
        conn
    }

    /// Put `id` on the approved handler roster.
    fn roster(&self, id: &str) {
        let mut boss = self.officer();
        let fields = kinko_core::roster::RosterFields {
            name: id.into(),
            department: "d".into(),
            position: "p".into(),
            address: Some("a".into()),
            birth_date: Some("1990-01-01".into()),
            ..Default::default()
        };
        let req = boss
            .roster_request_add(kinko_core::roster::Roster::Handler, id, &fields)
            .unwrap();
        boss.roster_approve(req, "ref-1", "2026-04-01").unwrap();
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn request(&self, source: &Path) -> ImportRequest {
        ImportRequest {
            source: source.to_path_buf(),
            origin: "bureau".into(),
            via: "usb".into(),
            purpose: "contract".into(),
            title: None,
            personal_data: false,
        }
    }
}

fn no_progress() -> impl FnMut(u64, u64) {
    |_, _| {}
}

/// D3: access is enforced by keys. A person who holds the database key
/// (any account does) but was never granted a document finds no wrap
/// that opens under their key, and without the DEK the object is noise.
#[test]
fn never_granted_cannot_decrypt_even_with_the_database_key() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let bob = boss.add_account("bob", "Bob", "handler").unwrap();
    let secret = f.file("secret.txt", b"PLAINTEXT-MARKER-D3 personal data");
    let id = boss
        .import(&f.request(&secret), &mut no_progress())
        .unwrap();

    // Bob opens his own keyslot: he now has the database key and his keys.
    let slots = KeySlots::load(&f.dir.join("keyslots")).unwrap();
    let bob_keys = slots
        .unlock("bob", bob.initial_password.as_bytes())
        .unwrap();
    let conn = f.raw_db("bob", bob.initial_password.as_str());
    let wraps: Vec<(String, Wrapped, Vec<u8>)> = conn
        .prepare("SELECT w.holder, w.enc, w.ciphertext, d.uid FROM wraps w JOIN documents d ON d.id = w.doc_id WHERE d.id = ?1")
        .unwrap()
        .query_map([id], |r| Ok((r.get(0)?, Wrapped { enc: r.get(1)?, ciphertext: r.get(2)? }, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(wraps.len(), 2, "importer and custodian hold wraps");
    let vault_id = slots.vault_id.clone();
    for (holder, wrap, uid) in &wraps {
        let uid: [u8; 16] = uid.as_slice().try_into().unwrap();
        for as_holder in [holder.as_str(), "bob"] {
            let ctx = kinko_core::document::wrap_context(&vault_id, &uid, as_holder);
            assert!(
                crypto::hpke_unwrap(&bob_keys.hpke_secret, &ctx, wrap).is_none(),
                "bob opened {holder}'s wrap"
            );
        }
    }
    // And through the core, he is refused (exit 4 at the CLI).
    let bob_pw = f.activate("bob", &bob.initial_password);
    let mut bob_s = f.sign_in("bob", &bob_pw);
    let out = f.work.join("out");
    assert!(matches!(
        bob_s.export(id, kinko_core::ExportTarget::File(&out)),
        Err(Error::Denied(_))
    ));
    assert!(!out.exists());

    // Not on the approved roster: no grant.
    assert!(matches!(boss.grant(id, "bob"), Err(Error::Denied(_))));
    // Once on the roster and granted he can; once revoked, his wrap is gone again.
    f.roster("bob");
    let mut boss = f.officer();
    boss.grant(id, "bob").unwrap();
    let mut bob_s = f.sign_in("bob", &bob_pw);
    bob_s
        .export(id, kinko_core::ExportTarget::File(&out))
        .unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"PLAINTEXT-MARKER-D3 personal data"
    );
    boss.revoke(id, "bob").unwrap();
    let mut bob_s = f.sign_in("bob", &bob_pw);
    assert!(matches!(
        bob_s.export(id, kinko_core::ExportTarget::File(&f.work.join("again"))),
        Err(Error::Denied(_))
    ));
}

#[test]
fn a_source_that_shrinks_mid_import_is_refused_and_nothing_is_kept() {
    let f = fixture(KdfProfile::Pbkdf2);
    let mut boss = f.officer();
    let keep = f.file("keep.txt", b"kept document");
    let kept = boss.import(&f.request(&keep), &mut no_progress()).unwrap();

    let src = f.file("big.bin", &vec![7u8; 1024 * 1024]);
    let src2 = src.clone();
    let mut truncated = false;
    let mut shrink = |done: u64, _total: u64| {
        if !truncated && done > 0 {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&src2)
                .unwrap()
                .set_len(1000)
                .unwrap();
            truncated = true;
        }
    };
    let e = boss.import(&f.request(&src), &mut shrink).unwrap_err();
    assert!(matches!(e, Error::SourceChanged(_)), "{e}");
    assert_eq!(boss.list_documents().unwrap().len(), 1);
    let objects: Vec<_> = std::fs::read_dir(f.dir.join("objects")).unwrap().collect();
    assert_eq!(objects.len(), 1, "no object of the refused import is left");
    let out = f.work.join("kept.out");
    boss.export(kept, kinko_core::ExportTarget::File(&out))
        .unwrap();
    assert_eq!(std::fs::read(out).unwrap(), b"kept document");
}

#[test]
fn a_source_that_vanishes_mid_import_is_refused() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let src = f.file("gone.bin", &vec![1u8; 300_000]);
    let src2 = src.clone();
    let mut vanish = |_: u64, _: u64| {
        let _ = std::fs::remove_file(&src2);
    };
    let e = boss.import(&f.request(&src), &mut vanish).unwrap_err();
    assert!(matches!(e, Error::SourceChanged(_)), "{e}");
    assert!(boss.list_documents().unwrap().is_empty());
    assert!(boss.verify(true).unwrap().is_intact());
}

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
    assert!(boss.verify(false).unwrap().is_intact());
}

#[test]
fn a_sealed_session_resumes_and_ends() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let token = boss.start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    let s = vault.resume(&token, "t").unwrap();
    assert_eq!(s.actor().id, "boss");
    s.end().unwrap();
    assert!(matches!(
        vault.resume(&token, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(std::fs::read_dir(f.dir.join("sessions"))
        .unwrap()
        .next()
        .is_none());
    // A forged token opens nothing.
    let forged = format!("{}.AAAA", "0".repeat(32));
    assert!(matches!(
        vault.resume(&forged, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(matches!(
        vault.resume("../../etc/passwd.x", "t"),
        Err(Error::NotSignedIn(_))
    ));
}

#[test]
fn a_new_sign_in_ends_the_earlier_session() {
    let f = fixture(KdfProfile::Argon2id);
    let first = f.officer().start_token().unwrap();
    let second = f.officer().start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    assert!(matches!(
        vault.resume(&first, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(vault.resume(&second, "t").is_ok());
}

#[test]
fn passwords_change_and_ids_are_never_reissued() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let carol = boss.add_account("carol", "Carol", "manager").unwrap();
    assert!(matches!(
        boss.add_account("carol", "Other Carol", "handler"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        boss.add_account("boss2", "Second officer", "officer"),
        Err(Error::Invalid(_))
    ));
    let mut c = f.sign_in("carol", carol.initial_password.as_str());
    assert!(matches!(
        c.change_password(&Password::new("short")),
        Err(Error::Invalid(_))
    ));
    c.change_password(&Password::new("Mint-Lake-6t1y!e"))
        .unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    assert!(vault
        .sign_in(
            "carol",
            &Password::new(carol.initial_password.as_str()),
            None,
            "t"
        )
        .is_err());
    assert!(vault
        .sign_in("carol", &Password::new("Mint-Lake-6t1y!e"), None, "t")
        .is_ok());
}

/// Someone with the database key (any account) rewrites the database:
/// the custodian key, or their own role. The slot's anchor catches it.
#[test]
fn database_edits_outside_kinko_are_tampering() {
    for edit in [
        "UPDATE meta SET value = (SELECT hpke_public FROM accounts WHERE id = 'sam') WHERE key = 'custodian_public'",
        "UPDATE accounts SET roles = 'officer' WHERE id = 'sam'",
        "UPDATE accounts SET hpke_public = (SELECT hpke_public FROM accounts WHERE id = 'sam') WHERE id = 'boss'",
    ] {
        let f = fixture(KdfProfile::Argon2id);
        let mut boss = f.officer();
        let sam = boss.add_account("sam", "Sam", "sysadmin").unwrap();
        let sam_pw = f.activate("sam", &sam.initial_password);
        drop(boss);
        f.raw_db("sam", &sam_pw).execute(edit, []).unwrap();
        let vault = Vault::open(&f.dir).unwrap();
        let who = if edit.contains("id = 'boss'") { ("boss", OFFICER_PW) } else { ("sam", sam_pw.as_str()) };
        let r = vault.sign_in(who.0, &Password::new(who.1), None, "t");
        assert!(matches!(r, Err(Error::Tampered(_))), "{edit}");
        if edit.contains("custodian") {
            // Every account notices, not just the one who edited.
            assert!(matches!(vault.sign_in("boss", &Password::new(OFFICER_PW), None, "t"), Err(Error::Tampered(_))));
        }
    }
}

/// Anyone can seal to the inbox key; only failed sign-ins are accepted.
#[test]
fn forged_inbox_events_are_recorded_as_tampering() {
    let f = fixture(KdfProfile::Argon2id);
    let slots = KeySlots::load(&f.dir.join("keyslots")).unwrap();
    let forged =
        kinko_core::audit::Event::new("boss", "document.grant", "document:1", "ok", "x", "forged");
    kinko_core::audit::seal_to_inbox(
        &f.dir.join("inbox"),
        &slots.vault_id,
        &slots.inbox_public().unwrap(),
        &forged,
    )
    .unwrap();
    std::fs::write(f.dir.join("inbox").join("zz-garbage.evt"), b"not json").unwrap();
    let mut boss = f.officer();
    let log = boss.audit_log(&Default::default()).unwrap();
    assert!(!log.iter().any(|r| r.event.event == "document.grant"));
    assert_eq!(
        log.iter()
            .filter(|r| r.event.event == "audit.inbox" && r.event.outcome == "tampered")
            .count(),
        2
    );
}

/// P1: the permission matrix, cell by cell. The expected table is written
/// here independently of `permission::allows`; every cell is then tried
/// through a real session of someone holding that role: a "no" must be
/// refused as not permitted, a "yes" must not be.
#[test]
fn every_cell_of_the_permission_matrix() {
    use kinko_core::permission::{allows, Action, Role};
    use kinko_core::roster::{Roster, RosterFields};
    // O officer, M manager, H handler, S sysadmin, A auditor.
    let expected: &[(Action, &str)] = &[
        (Action::AccountAdd, "OS"),
        (Action::AccountList, "OS"),
        (Action::AccountManage, "OS"),
        (Action::AccountRecover, "O"),
        (Action::ChangeOwnPassword, "OMHSA"),
        (Action::TotpEnroll, "OMHSA"),
        (Action::TotpConfirm, "OMHSA"),
        (Action::PolicyShow, "OMHSA"),
        (Action::PolicySet, "O"),
        (Action::RosterRequest, "OM"),
        (Action::RosterApprove, "O"),
        (Action::RosterRead, "OM"),
        (Action::RosterExport, "OM"),
        (Action::SessionStart, "OMHSA"),
        (Action::SessionEnd, "OMHSA"),
        (Action::Status, "OMHSA"),
        (Action::VaultVerify, "OSA"),
        (Action::DocumentImport, "OM"),
        (Action::DocumentList, "OMH"),
        (Action::DocumentShow, "OMH"),
        (Action::DocumentView, "OMH"),
        (Action::GrantList, "OM"),
        (Action::DocumentOpen, "OMH"),
        (Action::ExportApprove, "O"),
        (Action::Grant, "OM"),
        (Action::Revoke, "OM"),
        (Action::AuditRead, "OA"),
        (Action::AuditCheckpoint, "OA"),
        (Action::AuditVerify, "OA"),
        (Action::AuditArchive, "O"),
        (Action::AuditReport, "OA"),
        (Action::AlertRead, "OMA"),
        (Action::AlertAck, "OM"),
        (Action::DisposalPlan, "O"),
        (Action::DisposalRead, "OMA"),
        (Action::DisposalApprove, "O"),
        (Action::DisposalExecute, "OM"),
        (Action::DisposalConfirm, "OM"),
        (Action::DisposalReport, "O"),
        (Action::ReturnPackage, "O"),
        (Action::IncidentRecord, "OM"),
        (Action::IncidentRead, "OMA"),
        (Action::StatusReport, "O"),
        (Action::Backup, "OS"),
        (Action::Rekey, "O"),
        (Action::Restore, "OS"),
    ];
    assert_eq!(expected.len(), Action::ALL.len(), "every action has a row");
    let letter = |r: Role| match r {
        Role::Officer => 'O',
        Role::Manager => 'M',
        Role::Handler => 'H',
        Role::Sysadmin => 'S',
        Role::Auditor => 'A',
    };
    for (action, roles) in expected {
        for role in Role::ALL {
            assert_eq!(
                allows(role, *action),
                roles.contains(letter(role)),
                "{role:?} × {action:?}"
            );
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let created = Vault::init(
        &dir,
        InitOptions {
            officer_id: "boss".into(),
            officer_name: "Officer".into(),
            council: String::new(),
            password: Password::new(OFFICER_PW),
            kdf: KdfProfile::Argon2id,
            terminal: "test".into(),
            policy: vec![("totp.required".into(), "false".into())],
        },
    )
    .unwrap();
    let f = Fixture {
        dir: dir.clone(),
        work: tmp.path().to_path_buf(),
        recovery_code: created.recovery_code.to_string(),
        _tmp: tmp,
    };
    let mut people = vec![(Role::Officer, "boss".to_string(), OFFICER_PW.to_string())];
    for (role, id, roles) in [
        (Role::Manager, "mika", "manager"),
        (Role::Handler, "hana", "handler"),
        (Role::Sysadmin, "sam", "sysadmin"),
        (Role::Auditor, "aki", "auditor"),
    ] {
        let new = f.officer().add_account(id, id, roles).unwrap();
        let pw = f.activate(id, &new.initial_password);
        if role.reads_documents() {
            f.roster(id);
        }
        people.push((role, id.to_string(), pw));
    }
    let src = f.file("m.txt", b"matrix");
    let doc = f
        .officer()
        .import(&f.request(&src), &mut no_progress())
        .unwrap();
    f.officer().grant(doc, "mika").unwrap();
    // Disposed of in the disposal cells, so the rest keep their document.
    let spare = f
        .officer()
        .import(
            &f.request(&f.file("spare.txt", b"spare")),
            &mut no_progress(),
        )
        .unwrap();
    f.officer().grant(doc, "hana").unwrap();
    let recovery = created.recovery_code.to_string();
    let worker = RosterFields {
        name: "W".into(),
        department: "D".into(),
        position: "P".into(),
        education: Some("e".into()),
        work_history: Some("w".into()),
        nationality: Some("n".into()),
        native_language: Some("l".into()),
        ..Default::default()
    };

    let raw = f.raw_db("boss", OFFICER_PW);
    for (role, id, pw) in &people {
        for (action, roles) in expected {
            let mut s = f.sign_in(id, pw);
            let public = Vault::open(&dir).unwrap().public_status();
            let tag = format!("{}{}", letter(*role), *action as u8);
            let result: Result<(), Error> = match action {
                Action::AccountAdd => s
                    .add_account(&format!("new-{}", tag.to_lowercase()), "N", "handler")
                    .map(drop),
                Action::AccountList => s.list_accounts().map(drop),
                Action::AccountManage => s.set_account_hours("hana", None),
                Action::AccountRecover => s.recover_account("hana", &recovery).map(drop),
                Action::ChangeOwnPassword => s.change_password(&Password::new("x")),
                Action::TotpEnroll => s.totp_enroll().map(drop),
                Action::TotpConfirm => s.totp_confirm("000000"),
                Action::PolicyShow => s.policy_show().map(drop),
                Action::PolicySet => s.policy_set("session.idle_minutes", "15"),
                Action::RosterRequest => s
                    .roster_request_add(
                        Roster::Worker,
                        &format!("w-{}", tag.to_lowercase()),
                        &worker,
                    )
                    .map(drop),
                Action::RosterApprove => s.roster_approve(999_999, "r", "2026-01-01"),
                Action::RosterRead => s.roster_list().map(drop),
                Action::RosterExport => s.roster_export().map(drop),
                Action::SessionStart => s.start_token().map(drop),
                Action::SessionEnd => s.end(),
                Action::Status => s.status(public).map(drop),
                Action::VaultVerify => s.verify(false).map(drop),
                Action::DocumentImport => s.import(&f.request(&src), &mut no_progress()).map(drop),
                Action::DocumentList => s.list_documents().map(drop),
                Action::DocumentShow => s.show_document(doc).map(drop),
                Action::DocumentView => s.view_document(doc).map(drop),
                Action::DocumentOpen => s
                    .export(doc, kinko_core::ExportTarget::Writer(&mut std::io::sink()))
                    .map(drop),
                Action::ExportApprove => s.approve_export(doc, "ref", None).map(drop),
                Action::Grant => s.grant(doc, "hana"),
                Action::Revoke => s.revoke(doc, "nobody"),
                Action::GrantList => s.grants_by_person().map(drop),
                Action::AuditRead => s.audit_log(&Default::default()).map(drop),
                Action::AuditCheckpoint => s.audit_checkpoint().map(drop),
                Action::AuditVerify => s.audit_verify(None).map(drop),
                Action::AuditArchive => s
                    .audit_archive(
                        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                        &f.work.join(format!("archive-{tag}.json")),
                    )
                    .map(drop),
                Action::AuditReport => {
                    let today = chrono::Utc::now().date_naive();
                    s.audit_report(today, today).map(drop)
                }
                Action::AlertRead => s.alerts(true).map(drop),
                Action::AlertAck => s.alert_ack(999_999, "checked").map(drop),
                Action::DisposalPlan => s
                    .disposal_plan(&kinko_core::disposal::PlanRequest {
                        executor: "mika",
                        confirmer: "boss",
                        items: Some(&[spare]),
                        planned_date: Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()),
                        returned: false,
                    })
                    .map(drop),
                Action::DisposalRead => s.disposal_status().map(drop),
                Action::DisposalApprove => {
                    // The plan's SHA-256, read as the officer (any role
                    // may read the plan's state); refused roles are
                    // refused before it is compared.
                    let sha = s.disposal_status().map(|p| p.sha256).unwrap_or_default();
                    s.disposal_approve(
                        "ref",
                        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                        &sha,
                    )
                    .map(drop)
                }
                Action::DisposalExecute => s.disposal_execute().map(drop),
                Action::DisposalConfirm => s.disposal_confirm().map(drop),
                Action::DisposalReport => s.disposal_report().map(drop),
                Action::IncidentRecord => s
                    .incident_add(&kinko_core::incident::IncidentFields {
                        detected_at: Some("2026-11-20 10:00".into()),
                        summary: Some("matrix".into()),
                        ..Default::default()
                    })
                    .map(drop),
                Action::IncidentRead => s.incidents(true).map(drop),
                Action::StatusReport => s.status_report("2026-11").map(drop),
                Action::ReturnPackage => s
                    .return_package(
                        kinko_core::package::Protect::Passphrase(b"matrix"),
                        None,
                        &f.work.join(format!("return-{tag}.kinko")),
                    )
                    .map(drop),
                Action::Backup => s.backup(&f.work.join(format!("b-{tag}.bak"))).map(drop),
                // A wrong code: the role's refusal comes first.
                Action::Rekey => s.rekey(None, "AAAAA", &mut no_progress()).map(drop),
                // Restore happens outside a session (into a new vault):
                // `restore_drill…` and `e2e/backup.rs` try its refusals.
                Action::Restore => continue,
            };
            let allowed = roles.contains(letter(*role));
            // The role's refusal; other refusals (the wrong state, not the
            // named person) are for the action's own tests.
            let denied = matches!(&result, Err(Error::Denied(m)) if m.starts_with("your role"));
            assert_eq!(denied, !allowed, "{role:?} × {action:?}: {result:?}");
            // A1: whatever happened, the person's last event is this action.
            let (event, outcome): (String, String) = raw
                .query_row(
                    "SELECT event, outcome FROM audit_events WHERE actor = ?1 ORDER BY seq DESC LIMIT 1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(event, action.event(), "{role:?} × {action:?} left no event");
            if denied {
                assert_eq!(outcome, "denied", "{role:?} × {action:?}");
            }
        }
    }
}

/// Open the database as a key holder and run `sql` (to move time back).
fn raw_sql(f: &Fixture, id: &str, pw: &str, sql: &str) {
    f.raw_db(id, pw).execute_batch(sql).unwrap();
}

/// P5: a password past the maximum age allows only `passwd`; one close to
/// it signs in with a warning.
#[test]
fn password_age_warns_then_refuses_all_but_a_change() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    boss.policy_set("password.max_age_days", "30").unwrap();
    let new = boss.add_account("hana", "Hana", "handler").unwrap();
    let pw = f.activate("hana", &new.initial_password);
    let ago = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!(
            "UPDATE accounts SET password_changed_at = '{}' WHERE id = 'hana'",
            ago(25)
        ),
    );
    let s = f.sign_in("hana", &pw);
    assert!(
        s.notices().iter().any(|n| n.contains("expires in")),
        "{:?}",
        s.notices()
    );
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!(
            "UPDATE accounts SET password_changed_at = '{}' WHERE id = 'hana'",
            ago(31)
        ),
    );
    let mut s = f.sign_in("hana", &pw);
    assert!(matches!(s.list_documents(), Err(Error::NotSignedIn(m)) if m.contains("expired")));
    s.change_password(&Password::new("Renewed-Choice-7u!k"))
        .unwrap();
    f.sign_in("hana", "Renewed-Choice-7u!k")
        .list_documents()
        .unwrap();
}

/// P7: a stored session idle longer than the policy allows has ended.
#[test]
fn an_idle_session_ends() {
    let f = fixture(KdfProfile::Argon2id);
    let token = f.officer().start_token().unwrap();
    let vault = Vault::open(&f.dir).unwrap();
    vault.resume(&token, "t").unwrap();
    let old = (chrono::Utc::now() - chrono::Duration::minutes(16)).to_rfc3339();
    raw_sql(
        &f,
        "boss",
        OFFICER_PW,
        &format!("UPDATE sessions SET last_seen_at = '{old}'"),
    );
    assert!(matches!(
        vault.resume(&token, "t"),
        Err(Error::NotSignedIn(_))
    ));
    assert!(
        std::fs::read_dir(f.dir.join("sessions"))
            .unwrap()
            .next()
            .is_none(),
        "key material destroyed"
    );
    let log = f.officer().audit_log(&Default::default()).unwrap();
    assert!(log
        .iter()
        .any(|r| r.event.event == "session.end" && r.event.detail == "idle timeout"));
}

fn vault_id(f: &Fixture) -> String {
    KeySlots::load(&f.dir.join("keyslots")).unwrap().vault_id
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
    let seq = audit::append(&tx, &e).unwrap();
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
    boss.add_account("hana", "Hana", "handler").unwrap();
    boss.audit_checkpoint().unwrap();
    drop(boss);
    let id = vault_id(&f);
    let far = chrono::NaiveDate::from_ymd_opt(2999, 1, 1).unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    let first_file = f.work.join("a1.json");

    let raw = f.raw_db("boss", OFFICER_PW);
    // Today every event is younger than the retention period.
    let tx = raw.unchecked_transaction().unwrap();
    assert!(matches!(
        archive(&tx, &id, "boss", far, chrono::Utc::now(), &first_file),
        Err(Error::Invalid(_))
    ));
    assert!(!first_file.exists());
    let a1 = archive(&tx, &id, "boss", far, later, &first_file).unwrap();
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
    let a2 = archive(&tx, &id, "boss", far, later, &second_file).unwrap();
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

/// D4: the viewer decrypts into memory only. A personal-data document is
/// viewable without an export approval (nothing leaves the vault), the
/// view is logged, no file appears anywhere in the vault or the working
/// directory, kinds the viewer cannot render are refused (export them),
/// and a file whose content is not what its name says is refused too.
#[test]
fn viewing_is_in_memory_logged_and_limited_to_viewable_kinds() {
    let f = fixture(KdfProfile::Pbkdf2);
    let mut boss = f.officer();
    let mut req = f.request(&f.file("名簿.csv", "氏名,住所\nVIEW-MARKER,東京\n".as_bytes()));
    req.personal_data = true;
    let csv = boss.import(&req, &mut no_progress()).unwrap();
    let doc = boss
        .import(
            &f.request(&f.file("form.docx", b"PK\x03\x04word")),
            &mut no_progress(),
        )
        .unwrap();
    let fake = boss
        .import(
            &f.request(&f.file("fake.pdf", b"<html>not a pdf")),
            &mut no_progress(),
        )
        .unwrap();
    for name in ["名簿.csv", "form.docx", "fake.pdf"] {
        std::fs::remove_file(f.work.join(name)).unwrap();
    }
    let before = files_under(&[&f.dir, &f.work]);

    let view = boss.view_document(csv).unwrap();
    assert_eq!(view.kind, kinko_core::viewer::ViewKind::Csv);
    assert_eq!(&view.bytes[..], "氏名,住所\nVIEW-MARKER,東京\n".as_bytes());
    assert!(view.viewer.contains("boss"));
    assert!(matches!(
        boss.view_document(doc),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        boss.view_document(fake),
        Err(Error::Unsupported(_))
    ));
    drop(view);

    // No new file holds the plaintext (the database and WAL change).
    for (path, _) in files_under(&[&f.dir, &f.work]) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !bytes.windows(11).any(|w| w == b"VIEW-MARKER"),
            "plaintext in {}",
            path.display()
        );
    }
    assert!(files_under(&[&f.work]).len() <= before.len());
    let raw = f.raw_db("boss", OFFICER_PW);
    let outcomes: Vec<(String, String)> = raw
        .prepare(
            "SELECT object, outcome FROM audit_events WHERE event = 'document.view' ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            (format!("document:{csv}"), "ok".to_string()),
            (format!("document:{doc}"), "failed".to_string()),
            // Decrypted (an access), then refused for what it held.
            (format!("document:{fake}"), "ok".to_string()),
            (format!("document:{fake}"), "failed".to_string()),
        ]
    );
}

fn files_under(dirs: &[&Path]) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((p, len));
            }
        }
    }
    out
}

/// Long work can be cancelled where that is safe: a cancelled receipt
/// keeps nothing (no document, no object file) and logs the attempt.
#[test]
fn a_cancelled_import_keeps_nothing() {
    let f = fixture(KdfProfile::Pbkdf2);
    let mut boss = f.officer();
    let src = f.file("big.bin", &vec![7u8; 3 * 1024 * 1024]);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut seen = 0;
    let mut progress = |done: u64, _total: u64| {
        seen += 1;
        if done > 1024 * 1024 {
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let r = boss.import_cancellable(&f.request(&src), &mut progress, &cancel);
    assert!(matches!(r, Err(Error::Cancelled(_))), "{r:?}");
    assert!(seen > 0);
    assert!(boss.list_documents().unwrap().is_empty());
    let objects: Vec<_> = std::fs::read_dir(f.dir.join("objects"))
        .unwrap()
        .flatten()
        .collect();
    assert!(objects.is_empty(), "{objects:?}");
    let raw = f.raw_db("boss", OFFICER_PW);
    let outcome: String = raw
        .query_row(
            "SELECT outcome FROM audit_events WHERE event = 'document.import' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "failed");
}

fn restore_request<'a>(
    backup: &'a Path,
    to: &'a Path,
    id: &'a str,
    password: &'a Password,
) -> kinko_core::backup::RestoreRequest<'a> {
    kinko_core::backup::RestoreRequest {
        backup,
        to,
        id,
        password,
        totp: None,
        terminal: "test",
    }
}

/// S3 restore drill: a backup of a vault with documents held by several
/// people restores into a new directory where every holder reads every
/// document byte for byte, the file check and the audit trail verify, and
/// the restore itself is in the restored trail.
#[test]
fn restore_drill_reads_every_document_and_verifies_the_trail() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    drop(boss);
    let hana_pw = f.activate("hana", &hana.initial_password);
    f.roster("hana");
    let mut boss = f.officer();
    let mut docs = Vec::new();
    for (i, size) in [0usize, 5, 65536, 65537, 300_000].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
        let p = f.file(&format!("doc-{i}.bin"), &bytes);
        let id = boss.import(&f.request(&p), &mut no_progress()).unwrap();
        if i % 2 == 0 {
            boss.grant(id, "hana").unwrap();
        }
        docs.push((id, bytes, i % 2 == 0));
    }
    let out = f.work.join("vault.kinkobak");
    let info = boss.backup(&out).unwrap();
    assert_eq!((info.epoch, info.documents), (1, 5));
    assert_eq!(
        info.sha256,
        crypto::hex(&crypto::sha256(&std::fs::read(&out).unwrap()))
    );
    // The backup holds no plaintext of any document.
    let raw = std::fs::read(&out).unwrap();
    assert!(!raw.windows(16).any(|w| w == &docs[4].1[100..116]));
    let listed = boss.backups().unwrap();
    assert_eq!(listed[0].uid, info.uid);
    drop(boss);

    let to = f.work.join("restored");
    let pw = Password::new(OFFICER_PW);
    let restored = Vault::restore(&restore_request(&out, &to, "boss", &pw)).unwrap();
    assert_eq!((restored.documents, restored.epoch), (5, 1));
    assert_eq!(restored.vault_id, vault_id(&f));

    let open = |id: &str, pw: &str| {
        Vault::open(&to)
            .unwrap()
            .sign_in(id, &Password::new(pw), None, "test")
            .unwrap()
    };
    let mut boss = open("boss", OFFICER_PW);
    let mut hana = open("hana", &hana_pw);
    for (id, bytes, granted) in &docs {
        let mut got = Vec::new();
        boss.export(*id, kinko_core::ExportTarget::Writer(&mut got))
            .unwrap();
        assert_eq!(&got, bytes, "document {id}");
        let mut got = Vec::new();
        let theirs = hana.export(*id, kinko_core::ExportTarget::Writer(&mut got));
        assert_eq!(theirs.is_ok(), *granted, "hana × document {id}");
        if *granted {
            assert_eq!(&got, bytes);
        }
    }
    let check = boss.verify(true).unwrap();
    assert!(check.is_intact(), "{:?}", check.damaged);
    assert_eq!(check.documents_decrypted, 5);
    boss.audit_verify(None).unwrap();
    let trail = boss
        .audit_log(&kinko_core::audit::Query::default())
        .unwrap();
    assert!(trail.iter().any(|e| e.event.event == "vault.restore"));
}

/// S3, D7: a backup is useless without a password of an account in it, and
/// any changed, cut or added byte is reported as tampering with nothing
/// left behind.
#[test]
fn a_backup_needs_a_password_and_detects_every_change() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let p = f.file("a.txt", &vec![b'x'; 200_000]);
    boss.import(&f.request(&p), &mut no_progress()).unwrap();
    let out = f.work.join("b.kinkobak");
    boss.backup(&out).unwrap();
    // A second backup to the same name is refused, the first kept.
    assert!(matches!(boss.backup(&out), Err(Error::Invalid(_))));
    let good = std::fs::read(&out).unwrap();
    drop(boss);

    let pw = Password::new(OFFICER_PW);
    let to = f.work.join("r");
    let wrong = Password::new("Not-The-Password-9!");
    assert!(matches!(
        Vault::restore(&restore_request(&out, &to, "boss", &wrong)),
        Err(Error::BadCredentials)
    ));
    assert!(!to.exists());
    let bad = f.work.join("bad.kinkobak");
    // Header (vault id, epoch, keyslots), the stream header, a middle
    // chunk, the last byte; truncation; an appended byte.
    for at in [12usize, 27, 60, good.len() / 2, good.len() - 1] {
        let mut b = good.clone();
        b[at] ^= 1;
        std::fs::write(&bad, &b).unwrap();
        let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw));
        assert!(
            matches!(r, Err(Error::Tampered(_)) | Err(Error::BadCredentials)),
            "byte {at}: {r:?}"
        );
        assert!(!to.exists(), "byte {at} left files");
    }
    for b in [
        good[..good.len() - 20].to_vec(),
        [good.clone(), vec![0]].concat(),
    ] {
        std::fs::write(&bad, &b).unwrap();
        let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw));
        assert!(matches!(r, Err(Error::Tampered(_))), "{r:?}");
        assert!(!to.exists());
    }
    // An absurd keyslots length is refused before anything is allocated.
    let mut b = good.clone();
    b[54..58].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&bad, &b).unwrap();
    let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw));
    assert!(matches!(r, Err(Error::Tampered(_))), "{r:?}");
    // Not a backup at all.
    std::fs::write(&bad, b"hello").unwrap();
    assert!(Vault::restore(&restore_request(&bad, &to, "boss", &pw)).is_err());
    // A restore into a directory that holds something is refused.
    std::fs::create_dir(&to).unwrap();
    std::fs::write(to.join("keep.txt"), b"mine").unwrap();
    assert!(matches!(
        Vault::restore(&restore_request(&out, &to, "boss", &pw)),
        Err(Error::VaultExists(_))
    ));
    assert_eq!(std::fs::read(to.join("keep.txt")).unwrap(), b"mine");
}

/// S1 (path traversal): names inside a backup's archive are checked
/// against the vault layout before anything is written.
#[test]
fn archive_names_outside_the_vault_layout_are_refused() {
    use kinko_core::backup::{read_archive, Entry};
    for name in [
        "../kinko.db",
        "/etc/passwd",
        "objects/../../x",
        "objects/ABCDEF0123456789ABCDEF0123456789",
        "objects/0123",
        "inbox/../../.bashrc.evt",
        "inbox/.hidden.evt",
        "keyslots",
        "sessions/abc",
        "kinko.db\0",
    ] {
        assert!(
            matches!(Entry::parse(name.as_bytes()), Err(Error::Tampered(_))),
            "{name}"
        );
        let mut archive = vec![b'F'];
        archive.extend_from_slice(&(name.len() as u16).to_be_bytes());
        archive.extend_from_slice(name.as_bytes());
        archive.extend_from_slice(&3u64.to_be_bytes());
        archive.extend_from_slice(b"abcE");
        let mut wrote = false;
        let r = read_archive(&mut archive.as_slice(), |_, _| {
            wrote = true;
            Ok(())
        });
        assert!(r.is_err() && !wrote, "{name}");
    }
    assert_eq!(
        Entry::parse(b"objects/0123456789abcdef0123456789abcdef").unwrap(),
        Entry::Object("0123456789abcdef0123456789abcdef".into())
    );
    // A length field larger than what follows is truncation, not a huge
    // allocation.
    let mut archive = vec![b'F', 0, 8];
    archive.extend_from_slice(b"kinko.db");
    archive.extend_from_slice(&u64::MAX.to_be_bytes());
    let r = read_archive(&mut archive.as_slice(), |_, d| {
        std::io::copy(d, &mut std::io::sink())
            .map(drop)
            .map_err(|e| Error::Invalid(e.to_string()))
    });
    assert!(matches!(r, Err(Error::Tampered(_))), "{r:?}");
}

/// The content suite written in an object file's header (bytes 10..12).
fn object_suites(f: &Fixture) -> Vec<u16> {
    std::fs::read_dir(f.dir.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| {
            let b = std::fs::read(e.path()).unwrap();
            u16::from_be_bytes([b[10], b[11]])
        })
        .collect()
}

/// D6: `rekey --suite 2` gives every document a new data key and object
/// file under Camellia-256-GCM and the database a new key; every holder
/// still reads what they held (through the key left for them), the old
/// database key opens nothing, new documents follow the new suite, and
/// backups record the epoch whose keys they hold (old ones still open
/// with the old keys, new ones with the new).
#[test]
fn rekey_swaps_keys_and_suite_and_every_holder_still_reads() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    drop(boss);
    let hana_pw = f.activate("hana", &hana.initial_password);
    f.roster("hana");
    let mut boss = f.officer();
    let mut docs = Vec::new();
    for i in 0..4usize {
        let bytes: Vec<u8> = (0..(70_000 * i + 3)).map(|b| (b % 241) as u8).collect();
        let id = boss
            .import(
                &f.request(&f.file(&format!("d{i}"), &bytes)),
                &mut no_progress(),
            )
            .unwrap();
        boss.grant(id, "hana").unwrap();
        docs.push((id, bytes));
    }
    boss.revoke(docs[3].0, "hana").unwrap();
    let old_backup = f.work.join("epoch1.bak");
    boss.backup(&old_backup).unwrap();
    let old_names: Vec<_> = std::fs::read_dir(f.dir.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let old_db_key = KeySlots::load(&f.dir.join("keyslots"))
        .unwrap()
        .unlock("hana", hana_pw.as_bytes())
        .unwrap()
        .db_key;
    assert_eq!(object_suites(&f), vec![1; 4]);

    assert!(matches!(
        boss.rekey(Some(9), &f.recovery_code, &mut no_progress()),
        Err(Error::Unsupported(_))
    ));
    let mut seen = Vec::new();
    let report = boss
        .rekey(Some(2), &f.recovery_code, &mut |d, t| seen.push((d, t)))
        .unwrap();
    assert_eq!((report.epoch, report.suite, report.documents), (2, 2, 4));
    assert!(!report.resumed);
    assert_eq!(report.older_backups.len(), 1);
    assert_eq!(seen.last(), Some(&(4, 4)), "progress reaches the end");
    assert_eq!(object_suites(&f), vec![2; 4]);
    for e in std::fs::read_dir(f.dir.join("objects")).unwrap().flatten() {
        assert!(
            !old_names.contains(&e.file_name()),
            "an old object file is left"
        );
    }
    // The old database key no longer opens the database.
    let raw = rusqlite::Connection::open(f.dir.join("kinko.db")).unwrap();
    raw.pragma_update(None, "key", format!("x'{}'", crypto::hex(&old_db_key)))
        .unwrap();
    assert!(raw
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
        .is_err());
    // The session that ran it keeps working; a new import follows suite 2.
    boss.import(
        &f.request(&f.file("after", b"after rekey")),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(object_suites(&f), vec![2; 5]);
    let new_backup = f.work.join("epoch2.bak");
    assert_eq!(boss.backup(&new_backup).unwrap().epoch, 2);
    drop(boss);

    let mut hana = f.sign_in("hana", &hana_pw);
    for (i, (id, bytes)) in docs.iter().enumerate() {
        let mut got = Vec::new();
        let r = hana.export(*id, kinko_core::ExportTarget::Writer(&mut got));
        if i == 3 {
            assert!(r.is_err(), "a revoked grant came back");
        } else {
            r.unwrap();
            assert_eq!(&got, bytes);
        }
    }
    // Her next password change seals the new key into her own slot.
    hana.change_password(&Password::new("Zq8!own-Secret-next"))
        .unwrap();
    drop(hana);
    assert!(
        KeySlots::load(&f.dir.join("keyslots"))
            .unwrap()
            .db_keys
            .len()
            == 1
    );
    f.sign_in("hana", "Zq8!own-Secret-next");

    let mut boss = f.officer();
    let check = boss.verify(true).unwrap();
    assert!(check.is_intact() && check.leftovers.is_empty(), "{check:?}");
    assert_eq!(check.documents_decrypted, 5);
    boss.audit_verify(None).unwrap();
    drop(boss);

    // Each backup opens with the keys of its own epoch.
    let pw = Password::new(OFFICER_PW);
    for (file, epoch, count) in [(&old_backup, 1, 4), (&new_backup, 2, 5)] {
        let to = f.work.join(format!("r{epoch}"));
        let r = Vault::restore(&restore_request(file, &to, "boss", &pw)).unwrap();
        assert_eq!((r.epoch, r.documents), (epoch, count));
    }
}

/// D6: a rekey stopped midway leaves a vault that verifies and refuses a
/// backup until `rekey` runs again, which resumes the same epoch; the
/// recovery code must be the vault's.
#[test]
fn an_interrupted_rekey_resumes_and_needs_the_recovery_code() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    for i in 0..5 {
        boss.import(
            &f.request(&f.file(&format!("d{i}"), &[i as u8; 1000])),
            &mut no_progress(),
        )
        .unwrap();
    }
    let other = fixture(KdfProfile::Argon2id).recovery_code;
    assert!(matches!(
        boss.rekey(None, &other, &mut no_progress()),
        Err(Error::Denied(_))
    ));
    // Stop after two documents, as a kill would (the panic unwinds out of
    // the run between two documents).
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        boss.rekey(Some(2), &f.recovery_code, &mut |done, _| {
            if done == 2 {
                panic!("stop here");
            }
        })
    }));
    assert!(stopped.is_err());
    drop(boss);
    let mut boss = f.officer();
    let check = boss.verify(true).unwrap();
    assert!(check.is_intact(), "{check:?}");
    let mut suites = object_suites(&f);
    suites.sort();
    assert_eq!(suites, vec![1, 1, 1, 2, 2]);
    assert!(matches!(
        boss.backup(&f.work.join("no.bak")),
        Err(Error::Denied(_))
    ));
    // Bad input, naming the field (the command adds its flag).
    assert!(matches!(
        boss.rekey(Some(1), &f.recovery_code, &mut no_progress()),
        Err(Error::Field { field: "suite", .. })
    ));
    let r = boss
        .rekey(None, &f.recovery_code, &mut no_progress())
        .unwrap();
    assert!(r.resumed);
    assert_eq!((r.epoch, r.suite, r.documents), (2, 2, 3));
    assert_eq!(object_suites(&f), vec![2; 5]);
    drop(boss);
    let mut boss = f.officer();
    assert!(boss.verify(true).unwrap().is_intact());
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Fuzzing (issue 7): every fuzz target is an entry of
/// `kinko_core::parsers`, each has seeds, and every seed and every saved
/// failing input, cut short at every length up to 300 bytes and with
/// bytes flipped along its length, goes through its parser without a
/// panic — a crash found once stays fixed.
#[test]
fn every_fuzz_seed_and_regression_parses() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut declared: Vec<String> = files_in(&fuzz.join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    declared.sort();
    let mut entries: Vec<String> = kinko_core::parsers::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    entries.sort();
    assert_eq!(
        declared, entries,
        "fuzz/fuzz_targets and parsers::TARGETS differ"
    );
    for (name, parse) in kinko_core::parsers::TARGETS {
        let seeds = files_in(&fuzz.join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} has no seeds");
        let inputs = seeds
            .iter()
            .chain(files_in(&fuzz.join("regressions").join(name)).iter())
            .map(|p| std::fs::read(p).unwrap())
            .collect::<Vec<_>>();
        for input in inputs {
            parse(&input);
            for cut in 0..input.len().min(300) {
                parse(&input[..cut]);
            }
            let step = (input.len() / 64).max(1);
            for at in (0..input.len()).step_by(step) {
                let mut changed = input.clone();
                changed[at] ^= 0x5a;
                parse(&changed);
            }
        }
    }
}

/// The page is told what a person may do (`Session::allowed`), so it
/// decides nothing about roles: a role's actions, and only setting one's
/// credentials while restricted (a new account before its first password).
#[test]
fn a_session_tells_what_its_person_may_do() {
    let f = fixture(KdfProfile::Argon2id);
    let mut boss = f.officer();
    let allowed = boss.allowed();
    assert_eq!(
        allowed,
        kinko_core::permission::allowed(&boss.actor().roles.clone())
    );
    assert!(allowed.contains(&"document.import") && allowed.contains(&"report.status"));
    let hana = boss.add_account("hana", "Hana", "handler").unwrap();
    let new = f.sign_in("hana", hana.initial_password.as_str());
    assert_eq!(
        new.allowed(),
        vec![
            "account.passwd",
            "account.totp_enroll",
            "account.totp_confirm",
            "policy.show",
            "session.start",
            "session.end",
            "vault.status"
        ]
    );
    let admin = boss.add_account("sam", "Sam", "sysadmin").unwrap();
    let own = f.activate("sam", &admin.initial_password);
    let sam = f.sign_in("sam", &own);
    assert!(sam.allowed().contains(&"account.add"));
    assert!(!sam.allowed().iter().any(|a| a.starts_with("document.")));
}
