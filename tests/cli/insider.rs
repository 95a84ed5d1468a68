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
    let keys = slots.unlock("hana", hana.as_bytes()).unwrap();
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
