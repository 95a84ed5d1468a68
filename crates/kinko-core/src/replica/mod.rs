//! A vault whose log an office server holds (issue 16, decision 51).
//!
//! The terminal keeps a replica: a vault folder of the usual layout in its
//! state folder, whose database is made from the server's log. Every
//! write transaction on it goes through [`Write`]: the terminal takes its
//! turn (the server's write lease), applies the units it has not seen,
//! runs the action, and the rows the transaction changed (a SQLite
//! changeset, from the session extension) are sealed under a key derived
//! from the database key and appended to the log before the local commit.
//! A commit that does not come through here is refused by a commit hook
//! ([`Replica::guard`]), so no write bypasses the log.
//!
//! The server cannot open a unit, change one, or put one in another
//! place: each is sealed with AES-256-GCM over the vault, its number, the
//! chain of units before it and the keyslots it carries. A log shorter
//! than what this replica has applied is tampering (a server put back to
//! an earlier copy). Everything inside the units is checked by the core
//! as it checks a local vault: the server is an insider with files.

use std::cell::Cell;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::session::{ConflictAction, Session as Capture};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::crypto::{self, Key32};
use crate::error::{Error, Result};

mod epochs;
mod rebuild;

use epochs::{KeyUnit, KEYSLOTS_TABLE};

/// A unit of the log as the server hands it out.
#[derive(Debug, Clone)]
pub struct IncomingUnit {
    pub seq: u64,
    pub sealed: Vec<u8>,
    pub keyslots: Option<Vec<u8>>,
    /// The whole database under a new database key ([`UnitPlace::snapshot`]).
    pub snapshot: bool,
}

/// A unit as this terminal sends it.
#[derive(Debug, Clone)]
pub struct OutgoingUnit {
    pub sealed: Vec<u8>,
    pub keyslots: Option<Vec<u8>>,
    pub snapshot: bool,
    /// The terminal to approve with this unit (whose event records the
    /// approval).
    pub approve: Option<DeviceApproval>,
    /// Object files to erase with this unit (whose events record a
    /// disposal's removal of each).
    pub erase: Vec<String>,
}

/// An object file the server erased, with the unit that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedObject {
    pub name: String,
    pub unit: u64,
}

/// Which waiting terminal a unit approves: the code its screen shows and
/// the digest of its key, which the unit's signed event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApproval {
    pub code: String,
    pub key: String,
}

/// A terminal waiting for approval, as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingDevice {
    pub code: String,
    pub name: String,
    pub account: Option<String>,
    /// SHA-256 (hex) of the key in its certificate request.
    pub key: String,
}

/// An enrolled terminal, as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTerminal {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
    /// SHA-256 (hex) of its certified key.
    pub key: Option<String>,
    /// The unit whose event approved it; none when the operator enrolled
    /// it (by token, or approving on the server box).
    pub approved_in: Option<u64>,
    pub revoked: bool,
}

/// What the server answered to an append.
#[derive(Debug, Clone)]
pub struct AppendAnswer {
    pub seq: u64,
    pub approved: Option<ApprovedTerminal>,
}

/// A terminal the server approved with a unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApprovedTerminal {
    pub id: String,
    pub name: String,
    pub account: Option<String>,
}

/// The vault a server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamVault {
    pub vault_id: String,
    pub schema_version: i64,
}

/// What the server says of its vault.
#[derive(Debug, Clone)]
pub struct UpstreamState {
    pub vault: Option<UpstreamVault>,
    pub head: u64,
    pub keyslots: Option<Vec<u8>>,
    /// The newest snapshot unit (0: none).
    pub snapshot: u64,
}

/// A turn to write: the lease, the head and the units not yet seen.
#[derive(Debug, Clone)]
pub struct GivenTurn {
    pub lease: String,
    pub head: u64,
    pub units: Vec<IncomingUnit>,
}

/// The server, as the core needs it; `kinko-remote` implements it over
/// HTTPS. Every call may fail with the core's errors (`Server`,
/// `TerminalRefused`).
pub trait Upstream: Send + Sync {
    /// This terminal's ID at the server: events written through it name
    /// it beside the user and host.
    fn terminal_id(&self) -> String;
    fn state(&self) -> Result<UpstreamState>;
    fn create(&self, vault: &UpstreamVault, unit: OutgoingUnit) -> Result<()>;
    /// Wait for this terminal's turn; the units after `after`.
    fn take_turn(&self, after: u64) -> Result<GivenTurn>;
    /// Give a turn back unused (best effort: it lapses anyway).
    fn give_back(&self, lease: &str);
    /// Append at `base + 1` under `lease`: the unit's number (and the
    /// terminal approved with it).
    fn append(&self, lease: &str, base: u64, unit: OutgoingUnit) -> Result<AppendAnswer>;
    /// The terminal waiting for approval with `code`.
    fn waiting(&self, code: &str) -> Result<WaitingDevice>;
    /// Every terminal enrolled with the server.
    fn terminals(&self) -> Result<Vec<KnownTerminal>>;
    /// The head and a page of units after `after`, without a turn.
    fn units_after(&self, after: u64) -> Result<(u64, Vec<IncomingUnit>)>;
    /// Store an object file (ciphertext) under its name; storing the same
    /// bytes again is no error.
    fn put_object(&self, name: &str, path: &Path) -> Result<()>;
    /// Fetch an object file into `into` (a new file).
    fn get_object(&self, name: &str, into: &Path) -> Result<()>;
    /// Does the server still hand out the object `name`?
    fn has_object(&self, name: &str) -> Result<bool>;
    /// Every object a unit erased.
    fn erased(&self) -> Result<Vec<ErasedObject>>;
}

