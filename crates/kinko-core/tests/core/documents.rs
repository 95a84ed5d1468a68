//! Receiving, viewing and holding documents: access is enforced by keys
//! (D3), a source that changes mid-receipt is refused, the viewer keeps
//! everything in memory (D4), a cancelled receipt keeps nothing.

use super::*;

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
        .unlock("bob", bob.initial_password.as_bytes(), None)
        .unwrap()
        .0;
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

    // Not on the approved roster: no grant. (Bob's activation signed the
    // officer in anew, which ended the earlier session: one per person.)
    let mut boss = f.officer();
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
