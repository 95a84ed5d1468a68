//! What Kinko's tests share: the core tests (`crates/kinko-core/tests`),
//! the command's end-to-end tests (`tests/cli`) and the app's command tests
//! (`src-tauri/tests`). The Python window tests keep their own TOTP helper.

use std::path::Path;

pub mod forge;
pub mod moto;
pub mod postgres;

use kinko_core::crypto;
use kinko_core::keyslots::KeySlots;

/// The officer's password in every test vault.
pub const OFFICER_PW: &str = "Kinko-Vault-7q2x!";

/// Open the vault's database the way someone holding `id`'s keyslot and a
/// SQLCipher tool would: with the raw database key, outside Kinko. Attack
/// tests edit the vault through this, then show Kinko notices.
pub fn raw_db(vault: &Path, id: &str, password: &str) -> rusqlite::Connection {
    open_db_as(vault, id, password).1
}

/// The database key of `id`'s slot that opens the vault's database, and
/// the database opened with it. The slot's key, else a new one waiting
/// beside it (after a rekey or a disabling): an insider tries each, as
/// Kinko does at sign-in.
pub fn open_db_as(vault: &Path, id: &str, password: &str) -> ([u8; 32], rusqlite::Connection) {
    let slots = KeySlots::load(&vault.join("keyslots")).expect("the vault has a keyslots file");
    let (keys, _) = slots
        .unlock(id, password.as_bytes(), None)
        .expect("the password opens the slot");
    let waiting = slots.pending_db_keys(id, &keys).expect("waiting keys open");
    let candidates = waiting
        .iter()
        .map(|k| **k)
        .chain(std::iter::once(keys.db_key));
    for key in candidates {
        if let Some(conn) = open_with_key(vault, &key) {
            return (key, conn);
        }
    }
    panic!("no key of {id}'s slot opens the database")
}

/// The vault's database opened with `key`, if it is the key.
pub fn open_with_key(vault: &Path, key: &[u8; 32]) -> Option<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(vault.join("kinko.db")).expect("the database opens");
    conn.pragma_update(None, "key", format!("x'{}'", crypto::hex(key)))
        .expect("the key is accepted");
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .ok()?;
    Some(conn)
}

/// The vault's id and the signing key in `id`'s keyslot: what an insider
/// holding that slot signs with (attack tests forge with it).
pub fn own_signing_key(vault: &Path, id: &str, password: &str) -> (String, [u8; 32]) {
    let slots = KeySlots::load(&vault.join("keyslots")).expect("the vault has a keyslots file");
    let (keys, _) = slots
        .unlock(id, password.as_bytes(), None)
        .expect("the password opens the slot");
    (slots.vault_id.clone(), keys.sign_secret)
}

/// The one-time code an authenticator would show at `unix` seconds.
pub fn totp_at(secret_base32: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).expect("a base32 secret");
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("a TOTP generator")
        .generate(unix)
        .to_string()
}

/// The raw bytes of a base32 TOTP secret (what an insider would look
/// for in the database).
pub fn totp_secret_bytes(secret_base32: &str) -> Vec<u8> {
    totp_rs::Secret::try_from_base32(secret_base32)
        .expect("a base32 secret")
        .as_bytes()
        .to_vec()
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// The one-time code an authenticator shows now.
pub fn totp_now(secret_base32: &str) -> String {
    totp_at(secret_base32, now_unix())
}

/// One stored audit event as an insider reads it from the database.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: kinko_core::audit::Event,
    pub signer: Option<String>,
    pub serial: Option<i64>,
    pub signature: Option<Vec<u8>>,
    /// The chain digest of the signer's previous event, as stored.
    pub previous: Option<Vec<u8>>,
}

impl StoredEvent {
    /// The message its signature covers at place `seq` of the trail.
    pub fn signed_bytes(&self, vault_id: &str, seq: i64) -> Vec<u8> {
        let leaf = kinko_core::audit::tree::leaf_hash(&self.event.leaf_bytes(seq));
        kinko_core::audit::signed_bytes(
            vault_id,
            &leaf,
            self.signer.as_deref().unwrap_or_default(),
            self.serial,
            self.previous.as_deref(),
        )
    }
}