/// The local table that says how far the replica has applied the log.
/// It is this terminal's alone: never captured, never sent.
const POSITION_TABLE: &str = "replica_position";

/// The local table that says from which snapshot unit this replica's
/// database was built, under the key that unit was sealed with (0: from
/// the start). This terminal's alone too.
const BASE_TABLE: &str = "replica_base";

/// Tables of the replica's own, never part of a unit.
const LOCAL_TABLES: [&str; 4] = [
    POSITION_TABLE,
    KEYSLOTS_TABLE,
    BASE_TABLE,
    epochs::KEY_UNITS_TABLE,
];

fn is_local_table(table: &str) -> bool {
    LOCAL_TABLES.contains(&table)
}

/// Drop a replica's own tables from the copy of its database attached
/// as `schema` (a backup made on a terminal restores as a vault folder).
pub(crate) fn drop_local_tables(conn: &Connection, schema: &str) -> Result<()> {
    for table in LOCAL_TABLES {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {schema}.{table}"))?;
    }
    Ok(())
}

thread_local! {
    /// Set while [`Write`] or a catch-up commits on this thread: the only
    /// commits the guard lets through. Per thread, so that one thread's
    /// commit through the log never lets another thread's commit by.
    static COMMITTING: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with this thread's commits let through the guard: the log's
/// own commits, and local work that changes no row of the vault (a
/// replica's database written again under a new key).
pub(crate) fn committing<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `f` ends, a panic included.
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            COMMITTING.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(COMMITTING.with(|c| c.replace(true)));
    f()
}

/// A replica's link to its server.
pub struct Replica {
    upstream: Arc<dyn Upstream>,
    /// The key units are sealed under, known once the database key is.
    unit_key: Mutex<Option<Key32>>,
    /// The SHA-256 of the keyslots this terminal signed in with, as the
    /// server handed them (checked by [`Replica::open_caught_up`]).
    opened_keyslots: Mutex<Option<[u8; 32]>>,
    vault_id: String,
    keyslots_path: PathBuf,
    objects_dir: PathBuf,
}

/// The seal's key: the database key, for this one use.
pub fn unit_key(db_key: &[u8; 32]) -> Key32 {
    crypto::hkdf(db_key, b"", &[b"kinko replica unit v1"])
}

/// Open a unit sealed for `place`: its changes, or None if it was not
/// sealed there under this key.
pub fn open_unit(
    key: &Key32,
    place: &UnitPlace<'_>,
    sealed: &[u8],
) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    crypto::open(key, &unit_aad(place), sealed)
}

/// The chain after the unit `sealed` at `place`.
pub fn chain_after(place: &UnitPlace<'_>, sealed: &[u8]) -> [u8; 32] {
    chained(place.prev, place.seq, sealed)
}

/// Where a unit goes in the log: its vault, its number, the chain of the
/// units before it, the keyslots it carries, and whether it is a snapshot:
/// the whole database (every row as an insert into empty tables), sealed
/// under the unit key of a new database key whose keyslots it carries.
pub struct UnitPlace<'a> {
    pub vault_id: &'a str,
    pub seq: u64,
    pub prev: &'a [u8; 32],
    pub keyslots: Option<&'a [u8]>,
    pub snapshot: bool,
}

/// Seal a unit's changes (a SQLite changeset) for its place in the log;
/// the sealed bytes and the chain after it. This is the published format:
/// anyone holding the database key can make a unit, which is why a
/// replica checks everything a unit brings as it checks a local vault.
pub fn seal_unit(key: &Key32, place: &UnitPlace<'_>, changes: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let sealed = crypto::seal(key, &unit_aad(place), changes);
    let hash = chained(place.prev, place.seq, &sealed);
    (sealed, hash)
}

