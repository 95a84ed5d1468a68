//! Vaults made by earlier releases keep working: a copy of the fixture
//! made by the release of 2026-12-01 (schema 2, `tests/fixtures/`) opens,
//! verifies and reads with this release.

use std::path::Path;

use crate::TestVault;
use kinko_test_support::OFFICER_PW;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fixture, copied into a fresh temporary vault directory.
fn schema2_vault() -> TestVault {
    fixture_vault("vault-schema2")
}

/// The fixture `name`, copied into a fresh temporary vault directory.
fn fixture_vault(name: &str) -> TestVault {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    copy_dir(&fixture, &dir);
    // Git keeps no empty directory: the vault's empty ones come back.
    for sub in ["inbox", "sessions", "objects"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    TestVault::local_at(tmp, dir)
}

/// The fixture's recovery code (a test credential: README.md beside it).
fn recovery_code() -> String {
    recovery_code_of("vault-schema2")
}

fn recovery_code_of(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.recovery"));
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

const HANA: &str = "Zq8!own-Secret-4";

fn upgrade(v: &TestVault, user: &str, password: &str, code: &str) -> crate::Run {
    v.run_env(
        &["--json", "upgrade"],
        &[
            ("KINKO_USER", user),
            ("KINKO_PASSWORD", password),
            ("KINKO_RECOVERY_CODE", code),
        ],
    )
}

/// Until its officer upgrades it with the recovery code, a vault of the
/// release of 2026-12-01 opens for nobody; nobody else can upgrade it.
#[test]
fn before_the_upgrade_nobody_signs_in_and_only_the_officer_upgrades() {
    let v = schema2_vault();
    let r = v.boss(&["list"]).code(1);
    assert!(r.stderr.contains("kinko upgrade"), "{}", r.stderr);
    v.as_user("hana", HANA, &["list"]).code(1);
    let r = upgrade(&v, "hana", HANA, &recovery_code());
    assert_eq!(r.code, 4, "{}", r.stderr);
    let other = TestVault::new().recovery_code();
    let r = upgrade(&v, "boss", OFFICER_PW, &other);
    assert_eq!(r.code, 4, "{}", r.stderr);
    v.boss(&["list"]).code(1);
}

/// The upgrade: the officer is certified by the new root and keeps their
/// documents; everyone else chooses a new password, makes new keys, is
/// certified after the fingerprint is compared, and gets their documents
/// back from the officer with the recovery code. The trail stays whole.
#[test]
fn the_upgrade_certifies_the_officer_and_everyone_else_makes_new_keys() {
    let v = schema2_vault();
    let report = upgrade(&v, "boss", OFFICER_PW, &recovery_code())
        .ok()
        .json();
    assert_eq!(
        report["awaiting_certification"],
        serde_json::json!(["hana", "mika"])
    );
    assert_eq!(report["set_aside"], 2);
    assert_eq!(report["unsigned"], serde_json::json!([]));
    upgrade(&v, "boss", OFFICER_PW, &recovery_code()).code(1);
    v.boss(&["verify"]).ok();
    v.boss(&["audit", "verify"]).ok();
    let r = v.boss(&["open", "1", "--out", "-"]).ok();
    assert_eq!(r.stdout, b"PLAINTEXT-MARKER-SCHEMA2 one\n");
    let log = v
        .boss(&["--json", "audit", "log", "--event", "vault.upgrade"])
        .ok()
        .json();
    assert!(log[0]["detail"]
        .as_str()
        .unwrap()
        .contains("awaiting certification: hana,mika"));

    // hana's keys were made under a password someone else set: new ones.
    let r = v
        .as_user("hana", HANA, &["open", "1", "--out", "-"])
        .code(3);
    assert!(r.stderr.contains("new password"), "{}", r.stderr);
    let fresh = "Fresh-Keys-4u!w";
    let changed = v
        .run_env(
            &["--json", "passwd"],
            &[
                ("KINKO_USER", "hana"),
                ("KINKO_PASSWORD", HANA),
                ("KINKO_NEW_PASSWORD", fresh),
            ],
        )
        .ok()
        .json();
    let fingerprint = changed["key_fingerprint"].as_str().unwrap().to_string();
    v.boss(&["account", "certify", "hana", "--fingerprint", &fingerprint])
        .ok();
    v.run_env(
        &["account", "recover", "hana"],
        &[
            ("KINKO_USER", "boss"),
            ("KINKO_PASSWORD", OFFICER_PW),
            ("KINKO_RECOVERY_CODE", &recovery_code()),
        ],
    )
    .ok();
    let r = v.as_user("hana", fresh, &["open", "1", "--out", "-"]).ok();
    assert_eq!(r.stdout, b"PLAINTEXT-MARKER-SCHEMA2 one\n");
    v.boss(&["audit", "verify"]).ok();

    // The officer's slot now names the root: a swapped root is noticed.
    v.raw_db("hana", fresh)
        .execute(
            "UPDATE meta SET value = (SELECT sign_public FROM accounts WHERE id = 'hana') WHERE key = 'root_public'",
            [],
        )
        .unwrap();
    v.boss(&["list"]).code(5);
}

/// An insider makes schema 3 by hand before the upgrade, with a root key
/// of his own: the officer's slot from before certificates meets a
/// schema-3 vault it did not upgrade, which is tampering.
#[test]
fn a_schema_3_made_by_hand_is_refused() {
    let v = schema2_vault();
    v.raw_db("hana", HANA)
        .execute_batch(
            "ALTER TABLE accounts ADD COLUMN key_request BLOB;
             ALTER TABLE wraps ADD COLUMN statement BLOB;
             ALTER TABLE wraps ADD COLUMN signature BLOB;
             CREATE TABLE certificates (serial INTEGER PRIMARY KEY, account TEXT NOT NULL, body BLOB NOT NULL, signature BLOB NOT NULL);
             INSERT INTO meta (key, value) SELECT 'root_public', sign_public FROM accounts WHERE id = 'hana';
             INSERT INTO meta (key, value) VALUES ('root_sealed', x'00');
             PRAGMA user_version = 3;",
        )
        .unwrap();
    let r = v.boss(&["list"]).code(5);
    assert!(r.stderr.contains("upgrade"), "{}", r.stderr);
}

/// A vault whose whole-vault disposal was confirmed under the release of
/// 2026-12-01, before anyone signed confirmations: at the upgrade the
/// officer signs the confirmation the trail recorded, and the report made
/// afterwards carries it as carried over, checked with no vault.
#[test]
fn a_disposal_confirmed_before_the_upgrade_is_carried_over_and_reported() {
    let name = "vault-schema2-disposed";
    let v = fixture_vault(name);
    let report = upgrade(&v, "boss", OFFICER_PW, &recovery_code_of(name))
        .ok()
        .json();
    assert_eq!(report["unsigned"], serde_json::json!([]), "{report}");
    v.boss(&["verify"]).ok();
    let out = v.work("report.html");
    v.boss(&["disposal", "report", "--out", out.to_str().unwrap()])
        .ok();
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.contains("完了報告書"), "{page}");
    for file in ["report.html", "report.json"] {
        let checked = v
            .boss(&["--json", "verify-report", v.work(file).to_str().unwrap()])
            .ok()
            .json();
        assert_eq!(checked["confirmer"]["carried_over"], true, "{checked}");
        assert_eq!(checked["confirmer"]["account"], "boss", "{checked}");
    }
}
