//! The incident register (I1) and the monthly status report (I2) through
//! the real binary.

use crate::TestVault;

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn incidents_are_recorded_updated_closed_and_printed() {
    let v = TestVault::new();
    let mika = v.add("mika", "manager");
    let aki = v.add("aki", "auditor");
    let hana = v.add("hana", "handler");
    let add = [
        "incident",
        "add",
        "--detected",
        "2026-11-20 10:15",
        "--summary",
        "USBメモリの紛失",
        "--items",
        "document:1",
    ];
    let id = v
        .as_user("mika", &mika, &add)
        .ok()
        .text()
        .trim()
        .to_string();
    v.as_user("hana", &hana, &add).code(4);
    v.as_user("aki", &aki, &add).code(4);
    v.as_user("mika", &mika, &["incident", "add", "--summary", "x"])
        .code(1);
    v.as_user(
        "mika",
        &mika,
        &[
            "incident",
            "add",
            "--detected",
            "yesterday",
            "--summary",
            "x",
        ],
    )
    .code(1);
    // Not closed before the bureau was told.
    let r = v
        .boss(&["incident", "close", &id, "--note", "done"])
        .code(1);
    assert!(r.stderr.contains("reported"), "{}", r.stderr);
    v.as_user(
        "mika",
        &mika,
        &[
            "incident",
            "update",
            &id,
            "--reported",
            "2026-11-20 11:00",
            "--actions",
            "所在を確認",
        ],
    )
    .ok();
    let i = v
        .as_user(
            "mika",
            &mika,
            &[
                "--json",
                "incident",
                "update",
                &id,
                "--actions",
                "警察に届出",
                "--plan",
                "持ち出し手順の見直し",
            ],
        )
        .ok()
        .json();
    assert_eq!(i["actions"], "所在を確認\n警察に届出");
    assert_eq!(i["detected_at"], "2026-11-20T01:15:00Z");
    assert_eq!(i["updates"].as_array().unwrap().len(), 3);
    assert_eq!(
        v.as_user("aki", &aki, &["--json", "incident", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    v.boss(&["incident", "close", &id, "--note", "発見・回収"])
        .ok();
    v.as_user(
        "mika",
        &mika,
        &["incident", "update", &id, "--actions", "more"],
    )
    .code(1);
    assert_eq!(
        v.boss(&["--json", "incident", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let all = v.boss(&["--json", "incident", "list", "--all"]).ok().json();
    assert_eq!(all[0]["close_note"], "発見・回収");
    let out = v.work("incidents.html");
    v.as_user("aki", &aki, &["incident", "report", "--out", path(&out)])
        .ok();
    let page = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "情報セキュリティインシデント記録",
        "USBメモリの紛失",
        "再発防止策",
        "持ち出し手順の見直し",
        "完了",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    let records = v
        .events()
        .iter()
        .filter(|e| e["event"] == "incident.record" && e["outcome"] == "ok")
        .count();
    assert_eq!(records, 4);
}

#[test]
fn the_monthly_status_report_comes_from_the_vault_records() {
    let v = TestVault::new();
    let hana = v.add("hana", "handler");
    let mika = v.add("mika", "manager");
    let doc = v.import(&v.file("a.txt", b"alpha"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    v.as_user("hana", &hana, &["open", &doc, "--out", "-"]).ok();
    v.as_user("hana", "wrong-password", &["list"]).code(3);
    v.boss(&["verify"]).ok();
    v.as_user(
        "mika",
        &mika,
        &[
            "incident",
            "add",
            "--detected",
            "2026-11-20 10:15",
            "--summary",
            "誤送信の疑い",
        ],
    )
    .ok();
    let month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .format("%Y-%m")
        .to_string();
    let out = v.work("status.html");
    v.boss(&["report", "status", "--month", &month, "--out", path(&out)])
        .ok();
    let page = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "履行状況報告",
        "協議会名：テスト協議会",
        "roster.approve",
        "account.add",
        "hana",
        "vault.verify",
        "誤送信の疑い",
        "令和",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    v.run_env(&["verify-report", path(&out)], &[]).ok();
    v.boss(&[
        "report",
        "status",
        "--month",
        "2026-13",
        "--out",
        path(&v.work("x.html")),
    ])
    .code(1);
    v.as_user(
        "mika",
        &mika,
        &[
            "report",
            "status",
            "--month",
            &month,
            "--out",
            path(&v.work("y.html")),
        ],
    )
    .code(4);
}