/// What a unit's seal covers besides its bytes. A snapshot's label
/// differs, so that no change can pass for a snapshot or the reverse.
fn unit_aad(place: &UnitPlace<'_>) -> Vec<u8> {
    let label: &[u8] = if place.snapshot {
        b"kinko unit snapshot v1"
    } else {
        b"kinko unit v1"
    };
    let mut aad = label.to_vec();
    aad.extend_from_slice(&(place.vault_id.len() as u32).to_be_bytes());
    aad.extend_from_slice(place.vault_id.as_bytes());
    aad.extend_from_slice(&place.seq.to_be_bytes());
    aad.extend_from_slice(place.prev);
    aad.extend_from_slice(&crypto::sha256(place.keyslots.unwrap_or_default()));
    aad.push(place.keyslots.is_some() as u8);
    aad
}

/// The chain after a unit: what the next unit's seal names.
fn chained(prev: &[u8; 32], seq: u64, sealed: &[u8]) -> [u8; 32] {
    let mut buf = b"kinko unit chain v1".to_vec();
    buf.extend_from_slice(prev);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&crypto::sha256(sealed));
    crypto::sha256(&buf)
}

/// The position table, made in a replica's database where missing.
fn ensure_position_table(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {POSITION_TABLE} (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            seq INTEGER NOT NULL,
            hash BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {KEYSLOTS_TABLE} (
            seq INTEGER PRIMARY KEY,
            sha256 BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {BASE_TABLE} (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            seq INTEGER NOT NULL
        );
        {}",
        epochs::CREATE_KEY_UNITS
    ))?;
    Ok(())
}

fn position(conn: &Connection) -> Result<(u64, [u8; 32])> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            &format!("SELECT seq, hash FROM {POSITION_TABLE} WHERE one = 1"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok((0, [0u8; 32])),
        Some((seq, hash)) => {
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| Error::tampered("the replica's position in the log is damaged"))?;
            Ok((seq.max(0) as u64, hash))
        }
    }
}

/// The snapshot unit this replica's database was built from (0: none).
fn base(conn: &Connection) -> Result<u64> {
    let seq: Option<i64> = conn
        .query_row(
            &format!("SELECT seq FROM {BASE_TABLE} WHERE one = 1"),
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.unwrap_or(0).max(0) as u64)
}

fn set_base(conn: &Connection, seq: u64) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO {BASE_TABLE} (one, seq) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET seq = excluded.seq"
        ),
        [seq as i64],
    )?;
    Ok(())
}

fn set_position(conn: &Connection, seq: u64, hash: &[u8; 32]) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO {POSITION_TABLE} (one, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
        ),
        params![seq as i64, hash.to_vec()],
    )?;
    Ok(())
}

/// Remember the unit sealed as `sealed` at `place` if it may begin a key
/// (and the keyslots it carried): [`epochs`].
fn note_unit(conn: &Connection, place: &UnitPlace<'_>, sealed: &[u8]) -> Result<()> {
    match key_unit(place, sealed) {
        Some(unit) => unit.note(conn),
        None => Ok(()),
    }
}

/// The unit sealed as `sealed` at `place`, as [`epochs`] keeps it, if it
/// may begin a key.
fn key_unit(place: &UnitPlace<'_>, sealed: &[u8]) -> Option<KeyUnit> {
    KeyUnit::of(epochs::Seen {
        seq: place.seq,
        prev: place.prev,
        sealed,
        keyslots: place.keyslots,
        snapshot: place.snapshot,
    })
}

