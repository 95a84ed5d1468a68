//! Rosters and the bureau's approval (P2, P3, P4) through the command.

use crate::TestVault;

fn request_add(v: &TestVault, id: &str) -> String {
    v.boss(&[
        "roster",
        "request",
        "add",
        id,
        "--name",
        "山田 花子",
        "--address",
        "東京都千代田区霞が関1-2-2",
        "--birth-date",
        "1975-06-15",
        "--department",
        "相談課",
        "--position",
        "主任",
        "--duty",
        "情報取扱者",
        "--org",
        "株式会社サンプル",
    ])
    .ok()
    .text()
    .trim()
    .to_string()
}

#[test]
fn a_change_takes_effect_only_once_approved() {
    let v = TestVault::new();
    let pw = v.add_initial("hana", "handler");
    let hpw = "Zq8!own-Secret-4";
    v.run_env(
        &["passwd"],
        &[
            ("KINKO_USER", "hana"),
            ("KINKO_PASSWORD", &pw),
            ("KINKO_NEW_PASSWORD", hpw),
        ],
    )
    .ok();
    v.certify("hana", hpw);
    let f = v.file("d.txt", b"doc");
    let doc = v.import(&f, &[]);
    let req = request_add(&v, "hana");
    // Pending: listed as a request, not yet on the roster, no grant.
    let pending = v
        .boss(&["--json", "roster", "list", "--pending"])
        .ok()
        .json();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(
        v.boss(&["--json", "roster", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = v.boss(&["grant", &doc, "--to", "hana"]).code(4);
    assert!(r.stderr.contains("roster"), "{}", r.stderr);
    // Only the officer records the approval, with a reference and a date.
    let mgr = v.add("mika", "manager");
    v.as_user(
        "mika",
        &mgr,
        &[
            "roster",
            "approve",
            &req,
            "--ref",
            "R",
            "--date",
            "2026-04-01",
        ],
    )
    .code(4);
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "労発0401第3号",
        "--date",
        "2026-13-01",
    ])
    .code(1);
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "労発0401第3号",
        "--date",
        "2026-04-01",
    ])
    .ok();
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "again",
        "--date",
        "2026-04-01",
    ])
    .code(1);
    let list = v.boss(&["--json", "roster", "list"]).ok().json();
    let hana = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["person"] == "hana")
        .unwrap()
        .clone();
    assert_eq!(hana["approved_ref"], "労発0401第3号");
    assert_eq!(hana["address"], "東京都千代田区霞が関1-2-2");
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    assert_eq!(
        v.as_user("hana", hpw, &["open", &doc, "--out", "-"])
            .ok()
            .stdout,
        b"doc"
    );
}

#[test]
fn removal_ends_access_at_once_before_approval() {
    let v = TestVault::new();
    let hpw = v.add("hana", "handler");
    let f = v.file("d.txt", b"doc");
    let doc = v.import(&f, &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    let req = v
        .boss(&["roster", "request", "remove", "hana"])
        .ok()
        .text()
        .trim()
        .to_string();
    v.as_user("hana", &hpw, &["open", &doc, "--out", "-"])
        .code(4);
    v.boss(&["grant", &doc, "--to", "hana"]).code(4);
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "労発0501第1号",
        "--date",
        "2026-05-01",
    ])
    .ok();
    let list = v.boss(&["--json", "roster", "list"]).ok().json();
    assert!(!list
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["person"] == "hana"));
    v.boss(&["grant", &doc, "--to", "hana"]).code(4);
    let events = v.events();
    assert!(events.iter().any(|e| e["event"] == "roster.request"
        && e["detail"]
            .as_str()
            .unwrap()
            .contains("1 grants ended at once")));
}

#[test]
fn rosters_are_for_those_who_manage_them() {
    let v = TestVault::new();
    let hpw = v.add("hana", "handler");
    let spw = v.add("sam", "sysadmin");
    let apw = v.add("aki", "auditor");
    for (u, pw) in [("hana", &hpw), ("sam", &spw), ("aki", &apw)] {
        v.as_user(u, pw, &["roster", "list"]).code(4);
        v.as_user(
            u,
            pw,
            &[
                "roster",
                "export",
                "--out",
                v.work(&format!("{u}.html")).to_str().unwrap(),
            ],
        )
        .code(4);
    }
    // The sysadmin cannot be put on the handler roster.
    v.boss(&[
        "roster",
        "request",
        "add",
        "sam",
        "--name",
        "S",
        "--address",
        "A",
        "--birth-date",
        "1990-01-01",
        "--department",
        "D",
        "--position",
        "P",
    ])
    .code(4);
    // Missing fields are named.
    let r = v
        .boss(&[
            "roster",
            "request",
            "add",
            "hana",
            "--name",
            "H",
            "--department",
            "D",
            "--position",
            "P",
        ])
        .code(1);
    assert!(r.stderr.contains("--address"), "{}", r.stderr);
}

#[test]
fn export_prints_both_rosters_in_japanese_with_reiwa_dates() {
    let v = TestVault::new();
    v.add("hana", "handler");
    let req = request_add(&v, "hana");
    v.boss(&[
        "roster",
        "approve",
        &req,
        "--ref",
        "労発0601第2号",
        "--date",
        "2026-06-01",
    ])
    .ok();
    let wreq = v
        .boss(&[
            "roster",
            "request",
            "add",
            "kenji",
            "--roster",
            "worker",
            "--name",
            "<script>alert(1)</script>",
            "--department",
            "=1+1",
            "--position",
            "相談員",
            "--education",
            "大学卒",
            "--work-history",
            "窓口業務10年",
            "--nationality",
            "日本",
            "--native-language",
            "日本語",
            "--foreign-languages",
            "英語",
        ])
        .ok()
        .text();
    v.boss(&[
        "roster",
        "approve",
        wreq.trim(),
        "--ref",
        "労発0601第3号",
        "--date",
        "2026-06-01",
    ])
    .ok();
    let out = v.work("rosters.html");
    v.boss(&["roster", "export", "--out", out.to_str().unwrap()])
        .ok();
    let html = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "情報取扱者名簿",
        "業務従事者名簿",
        "テスト協議会",
        "令和8年6月1日",
        "昭和50年6月15日",
        "労発0601第2号",
        "霞が関",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    let handlers = std::fs::read_to_string(v.work("rosters-handlers.csv")).unwrap();
    assert!(handlers.contains("山田 花子") && handlers.contains("株式会社サンプル"));
    let workers = std::fs::read_to_string(v.work("rosters-workers.csv")).unwrap();
    assert!(workers.contains("'=1+1"), "formula defused: {workers}");
    // Never over an existing file.
    v.boss(&["roster", "export", "--out", out.to_str().unwrap()])
        .code(1);
    assert!(v
        .events()
        .iter()
        .any(|e| e["event"] == "roster.export" && e["outcome"] == "ok"));
}
