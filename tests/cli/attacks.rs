//! Attack tests (S1, 仕様 8.1.2), one per class that applies to Kinko,
//! through the real binary: SQL injection through every text field, path
//! traversal in every path Kinko writes or unpacks, command injection,
//! markup injection into the printed forms and reports, oversized length
//! fields, and the no-network promise (I4). Races between sessions are in
//! `crash.rs` (two processes at once); the window's markup, CSP and
//! clickjacking cases are in `tests/e2e` and `src-tauri/tests`.

use crate::{contains, TestVault, OFFICER_PW};

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

const SQL: &str = "x'); DROP TABLE documents; DELETE FROM audit_events; --";
const OR_TRUE: &str = "' OR '1'='1";
const MARKUP: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

/// Every free-text field goes into the database as a bound parameter:
/// the injection strings come back as text and nothing is dropped; an ID
/// with SQL in it is refused by the ID rules; a filter built from one
/// finds nothing rather than everything.
#[test]
fn sql_injection_through_every_text_field_is_stored_as_text() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let r = v.boss(&[
        "account", "add", OR_TRUE, "--name", "x", "--role", "handler",
    ]);
    assert_ne!(r.code, 0, "an ID with quotes was accepted");
    v.boss(&[
        "account", "add", "sqlname", "--name", SQL, "--role", "auditor",
    ])
    .ok();
    assert!(v.accounts().iter().any(|a| a["name"] == SQL));

    let doc = v.import(
        &v.file("a.txt", b"body"),
        &["--title", SQL, "--via", OR_TRUE, "--personal-data"],
    );
    let shown = v.boss(&["--json", "show", &doc]).ok().json();
    assert_eq!(shown["title"], SQL);
    assert_eq!(shown["via"], OR_TRUE);
    v.boss(&["approve-export", &doc, "--ref", SQL]).ok();
    v.boss(&[
        "roster",
        "request",
        "add",
        "hana",
        "--name",
        SQL,
        "--address",
        OR_TRUE,
        "--birth-date",
        "1985-04-01",
        "--department",
        OR_TRUE,
        "--position",
        SQL,
    ])
    .ok();
    let requests = v
        .boss(&["--json", "roster", "list", "--pending"])
        .ok()
        .text();
    assert!(requests.contains("DROP TABLE documents"), "{requests}");
    v.boss(&[
        "incident",
        "add",
        "--detected",
        "2026-11-20 10:00",
        "--summary",
        SQL,
        "--actions",
        OR_TRUE,
    ])
    .ok();
    let incidents = v.boss(&["--json", "incident", "list", "--all"]).ok().json();
    assert!(incidents.to_string().contains("DROP TABLE documents"));

    // Filters: an injected actor or object matches nothing.
    for (flag, value) in [
        ("--actor", OR_TRUE),
        ("--object", SQL),
        ("--event", OR_TRUE),
    ] {
        let found = v.boss(&["--json", "audit", "log", flag, value]).ok().json();
        assert_eq!(
            found.as_array().unwrap().len(),
            0,
            "{flag} {value} matched events"
        );
    }
    // Everything is still there and whole.
    assert_eq!(
        v.boss(&["--json", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    v.boss(&["verify"]).ok();
    v.boss(&["audit", "verify"]).ok();
    v.as_user("hana", &hana, &["list"]).ok();
}

/// Paths: a session token cannot name a file outside `sessions/`; a
/// database edited to point a document at another file is tampering, not
/// a read or a deletion of that file; file names in a return package
/// cannot climb out of the directory they are unpacked into.
#[test]
fn paths_the_vault_reads_writes_or_unpacks_stay_inside() {
    let v = TestVault::new();
    let bait = v.file("keep-me.txt", b"not Kinko's");
    let token = format!("../../../{}.AAAA", path(&bait));
    let r = v.run_env(&["list"], &[("KINKO_SESSION", &token)]).code(3);
    assert!(r.stderr.contains("session"), "{}", r.stderr);

    // A name with backslashes and dots (valid on Linux) in a return package.
    let evil = v.file("..\\..\\..\\evil.txt", b"payload");
    let doc = v.import(&evil, &[]);
    v.add("mika", "manager");
    v.plan("plan.html", &["--return"]);
    v.approve();
    let made = v.run_env(
        &[
            "--user",
            "boss",
            "return",
            "--out",
            path(&v.work("ret.kinko")),
            "--passphrase",
        ],
        &[
            ("KINKO_PASSWORD", OFFICER_PW),
            ("KINKO_PASSPHRASE", "Bureau-Return-Pass-91!"),
        ],
    );
    made.ok();
    let to = v.work("unpacked");
    v.run_env(
        &["unpack", path(&v.work("ret.kinko")), "--to", path(&to)],
        &[("KINKO_PASSPHRASE", "Bureau-Return-Pass-91!")],
    )
    .ok();
    let names: Vec<_> = std::fs::read_dir(&to)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].to_string_lossy(), format!("{doc}-evil.txt"));
    assert!(!v.tmp.path().parent().unwrap().join("evil.txt").exists());

    // The database edited (by someone holding its key) to aim a document
    // at a file outside objects/: reading and verifying report tampering
    // and the file is untouched.
    v.raw_db("boss", OFFICER_PW)
        .execute(
            "UPDATE documents SET object_name = ?1 WHERE id = ?2",
            rusqlite::params![
                format!("../../{}", bait.file_name().unwrap().to_string_lossy()),
                doc
            ],
        )
        .unwrap();
    v.boss(&["open", &doc, "--out", "-"]).code(5);
    v.boss(&["verify"]).code(5);
    assert_eq!(std::fs::read(&bait).unwrap(), b"not Kinko's");
}