/// The newest keyslots the applied log carries: the unit that carried
/// them and their SHA-256.
fn newest_keyslots(conn: &Connection) -> Result<Option<(u64, Vec<u8>)>> {
    Ok(conn
        .query_row(
            &format!("SELECT seq, sha256 FROM {KEYSLOTS_TABLE} ORDER BY seq DESC LIMIT 1"),
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?)
}

/// Whether some unit of the applied log carried keyslots with `digest`.
fn log_carried_keyslots(conn: &Connection, digest: &[u8; 32]) -> Result<bool> {
    Ok(conn
        .query_row(
            &format!("SELECT 1 FROM {KEYSLOTS_TABLE} WHERE sha256 = ?1 LIMIT 1"),
            [digest.to_vec()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The changes a transaction made, as changeset bytes (empty: none).
fn take_changes(capture: &mut Capture<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if !capture.is_empty() {
        capture.changeset_strm(&mut out)?;
    }
    Ok(out)
}

impl Replica {
    pub fn new(upstream: Arc<dyn Upstream>, vault_id: &str, vault_dir: &Path) -> Self {
        Replica {
            upstream,
            unit_key: Mutex::new(None),
            opened_keyslots: Mutex::new(None),
            vault_id: vault_id.to_string(),
            keyslots_path: vault_dir.join(crate::layout::KEYSLOTS_FILE),
            objects_dir: vault_dir.join(crate::layout::OBJECTS_DIR),
        }
    }

    /// Make sure an object file is here, fetching it from the server if
    /// this terminal has not had it yet.
    pub(crate) fn ensure_object(&self, name: &crate::object::ObjectName) -> Result<()> {
        let path = name.path(&self.objects_dir);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Ok(());
        }
        // A partial file of this fetch's own: two processes of this
        // terminal fetching the same object never write into one file.
        let partial = self.objects_dir.join(format!(
            ".{}.{}.part",
            name.as_str(),
            crypto::hex(&crypto::random::<8>())
        ));
        let fetched = self
            .upstream
            .get_object(name.as_str(), &partial)
            .and_then(|()| std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e)));
        if fetched.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        fetched
    }

    /// Remove this terminal's copies of the object files of documents a
    /// disposal erased at another terminal (the server erased its own
    /// with the step's unit), overwritten as the executor's were.
    fn remove_erased_objects(&self, conn: &Connection) -> Result<()> {
        let names: Vec<String> = conn
            .prepare("SELECT object_name FROM documents WHERE erased_at IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        // A name no object could have names no file here.
        for name in names
            .iter()
            .filter_map(|n| crate::object::ObjectName::parse(n).ok())
        {
            crate::fsutil::remove_overwritten(&name.path(&self.objects_dir))?;
        }
        Ok(())
    }

    /// Remember the keyslots file this terminal is about to sign in with,
    /// as the server handed it.
    pub(crate) fn opened_with_keyslots(&self, bytes: &[u8]) {
        *self
            .opened_keyslots
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(crypto::sha256(bytes));
    }

    /// Bring a database just opened by a sign-in to the head, then check
    /// the keyslots it was opened with against the newest the log carries
    /// once applied (the server names no head this relies on). Keyslots
    /// the log never carried, or older than ones this terminal had
    /// already applied before this sign-in, are tampering: a server
    /// handing out keyslots from before a password change (each validly
    /// sealed in its own unit) is refused. Keyslots that became old
    /// during this catch-up (a password changed elsewhere just now) end
    /// the sign-in with "sign in again", which the newest then answers.
    pub(crate) fn open_caught_up(&self, conn: &Connection) -> Result<()> {
        let (before, _) = position(conn)?;
        self.catch_up(conn)?;
        // Best effort: what stands in the way (a folder put in a file's
        // place) is the disposal's own steps and confirmation to report.
        let _ = self.remove_erased_objects(conn);
        let opened = *self
            .opened_keyslots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(opened) = opened else {
            return Ok(());
        };
        let Some((newest_at, newest)) = newest_keyslots(conn)? else {
            // A replica made before this table was: nothing to compare.
            return Ok(());
        };
        if newest == opened {
            return Ok(());
        }
        if newest_at <= before || !log_carried_keyslots(conn, &opened)? {
            return Err(Error::tampered(
                "the office server handed this terminal keyslots that are not the newest its log carries",
            ));
        }
        Err(Error::NotSignedIn(
            "the keys of this vault changed while you signed in: sign in again".into(),
        ))
    }

    pub fn upstream(&self) -> &Arc<dyn Upstream> {
        &self.upstream
    }

    /// Prepare a replica's open database: remember the database key for
    /// the seals, make the position table, and refuse every commit that
    /// does not come through the log.
    pub(crate) fn guard(&self, conn: &mut Connection, db_key: &[u8; 32]) -> Result<()> {
        *self.key_slot() = Some(unit_key(db_key));
        ensure_position_table(conn)?;
        conn.commit_hook(Some(|| !COMMITTING.with(|c| c.get())))?;
        Ok(())
    }

    fn key_slot(&self) -> std::sync::MutexGuard<'_, Option<Key32>> {
        self.unit_key.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self) -> Result<Key32> {
        self.key_slot()
            .clone()
            .ok_or_else(|| Error::NotSignedIn("the replica is not open".into()))
    }

    /// Commit `tx` as one of the log's (the guard lets it through).
    fn commit_local(&self, tx: Transaction<'_>) -> Result<()> {
        Ok(committing(|| tx.commit())?)
    }

    /// Bring the replica to the server's head (no turn: for reading and
    /// before an action's checks).
    pub(crate) fn catch_up(&self, conn: &Connection) -> Result<()> {
        loop {
            let (seq, _) = position(conn)?;
            let (head, units) = self.upstream.units_after(seq)?;
            check_not_behind(head, seq)?;
            if units.is_empty() {
                return Ok(());
            }
            let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let applied = self.apply(&tx, &units)?;
            let (after, _) = position(&tx)?;
            if applied == Applied::UpToSnapshot {
                self.commit_local(tx)?;
                return Err(self.stopped_at_snapshot(after + 1));
            }
            if after <= seq {
                // Units only of what this replica holds, again and again:
                // a server that would keep it asking for ever.
                return Err(Error::tampered(format!(
                    "the server's log holds {head} units but gives only units up to {seq}"
                )));
            }
            self.commit_local(tx)?;
        }
    }

    /// Apply units in order to the open transaction; units already
    /// applied (by another process of this terminal) are skipped. A
    /// snapshot stops it: what follows is under a new database key, which
    /// a sign-in takes up ([`Replica::open_database`]).
    fn apply(&self, tx: &Transaction<'_>, units: &[IncomingUnit]) -> Result<Applied> {
        let key = self.key()?;
        let (mut seq, mut hash) = position(tx)?;
        let mut keyslots = None;
        let mut applied = Applied::All;
        for unit in units {
            if unit.seq <= seq {
                continue;
            }
            if unit.seq != seq + 1 {
                return Err(Error::tampered(format!(
                    "the server's log jumps from unit {seq} to unit {}",
                    unit.seq
                )));
            }
            if unit.snapshot {
                applied = Applied::UpToSnapshot;
                break;
            }
            let place = UnitPlace {
                vault_id: &self.vault_id,
                seq: unit.seq,
                prev: &hash,
                keyslots: unit.keyslots.as_deref(),
                snapshot: false,
            };
            let changes = open_unit(&key, &place, &unit.sealed).ok_or_else(|| {
                Error::tampered(format!(
                    "unit {} of the server's log was not sealed by a terminal of this vault in this place",
                    unit.seq
                ))
            })?;
            apply_changes(tx, &changes, unit.seq)?;
            note_unit(tx, &place, &unit.sealed)?;
            hash = chain_after(&place, &unit.sealed);
            seq = unit.seq;
            if let Some(k) = &unit.keyslots {
                keyslots = Some(k.clone());
            }
        }
        set_position(tx, seq, &hash)?;
        if let Some(k) = keyslots {
            crate::fsutil::write_atomic(&self.keyslots_path, &k)?;
        }
        Ok(applied)
    }

    /// Begin a write: wait for the turn, apply what came before it, and
    /// start capturing what the transaction changes.
    pub(crate) fn begin<'c>(self: &Arc<Self>, conn: &'c Connection) -> Result<Write<'c>> {
        let (seq, _) = position(conn)?;
        let turn = self.upstream.take_turn(seq)?;
        let lease = Lease {
            replica: self.clone(),
            id: Some(turn.lease.clone()),
        };
        check_not_behind(turn.head, seq)?;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let mut units = turn.units;
        loop {
            if self.apply(&tx, &units)? == Applied::UpToSnapshot {
                // Rolled back with `tx`; the turn goes back with the lease.
                let (at, _) = position(&tx)?;
                return Err(self.stopped_at_snapshot(at + 1));
            }
            let (at, _) = position(&tx)?;
            if at >= turn.head {
                break;
            }
            units = self.upstream.units_after(at)?.1;
            if units.iter().all(|u| u.seq <= at) {
                return Err(Error::tampered(format!(
                    "the server said its log holds {} units but gave {at}",
                    turn.head
                )));
            }
        }
        let mut capture = Capture::new(conn)?;
        capture.table_filter(Some(|table: &str| !is_local_table(table)));
        capture.attach::<&str>(None)?;
        Ok(Write {
            capture,
            tx,
            lease,
            conn,
        })
    }

    /// Create the vault on the server from a replica just made: its whole
    /// database as the first unit, with its keyslots.
    pub(crate) fn publish_new(&self, conn: &Connection, schema_version: i64) -> Result<()> {
        // Local work on a scratch database: let its commits through.
        let changes = committing(|| whole_database(conn))?;
        let keyslots =
            std::fs::read(&self.keyslots_path).map_err(|e| Error::io(&self.keyslots_path, e))?;
        let key = self.key()?;
        let place = UnitPlace {
            vault_id: &self.vault_id,
            seq: 1,
            prev: &[0u8; 32],
            keyslots: Some(&keyslots),
            snapshot: false,
        };
        let (sealed, hash) = seal_unit(&key, &place, &changes);
        let first = key_unit(&place, &sealed);
        self.upstream.create(
            &UpstreamVault {
                vault_id: self.vault_id.clone(),
                schema_version,
            },
            OutgoingUnit {
                sealed,
                keyslots: Some(keyslots),
                approve: None,
                erase: Vec::new(),
                snapshot: false,
            },
        )?;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        set_position(&tx, 1, &hash)?;
        if let Some(first) = first {
            first.note(&tx)?;
        }
        self.commit_local(tx)
    }
}

