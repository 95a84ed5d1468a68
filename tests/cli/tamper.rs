//! The tamper matrix of D7, on real object files: each change is reported
//! as tampering (exit 5) by `open` and by `verify`, and the other
//! documents stay readable.

use std::path::Path;

use crate::TestVault;

const HEADER: usize = 100;
const CHUNK: usize = 65536 + 16;

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 241) as u8).collect()
}

/// A vault with one 3½-chunk document and one other document; returns the
/// vault, the first document's id and object path, and the other's id.
fn setup() -> (TestVault, String, std::path::PathBuf, String) {
    let v = TestVault::new();
    let a = v.file("a.bin", &data(3 * 65536 + 5000));
    let id = v.import(&a, &[]);
    let object = v.object_files().pop().unwrap();
    let b = v.file("b.bin", b"the other document");
    let other = v.import(&b, &[]);
    (v, id, object, other)
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

fn assert_tampering(v: &TestVault, id: &str, other: &str, case: &str) {
    let r = v.boss(&["open", id, "--out", "-"]).code(5);
    assert!(
        r.stderr.contains("tampering detected"),
        "{case}: {}",
        r.stderr
    );
    let out = v.work(&format!("out-{}", case.replace(' ', "-")));
    v.boss(&["open", id, "--out", out.to_str().unwrap()])
        .code(5);
    assert!(!out.exists(), "{case}: no partial plaintext file is left");
    let r = v.boss(&["verify"]).code(5);
    assert!(
        r.stderr.contains(&format!("document {id}")),
        "{case}: verify names the item: {}",
        r.stderr
    );
    assert_eq!(
        v.boss(&["open", other, "--out", "-"]).ok().stdout,
        b"the other document",
        "{case}"
    );
    let events = v.events();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "document.export" && e["outcome"] == "tampered"),
        "{case}: logged"
    );
}

#[test]
fn flipped_byte_in_header() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| b[40] ^= 0x01);
    assert_tampering(&v, &id, &other, "header");
}

#[test]
fn flipped_byte_in_a_chunk() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| b[HEADER + CHUNK + 1234] ^= 0x80);
    assert_tampering(&v, &id, &other, "chunk");
}

#[test]
fn flipped_byte_in_a_tag() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| b[HEADER + CHUNK - 3] ^= 0x10);
    assert_tampering(&v, &id, &other, "tag");
}

#[test]
fn two_chunks_swapped() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| {
        let first: Vec<u8> = b[HEADER..HEADER + CHUNK].to_vec();
        let second: Vec<u8> = b[HEADER + CHUNK..HEADER + 2 * CHUNK].to_vec();
        b[HEADER..HEADER + CHUNK].copy_from_slice(&second);
        b[HEADER + CHUNK..HEADER + 2 * CHUNK].copy_from_slice(&first);
    });
    assert_tampering(&v, &id, &other, "swapped");
}

#[test]
fn last_chunk_dropped() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| b.truncate(HEADER + 3 * CHUNK));
    assert_tampering(&v, &id, &other, "dropped");
}

#[test]
fn chunk_appended() {
    let (v, id, obj, other) = setup();
    edit(&obj, |b| {
        let extra = b[HEADER + CHUNK..HEADER + 2 * CHUNK].to_vec();
        b.extend_from_slice(&extra);
    });
    assert_tampering(&v, &id, &other, "appended");
}

#[test]
fn two_documents_object_files_swapped() {
    let v = TestVault::new();
    let a = v.file("a.txt", b"document A");
    let ida = v.import(&a, &[]);
    let b = v.file("b.txt", b"document B");
    let idb = v.import(&b, &[]);
    let c = v.file("c.txt", b"the other document");
    let other = v.import(&c, &[]);
    let objs = v.object_files();
    let (pa, pb) = (&objs[0], &objs[1]);
    let (ba, bb) = (std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
    std::fs::write(pa, bb).unwrap();
    std::fs::write(pb, ba).unwrap();
    assert_tampering(&v, &ida, &other, "swap a");
    assert_tampering(&v, &idb, &other, "swap b");
}

#[test]
fn missing_object_file() {
    let (v, id, obj, other) = setup();
    std::fs::remove_file(&obj).unwrap();
    assert_tampering(&v, &id, &other, "missing");
}

#[test]
fn a_changed_database_is_tampering() {
    let v = TestVault::new();
    let a = v.file("a.txt", b"x");
    v.import(&a, &[]);
    v.boss(&["verify"]).ok();
    // The last connection's close checkpoints the WAL into the main file;
    // flip a byte of the first page's ciphertext.
    edit(&v.dir.join("kinko.db"), |b| b[200] ^= 0x01);
    let r = v.boss(&["list"]).code(5);
    assert!(r.stderr.contains("tampering detected"), "{}", r.stderr);
}
