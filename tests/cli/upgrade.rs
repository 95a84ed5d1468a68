//! Vaults made by earlier releases keep working: a copy of the fixture
//! made by the release of 2026-12-01 (schema 2, `tests/fixtures/`) opens,
//! verifies and reads with this release.

use std::path::Path;

use crate::TestVault;

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
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vault-schema2");
    copy_dir(&fixture, &dir);
    // Git keeps no empty directory: the vault's empty ones come back.
    for sub in ["inbox", "sessions", "objects"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    TestVault {
        tmp,
        dir,
        recovery: String::new(),
    }
}

#[test]
fn a_vault_of_the_release_of_2026_12_01_opens_verifies_and_reads() {
    let v = schema2_vault();
    v.boss(&["verify"]).ok();
    v.boss(&["audit", "verify"]).ok();
    let r = v
        .as_user("hana", "Zq8!own-Secret-4", &["open", "1", "--out", "-"])
        .ok();
    assert_eq!(r.stdout, b"PLAINTEXT-MARKER-SCHEMA2 one\n");
    let r = v
        .as_user("mika", "Zq8!own-Secret-5x", &["open", "2", "--out", "-"])
        .code(4);
    assert!(r.stderr.contains("personal data"), "{}", r.stderr);
    v.as_user("hana", "Zq8!own-Secret-4", &["open", "2", "--out", "-"])
        .code(4);
}

/// The upgrade to schema 3 (certificates) runs at the officer's first
/// sign-in: before it nobody else gets in; it certifies the accounts as
/// the trail recorded them, records itself, and everyone works after.
#[test]
fn the_officers_first_sign_in_upgrades_and_certifies_as_the_trail_says() {
    let v = schema2_vault();
    let r = v.as_user("hana", "Zq8!own-Secret-4", &["list"]).code(1);
    assert!(r.stderr.contains("upgrade"), "{}", r.stderr);
    v.boss(&["list"]).ok();
    let log = v
        .boss(&["--json", "audit", "log", "--event", "vault.upgrade"])
        .ok()
        .json();
    let detail = log[0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("certified: boss,hana,mika"), "{detail}");
    v.as_user("hana", "Zq8!own-Secret-4", &["open", "1", "--out", "-"])
        .ok();
    assert!(v
        .accounts()
        .iter()
        .all(|a| a["certification"] == "certified"));
    v.boss(&["audit", "verify"]).ok();
    // The officer's slot now names the root: a swapped root is noticed.
    v.raw_db("hana", "Zq8!own-Secret-4")
        .execute(
            "UPDATE meta SET value = (SELECT sign_public FROM accounts WHERE id = 'hana') WHERE key = 'root_public'",
            [],
        )
        .unwrap();
    v.boss(&["list"]).code(5);
}

/// A role written on a row before the upgrade is not certified by it:
/// the trail says what the account was given.
#[test]
fn a_role_edited_before_the_upgrade_is_not_certified() {
    let v = schema2_vault();
    v.raw_db("hana", "Zq8!own-Secret-4")
        .execute(
            "UPDATE accounts SET roles = 'officer' WHERE id = 'mika'",
            [],
        )
        .unwrap();
    v.boss(&["list"]).ok();
    let mika = v
        .accounts()
        .into_iter()
        .find(|a| a["id"] == "mika")
        .unwrap();
    assert_eq!(mika["certification"], "awaiting_officer");
    v.as_user("mika", "Zq8!own-Secret-5x", &["list"]).code(5);
}
