//! Every permission rule of the vault core, through the real command:
//! a refusal exits 4 and is logged.

use crate::TestVault;

struct People {
    v: TestVault,
    doc: String,
    mgr: String,
    hnd: String,
    adm: String,
    aud: String,
}

fn people() -> People {
    let v = TestVault::new();
    let mgr = v.add("mika", "manager");
    let hnd = v.add("hana", "handler");
    let adm = v.add("sam", "sysadmin");
    let aud = v.add("aki", "auditor");
    let f = v.file("doc.txt", b"contents");
    let doc = v.import(&f, &[]);
    People {
        v,
        doc,
        mgr,
        hnd,
        adm,
        aud,
    }
}

fn refused_and_logged(p: &People, user: &str, pw: &str, args: &[&str], event: &str) {
    p.v.as_user(user, pw, args).code(4);
    let events = p.v.events();
    assert!(
        events
            .iter()
            .any(|e| e["actor"] == user && e["event"] == event && e["outcome"] == "denied"),
        "refusal of {event} by {user} is logged"
    );
}

#[test]
fn system_administrator_runs_accounts_and_reads_nothing() {
    let p = people();
    let (u, pw) = ("sam", p.adm.as_str());
    p.v.as_user(
        u,
        pw,
        &[
            "account", "add", "newbie", "--name", "N", "--role", "handler",
        ],
    )
    .ok();
    p.v.as_user(u, pw, &["account", "list"]).ok();
    p.v.as_user(u, pw, &["verify"]).ok();
    refused_and_logged(&p, u, pw, &["list"], "document.list");
    refused_and_logged(&p, u, pw, &["show", &p.doc], "document.show");
    refused_and_logged(
        &p,
        u,
        pw,
        &["open", &p.doc, "--out", "-"],
        "document.export",
    );
    let f = p.v.file("s.txt", b"s");
    refused_and_logged(
        &p,
        u,
        pw,
        &[
            "import",
            f.to_str().unwrap(),
            "--from",
            "x",
            "--purpose",
            "y",
        ],
        "document.import",
    );
    refused_and_logged(
        &p,
        u,
        pw,
        &["grant", &p.doc, "--to", "hana"],
        "document.grant",
    );
    refused_and_logged(&p, u, pw, &["audit", "log"], "audit.read");
    // Nor can anyone give the sysadmin or auditor a document.
    p.v.boss(&["grant", &p.doc, "--to", "sam"]).code(4);
    p.v.boss(&["grant", &p.doc, "--to", "aki"]).code(4);
    // Separation of duties in role sets.
    p.v.boss(&[
        "account",
        "add",
        "mixed",
        "--name",
        "M",
        "--role",
        "sysadmin,handler",
    ])
    .code(1);
}

#[test]
fn auditor_reads_the_trail_and_nothing_else() {
    let p = people();
    let (u, pw) = ("aki", p.aud.as_str());
    p.v.as_user(u, pw, &["audit", "log"]).ok();
    p.v.as_user(u, pw, &["verify"]).ok();
    refused_and_logged(&p, u, pw, &["list"], "document.list");
    refused_and_logged(
        &p,
        u,
        pw,
        &["open", &p.doc, "--out", "-"],
        "document.export",
    );
    refused_and_logged(
        &p,
        u,
        pw,
        &["account", "add", "x", "--name", "X", "--role", "handler"],
        "account.add",
    );
}

#[test]
fn handler_reads_only_what_was_granted() {
    let p = people();
    let (u, pw) = ("hana", p.hnd.as_str());
    assert_eq!(
        p.v.as_user(u, pw, &["--json", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    refused_and_logged(&p, u, pw, &["show", &p.doc], "document.show");
    refused_and_logged(
        &p,
        u,
        pw,
        &["open", &p.doc, "--out", "-"],
        "document.export",
    );
    let f = p.v.file("h.txt", b"h");
    refused_and_logged(
        &p,
        u,
        pw,
        &[
            "import",
            f.to_str().unwrap(),
            "--from",
            "x",
            "--purpose",
            "y",
        ],
        "document.import",
    );
    refused_and_logged(&p, u, pw, &["audit", "log"], "audit.read");
    refused_and_logged(&p, u, pw, &["verify"], "vault.verify");
    refused_and_logged(&p, u, pw, &["account", "list"], "account.list");

    p.v.boss(&["grant", &p.doc, "--to", "hana"]).ok();
    assert_eq!(
        p.v.as_user(u, pw, &["--json", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        p.v.as_user(u, pw, &["open", &p.doc, "--out", "-"])
            .ok()
            .stdout,
        b"contents"
    );
    // A handler cannot pass it on.
    refused_and_logged(
        &p,
        u,
        pw,
        &["grant", &p.doc, "--to", "mika"],
        "document.grant",
    );
    p.v.boss(&["revoke", &p.doc, "--from", "hana"]).ok();
    p.v.as_user(u, pw, &["open", &p.doc, "--out", "-"]).code(4);
}

#[test]
fn managers_import_and_grant_what_they_hold() {
    let p = people();
    let (u, pw) = ("mika", p.mgr.as_str());
    // The officer's document: the manager sees it but holds no key to it.
    assert_eq!(
        p.v.as_user(u, pw, &["--json", "list"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    p.v.as_user(u, pw, &["grant", &p.doc, "--to", "hana"])
        .code(4);
    p.v.as_user(u, pw, &["open", &p.doc, "--out", "-"]).code(4);
    // Their own import: they hold it and can grant it.
    let f = p.v.file("m.txt", b"manager's");
    let id =
        p.v.as_user(
            u,
            pw,
            &[
                "import",
                f.to_str().unwrap(),
                "--from",
                "x",
                "--purpose",
                "y",
            ],
        )
        .ok()
        .text()
        .trim()
        .to_string();
    p.v.as_user(u, pw, &["grant", &id, "--to", "hana"]).ok();
    assert_eq!(
        p.v.as_user("hana", &p.hnd, &["open", &id, "--out", "-"])
            .ok()
            .stdout,
        b"manager's"
    );
    // Granting twice, or to nobody, fails without harm.
    p.v.as_user(u, pw, &["grant", &id, "--to", "hana"]).code(1);
    p.v.as_user(u, pw, &["grant", &id, "--to", "ghost"]).code(1);
    p.v.as_user(u, pw, &["revoke", &id, "--from", "ghost"])
        .code(1);
    // Only the officer records export approvals and reads the trail.
    p.v.as_user(u, pw, &["approve-export", &id, "--ref", "R"])
        .code(4);
    p.v.as_user(u, pw, &["audit", "log"]).code(4);
}
