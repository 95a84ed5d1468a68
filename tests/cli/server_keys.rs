//! A new database key on an office server (issue 16, step 5): a rekey or
//! a disabled account appends a snapshot unit under the new key; every
//! terminal builds its replica again from it at its next sign-in, and the
//! old key opens nothing the server logs from then on.

use kinko_core::replica::{chain_after, open_unit, unit_key, UnitPlace};
use kinko_test_support::forge::KeyHolder;

use super::{TestVault, OFFICER_PW};

/// One row of the server's `units` table.
struct Row {
    seq: u64,
    sealed: Vec<u8>,
    keyslots: Option<Vec<u8>>,
    snapshot: bool,
}

fn units(v: &TestVault) -> Vec<Row> {
    let server = v.server.as_ref().expect("a vault on a server");
    let hex = |h: &str| kinko_core::crypto::unhex(h).expect("psql's hex");
    server
        .sql(
            "SELECT seq, encode(sealed, 'hex'), coalesce(encode(keyslots, 'hex'), ''), snapshot \
             FROM units ORDER BY seq",
        )
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let p: Vec<&str> = l.trim().split('|').collect();
            Row {
                seq: p[0].parse().unwrap(),
                sealed: hex(p[1]),
                keyslots: (!p[2].is_empty()).then(|| hex(p[2])),
                snapshot: p[3] == "t",
            }
        })
        .collect()
}

/// Which units of the server's log `db_key` opens, by number.
fn opened_by(v: &TestVault, vault_id: &str, db_key: &[u8; 32]) -> (Vec<u64>, Vec<u64>) {
    let key = unit_key(db_key);
    let mut prev = [0u8; 32];
    let (mut opened, mut not) = (Vec::new(), Vec::new());
    for row in units(v) {
        let place = UnitPlace {
            vault_id,
            seq: row.seq,
            prev: &prev,
            keyslots: row.keyslots.as_deref(),
            snapshot: row.snapshot,
        };
        match open_unit(&key, &place, &row.sealed) {
            Some(_) => opened.push(row.seq),
            None => not.push(row.seq),
        }
        prev = chain_after(&place, &row.sealed);
    }
    (opened, not)
}

fn snapshots(v: &TestVault) -> Vec<u64> {
    units(v)
        .into_iter()
        .filter(|r| r.snapshot)
        .map(|r| r.seq)
        .collect()
}

#[test]
fn a_rekey_on_the_server_seals_the_log_anew_and_every_terminal_follows() {
    let (v, printed) = TestVault::init_where(
        true,
        &[
            "--council",
            "テスト協議会",
            "--policy",
            "totp.required=false",
        ],
    );
    let code = printed["recovery_code"].as_str().unwrap().to_string();
    let hana = v.add("hana", "handler");
    let doc = v.import(&v.file("a.txt", b"first document"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    // A second terminal has its replica and the object already.
    assert_eq!(
        v.boss_on("t2", &["open", &doc, "--out", "-"]).ok().stdout,
        b"first document"
    );
    let before = KeyHolder::of(&v.dir, "boss", OFFICER_PW);
    let done = v
        .boss_with_code(&code, &["--json", "rekey", "--suite", "2"])
        .ok()
        .json();
    assert_eq!(done["documents"], 1, "{done}");
    assert_eq!(done["suite"], 2, "{done}");
    // One snapshot; the key from before opens everything before it and
    // nothing from it on.
    let snaps = snapshots(&v);
    assert_eq!(snaps.len(), 1);
    let (opened, not) = opened_by(&v, &before.vault_id, &before.key);
    assert!(opened.iter().all(|s| *s < snaps[0]), "{opened:?}");
    assert!(!opened.is_empty());
    assert_eq!(not.first(), Some(&snaps[0]), "{not:?}");
    // The other terminal builds its replica again and reads the document
    // under its new key; so does hana here; the trail verifies on both.
    assert_eq!(
        v.boss_on("t2", &["open", &doc, "--out", "-"]).ok().stdout,
        b"first document"
    );
    assert_eq!(
        v.as_user("hana", &hana, &["open", &doc, "--out", "-"])
            .ok()
            .stdout,
        b"first document"
    );
    v.boss_on("t2", &["audit", "verify"]).ok();
    v.boss(&["verify"]).ok();
    // A second rekey: t2, two snapshots behind its replica's key by then
    // only one, still follows.
    v.boss_with_code(&code, &["rekey"]).ok();
    assert_eq!(snapshots(&v).len(), 2);
    v.boss_on("t2", &["open", &doc, "--out", "-"]).ok();
}

#[test]
fn a_disabled_persons_key_opens_nothing_the_server_logs_after() {
    let v = TestVault::on_a_server();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    let doc = v.import(&v.file("a.txt", b"kept from hana"), &[]);
    v.boss(&["grant", &doc, "--to", "hana"]).ok();
    // Hana's terminal: her replica and her key, kept.
    v.user_on("hana-pc", "hana", &hana, &["open", &doc, "--out", "-"])
        .ok();
    let kept = KeyHolder::of(&v.tmp.path().join("hana-pc/replica"), "hana", &hana);
    // Another terminal has its replica from before.
    v.boss_on("t2", &["list"]).ok();
    v.as_user("sam", &sam, &["account", "disable", "hana"]).ok();
    let snaps = snapshots(&v);
    assert_eq!(snaps.len(), 1);
    // What the office writes from now on is sealed under a key hana
    // never had: her kept key opens nothing from the snapshot on.
    let later = v.import(&v.file("b.txt", b"after hana left"), &[]);
    let (opened, not) = opened_by(&v, &kept.vault_id, &kept.key);
    assert!(opened.iter().all(|s| *s < snaps[0]), "{opened:?}");
    assert!(not.contains(&(snaps[0] + 1)), "{not:?}");
    // Her terminal signs her in no more.
    let r = v.user_on("hana-pc", "hana", &hana, &["list"]);
    assert_ne!(r.code, 0);
    // Everyone else works on, on every terminal.
    v.boss_on("t2", &["open", &later, "--out", "-"]).ok();
    v.boss(&["open", &later, "--out", "-"]).ok();
    v.boss_on("t2", &["audit", "verify"]).ok();
}

#[test]
fn the_replica_folder_is_no_vault_of_its_own() {
    // Opened as a vault folder, a replica would take changes that never
    // reach the server's log: refused, saying how to work on it.
    let v = TestVault::on_a_server();
    let out = std::process::Command::new(super::kinko_bin())
        .args(["list"])
        .env("KINKO_VAULT", &v.dir)
        .env("KINKO_STATE_DIR", v.tmp.path().join("terminal"))
        .env("KINKO_USER", "boss")
        .env("KINKO_PASSWORD", OFFICER_PW)
        .env("KINKO_LANG", "en")
        .env_remove("KINKO_SERVER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("through the server"), "{stderr}");
    // Through the server it works.
    v.boss(&["list"]).ok();
}
