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
            &[("KINKO_PASSWORD", pw), ("KINKO_RECOVERY_CODE", &v.recovery)],
        )
    };
    restore("boss", "Wrong-Password-42!").code(3);
    restore("hana", &hana).code(4);
    assert!(!to.exists(), "a refused restore left files");
    // The officer's password alone does not open it: the recovery code
    // is needed too (format 2).
    let r = v
        .run_env(
            &["restore", path(&out), "--to", path(&to), "--user", "boss"],
            &[("KINKO_PASSWORD", OFFICER_PW)],
        )
        .code(3);
    assert!(r.stderr.contains("recovery code"), "{}", r.stderr);
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
            &[
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &v.recovery),
            ],
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
            &[
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &v.recovery),
            ],
        )
        .code(5);
    assert!(r.stderr.contains("tamper"), "{}", r.stderr);
    assert!(!to2.exists());
}

/// D6 through the binary: `rekey --suite 2` killed (SIGKILL) after a few
/// documents leaves a vault that verifies; the next `rekey` resumes it,
/// and every document reads back the same. Only the officer with the
/// vault's recovery code may run it.
#[test]
fn rekey_killed_midway_resumes() {
    use std::io::{BufRead, BufReader};
    let (v, printed) = TestVault::init_with(&["--policy", "totp.required=false"]);
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let hana = v.add("hana", "handler");
    let mut docs = Vec::new();
    for i in 0..8u8 {
        let bytes: Vec<u8> = (0..1_500_000u32).map(|b| (b as u8) ^ i).collect();
        let id = v.import(&v.file(&format!("d{i}.bin"), &bytes), &[]);
        docs.push((id, bytes));
    }
    v.boss(&["grant", &docs[0].0, "--to", "hana"]).ok();

    v.run_env(
        &["rekey"],
        &[
            ("KINKO_USER", "hana"),
            ("KINKO_PASSWORD", &hana),
            ("KINKO_RECOVERY_CODE", &code),
        ],
    )
    .code(4);
    let other = TestVault::init_with(&[]).1["recovery_code"]
        .as_str()
        .unwrap()
        .to_string();
    v.run_env(
        &["rekey"],
        &[
            ("KINKO_USER", "boss"),
            ("KINKO_PASSWORD", OFFICER_PW),
            ("KINKO_RECOVERY_CODE", &other),
        ],
    )
    .code(4);

    let mut child = std::process::Command::new(crate::kinko_bin())
        .args(["rekey", "--suite", "2"])
        .env("KINKO_VAULT", &v.dir)
        .env("KINKO_LANG", "en")
        .env("KINKO_USER", "boss")
        .env("KINKO_PASSWORD", OFFICER_PW)
        .env("KINKO_RECOVERY_CODE", &code)
        .env_remove("KINKO_SESSION")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        assert!(line.contains("/8 documents"), "{line}");
        if line.contains(" 3/8 ") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    v.boss(&["verify"]).ok();
    v.boss(&["backup", "--out", path(&v.work("mid.bak"))])
        .code(4);
    let r = v
        .run_env(
            &["rekey", "--suite", "1"],
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &code),
            ],
        )
        .code(1);
    assert!(r.stderr.contains("unfinished"), "{}", r.stderr);
    let done = v
        .run_env(
            &["--json", "rekey"],
            &[
                ("KINKO_USER", "boss"),
                ("KINKO_PASSWORD", OFFICER_PW),
                ("KINKO_RECOVERY_CODE", &code),
            ],
        )
        .ok()
        .json();
    assert_eq!(done["resumed"], true);
    assert_eq!(done["suite"], 2);
    let deep = v.boss(&["--json", "verify", "--deep"]).ok().json();
    assert_eq!(deep["documents_decrypted"], 8);
    for (id, bytes) in &docs {
        assert_eq!(&v.boss(&["open", id, "--out", "-"]).ok().stdout, bytes);
    }
    let hers = v
        .as_user("hana", &hana, &["open", &docs[0].0, "--out", "-"])
        .ok();
    assert_eq!(hers.stdout, docs[0].1);
}