/// Kinko runs no other program: no process is spawned anywhere in the
/// core, the command or the app (checked in the sources), and shell
/// syntax in any field stays text.
#[test]
fn no_command_is_ever_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for dir in [
        "crates/kinko-core/src",
        "crates/kinko-cli/src",
        "src-tauri/src",
    ] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for needle in ["process::Command", "Command::new", "libc::system", "execv"] {
                        if text.contains(needle) {
                            found.push(format!("{}: {needle}", p.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "code that runs programs: {found:?}");

    let v = TestVault::new();
    let canary = v.work("PWNED");
    let shell = format!(
        "$(touch {0}) `touch {0}` ; touch {0} | touch {0}",
        path(&canary)
    );
    v.import(
        &v.file("s.txt", b"x"),
        &["--title", &shell, "--via", &shell],
    );
    v.boss(&[
        "incident",
        "add",
        "--detected",
        "2026-11-20 10:00",
        "--summary",
        &shell,
    ])
    .ok();
    v.boss(&["list"]).ok();
    assert!(!canary.exists(), "a field was run as a command");
}

/// Markup in names, titles, roster fields and incidents is escaped in
/// every printed form and report Kinko writes.
#[test]
fn markup_in_every_field_is_escaped_in_forms_and_reports() {
    let v = TestVault::new();
    let initial = v.add_initial("mika", "manager");
    let mika = "Zq8!own-Secret-4";
    v.run_env(
        &["passwd"],
        &[
            ("KINKO_USER", "mika"),
            ("KINKO_PASSWORD", &initial),
            ("KINKO_NEW_PASSWORD", mika),
        ],
    )
    .ok();
    v.boss(&[
        "account", "add", "xss", "--name", MARKUP, "--role", "auditor",
    ])
    .ok();
    v.roster("mika");
    v.import(
        &v.file("m.txt", b"x"),
        &["--title", MARKUP, "--via", MARKUP],
    );
    v.boss(&[
        "incident",
        "add",
        "--detected",
        "2026-11-20 10:00",
        "--summary",
        MARKUP,
        "--actions",
        MARKUP,
    ])
    .ok();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let outputs = [
        (
            "status.html",
            vec!["report", "status", "--month", month.as_str()],
        ),
        ("incidents.html", vec!["incident", "report"]),
        (
            "audit.html",
            vec![
                "audit",
                "report",
                "--from",
                day.as_str(),
                "--to",
                day.as_str(),
            ],
        ),
        (
            "plan.html",
            vec![
                "disposal",
                "plan",
                "--executor",
                "mika",
                "--confirmer",
                "boss",
                "--complete-by",
                "2026-12-25",
            ],
        ),
    ];
    for (name, args) in outputs {
        let out = v.work(name);
        let mut args = args.clone();
        args.extend_from_slice(&["--out", path(&out)]);
        v.boss(&args).ok();
        let html = std::fs::read_to_string(&out).unwrap();
        for raw in ["<script>alert", "<img src=x", "onerror=alert(2)>"] {
            assert!(!html.contains(raw), "{name} carries {raw}");
        }
    }
}

/// Length fields from outside are checked before they are believed: a
/// return package claiming a 2^63-byte manifest, a backup claiming 4 GiB
/// of keyslots and an object file claiming another chunk size are
/// refused as tampering at once.
#[test]
fn oversized_length_fields_are_refused_before_any_allocation() {
    let v = TestVault::new();
    let mut package = b"{\"format\":\"kinko-package\",\"version\":1}\n".to_vec();
    package.extend_from_slice(&(1u64 << 63).to_be_bytes());
    let p = v.file("huge.kinko", &package);
    let r = v.run_env(
        &["unpack", path(&p), "--to", path(&v.work("u"))],
        &[("KINKO_PASSPHRASE", "x")],
    );
    assert_ne!(r.code, 0);
    assert!(!v.work("u").exists());

    let doc = v.import(&v.file("a.bin", &[1u8; 1000]), &[]);
    v.boss(&["backup", "--out", path(&v.work("b.bak"))]).ok();
    let mut backup = std::fs::read(v.work("b.bak")).unwrap();
    backup[54..58].copy_from_slice(&u32::MAX.to_be_bytes());
    let bad = v.file("bad.bak", &backup);
    let r = v
        .run_env(
            &[
                "restore",
                path(&bad),
                "--to",
                path(&v.work("r")),
                "--user",
                "boss",
            ],
            &[("KINKO_PASSWORD", OFFICER_PW)],
        )
        .code(5);
    assert!(r.stderr.contains("out of range"), "{}", r.stderr);

    let object = v.object_files().pop().unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&object, &bytes).unwrap();
    v.boss(&["open", &doc, "--out", "-"]).code(5);
}

/// I4: Kinko makes no network connection of its own. Every kind of
/// command, traced with strace, creates no IPv4 or IPv6 socket (a local
/// UNIX socket would be allowed; none is made either).
#[test]
fn the_command_opens_no_network_socket() {
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("strace is needed for this test (the test command installs it)");
    let v = TestVault::new();
    let file = v.file("n.txt", b"KINKO-NET-MARKER");
    let trace = v.work("trace");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "import".into(),
            path(&file).into(),
            "--from".into(),
            "b".into(),
            "--purpose".into(),
            "p".into(),
        ],
        vec!["list".into()],
        vec!["open".into(), "1".into(), "--out".into(), "-".into()],
        vec!["verify".into(), "--deep".into()],
        vec![
            "backup".into(),
            "--out".into(),
            path(&v.work("n.bak")).into(),
        ],
        vec!["audit".into(), "verify".into()],
        vec!["about".into()],
    ];
    for args in runs {
        let mut cmd = std::process::Command::new(strace);
        cmd.args([
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect",
            "-o",
            path(&trace),
        ])
        .arg(crate::kinko_bin())
        .args(&args)
        .env("KINKO_VAULT", &v.dir)
        .env("KINKO_USER", "boss")
        .env("KINKO_PASSWORD", OFFICER_PW)
        .env_remove("KINKO_SESSION")
        .stdout(std::process::Stdio::null());
        let status = cmd.status().unwrap();
        assert!(status.success(), "{args:?} under strace");
        let log = std::fs::read_to_string(&trace).unwrap();
        for family in ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"] {
            assert!(
                !log.contains(family),
                "{args:?} made a {family} socket:\n{log}"
            );
        }
        assert!(
            !contains(log.as_bytes(), b"connect("),
            "{args:?} connected:\n{log}"
        );
    }
}

