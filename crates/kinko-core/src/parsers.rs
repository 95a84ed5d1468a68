//! One entry point per parser of bytes that come from outside the process
//! (files on disk someone could edit, files handed over, tokens typed in):
//! object files, keyslots, session tokens and files, backups and their
//! archives, return packages and recipient keys, signed plans, reports,
//! checkpoints and audit archives, inbox files and recovery codes, and
//! the signed cells of the database (certificates, statements, grants).
//!
//! The coverage-guided fuzz targets in `fuzz/` call these, and a test
//! replays every seed and every saved crash (`fuzz/corpus`,
//! `fuzz/regressions`) through them, so a crash once found stays fixed.
//! Each must return, never panic, on any input. Keys are fixed: what a
//! key protects cannot be forged by a fuzzer, so the surface is what is
//! read before and around authentication.

use std::path::Path;

use crate::audit::{self, checkpoint::Checkpoint, retention};
use crate::backup::{read_archive, read_header, Entry};
use crate::crypto::stream;
use crate::keyslots::{KeySlots, SlotSecrets};
use crate::package::{self, Open};
use crate::{cert, grant, revocation, signed, statement, token, vault};

/// A target: its name (the fuzz target and corpus folder) and entry.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("object", object),
    ("keyslots", keyslots),
    ("session", session),
    ("backup", backup),
    ("package", package),
    ("signed", signed),
    ("inbox", inbox),
    ("recovery_code", recovery_code),
    ("statements", statements),
];

/// An object file: the header, then the chunks under a fixed key (the
/// uid and version are taken from the input, so the header MAC is reached).
pub fn object(data: &[u8]) {
    let (mut uid, mut version) = ([0u8; 16], 1);
    if let Some(header) = data.get(..stream::HEADER_LEN) {
        let header: &[u8; stream::HEADER_LEN] = header.try_into().expect("sliced to length");
        if let Ok(h) = stream::parse_header(header) {
            (uid, version) = (h.uid, h.version);
        }
    }
    let _ = stream::decrypt(&[7; 32], uid, version, &mut &data[..], &mut std::io::sink());
}

/// A keyslots file: its JSON, every slot's KDF parameters (checked, never
/// run: a real derivation would take the fuzzer's whole time), the public
/// keys, the custodian slot and a pending database key.
pub fn keyslots(data: &[u8]) {
    let Ok(ks) = KeySlots::from_bytes(data) else {
        return;
    };
    for slot in ks.slots.values() {
        let _ = slot.kdf.check();
    }
    let _ = ks.inbox_public();
    let _ = ks.custodian_public();
    let _ = ks.custodian_slot.to_wrapped();
    let secrets = SlotSecrets {
        db_key: [0; 32],
        hpke_secret: [1; 32],
        sign_secret: [0; 32],
        anchor: [0; 32],
    };
    let _ = ks.pending_db_keys("boss", &secrets);
}

/// A session token (the first line) and a session file (all of it).
pub fn session(data: &[u8]) {
    let first = data.split(|b| *b == b'\n').next().unwrap_or_default();
    if let Ok(token) = std::str::from_utf8(first) {
        let _ = token::parse_token(token);
    }
    let _ = token::open_session_file(data, &[3; 32], "vault", "id");
}

/// A backup: its header and keyslots, and (as if its body had opened)
/// the archive with every name checked.
pub fn backup(data: &[u8]) {
    if let Ok((header, _)) = read_header(&mut &data[..]) {
        let _ = KeySlots::from_bytes(&header.keyslots);
    }
    let _ = Entry::parse(data);
    let _ = read_archive(&mut &data[..], |_, content| {
        std::io::copy(content, &mut std::io::sink())
            .map(drop)
            .map_err(|e| crate::Error::invalid(e.to_string()))
    });
}

/// A return package (header line, key, manifest, files) opened with a
/// fixed recipient key, and recipient key files. Nothing opens without
/// the key, so the target directory is never made.
pub fn package(data: &[u8]) {
    let nowhere = Path::new("/nonexistent/kinko-fuzz");
    let _ = package::unpack_from(
        &mut &data[..],
        Path::new("fuzz input"),
        nowhere,
        Open::Key(&[9; 32]),
    );
    let _ = package::read_public(data);
    let _ = package::read_secret(data);
}

/// Signed plans and reports (HTML or JSON, with a completion report's
/// confirmer's seal), checkpoint files and signed audit archives.
pub fn signed(data: &[u8]) {
    let _ = signed::check(data, None);
    let _ = crate::disposal::confirmation::check_report(data, None, Some("00"));
    if let Ok(c) = Checkpoint::from_json(data) {
        let _ = c.check_signature();
        let _ = c.root_hash();
    }
    let _ = retention::verify_archive(data, None);
}

/// What an insider can write into the database's signed cells: a
/// certificate (its key then checks a signature made of the same bytes),
/// a statement envelope, a grant, and the revocation list a revoking
/// event's detail names.
pub fn statements(data: &[u8]) {
    if let Ok(c) = cert::Cert::parse(data.to_vec(), data.to_vec()) {
        let _ = c.vouches(&c.body.account, |_| true, data, data);
    }
    let _ = statement::parse(data);
    let _ = grant::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = revocation::named_in(text);
    }
}

/// A file in the inbox (anyone able to write the folder can put one).
pub fn inbox(data: &[u8]) {
    let _ = audit::open_inbox_file(data, &[5; 32], "vault");
}

/// A recovery code as typed.
pub fn recovery_code(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vault::parse_recovery_code(text);
    }
}