/// What a unit asks of the server besides taking it.
#[derive(Default)]
struct Asked {
    /// Approve the terminal waiting with this code and key.
    approve: Option<DeviceApproval>,
    /// Erase these object files.
    erase: Vec<String>,
}

/// How far [`Replica::apply`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    All,
    /// To the unit before a snapshot, which it left for a sign-in.
    UpToSnapshot,
}

impl Replica {
    /// The log reached a unit flagged a snapshot at `seq`: another
    /// terminal gave the vault a new database key (sign in again), unless
    /// the server names an older unit as its newest snapshot, when the
    /// flag is a lie that would keep every sign-in asking for another.
    fn stopped_at_snapshot(&self, seq: u64) -> Error {
        match self.upstream.state() {
            Ok(state) if state.snapshot < seq => Error::tampered(format!(
                "the server flags unit {seq} of its log as a snapshot but names unit {} as its newest",
                state.snapshot
            )),
            // Unasked (the server gone a moment): the likelier cause.
            Ok(_) | Err(_) => key_changed(),
        }
    }
}

/// Another terminal gave the vault a new database key: this session's
/// key opens nothing after it.
fn key_changed() -> Error {
    Error::NotSignedIn(
        "the vault's database key changed at another terminal (a rekey or a disabled account): sign in again"
            .into(),
    )
}

