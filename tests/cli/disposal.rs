//! Contract end through the real binary (E1–E4, E6): plan, approval,
//! execution by one person, confirmation by another, the signed report,
//! and what is left afterwards.

use crate::{contains, TestVault, OFFICER_PW};

const MARKER: &[u8] = b"KINKO-PLAINTEXT-MARKER-7731";

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// A vault with two documents, one granted and read, one exported to a file.
fn contract() -> (TestVault, String, String, String, String) {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    let hana = v.add("hana", "handler");
    let doc1 = v.import(&v.file("a.txt", &[MARKER, b" one"].concat()), &[]);
    let doc2 = v.import(
        &v.file("b.txt", &[MARKER, b" two"].concat()),
        &["--title", "山田太郎の記録"],
    );
    v.boss(&["grant", &doc1, "--to", "hana"]).ok();
    v.as_user("hana", &hana, &["open", &doc1, "--out", "-"])
        .ok();
    v.boss(&["open", &doc2, "--out", path(&v.work("copy.txt"))])
        .ok();
    v.boss(&["backup", "--out", path(&v.work("vault.kinkobak"))])
        .ok();
    (v, mika, hana, doc1, doc2)
}

#[test]
fn the_whole_life_of_a_contract_end() {
    let (v, mika, hana, _, _) = contract();
    v.plan("plan.html", &[]);
    let page = std::fs::read_to_string(v.work("plan.html")).unwrap();
    for needle in [
        "（別添1）",
        "作業実施計画書",
        "協議会名：テスト協議会",
        "情報の種類（注1）",
        "作業確認者",
        "令和8年12月25日",
        "電磁的記録媒体",
        "書き出し",
        "バックアップ 1",
        "vault.kinkobak",
    ] {
        assert!(page.contains(needle), "{needle} missing from the plan");
    }
    assert!(!page.contains("山田太郎"), "a title reached the plan");
    // On an office server the plan names the server's disks, WAL,
    // backups and object store for physical destruction.
    assert_eq!(
        page.contains("オフィスサーバー") && page.contains("WAL"),
        v.server.is_some()
    );
    v.boss(&["verify-report", path(&v.work("plan.html"))]).ok();
    v.boss(&["verify-report", path(&v.work("plan.json"))]).ok();

    // Nothing is destroyed before the bureau's approval.
    v.as_user("mika", &mika, &["disposal", "execute"]).code(4);
    v.approve();
    // A changed plan needs a new approval.
    v.plan("plan2.html", &[]);
    let r = v.as_user("mika", &mika, &["disposal", "execute"]).code(4);
    assert!(r.stderr.contains("approval"), "{}", r.stderr);
    v.approve();
    // Only the named executor executes.
    v.boss(&["disposal", "execute"]).code(4);
    // A rekey killed before its rename left the new database beside the
    // live one: the execution destroys it too.
    if v.server.is_some() {
        // Another terminal of the office holds copies of the objects.
        v.boss_on("t2", &["verify"]).ok();
        let held = std::fs::read_dir(v.tmp.path().join("t2/replica/objects")).unwrap();
        assert!(held.count() >= 2);
    }
    let rekey_left = v.dir.join("kinko.db.rekey");
    std::fs::write(&rekey_left, b"database pages under a newer key").unwrap();
    std::fs::write(v.dir.join("kinko.db.rekey-journal"), b"journal").unwrap();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    assert!(!rekey_left.exists());
    assert!(!v.dir.join("kinko.db.rekey-journal").exists());
    // The executor cannot confirm; a handler cannot either.
    v.as_user("mika", &mika, &["disposal", "confirm"]).code(4);
    v.as_user("hana", &hana, &["disposal", "confirm"]).code(4);
    // E3: the confirmation tries the custodian's key too: without the
    // recovery code, or with another vault's, it does not confirm.
    let r = v.boss(&["disposal", "confirm"]).code(1);
    assert!(r.stderr.contains("recovery code"), "{}", r.stderr);
    let other = TestVault::new().recovery_code();
    v.boss_with_code(&other, &["disposal", "confirm"]).code(4);
    let confirmed = v
        .boss_with_code(&v.recovery_code(), &["--json", "disposal", "confirm"])
        .ok()
        .json();
    assert_eq!(confirmed["state"], "confirmed");
    if let Some(server) = &v.server {
        // The server erased each document's object with the unit of its
        // signed step, and a terminal's audit verify matches them.
        let erased = server.sql("SELECT name FROM erased_objects");
        let erased: Vec<&str> = erased.split_whitespace().collect();
        assert_eq!(erased.len(), 2, "{erased:?}");
        v.boss_on("t2", &["audit", "verify"]).ok();
        // The other terminal's copies went at its next sign-in.
        for name in erased {
            assert!(!v.tmp.path().join("t2/replica/objects").join(name).exists());
        }
    }
    let checks = confirmed["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .all(|c| c["erased"] == true && c["keys_left"] == 0));
    // Each check says what was tried, the custodian's key included.
    for c in checks
        .iter()
        .filter(|c| c["item"].as_str().unwrap().starts_with("document:"))
    {
        let tried = c["tried"].to_string();
        assert!(
            tried.contains("the custodian's") && tried.contains("object file absent"),
            "{c}"
        );
    }

    let report = v.work("report.html");
    v.boss(&["disposal", "report", "--out", path(&report)]).ok();
    let page = std::fs::read_to_string(&report).unwrap();
    for needle in [
        "（別添2）",
        "作業完了報告書",
        "全ての作業が完了した日",
        "労発1201第3号",
        "確認者の鍵と回復コードの鍵で読み出しを試行",
    ] {
        assert!(page.contains(needle), "{needle} missing from the report");
    }
    // The report checks with no vault; one changed character fails (exit 5).
    let nowhere = v.work("no-vault");
    let check = |file: &std::path::Path| {
        v.run_env(
            &["verify-report", path(file)],
            &[("KINKO_VAULT", path(&nowhere))],
        )
    };
    check(&report).ok();
    check(&v.work("report.json")).ok();
    // The confirmer signed what they found with their own key (here the
    // officer confirmed, so it is his key; certified by the root).
    assert!(page.contains("確認者の署名：Officer（boss）"), "{page}");
    let officer_key = v.boss(&["--json", "status"]).ok().json()["report_key_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    for file in [&report, &v.work("report.json")] {
        let found = v
            .run_env(
                &[
                    "--json",
                    "verify-report",
                    path(file),
                    "--confirmer-key",
                    &officer_key,
                ],
                &[("KINKO_VAULT", path(&nowhere))],
            )
            .ok()
            .json();
        assert_eq!(found["confirmer"]["account"], "boss", "{found}");
        assert_eq!(found["confirmer"]["key_fingerprint"], officer_key.as_str());
        assert_eq!(found["confirmer"]["certified_by"], "root");
        let r = v
            .run_env(
                &[
                    "verify-report",
                    path(file),
                    "--confirmer-key",
                    &"0".repeat(64),
                ],
                &[("KINKO_VAULT", path(&nowhere))],
            )
            .code(5);
        assert!(r.stderr.contains("was confirmed with key"), "{}", r.stderr);
    }
    // Signed by this vault's key, and by no other.
    let status = v.boss(&["--json", "status"]).ok().json();
    let key = status["report_key_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    v.run_env(
        &["verify-report", path(&report), "--key", &key],
        &[("KINKO_VAULT", path(&nowhere))],
    )
    .ok();
    v.run_env(
        &["verify-report", path(&report), "--key", &"0".repeat(64)],
        &[("KINKO_VAULT", path(&nowhere))],
    )
    .code(5);
    let forged = v.file("forged.html", page.replacen("令和", "平成", 1).as_bytes());
    check(&forged).code(5);
    let twin = std::fs::read_to_string(v.work("report.json")).unwrap();
    let forged = v.file(
        "forged.json",
        twin.replacen("労発1201第3号", "労発1201第4号", 1)
            .as_bytes(),
    );
    check(&forged).code(5);

    // Afterwards: no object files, no backup, no wrapped keys, no plaintext anywhere.
    assert!(v.object_files().is_empty());
    assert!(
        !v.work("vault.kinkobak").exists(),
        "the backup was not destroyed"
    );
    let backups = v.boss(&["--json", "backups"]).ok().json();
    assert!(backups[0]["destroyed_at"].is_string(), "{backups}");
    let keys: i64 = v
        .raw_db("boss", OFFICER_PW)
        .query_row("SELECT count(*) FROM wraps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 0);
    for file in v.all_files() {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !contains(&bytes, MARKER),
            "{} holds plaintext",
            file.display()
        );
    }
    // The trail survives and verifies; the vault takes nothing new.
    v.boss(&["audit", "verify"]).ok();
    v.boss(&["verify"]).ok();
    let status = v.boss(&["--json", "status"]).ok().json();
    assert_eq!(status["state"], "disposed");
    let r = v
        .boss(&[
            "import",
            path(&v.file("c.txt", b"new")),
            "--from",
            "b",
            "--purpose",
            "p",
        ])
        .code(4);
    assert!(r.stderr.contains("disposed"), "{}", r.stderr);
    assert_eq!(
        v.boss(&["--json", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let events = v.events();
    for e in [
        "disposal.plan",
        "disposal.approve",
        "disposal.execute",
        "disposal.step",
        "disposal.confirm",
        "disposal.report",
    ] {
        assert!(
            events
                .iter()
                .any(|x| x["event"] == e && x["outcome"] == "ok"),
            "{e} missing"
        );
    }
}

#[test]
fn a_subset_on_the_bureaus_instruction_leaves_the_rest() {
    let (v, mika, hana, doc1, doc2) = contract();
    v.plan("plan.html", &["--items", &doc2]);
    v.approve();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .ok();
    v.boss(&["open", &doc2, "--out", "-"]).code(1);
    assert_eq!(
        v.as_user("hana", &hana, &["open", &doc1, "--out", "-"])
            .ok()
            .stdout,
        [MARKER, b" one"].concat()
    );
    let status = v.boss(&["--json", "status"]).ok().json();
    assert_eq!(status["state"], "active");
    assert_eq!(v.object_files().len(), 1);
    v.boss(&["verify"]).ok();
}

#[test]
fn an_interrupted_execution_resumes_and_never_reports_early() {
    let (v, mika, _, _, _) = contract();
    v.plan("plan.html", &[]);
    v.approve();
    // Put a folder in the place of the second object file: the execution
    // stops after the first document, reporting it as tampering (exit 5),
    // and touches nothing that is not a file it made.
    let objects = v.object_files();
    let stuck = objects.last().unwrap().clone();
    let saved = std::fs::read(&stuck).unwrap();
    std::fs::remove_file(&stuck).unwrap();
    std::fs::create_dir(&stuck).unwrap();
    std::fs::write(stuck.join("x"), b"x").unwrap();
    v.as_user("mika", &mika, &["disposal", "execute"]).code(5);
    let status = v.boss(&["--json", "disposal", "status"]).ok().json();
    assert_eq!(status["state"], "executing");
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .code(4);
    // Put the file back and run again: it resumes and finishes.
    std::fs::remove_dir_all(&stuck).unwrap();
    std::fs::write(&stuck, saved).unwrap();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .ok();
    assert!(v.object_files().is_empty());
}

/// E3, as the insider would: he kept a document's object file and its
/// custodian wrap from before the execution and puts both back before the
/// confirmation. The confirmation tries the custodian's key on what it
/// finds, reads the document, and refuses (exit 5, naming what it read).
#[test]
fn a_document_put_back_after_the_execution_is_read_and_refused() {
    let (v, mika, _, _, _) = contract();
    v.plan("plan.html", &[]);
    v.approve();
    let kept_files: Vec<(std::path::PathBuf, Vec<u8>)> = v
        .object_files()
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    let db = v.raw_db("boss", OFFICER_PW);
    // Whole rows, every column as stored.
    let mut stmt = db
        .prepare("SELECT * FROM wraps WHERE holder = '#custodian'")
        .unwrap();
    let columns = stmt.column_count();
    let kept_wraps: Vec<Vec<rusqlite::types::Value>> = stmt
        .query_map([], |r| (0..columns).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(stmt);
    drop(db);
    assert!(!kept_wraps.is_empty() && !kept_files.is_empty());
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    for (path, bytes) in &kept_files {
        std::fs::write(path, bytes).unwrap();
    }
    let db = v.raw_db("boss", OFFICER_PW);
    let slots = vec!["?"; columns].join(", ");
    for row in &kept_wraps {
        db.execute(
            &format!("INSERT INTO wraps VALUES ({slots})"),
            rusqlite::params_from_iter(row.iter()),
        )
        .unwrap();
    }
    drop(db);
    let r = v
        .boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .code(5);
    // On an office server the confirmer's terminal removed the files put
    // back into its replica at sign-in (the server serves none): the
    // wraps put back are what is found.
    let found = if v.server.is_some() {
        "keys left: 1"
    } else {
        "readable: true"
    };
    assert!(r.stderr.contains(found), "{}", r.stderr);
    let status = v.boss(&["--json", "disposal", "status"]).ok().json();
    assert_eq!(status["state"], "executed", "nothing was confirmed");
}

#[test]
fn plans_need_two_people_who_may_do_it() {
    let (v, _, _, _, _) = contract();
    for (executor, confirmer) in [("mika", "mika"), ("hana", "boss"), ("nobody", "boss")] {
        let r = v
            .boss(&[
                "disposal",
                "plan",
                "--executor",
                executor,
                "--confirmer",
                confirmer,
                "--out",
                path(&v.work(&format!("p-{executor}-{confirmer}.html"))),
            ])
            .code(1);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    let mika = v.add("mika2", "manager");
    v.as_user(
        "mika2",
        &mika,
        &[
            "disposal",
            "plan",
            "--executor",
            "mika",
            "--confirmer",
            "boss",
            "--out",
            path(&v.work("x.html")),
        ],
    )
    .code(4);
    v.boss(&["verify-report", path(&v.file("junk.html", b"<p>hello</p>"))])
        .code(1);
}

#[test]
fn returned_documents_reach_the_bureau_then_are_erased() {
    let (v, mika, _, _, _) = contract();
    let bureau = v.work("bureau");
    v.run_env(&["recipient", "new", "--out", path(&bureau)], &[])
        .ok();
    let (key, public) = (v.work("bureau.key"), v.work("bureau.pub"));
    assert!(key.exists() && public.exists());
    v.plan("plan.html", &["--return"]);
    assert!(std::fs::read_to_string(v.work("plan.html"))
        .unwrap()
        .contains("返却"));
    let pkg = v.work("return.kinko");
    // Not before the approval; and nothing is erased before the return.
    v.boss(&["return", "--out", path(&pkg), "--recipient", path(&public)])
        .code(4);
    assert!(!pkg.exists());
    v.approve();
    let r = v.as_user("mika", &mika, &["disposal", "execute"]).code(4);
    assert!(r.stderr.contains("return package"), "{}", r.stderr);
    v.boss(&["return", "--out", path(&pkg), "--recipient", path(&public)])
        .ok();
    let bytes = std::fs::read(&pkg).unwrap();
    assert!(!contains(&bytes, MARKER), "the package holds plaintext");

    // The bureau's side, with no vault.
    let nowhere = [("KINKO_VAULT", "/nonexistent")];
    let out = v.work("received");
    v.run_env(
        &[
            "unpack",
            path(&pkg),
            "--to",
            path(&out),
            "--key",
            path(&key),
        ],
        &nowhere,
    )
    .ok();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["1-a.txt", "2-b.txt"]);
    assert_eq!(
        std::fs::read(out.join("1-a.txt")).unwrap(),
        [MARKER, b" one"].concat()
    );
    // Another key, or one changed byte: refused, nothing extracted.
    let other = v.work("other");
    v.run_env(&["recipient", "new", "--out", path(&other)], &[])
        .ok();
    v.run_env(
        &[
            "unpack",
            path(&pkg),
            "--to",
            path(&v.work("x")),
            "--key",
            path(&v.work("other.key")),
        ],
        &nowhere,
    )
    .code(3);
    let mut damaged = bytes.clone();
    let at = damaged.len() - 40;
    damaged[at] ^= 1;
    let damaged = v.file("damaged.kinko", &damaged);
    let into = v.work("damaged-out");
    v.run_env(
        &[
            "unpack",
            path(&damaged),
            "--to",
            path(&into),
            "--key",
            path(&key),
        ],
        &nowhere,
    )
    .code(5);
    assert_eq!(std::fs::read_dir(&into).unwrap().count(), 0);

    // A passphrase instead of a key.
    let pkg2 = v.work("return2.kinko");
    v.run_env(
        &["return", "--out", path(&pkg2), "--passphrase"],
        &[
            ("KINKO_USER", "boss"),
            ("KINKO_PASSWORD", OFFICER_PW),
            ("KINKO_PASSPHRASE", "correct horse battery"),
        ],
    )
    .ok();
    v.run_env(
        &["unpack", path(&pkg2), "--to", path(&v.work("p-out"))],
        &[("KINKO_PASSPHRASE", "correct horse battery")],
    )
    .ok();
    v.run_env(
        &["unpack", path(&pkg2), "--to", path(&v.work("p-bad"))],
        &[("KINKO_PASSPHRASE", "wrong")],
    )
    .code(3);

    // Then the returned items are erased like the rest.
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .ok();
    assert!(v.object_files().is_empty());
    assert!(v
        .events()
        .iter()
        .any(|e| e["event"] == "disposal.return" && e["outcome"] == "ok"));
}

/// The bureau approved a printed plan: recording the approval needs its
/// SHA-256, in the command as in the app (the core requires it).
#[test]
fn an_approval_needs_the_plans_sha256() {
    let (v, _, _, _, _) = contract();
    v.plan("plan.html", &[]);
    let base = ["disposal", "approve", "--ref", "r", "--date", "2026-12-01"];
    let missing = v.boss(&base).code(2);
    assert!(missing.stderr.contains("--sha256"), "{}", missing.stderr);
    let empty = v.boss(&[&base[..], &["--sha256", " "]].concat()).code(1);
    assert!(empty.stderr.contains("SHA-256"), "{}", empty.stderr);
    let state = v.boss(&["--json", "disposal", "status"]).ok().json();
    assert_eq!(state["state"], "draft", "nothing was approved");
    v.approve();
}

#[test]
fn an_approval_binds_the_plan_and_the_plan_its_inventory() {
    let (v, mika, _, _, _) = contract();
    v.plan("plan.html", &[]);
    let twin: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.work("plan.json")).unwrap()).unwrap();
    let sha = twin["content"]["sha256"].as_str().unwrap().to_string();
    // The bureau approved another plan.
    v.boss(&[
        "disposal",
        "approve",
        "--ref",
        "r",
        "--date",
        "2026-12-01",
        "--sha256",
        &"0".repeat(64),
    ])
    .code(4);
    v.boss(&[
        "disposal",
        "approve",
        "--ref",
        "r",
        "--date",
        "2026-12-01",
        "--sha256",
        &sha,
    ])
    .ok();
    // A document that came in after the plan stops the execution.
    v.import(&v.file("late.txt", b"late"), &[]);
    let r = v.as_user("mika", &mika, &["disposal", "execute"]).code(4);
    assert!(r.stderr.contains("changed since the plan"), "{}", r.stderr);
    assert_eq!(v.object_files().len(), 3);
    // A name already taken stops a new plan before it replaces this one.
    v.boss(&[
        "disposal",
        "plan",
        "--executor",
        "mika",
        "--confirmer",
        "boss",
        "--out",
        path(&v.work("plan.html")),
    ])
    .code(1);
    assert_eq!(
        v.boss(&["--json", "disposal", "status"]).ok().json()["state"],
        "approved"
    );
}

/// A plan that names no completion date gets the policy's number of days
/// from today (a Japan day), decided by the core; one that names a date
/// keeps it.
#[test]
fn a_plan_without_a_date_takes_the_policys_days() {
    let (v, _, _, _, _) = contract();
    v.boss(&["policy", "set", "disposal.plan_days", "30"]).ok();
    let out = v.work("plan.html");
    v.boss(&[
        "disposal",
        "plan",
        "--executor",
        "mika",
        "--confirmer",
        "boss",
        "--out",
        path(&out),
    ])
    .ok();
    let expected = (chrono::Utc::now()
        .with_timezone(&kinko_core::time::japan())
        .date_naive()
        + chrono::Duration::days(30))
    .to_string();
    let twin = std::fs::read_to_string(out.with_extension("json")).unwrap();
    assert!(twin.contains(&expected), "{expected} not in {twin}");
    let dated = v.work("dated.html");
    v.boss(&[
        "disposal",
        "plan",
        "--executor",
        "mika",
        "--confirmer",
        "boss",
        "--complete-by",
        "2027-03-31",
        "--out",
        path(&dated),
    ])
    .ok();
    let twin = std::fs::read_to_string(dated.with_extension("json")).unwrap();
    assert!(twin.contains("2027-03-31"), "{twin}");
}

/// The executor, a manager, puts her own signed confirmation in place of
/// the confirmer's (a manager's roles may confirm, and she writes the
/// row's `confirmed_by` too): the plan the bureau approved names the
/// officer as confirmer, so the report refuses and `verify` names the
/// plan (exit 5); a confirmation deleted is refused the same way.
#[test]
fn a_confirmation_signed_by_the_executor_makes_no_report() {
    use kinko_core::crypto;
    let (v, mika, _, doc1, _) = contract();
    v.plan("plan.html", &["--items", &doc1]);
    v.approve();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    v.boss_with_code(&v.recovery_code(), &["disposal", "confirm"])
        .ok();
    let serial = v.cert_serial("mika", &mika);
    let (_, secret) = kinko_test_support::own_signing_key(&v.dir, "mika", &mika);
    let db = v.raw_db("mika", &mika);
    let (id, stored): (i64, Vec<u8>) = db
        .query_row(
            "SELECT id, confirmation_statement FROM disposal_plans WHERE state = 'confirmed'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut statement: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    statement["signer"] = "mika".into();
    statement["signer_serial"] = serial.into();
    let bytes = serde_json::to_vec(&statement).unwrap();
    let signature = crypto::ecdsa_sign(
        &secret,
        &[b"kinko statement v1\0".as_slice(), &bytes].concat(),
    )
    .unwrap();
    db.execute(
        "UPDATE disposal_plans SET confirmation_statement = ?1, confirmation_signature = ?2, confirmed_by = 'mika' WHERE id = ?3",
        rusqlite::params![bytes, signature, id],
    )
    .unwrap();
    drop(db);
    let report = v.work("report.html");
    let r = v
        .boss(&["disposal", "report", "--out", path(&report)])
        .code(5);
    assert!(
        r.stderr
            .contains(&format!("the confirmer's signature of disposal plan {id}")),
        "{}",
        r.stderr
    );
    assert!(!report.exists());
    let r = v.boss(&["verify"]).code(5);
    let said = format!("{}{}", String::from_utf8_lossy(&r.stdout), r.stderr);
    assert!(said.contains(&format!("disposal plan {id}")), "{said}");
    // Deleted instead: refused the same way.
    v.raw_db("mika", &mika)
        .execute(
            "UPDATE disposal_plans SET confirmation_statement = NULL, confirmation_signature = NULL, confirmed_by = 'boss' WHERE id = ?1",
            [id],
        )
        .unwrap();
    let r = v
        .boss(&["disposal", "report", "--out", path(&report)])
        .code(5);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
}

/// E3: a backup copied away before the contract's end opens for no
/// account after it. Every backup needs the recovery code as well as a
/// password (format 2), and the execution destroys every wrap of the keys
/// the rosters and labels are sealed with, the custodian's too.
#[test]
fn a_backup_copied_away_opens_for_no_account_after_the_end() {
    let (v, mika, hana, _, _) = contract();
    let kept = v.work("kept.kinkobak");
    std::fs::copy(v.work("vault.kinkobak"), &kept).unwrap();
    v.plan("plan.html", &[]);
    let plan = std::fs::read_to_string(v.work("plan.html")).unwrap();
    assert!(
        plan.contains("復旧コードの用紙は完了報告の後に裁断"),
        "{plan}"
    );
    v.approve();
    v.as_user("mika", &mika, &["disposal", "execute"]).ok();
    assert!(
        !v.work("vault.kinkobak").exists(),
        "the recorded backup is erased"
    );
    // The rosters' and labels' keys are gone, for everyone.
    let wraps: i64 = v
        .raw_db("boss", crate::OFFICER_PW)
        .query_row("SELECT count(*) FROM circle_wraps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(wraps, 0);
    v.boss(&["roster", "list"]).code(4);
    // The copy taken away: no account's password opens it.
    for (user, password) in [
        ("boss", crate::OFFICER_PW),
        ("mika", &mika),
        ("hana", &hana),
    ] {
        let to = v.work(&format!("restored-{user}"));
        let r = v
            .run_env(
                &["restore", path(&kept), "--to", path(&to), "--user", user],
                &[("KINKO_PASSWORD", password)],
            )
            .code(3);
        assert!(r.stderr.contains("recovery code"), "{}", r.stderr);
        assert!(!to.join("kinko.db").exists());
    }
}