/// Issue 15: someone puts a link to a file outside the vault in the place
/// of a session file. When that session ends (a new sign-in of the same
/// person replaces it), Kinko overwrites and removes session files, but
/// never through a link: the outside file keeps its bytes.
#[test]
fn a_link_planted_in_sessions_is_never_written_through() {
    let v = TestVault::new();
    let outside = v.file("precious.txt", b"not the vault's to erase");
    let token = v.boss(&["login"]).ok().text();
    let id = token
        .trim()
        .trim_start_matches("export KINKO_SESSION=")
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let session = v.dir.join("sessions").join(&id);
    std::fs::remove_file(&session).unwrap();
    std::os::unix::fs::symlink(&outside, &session).unwrap();
    v.boss(&["login"]).ok();
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        b"not the vault's to erase"
    );
}

/// Issue 15: every vault file is readable by its owner only and every
/// folder only by its owner, whatever the umask made or a copy kept; a
/// link put in the place of the database is refused as tampering.
#[test]
fn vault_files_are_private_and_a_linked_database_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let v = TestVault::new();
    v.boss(&["list"]).ok();
    let db = v.dir.join("kinko.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    v.boss(&["list"]).ok();
    for name in ["kinko.db", "keyslots", "signin-state"] {
        let mode = std::fs::metadata(v.dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    for name in ["", "objects", "sessions", "inbox"] {
        let mode = std::fs::metadata(v.dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{name:?}");
    }
    let elsewhere = v.work("kinko.db");
    std::fs::rename(&db, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &db).unwrap();
    let r = v.boss(&["list"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("kinko.db"), "{}", r.stderr);
}

/// Someone with the files writes a path into the keyslots file's vault id
/// (`../../…`), which names the files each terminal keeps (its memory of
/// the trail, its lockout counts): refused as tampering before any file is
/// written, and nothing appears outside the terminal's state directory.
#[test]
fn a_vault_id_that_names_a_path_is_refused() {
    let v = TestVault::new();
    let path = v.dir.join("keyslots");
    let mut slots: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    slots["vault_id"] = "../../escaped".into();
    std::fs::write(&path, serde_json::to_vec(&slots).unwrap()).unwrap();
    let r = v.boss(&["list"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("vault id"), "{}", r.stderr);
    assert!(!v.work("escaped.json").exists());
    assert!(!v.tmp.path().join("escaped.json").exists());
}