fn check_not_behind(head: u64, seen: u64) -> Result<()> {
    if head < seen {
        return Err(Error::tampered(format!(
            "the server's log holds {head} units but this terminal has applied {seen}: the server was put back to an earlier copy"
        )));
    }
    Ok(())
}

/// Apply one unit's changes; any conflict means the unit was not made on
/// the state this replica holds.
fn apply_changes(conn: &Connection, changes: &[u8], seq: u64) -> Result<()> {
    // Only the vault's own tables: never this terminal's bookkeeping (a
    // unit that rewrote which keyslots the log carried would blind
    // `open_caught_up`), never a table the schema does not have (SQLite
    // would skip it without a word).
    let tables = tables_changed(changes).map_err(|_| {
        Error::tampered(format!(
            "unit {seq} of the server's log holds no changes this terminal can read"
        ))
    })?;
    for table in tables {
        let known: bool = conn.query_row(
            "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
            [&table],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if is_local_table(&table) || table.starts_with("sqlite_") || !known {
            return Err(Error::tampered(format!(
                "unit {seq} of the server's log changes the table {table:?}, which no unit may"
            )));
        }
    }
    let conflicted = Arc::new(AtomicBool::new(false));
    let seen = conflicted.clone();
    let applied = conn.apply_strm(
        &mut Cursor::new(changes),
        None::<fn(&str) -> bool>,
        move |_, _| {
            seen.store(true, Ordering::SeqCst);
            ConflictAction::SQLITE_CHANGESET_ABORT
        },
    );
    if conflicted.load(Ordering::SeqCst) || applied.is_err() {
        return Err(Error::tampered(format!(
            "unit {seq} of the server's log does not follow from the units before it"
        )));
    }
    Ok(())
}

/// The tables a changeset changes.
fn tables_changed(changes: &[u8]) -> Result<std::collections::BTreeSet<String>> {
    use rusqlite::session::ChangesetIter;
    let mut tables = std::collections::BTreeSet::new();
    let mut cursor = Cursor::new(changes);
    let input: &mut dyn std::io::Read = &mut cursor;
    let mut items = ChangesetIter::start_strm(&input)?;
    while let Some(item) =
        rusqlite::fallible_streaming_iterator::FallibleStreamingIterator::next(&mut items)?
    {
        tables.insert(item.op()?.table_name().to_string());
    }
    Ok(tables)
}

/// The object names the changed `documents` rows hold (new values).
fn objects_named(conn: &Connection, changes: &[u8]) -> Result<Vec<String>> {
    use rusqlite::session::ChangesetIter;
    use rusqlite::types::ValueRef;
    let column: Option<usize> = conn
        .prepare("SELECT cid FROM pragma_table_info('documents') WHERE name = 'object_name'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|c| c as usize);
    let Some(column) = column else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    let mut cursor = Cursor::new(changes);
    let input: &mut dyn std::io::Read = &mut cursor;
    let mut items = ChangesetIter::start_strm(&input)?;
    while let Some(item) =
        rusqlite::fallible_streaming_iterator::FallibleStreamingIterator::next(&mut items)?
    {
        let op = item.op()?;
        if op.table_name() != "documents" {
            continue;
        }
        if let Ok(ValueRef::Text(t)) = item.new_value(column) {
            names.push(String::from_utf8_lossy(t).into_owned());
        }
    }
    Ok(names)
}

/// Every row of the database as one changeset of inserts: the changes
/// from an empty database of the same schema to this one.
fn whole_database(conn: &Connection) -> Result<Vec<u8>> {
    conn.execute_batch("ATTACH DATABASE ':memory:' AS empty KEY ''")?;
    let made = (|| {
        let tables: Vec<(String, String)> = conn
            .prepare(
                "SELECT name, sql FROM main.sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%'",
            )?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .filter(|row| !matches!(row, Ok((name, _)) if is_local_table(name)))
            .collect::<rusqlite::Result<_>>()?;
        for (name, sql) in &tables {
            let sql = match sql.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
                Some(rest) => format!("CREATE TABLE empty.{rest}"),
                None => sql.replacen("CREATE TABLE ", "CREATE TABLE empty.", 1),
            };
            conn.execute_batch(&sql).map_err(|e| {
                Error::Database(format!("cannot make an empty copy of {name}: {e}"))
            })?;
        }
        let mut capture = Capture::new(conn)?;
        for (name, _) in &tables {
            capture.attach(Some(name.as_str()))?;
            capture.diff("empty", name.as_str())?;
        }
        take_changes(&mut capture)
    })();
    conn.execute_batch("DETACH DATABASE empty")?;
    made
}

/// A turn held: given back if the write does not append.
struct Lease {
    replica: Arc<Replica>,
    id: Option<String>,
}

impl Lease {
    /// Append `unit` at `base + 1` under this turn (spent by it), and
    /// check the server put it there.
    fn append(&mut self, base: u64, unit: OutgoingUnit) -> Result<AppendAnswer> {
        let id = self.id.take().unwrap_or_default();
        let appended = self.replica.upstream.append(&id, base, unit)?;
        if appended.seq != base + 1 {
            return Err(Error::tampered(format!(
                "the server put this terminal's unit at {}, not {}",
                appended.seq,
                base + 1
            )));
        }
        Ok(appended)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.replica.upstream.give_back(&id);
        }
    }
}

