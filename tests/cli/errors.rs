//! Bad input and damaged files: a clear one-line error, the right exit
//! code, and nothing stored before is lost.

use crate::{TestVault, OFFICER_PW};

fn still_intact(v: &TestVault, id: &str, body: &[u8]) {
    assert_eq!(v.boss(&["open", id, "--out", "-"]).ok().stdout, body);
    v.boss(&["verify"]).ok();
}

#[test]
fn wrong_password_exits_3_and_is_logged() {
    let v = TestVault::new();
    let r = v.as_user("boss", "not-the-password", &["list"]).code(3);
    assert_eq!(r.stderr.lines().count(), 1);
    v.as_user("nobody", "whatever-password", &["list"]).code(3);
    let events = v.events();
    assert!(events.iter().any(|e| e["event"] == "session.signin"
        && e["actor"] == "boss"
        && e["outcome"] == "failed"));
    // An ID that is no account's may be a password typed in the wrong
    // box: the trail keeps only a keyed hash of it.
    assert!(events.iter().any(|e| e["event"] == "session.signin"
        && e["actor"].as_str().unwrap().starts_with("unknown#")
        && e["outcome"] == "failed"));
    assert!(!serde_json::to_string(&events).unwrap().contains("nobody"));
}

#[test]
fn no_credentials_exits_3() {
    let v = TestVault::new();
    v.run_env(&["list"], &[]).code(3);
}

#[test]
fn missing_vault_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing-here");
    let v = TestVault::local_at(tmp, dir);
    let r = v.boss(&["list"]).code(1);
    assert!(r.stderr.contains("no Kinko vault at"), "{}", r.stderr);
}

#[test]
fn init_refuses_an_existing_vault_and_keeps_it() {
    let v = TestVault::new();
    let f = v.file("a.txt", b"first");
    let id = v.import(&f, &[]);
    v.run_env(
        &["init", "--officer", "other", "--name", "O"],
        &[("KINKO_PASSWORD", "Another-Officer-3w9e!")],
    )
    .code(1);
    still_intact(&v, &id, b"first");
}

#[test]
fn unwritable_places_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for dir in [
        file.join("vault"),
        std::path::PathBuf::from("/proc/kinko-vault"),
    ] {
        let v = TestVault::local_at(tempfile::tempdir().unwrap(), dir.clone());
        let r = v
            .run_env(
                &["init", "--officer", "boss", "--name", "O"],
                &[("KINKO_PASSWORD", OFFICER_PW)],
            )
            .code(1);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(!dir.exists());
    }
    // Exporting into a place that cannot be written.
    let v = TestVault::new();
    let f = v.file("a.txt", b"x");
    let id = v.import(&f, &[]);
    v.boss(&["open", &id, "--out", file.join("out").to_str().unwrap()])
        .code(1);
    still_intact(&v, &id, b"x");
}

#[test]
fn garbage_keyslots_are_tampering() {
    let v = TestVault::new();
    let keyslots = v.dir.join("keyslots");
    let good = std::fs::read(&keyslots).unwrap();
    std::fs::write(&keyslots, b"\x00\x01garbage{{{").unwrap();
    let r = v.boss(&["list"]).code(5);
    assert!(r.stderr.contains("keyslots"), "{}", r.stderr);
    // An edited slot does not open: indistinguishable from a wrong password.
    let mut edited: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let slot = edited["slots"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    let sealed = slot["sealed"].as_str().unwrap().to_string();
    let first = if sealed.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &sealed[1..]);
    slot["sealed"] = serde_json::Value::String(flipped);
    std::fs::write(&keyslots, serde_json::to_vec(&edited).unwrap()).unwrap();
    v.boss(&["list"]).code(3);
    // A swapped custodian key is caught against the database.
    let mut swapped: serde_json::Value = serde_json::from_slice(&good).unwrap();
    swapped["custodian_public"] = swapped["inbox_public"].clone();
    std::fs::write(&keyslots, serde_json::to_vec(&swapped).unwrap()).unwrap();
    v.boss(&["list"]).code(5);
    std::fs::write(&keyslots, good).unwrap();
    v.boss(&["list"]).ok();
}

#[test]
fn bad_arguments_name_what_was_wrong() {
    let v = TestVault::new();
    let r = v
        .boss(&[
            "account", "add", "Bad ID", "--name", "x", "--role", "handler",
        ])
        .code(1);
    assert!(r.stderr.contains("not a valid account ID"), "{}", r.stderr);
    let r = v
        .boss(&["account", "add", "ok", "--name", "x", "--role", "root"])
        .code(1);
    assert!(r.stderr.contains("unknown role"), "{}", r.stderr);
    let r = v.boss(&["show", "999"]).code(1);
    assert!(r.stderr.contains("document 999"), "{}", r.stderr);
    let r = v
        .boss(&["import", "/no/such/file", "--from", "x", "--purpose", "y"])
        .code(1);
    assert!(r.stderr.contains("/no/such/file"), "{}", r.stderr);
    let r = v
        .boss(&["import", "/tmp", "--from", "x", "--purpose", "y"])
        .code(1);
    assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    // The core names the field (origin); the command adds its flag.
    let file = v.file("f.txt", b"x");
    let r = v
        .boss(&[
            "import",
            file.to_str().unwrap(),
            "--from",
            " ",
            "--purpose",
            "y",
        ])
        .code(1);
    assert!(
        r.stderr.contains("origin must not be empty") && r.stderr.contains("(--from)"),
        "{}",
        r.stderr
    );
    v.run_env(
        &["init", "--officer", "x", "--name", "y", "--kdf", "md5"],
        &[("KINKO_PASSWORD", OFFICER_PW)],
    )
    .code(1);
    let r = v
        .run_env(
            &["--lang", "ja", "show", "1"],
            &[("KINKO_USER", "boss"), ("KINKO_PASSWORD", "wrong-password")],
        )
        .code(3);
    assert!(
        r.stderr.contains("IDまたはパスワードが違います"),
        "{}",
        r.stderr
    );
}

/// Issue 15: an ID that is no account's (a password typed into the ID
/// box, say) is never written, not even sealed: the insider who opens the
/// inbox with the inbox key from the database, before the next sign-in
/// moves it, finds the attempt and not what was typed.
#[test]
fn a_mistyped_id_is_never_written_as_typed() {
    let v = TestVault::new();
    let typed = "Secret-Pass-typed-in-the-ID-box";
    let r = v.as_user(typed, "whatever", &["list"]).code(3);
    assert!(!r.stderr.contains(typed), "{}", r.stderr);
    let db = v.raw_db("boss", OFFICER_PW);
    let meta = |key: &str| -> Vec<u8> {
        db.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    let secret: [u8; 32] = meta("inbox_secret").try_into().unwrap();
    let vault_id = String::from_utf8(meta("vault_id")).unwrap();
    let mut opened = 0;
    for entry in std::fs::read_dir(v.dir.join("inbox")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(typed));
        let event = kinko_core::audit::open_inbox_file(&bytes, &secret, &vault_id)
            .expect("the insider opens the inbox file");
        let said = serde_json::to_string(&event).unwrap();
        assert!(
            !said.contains(typed),
            "the inbox holds what was typed: {said}"
        );
        assert_eq!(event.actor, "unknown");
        opened += 1;
    }
    assert_eq!(opened, 1, "the attempt was sealed");
    // And the trail counts it, once moved in.
    v.boss(&["list"]).ok();
    assert!(!serde_json::to_string(&v.events()).unwrap().contains(typed));
}
