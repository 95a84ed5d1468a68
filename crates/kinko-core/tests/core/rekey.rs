//! Key rotation (D6): new keys and suite for every document, resumable.

use super::*;

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
        .unlock("hana", hana_pw.as_bytes(), None)
        .unwrap()
        .0
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
        let r = Vault::restore(&restore_request(file, &to, "boss", &pw, &f.recovery_code)).unwrap();
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