/// A write transaction of a replica: use it as the transaction; its
/// [`Write::commit`] appends the changes to the server's log first.
pub struct Write<'c> {
    capture: Capture<'c>,
    tx: Transaction<'c>,
    lease: Lease,
    conn: &'c Connection,
}

impl<'c> std::ops::Deref for Write<'c> {
    type Target = Transaction<'c>;
    fn deref(&self) -> &Transaction<'c> {
        &self.tx
    }
}

impl Write<'_> {
    /// Append the changes (and `keyslots`, when the action changed them)
    /// to the log, then commit locally. If the server does not take them,
    /// nothing is committed.
    pub fn commit(self, keyslots: Option<Vec<u8>>) -> Result<()> {
        self.commit_asking(keyslots, Asked::default()).map(drop)
    }

    /// [`Write::commit`], asking the server to approve a terminal or to
    /// erase objects in the same transaction as the unit.
    fn commit_asking(
        self,
        keyslots: Option<Vec<u8>>,
        Asked { approve, erase }: Asked,
    ) -> Result<Option<ApprovedTerminal>> {
        let Write {
            mut capture,
            tx,
            mut lease,
            ..
        } = self;
        let changes = take_changes(&mut capture)?;
        drop(capture);
        let replica = lease.replica.clone();
        if changes.is_empty() && keyslots.is_none() && approve.is_none() && erase.is_empty() {
            // Nothing changed (a refusal that wrote nothing): nothing to send.
            return replica.commit_local(tx).map(|()| None);
        }
        let key = replica.key()?;
        let (base, prev) = position(&tx)?;
        let seq = base + 1;
        let place = UnitPlace {
            vault_id: &replica.vault_id,
            seq,
            prev: &prev,
            keyslots: keyslots.as_deref(),
            snapshot: false,
        };
        let (sealed, hash) = seal_unit(&key, &place, &changes);
        let keyed = key_unit(&place, &sealed);
        // The objects the new rows name go first: a unit never names an
        // object the server does not hold.
        for name in objects_named(&tx, &changes)? {
            let name = crate::object::ObjectName::parse(&name)?;
            replica
                .upstream
                .put_object(name.as_str(), &name.path(&replica.objects_dir))?;
        }
        let asked = approve.is_some();
        let appended = lease.append(
            base,
            OutgoingUnit {
                sealed,
                keyslots,
                approve,
                erase,
                snapshot: false,
            },
        )?;
        if asked && appended.approved.is_none() {
            return Err(Error::tampered(
                "the server took the approval's unit but approved no terminal",
            ));
        }
        set_position(&tx, seq, &hash)?;
        if let Some(keyed) = keyed {
            keyed.note(&tx)?;
        }
        // Appended: if the local commit fails now, the unit comes back at
        // the next catch-up, as another terminal's would.
        replica.commit_local(tx)?;
        Ok(appended.approved)
    }
}

