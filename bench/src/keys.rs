//! Backups, restore and key rotation on a vault of `mib` MiB in 16
//! documents, each beside its peer in the same run:
//! - backup against copying the same object files (the floor for a
//!   backup that copies ciphertext);
//! - restore (decrypt, write, sign in, check every file) against reading
//!   the backup file;
//! - `rekey` to the same suite (AES) and to Camellia, against STREAM
//!   encryption of the same bytes under each suite (the floor for
//!   re-encrypting everything).

use kinko_core::backup::RestoreRequest;
use kinko_core::crypto::{self, stream};
use kinko_core::{ImportRequest, Password, Vault};

use crate::{rate, time, PASSWORD};

pub fn run(mib: usize) {
    let size = mib << 20;
    let per = size / 16;
    println!("Kinko backup, restore and rekey, {mib} MiB in 16 documents\n");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    // rekey needs this vault's recovery code, so keep what init prints.
    let code = Vault::init(&dir, crate::init_options())
        .unwrap()
        .recovery_code
        .to_string();
    let mut s = Vault::open(&dir)
        .unwrap()
        .sign_in("bench", &Password::new(PASSWORD), None, "bench")
        .unwrap();
    for i in 0..16 {
        let src = tmp.path().join(format!("d{i}"));
        let data: Vec<u8> = (0..per).map(|b| (b * 31 % 251) as u8 ^ i as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let req = ImportRequest {
            source: src,
            origin: "bench".into(),
            via: "file".into(),
            purpose: "bench".into(),
            title: None,
            personal_data: false,
        };
        s.import(&req, &mut |_, _| {}).unwrap();
    }

    let copies = tmp.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    let (_, secs) = time(|| {
        for e in std::fs::read_dir(dir.join("objects")).unwrap().flatten() {
            std::fs::copy(e.path(), copies.join(e.file_name())).unwrap();
        }
    });
    rate("peer: copy the object files", size, secs);
    let out = tmp.path().join("b.kinkobak");
    let (_, secs) = time(|| s.backup(&out).unwrap());
    rate(
        "kinko backup (snapshot, archive, encrypt, fsync)",
        size,
        secs,
    );

    let (_, secs) = time(|| std::fs::read(&out).unwrap().len());
    rate("peer: read the backup file", size, secs);
    let to = tmp.path().join("restored");
    let pw = Password::new(PASSWORD);
    let (_, secs) = time(|| {
        Vault::restore(&RestoreRequest {
            backup: &out,
            to: &to,
            id: "bench",
            password: &pw,
            totp: None,
            terminal: "bench",
            recovery_code: Some(&code),
            token: None,
        })
        .unwrap()
    });
    rate("kinko restore (decrypt, write, sign in, check)", size, secs);

    let data: Vec<u8> = (0..size).map(|b| (b * 31 % 251) as u8).collect();
    let dek = crypto::random_key();
    for (suite, name) in [
        (stream::SUITE_AES256GCM, "AES-256-GCM"),
        (stream::SUITE_CAMELLIA256GCM, "Camellia-256-GCM"),
    ] {
        let mut ct = Vec::with_capacity(size + size / 4000 + 200);
        let (_, secs) = time(|| {
            stream::encrypt_with(suite, &dek, [1; 16], 1, &mut &data[..], &mut ct).unwrap()
        });
        rate(
            &format!("peer: STREAM encrypt, suite {suite} ({name})"),
            size,
            secs,
        );
        let (_, secs) = time(|| s.rekey(Some(suite), &code, &mut |_, _| {}).unwrap());
        rate(
            &format!("kinko rekey --suite {suite} (decrypt + encrypt all)"),
            size,
            secs,
        );
    }
}
