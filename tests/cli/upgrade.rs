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
