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

/// The chain after every unit of the server's log, and the keyslots of
/// unit 1 (the vault as it was made).
fn head_chain(v: &TestVault, vault_id: &str) -> (u64, [u8; 32]) {
    let mut prev = [0u8; 32];
    let mut head = 0;
    for row in units(v) {
        let place = UnitPlace {
            vault_id,
            seq: row.seq,
            prev: &prev,
            keyslots: row.keyslots.as_deref(),
            snapshot: row.snapshot,
        };
        prev = chain_after(&place, &row.sealed);
        head = row.seq;
    }
    (head, prev)
}

#[test]
fn a_snapshot_under_an_old_key_is_refused() {
    // Hana is disabled; the vault gets a new key by a snapshot. She (or
    // the server's operator with her kept key) appends a "snapshot" of
    // the vault as it was made, sealed under the key from before, with
    // the keyslots of then: the boss's password opens that old key.
    // Without the check, a terminal building its replica from it would
    // show the boss a vault of her choosing.
    let v = TestVault::on_a_server();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    v.user_on("hana-pc", "hana", &hana, &["list"]).ok();
    let kept = KeyHolder::of(&v.tmp.path().join("hana-pc/replica"), "hana", &hana);
    v.boss_on("t2", &["list"]).ok();
    v.as_user("sam", &sam, &["account", "disable", "hana"]).ok();
    v.boss_on("t2", &["list"]).ok();
    let rows = units(&v);
    let first = &rows[0];
    let made = open_unit(
        &unit_key(&kept.key),
        &UnitPlace {
            vault_id: &kept.vault_id,
            seq: 1,
            prev: &[0u8; 32],
            keyslots: first.keyslots.as_deref(),
            snapshot: false,
        },
        &first.sealed,
    )
    .expect("hana's kept key opens unit 1");
    let (head, prev) = head_chain(&v, &kept.vault_id);
    let old_slots = first.keyslots.clone().expect("unit 1 carries keyslots");
    let (forged, _) = kinko_core::replica::seal_unit(
        &unit_key(&kept.key),
        &UnitPlace {
            vault_id: &kept.vault_id,
            seq: head + 1,
            prev: &prev,
            keyslots: Some(&old_slots),
            snapshot: true,
        },
        &made,
    );
    let hex = kinko_core::crypto::hex;
    v.server.as_ref().unwrap().sql(&format!(
        "INSERT INTO units (seq, sealed, keyslots, terminal, snapshot) \
         SELECT {}, decode('{}', 'hex'), decode('{}', 'hex'), terminal, true \
         FROM units WHERE seq = {head}",
        head + 1,
        hex(&forged),
        hex(&old_slots)
    ));
    // A new terminal (chaining the log from unit 1), one whose replica
    // was built from the real snapshot, and this one: all refuse it.
    for terminal in ["t3", "t2"] {
        let caught = v.boss_on(terminal, &["list"]).code(5);
        assert!(
            caught.stderr.contains("old key") && caught.stderr.contains("unit 1"),
            "{terminal}: {}",
            caught.stderr
        );
    }
    let caught = v.boss(&["list"]).code(5);
    assert!(caught.stderr.contains("old key"), "{}", caught.stderr);
}

#[test]
fn a_disable_whose_new_key_failed_is_finished_at_the_next_sign_in() {
    // The disabling commits as its own unit; the new database key comes
    // after it, as a snapshot. Here the server refuses the snapshot (its
    // operator's trigger; a killed run or the size limit do the same):
    // the vault owes the key, and the next sign-in of someone who may
    // manage accounts gives it.
    let v = TestVault::on_a_server();
    let hana = v.add("hana", "handler");
    let ken = v.add("ken", "handler");
    let sam = v.add("sam", "sysadmin");
    v.user_on("hana-pc", "hana", &hana, &["list"]).ok();
    let kept = KeyHolder::of(&v.tmp.path().join("hana-pc/replica"), "hana", &hana);
    let server = v.server.as_ref().unwrap();
    server.sql(
        "CREATE FUNCTION no_snapshot() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'no snapshots today'; END $$; \
         CREATE TRIGGER no_snapshot BEFORE INSERT ON units FOR EACH ROW \
         WHEN (NEW.snapshot) EXECUTE FUNCTION no_snapshot();",
    );
    let failed = v.as_user("sam", &sam, &["account", "disable", "hana"]);
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    assert!(snapshots(&v).is_empty());
    // Disabled all the same: her terminal signs her in no more.
    assert_ne!(v.user_on("hana-pc", "hana", &hana, &["list"]).code, 0);
    // A handler's sign-in cannot give the key; nothing changes.
    server.sql("DROP TRIGGER no_snapshot ON units");
    v.as_user("ken", &ken, &["list"]).ok();
    assert!(snapshots(&v).is_empty());
    let given = v.as_user("sam", &sam, &["account", "list"]).ok();
    assert!(
        given.stderr.contains("owed since account hana"),
        "{}",
        given.stderr
    );
    let snaps = snapshots(&v);
    assert_eq!(snaps.len(), 1);
    let later = v.import(&v.file("b.txt", b"after hana left"), &[]);
    let (opened, _) = opened_by(&v, &kept.vault_id, &kept.key);
    assert!(opened.iter().all(|s| *s < snaps[0]), "{opened:?}");
    // Given once: the next sign-in owes nothing.
    let again = v.as_user("sam", &sam, &["account", "list"]).ok();
    assert!(!again.stderr.contains("owed"), "{}", again.stderr);
    v.boss_on("t2", &["open", &later, "--out", "-"]).ok();
}

