//! Backups and restore through the real binary (S3, D2): the restore
//! drill, who may do it, and what a damaged backup does.

use crate::{contains, TestVault, OFFICER_PW};

const MARKER: &[u8] = b"KINKO-BACKUP-MARKER-5521";

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn backup_restore_drill_through_the_command() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let admin = v.add("ops", "sysadmin");
    let doc = v.import(&v.file("a.txt", &[MARKER, b" data"].concat()), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let doc2 = v.import(&v.file("big.bin", &big), &[]);

    // A handler may not make a backup; the system administrator may (it is ciphertext).
    v.as_user("hana", &hana, &["backup", "--out", path(&v.work("h.bak"))])
        .code(4);
    assert!(!v.work("h.bak").exists());
    let out = v.work("vault.kinkobak");
    let made = v
        .as_user("ops", &admin, &["--json", "backup", "--out", path(&out)])
        .ok()
        .json();
    assert_eq!(made["epoch"], 1);
    assert_eq!(made["documents"], 2);
    assert!(!contains(&std::fs::read(&out).unwrap(), MARKER));
    // Never over an existing file.
    v.boss(&["backup", "--out", path(&out)]).code(1);
    let listed = v.boss(&["--json", "backups"]).ok().json();
    assert_eq!(listed[0]["made_by"], "ops");
    // No temporary copy of the database stays in the vault.
    assert!(v
        .all_files()
        .iter()
        .all(|f| !f.to_string_lossy().contains(".tmp-")));

    // Restore: a wrong password (3), a handler (4), then the officer.
    let to = v.work("restored");
    let restore = |user: &str, pw: &str| {
        v.run_env(
            &["restore", path(&out), "--to", path(&to), "--user", user],
            &[("KINKO_PASSWORD", pw)],
        )
    };
    restore("boss", "Wrong-Password-42!").code(3);
    restore("hana", &hana).code(4);
    assert!(!to.exists(), "a refused restore left files");
    let r = v
        .run_env(
            &[
                "--json",
                "restore",
                path(&out),
                "--to",
                path(&to),
                "--user",
                "boss",
            ],
            &[("KINKO_PASSWORD", OFFICER_PW)],
        )
        .ok()
        .json();
    assert_eq!(r["documents"], 2);

    let there = [("KINKO_VAULT", path(&to)), ("KINKO_PASSWORD", OFFICER_PW)];
    let verified = v
        .run_env(&["--json", "--user", "boss", "verify", "--deep"], &there)
        .ok()
        .json();
    assert_eq!(verified["documents_decrypted"], 2);
    v.run_env(&["--user", "boss", "audit", "verify"], &there)
        .ok();
    let got = v
        .run_env(&["--user", "boss", "open", &doc2, "--out", "-"], &there)
        .ok();
    assert_eq!(got.stdout, big);
    let hers = v
        .run_env(
            &["--user", "hana", "open", &doc, "--out", "-"],
            &[("KINKO_VAULT", path(&to)), ("KINKO_PASSWORD", &hana)],
        )
        .ok();
    assert!(contains(&hers.stdout, MARKER));

    // A changed byte is tampering (5) and leaves nothing.
    let mut bytes = std::fs::read(&out).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x40;
    let bad = v.file("bad.kinkobak", &bytes);
    let to2 = v.work("restored2");
    let r = v
        .run_env(
            &["restore", path(&bad), "--to", path(&to2), "--user", "boss"],
            &[("KINKO_PASSWORD", OFFICER_PW)],
        )
        .code(5);
    assert!(r.stderr.contains("tamper"), "{}", r.stderr);
    assert!(!to2.exists());
}