impl Write<'_> {
    /// Give the vault a new database key on the server: the whole
    /// database, as the log leaves it at this turn, goes out as a snapshot
    /// unit sealed under `new_key`'s unit key with `keyslots`, which give
    /// that key to everyone who keeps access. The transaction must have
    /// changed nothing of its own. Returns the snapshot's place; this
    /// replica's database is still under the old key until the caller
    /// writes it again under the new one and calls [`Replica::keyed_at`]
    /// (a stop in between makes the next sign-in rebuild it).
    pub(crate) fn commit_snapshot(self, new_key: &[u8; 32], keyslots: Vec<u8>) -> Result<u64> {
        let Write {
            mut capture,
            tx,
            mut lease,
            conn,
        } = self;
        if !take_changes(&mut capture)?.is_empty() {
            return Err(Error::Database(
                "a snapshot is taken in a transaction that changed nothing".into(),
            ));
        }
        drop(capture);
        let replica = lease.replica.clone();
        // The units this turn brought are the log's: committed here first,
        // so that the snapshot (read outside a transaction) holds them.
        replica.commit_local(tx)?;
        // Local work on a scratch database: let its commits through.
        let changes = committing(|| whole_database(conn))?;
        let (base, prev) = position(conn)?;
        let seq = base + 1;
        let place = UnitPlace {
            vault_id: &replica.vault_id,
            seq,
            prev: &prev,
            keyslots: Some(&keyslots),
            snapshot: true,
        };
        let (sealed, hash) = seal_unit(&unit_key(new_key), &place, &changes);
        let keyed = key_unit(&place, &sealed);
        lease.append(
            base,
            OutgoingUnit {
                sealed,
                keyslots: Some(keyslots.clone()),
                approve: None,
                erase: Vec::new(),
                snapshot: true,
            },
        )?;
        // Until the database is under the new key (`Replica::keyed_at`),
        // this replica seals and opens nothing.
        *replica.key_slot() = None;
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        set_position(&tx, seq, &hash)?;
        if let Some(keyed) = keyed {
            keyed.note(&tx)?;
        }
        replica.commit_local(tx)?;
        crate::fsutil::write_atomic(&replica.keyslots_path, &keyslots)?;
        Ok(seq)
    }
}

/// A write transaction of any vault: a local one, or a replica's, whose
/// changes reach the server's log before it commits. Every writing
/// transaction of the core begins here ([`begin_write`]).
pub(crate) enum WriteTx<'c> {
    Local(Transaction<'c>),
    Replica(Write<'c>),
}

/// Begin an immediate write transaction on `conn` (a replica's when the
/// vault has one).
pub(crate) fn begin_write<'c>(
    conn: &'c Connection,
    replica: Option<&Arc<Replica>>,
) -> Result<WriteTx<'c>> {
    Ok(match replica {
        None => WriteTx::Local(Transaction::new_unchecked(
            conn,
            TransactionBehavior::Immediate,
        )?),
        Some(r) => WriteTx::Replica(r.begin(conn)?),
    })
}

impl<'c> std::ops::Deref for WriteTx<'c> {
    type Target = Transaction<'c>;
    fn deref(&self) -> &Transaction<'c> {
        match self {
            WriteTx::Local(tx) => tx,
            WriteTx::Replica(w) => w,
        }
    }
}

impl WriteTx<'_> {
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            WriteTx::Local(tx) => Ok(tx.commit()?),
            WriteTx::Replica(w) => w.commit(None),
        }
    }

    /// Commit, approving with this transaction's unit the terminal that
    /// waits with the approval's code and key (only a vault on an office
    /// server has terminals).
    pub(crate) fn commit_approving(self, approval: &DeviceApproval) -> Result<ApprovedTerminal> {
        match self {
            WriteTx::Local(_) => Err(Error::Unsupported(
                "approving a terminal needs a vault held by an office server".into(),
            )),
            WriteTx::Replica(w) => w
                .commit_asking(
                    None,
                    Asked {
                        approve: Some(approval.clone()),
                        erase: Vec::new(),
                    },
                )?
                .ok_or_else(|| Error::tampered("the server approved no terminal")),
        }
    }

    /// Commit, erasing the object `name` at the server with this
    /// transaction's unit (whose event records its removal); on a local
    /// vault the caller removes the file.
    pub(crate) fn commit_erasing(self, name: &str) -> Result<()> {
        match self {
            WriteTx::Local(tx) => Ok(tx.commit()?),
            WriteTx::Replica(w) => w
                .commit_asking(
                    None,
                    Asked {
                        approve: None,
                        erase: vec![name.to_string()],
                    },
                )
                .map(drop),
        }
    }

    /// Commit with new keyslots: the file is written before the commit
    /// and put back if the commit fails (`keyslots::commit_with`); on a
    /// replica the keyslots travel in the unit.
    pub(crate) fn commit_with_keyslots(
        self,
        path: &Path,
        new: &crate::keyslots::KeySlots,
    ) -> Result<()> {
        match self {
            WriteTx::Local(tx) => crate::keyslots::commit_with(tx, path, new),
            WriteTx::Replica(w) => {
                let old = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                let bytes = new.file_bytes();
                crate::fsutil::write_atomic(path, &bytes)?;
                if let Err(e) = w.commit(Some(bytes)) {
                    let _ = crate::fsutil::write_atomic(path, &old);
                    return Err(e);
                }
                Ok(())
            }
        }
    }
}