#[test]
fn a_snapshot_without_the_trail_a_terminal_held_is_refused() {
    // As above, but under a fresh key of her own, wrapped to the boss's
    // public key in the keyslots (public keys are in every replica): no
    // old key to notice. The boss saw a trail with the disabling in it on
    // his second terminal, which remembers it; the forged snapshot does
    // not hold it: the terminal keeps its replica and refuses.
    use kinko_core::keyslots::{KeySlots, PendingKey, WrapJson};
    let v = TestVault::on_a_server();
    let hana = v.add("hana", "handler");
    let sam = v.add("sam", "sysadmin");
    v.user_on("hana-pc", "hana", &hana, &["list"]).ok();
    let hana_replica = v.tmp.path().join("hana-pc/replica");
    let kept = KeyHolder::of(&hana_replica, "hana", &hana);
    let boss_public: Vec<u8> = kept
        .open(&hana_replica)
        .query_row(
            "SELECT hpke_public FROM accounts WHERE id = 'boss'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    v.as_user("sam", &sam, &["account", "disable", "hana"]).ok();
    v.boss_on("t2", &["list"]).ok();
    let rows = units(&v);
    let made = open_unit(
        &unit_key(&kept.key),
        &UnitPlace {
            vault_id: &kept.vault_id,
            seq: 1,
            prev: &[0u8; 32],
            keyslots: rows[0].keyslots.as_deref(),
            snapshot: false,
        },
        &rows[0].sealed,
    )
    .expect("hana's kept key opens unit 1");
    // The newest keyslots, with the boss's waiting key replaced by hers.
    let newest = rows.iter().rev().find_map(|r| r.keyslots.clone()).unwrap();
    let mut slots = KeySlots::from_bytes(&newest).unwrap();
    let name = slots.slot_name("boss");
    let epoch = slots.db_keys.get(&name).map_or(1, |p| p.epoch);
    let fresh = kinko_core::crypto::random_key();
    let context = format!("kinko db-key v1\0{}\0boss\0{epoch}", kept.vault_id);
    let wrap = kinko_core::crypto::hpke_wrap(&boss_public, context.as_bytes(), &*fresh).unwrap();
    slots.db_keys.insert(
        name,
        PendingKey {
            epoch,
            wrap: WrapJson::from_wrapped(&wrap),
            previous: None,
        },
    );
    let file = v.tmp.path().join("forged-keyslots");
    slots.save(&file).unwrap();
    let forged_slots = std::fs::read(&file).unwrap();
    let (head, prev) = head_chain(&v, &kept.vault_id);
    let (forged, _) = kinko_core::replica::seal_unit(
        &unit_key(&fresh),
        &UnitPlace {
            vault_id: &kept.vault_id,
            seq: head + 1,
            prev: &prev,
            keyslots: Some(&forged_slots),
            snapshot: true,
        },
        &made,
    );
    let hex = kinko_core::crypto::hex;
    v.server.as_ref().unwrap().sql(&format!(
        "INSERT INTO units (seq, sealed, keyslots, terminal, snapshot) \
         SELECT {}, decode('{}', 'hex'), decode('{}', 'hex'), terminal, true \
         FROM units WHERE seq = {head}",
        head + 1,
        hex(&forged),
        hex(&forged_slots)
    ));
    let replica_db = v.tmp.path().join("t2/replica/kinko.db");
    let before = std::fs::read(&replica_db).unwrap();
    let caught = v.boss_on("t2", &["list"]).code(5);
    assert!(
        caught.stderr.contains("does not hold the audit trail"),
        "{}",
        caught.stderr
    );
    // Refused, not followed: the replica it had is kept as it was.
    assert!(std::fs::read(&replica_db).unwrap() == before);
}