/// Every live event of the trail, oldest first.
pub fn read_trail(conn: &rusqlite::Connection) -> Vec<StoredEvent> {
    let mut stmt = conn
        .prepare("SELECT at, actor, event, object, outcome, terminal, detail, signer, signer_serial, signature, signer_previous FROM audit_events ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(StoredEvent {
            event: kinko_core::audit::Event {
                at: r.get(0)?,
                actor: r.get(1)?,
                event: r.get(2)?,
                object: r.get(3)?,
                outcome: r.get(4)?,
                terminal: r.get(5)?,
                detail: r.get(6)?,
            },
            signer: r.get(7)?,
            serial: r.get(8)?,
            signature: r.get(9)?,
            previous: r.get(10)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Who an insider is when re-signing: their account, certificate serial
/// and the signing key in their own slot.
pub struct Insider<'a> {
    pub vault_id: &'a str,
    pub account: &'a str,
    pub serial: i64,
    pub secret: &'a [u8; 32],
}

/// Write `events` back as the whole trail, as an insider with our formats
/// and code would: numbered from 1, every leaf and the tree recomputed,
/// the recorded size set; the events `me` signed (or that `me` claims by
/// naming themselves as signer) signed again with my key, every other
/// signature carried over unchanged (nobody else's key is at hand).
pub fn write_trail(conn: &rusqlite::Connection, me: &Insider, events: &[StoredEvent]) {
    use kinko_core::audit::tree;
    let tx = conn.unchecked_transaction().unwrap();
    // The stored checkpoints go too: until they are on the officer's key,
    // an insider can sign new ones with the audit key in `meta`.
    tx.execute_batch(
        "DELETE FROM audit_events; DELETE FROM audit_nodes; DELETE FROM audit_checkpoints;",
    )
    .unwrap();
    // My own chain, made again as I go; everyone else's carried over.
    let mut my_last: Option<[u8; 32]> = None;
    for (i, e) in events.iter().enumerate() {
        let seq = i as i64 + 1;
        let leaf = tree::leaf_hash(&e.event.leaf_bytes(seq));
        let mut e = e.clone();
        if e.signer.as_deref() == Some(me.account) {
            e.serial = Some(me.serial);
            e.previous = my_last.map(|d| d.to_vec());
            let bytes = e.signed_bytes(me.vault_id, seq);
            e.signature = Some(crypto::ecdsa_sign(me.secret, &bytes).unwrap());
            my_last = Some(kinko_core::audit::chain_digest(&bytes));
        }
        tx.execute(
            "INSERT INTO audit_events (seq, at, actor, event, object, outcome, terminal, detail, leaf, signer, signer_serial, signature, signer_previous)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            rusqlite::params![
                seq, e.event.at, e.event.actor, e.event.event, e.event.object, e.event.outcome,
                e.event.terminal, e.event.detail, leaf.to_vec(), e.signer,
                e.serial, e.signature, e.previous
            ],
        )
        .unwrap();
        tree::append(&tx, i as u64, leaf).unwrap();
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_size'",
        [(events.len() as u64).to_be_bytes().to_vec()],
    )
    .unwrap();
    tx.commit().unwrap();
}

/// The PKCS#11 module of SoftHSM2 on Debian (package `softhsm2`, which the
/// test command installs).
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every test token.
pub const TOKEN_PIN: &str = "1234";

/// SoftHSM2 with tokens of a test's own, in a folder of its own: point
/// `SOFTHSM2_CONF` at [`SoftHsm::conf`].
pub struct SoftHsm {
    _dir: tempfile::TempDir,
    pub conf: std::path::PathBuf,
}

impl SoftHsm {
    /// A configuration with one initialised token per label.
    pub fn with_tokens(labels: &[&str]) -> SoftHsm {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("the tokens folder");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("the SoftHSM2 configuration");
        for label in labels {
            let out = std::process::Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", label])
                .args(["--so-pin", "12345678", "--pin", TOKEN_PIN])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .expect("softhsm2-util runs (the test command installs softhsm2)");
            assert!(out.status.success(), "{out:?}");
        }
        SoftHsm { _dir: dir, conf }
    }
}
