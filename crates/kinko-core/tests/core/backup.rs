//! Backups and restore (S3, D7): the drill, passwords, tampering, and
//! archive names confined to the vault layout.

use super::*;

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
    let restored =
        Vault::restore(&restore_request(&out, &to, "boss", &pw, &f.recovery_code)).unwrap();
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
        Vault::restore(&restore_request(
            &out,
            &to,
            "boss",
            &wrong,
            &f.recovery_code
        )),
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
        let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw, &f.recovery_code));
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
        let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw, &f.recovery_code));
        assert!(matches!(r, Err(Error::Tampered(_))), "{r:?}");
        assert!(!to.exists());
    }
    // An absurd keyslots length is refused before anything is allocated.
    let mut b = good.clone();
    b[54..58].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&bad, &b).unwrap();
    let r = Vault::restore(&restore_request(&bad, &to, "boss", &pw, &f.recovery_code));
    assert!(matches!(r, Err(Error::Tampered(_))), "{r:?}");
    // Not a backup at all.
    std::fs::write(&bad, b"hello").unwrap();
    assert!(Vault::restore(&restore_request(&bad, &to, "boss", &pw, &f.recovery_code)).is_err());
    // A restore into a directory that holds something is refused.
    std::fs::create_dir(&to).unwrap();
    std::fs::write(to.join("keep.txt"), b"mine").unwrap();
    assert!(matches!(
        Vault::restore(&restore_request(&out, &to, "boss", &pw, &f.recovery_code)),
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
