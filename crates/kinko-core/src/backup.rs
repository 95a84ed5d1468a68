//! Backups (S3, D2, D6): one encrypted, integrity-protected file that
//! restores the whole vault, and the restore that checks it.
//!
//! ```text
//! header  magic "KINKOBAK" | format u16 = 2 | vault id [16] | key epoch u32
//!         | backup uid [16] | made at (Unix seconds) i64
//!         | keyslots length u32 | the vault's keyslots file (password-sealed)
//!         | wrap length u16 | the backup secret S, HPKE-wrapped to the
//!           custodian key (format 2 only)
//! body    an object stream (`crypto::stream`) under
//!         K = HKDF-SHA-256(database key ‖ S, salt = SHA-256(header), "kinko backup v2")
//!         (format 1: HKDF-SHA-256(database key, salt, "kinko backup v1")),
//!         uid = backup uid, version = key epoch; its plaintext is an archive
//!         ('F' | name length u16 | name | data length u64 | data)* 'E'
//! ```
//!
//! The archive holds the database (a SQLCipher copy under the same database
//! key, so it is ciphertext itself), every document's object file and the
//! unread inbox. Opening a backup needs the password of an account in it
//! and the recovery code: the password opens that account's slot in the
//! header, the slot holds the database key; the recovery code (the
//! custodian's key) opens S; both make the body's key. So no account's
//! password alone opens a backup: after the contract's end, once the
//! recovery code's paper is destroyed, no backup made before opens for
//! anyone, wherever it was copied (E3). A backup of format 1 (earlier
//! releases) opens with a password alone. Any changed byte of
//! the header changes K, so the body's header MAC fails; any change to the
//! body fails a chunk's tag. Names in the archive are checked against the
//! vault layout, so a crafted backup cannot write outside the target.
//!
//! A backup records which key epoch it holds (`backups.epoch`); `rekey`
//! starts a new epoch, after which old backups still open with the
//! passwords and keys of their own epoch. Disposal lists every backup and
//! destroys the files at their recorded paths (E3).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::account::Password;
use crate::crypto::{self, stream};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::layout::{DB_FILE, INBOX_DIR, KEYSLOTS_FILE, OBJECTS_DIR};
use crate::vault::{self};

pub const MAGIC: &[u8; 8] = b"KINKOBAK";
pub const FORMAT_VERSION: u16 = 2;
/// A wrap of the backup secret is an HPKE encapsulation and 48 bytes.
const MAX_WRAP: u16 = 1024;
/// A keyslots file is a few KiB per account; more is not a backup.
const MAX_KEYSLOTS: u32 = 4 * 1024 * 1024;
const MAX_NAME: u16 = 200;
const FIXED_LEN: usize = 8 + 2 + 16 + 4 + 16 + 8 + 4;

/// The readable part of a backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    pub vault_id: [u8; 16],
    pub epoch: u32,
    pub uid: [u8; 16],
    pub made_at: i64,
    pub keyslots: Vec<u8>,
    /// The backup secret wrapped to the custodian (format 2); none in a
    /// format-1 backup.
    pub custodian_wrap: Option<Vec<u8>>,
}

impl BackupHeader {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED_LEN + self.keyslots.len());
        b.extend_from_slice(MAGIC);
        let format: u16 = if self.custodian_wrap.is_some() { 2 } else { 1 };
        b.extend_from_slice(&format.to_be_bytes());
        b.extend_from_slice(&self.vault_id);
        b.extend_from_slice(&self.epoch.to_be_bytes());
        b.extend_from_slice(&self.uid);
        b.extend_from_slice(&self.made_at.to_be_bytes());
        b.extend_from_slice(&(self.keyslots.len() as u32).to_be_bytes());
        b.extend_from_slice(&self.keyslots);
        if let Some(wrap) = &self.custodian_wrap {
            b.extend_from_slice(&(wrap.len() as u16).to_be_bytes());
            b.extend_from_slice(wrap);
        }
        b
    }

    /// The HPKE context of this backup's secret, wrapped to the custodian.
    pub(crate) fn secret_context(&self) -> Vec<u8> {
        format!(
            "kinko backup secret v2\0{}\0{}",
            crypto::hex(&self.vault_id),
            crypto::hex(&self.uid)
        )
        .into_bytes()
    }
}

/// Read a backup's header from outside bytes; lengths are checked before
/// anything is allocated. Returns the header and its exact bytes.
pub fn read_header(r: &mut impl Read) -> Result<(BackupHeader, Vec<u8>)> {
    let short = |_| Error::tampered("the backup is truncated inside its header");
    let mut fixed = [0u8; FIXED_LEN];
    r.read_exact(&mut fixed).map_err(short)?;
    if &fixed[0..8] != MAGIC {
        return Err(Error::invalid("not a Kinko backup file"));
    }
    let format = u16::from_be_bytes([fixed[8], fixed[9]]);
    if format != 1 && format != FORMAT_VERSION {
        return Err(Error::Unsupported(format!(
            "backup format version {format}"
        )));
    }
    let take16 = |at: usize| -> [u8; 16] { fixed[at..at + 16].try_into().expect("16 bytes") };
    let be4 = |at: usize| u32::from_be_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
    let vault_id = take16(10);
    let epoch = be4(26);
    let uid = take16(30);
    let made_at = i64::from_be_bytes(fixed[46..54].try_into().expect("8 bytes"));
    let slots_len = be4(54);
    if slots_len == 0 || slots_len > MAX_KEYSLOTS {
        return Err(Error::tampered(format!(
            "the backup's keyslots length {slots_len} is out of range"
        )));
    }
    let mut keyslots = vec![0u8; slots_len as usize];
    r.read_exact(&mut keyslots).map_err(short)?;
    let custodian_wrap = if format == 2 {
        let mut len = [0u8; 2];
        r.read_exact(&mut len).map_err(short)?;
        let len = u16::from_be_bytes(len);
        if len == 0 || len > MAX_WRAP {
            return Err(Error::tampered(format!(
                "the backup's secret wrap length {len} is out of range"
            )));
        }
        let mut wrap = vec![0u8; len as usize];
        r.read_exact(&mut wrap).map_err(short)?;
        Some(wrap)
    } else {
        None
    };
    let header = BackupHeader {
        vault_id,
        epoch,
        uid,
        made_at,
        keyslots,
        custodian_wrap,
    };
    let raw = header.encode();
    Ok((header, raw))
}

/// The body's key: bound to the database key of the backup's epoch, to the
/// backup secret only the custodian opens (format 2), and to every byte of
/// its header.
pub(crate) fn body_key(
    db_key: &[u8; 32],
    secret: Option<&[u8; 32]>,
    raw_header: &[u8],
) -> crypto::Key32 {
    let salt = crypto::sha256(raw_header);
    match secret {
        Some(s) => crypto::hkdf(
            &Zeroizing::new([db_key.as_slice(), s.as_slice()].concat()),
            &salt,
            &[b"kinko backup v2"],
        ),
        None => crypto::hkdf(db_key, &salt, &[b"kinko backup v1"]),
    }
}

/// A backup's secret, opened with the custodian's key from `recovery_code`
/// (format 2); none for a format-1 backup.
pub(crate) fn backup_secret(
    header: &BackupHeader,
    custodian_public: &[u8],
    recovery_code: Option<&str>,
) -> Result<Option<crypto::Key32>> {
    let Some(wrap) = &header.custodian_wrap else {
        return Ok(None);
    };
    let code = recovery_code.ok_or_else(|| {
        Error::NotSignedIn(
            "a backup opens with an account's password and the vault's recovery code: give the recovery code ($KINKO_RECOVERY_CODE)".into(),
        )
    })?;
    let custodian = crate::vault::parse_recovery_code(code)?;
    if crypto::HpkeKeyPair::public_of(&custodian)? != custodian_public {
        return Err(Error::denied(
            "that recovery code does not belong to the backup's vault",
        ));
    }
    let bad =
        || Error::tampered("the backup's secret does not open with the recovery code (changed)");
    if wrap.len() <= 65 {
        return Err(Error::tampered("the backup's secret wrap is malformed"));
    }
    let (enc, ciphertext) = wrap.split_at(65);
    let opened = crypto::hpke_unwrap(
        &custodian,
        &header.secret_context(),
        &crypto::Wrapped {
            enc: enc.to_vec(),
            ciphertext: ciphertext.to_vec(),
        },
    )
    .ok_or_else(bad)?;
    let secret: [u8; 32] = opened.as_slice().try_into().map_err(|_| bad())?;
    Ok(Some(Zeroizing::new(secret)))
}

/// Does the backup at `path` need the recovery code to open (format 2)?
pub fn needs_recovery_code(path: &Path) -> Result<bool> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(read_header(&mut f)?.0.custodian_wrap.is_some())
}

/// A file the archive may hold, by its place in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Database,
    /// An object file: 32 lower-case hex digits.
    Object(String),
    /// An unread inbox event.
    Inbox(String),
}

impl Entry {
    /// Check a name from the archive: only the vault's own layout passes,
    /// so no name can reach outside the directory being restored.
    pub fn parse(name: &[u8]) -> Result<Entry> {
        let bad = || {
            Error::tampered(format!(
                "the backup names a file outside the vault layout: {:?}",
                String::from_utf8_lossy(name)
            ))
        };
        let name = std::str::from_utf8(name).map_err(|_| bad())?;
        if name == DB_FILE {
            return Ok(Entry::Database);
        }
        if let Some(obj) = name.strip_prefix("objects/") {
            let hex = obj.len() == 32
                && obj
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
            return if hex {
                Ok(Entry::Object(obj.into()))
            } else {
                Err(bad())
            };
        }
        if let Some(evt) = name.strip_prefix("inbox/") {
            let safe = evt.len() <= 100
                && evt.ends_with(".evt")
                && !evt.starts_with('.')
                && evt
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
            return if safe {
                Ok(Entry::Inbox(evt.into()))
            } else {
                Err(bad())
            };
        }
        Err(bad())
    }

    pub fn name(&self) -> String {
        match self {
            Entry::Database => DB_FILE.into(),
            Entry::Object(n) => format!("{OBJECTS_DIR}/{n}"),
            Entry::Inbox(n) => format!("{INBOX_DIR}/{n}"),
        }
    }
}

/// A file going into the archive, and the SHA-256 its record gives (for
/// object files).
pub(crate) struct ArchiveFile {
    pub(crate) entry: Entry,
    pub(crate) path: PathBuf,
    pub(crate) sha256: Option<String>,
}

/// Write the archive: each file as it is on disk, then the end mark. An
/// object file must still match its record: one overwritten meanwhile (a
/// disposal in another process) fails the backup instead of entering it.
fn write_archive(out: &mut impl Write, files: &[ArchiveFile]) -> Result<()> {
    let broken = |e: std::io::Error| Error::io("the backup being written", e);
    for ArchiveFile {
        entry,
        path,
        sha256,
    } in files
    {
        let name = entry.name();
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        out.write_all(b"F").map_err(broken)?;
        out.write_all(&(name.len() as u16).to_be_bytes())
            .map_err(broken)?;
        out.write_all(name.as_bytes()).map_err(broken)?;
        out.write_all(&len.to_be_bytes()).map_err(broken)?;
        let mut hashing = fsutil::HashingWriter::new(&mut *out);
        let copied = std::io::copy(&mut (&mut f).take(len), &mut hashing).map_err(broken)?;
        let (digest, _) = hashing.finish();
        if copied != len {
            return Err(Error::io(
                path,
                std::io::Error::other("the file shrank while it was being backed up"),
            ));
        }
        if sha256.as_ref().is_some_and(|s| *s != crypto::hex(&digest)) {
            return Err(Error::SourceChanged(format!(
                "{name} no longer matches its record (changed by another process while being backed up, or damaged: run kinko verify)"
            )));
        }
    }
    out.write_all(b"E").map_err(broken)?;
    out.flush().map_err(broken)
}

/// Read an archive, handing each file's bytes to `each` (which must read
/// them all or fail). A name outside the layout, a repeated name, bytes
/// after the end mark or a missing end mark are tampering.
pub fn read_archive(
    r: &mut impl Read,
    mut each: impl FnMut(&Entry, &mut dyn Read) -> Result<()>,
) -> Result<Vec<Entry>> {
    let short = |_| Error::tampered("the backup's contents end too early");
    let mut seen = std::collections::BTreeSet::new();
    let mut entries = Vec::new();
    loop {
        let mut mark = [0u8; 1];
        r.read_exact(&mut mark).map_err(short)?;
        match mark[0] {
            b'E' => break,
            b'F' => {}
            other => {
                return Err(Error::tampered(format!(
                    "the backup's contents are malformed (mark {other:#04x})"
                )))
            }
        }
        let mut n = [0u8; 2];
        r.read_exact(&mut n).map_err(short)?;
        let n = u16::from_be_bytes(n);
        if n == 0 || n > MAX_NAME {
            return Err(Error::tampered(format!(
                "the backup's name length {n} is out of range"
            )));
        }
        let mut name = vec![0u8; n as usize];
        r.read_exact(&mut name).map_err(short)?;
        let entry = Entry::parse(&name)?;
        if !seen.insert(entry.name()) {
            return Err(Error::tampered(format!(
                "the backup holds {} twice",
                entry.name()
            )));
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len).map_err(short)?;
        let len = u64::from_be_bytes(len);
        let mut data = r.take(len);
        each(&entry, &mut data)?;
        if data.limit() != 0 {
            return Err(Error::tampered(format!(
                "{} ends too early in the backup",
                entry.name()
            )));
        }
        entries.push(entry);
    }
    let mut rest = [0u8; 1];
    match r.read(&mut rest) {
        Ok(0) => Ok(entries),
        _ => Err(Error::tampered("the backup has bytes after its end mark")),
    }
}

/// What `backup` reports.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub id: i64,
    pub uid: String,
    pub epoch: u32,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub documents: usize,
}

/// What `restore` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub vault_id: String,
    pub backup_uid: String,
    pub epoch: u32,
    pub made_at: String,
    pub documents: usize,
    pub files: usize,
    pub path: String,
}

/// A recorded backup (`backup list`, the disposal inventory).
#[derive(Debug, Clone, Serialize)]
pub struct BackupRecord {
    pub id: i64,
    pub uid: String,
    pub epoch: u32,
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub made_by: String,
    pub made_at: String,
    /// Empty while it is being written, or if it never finished.
    pub finished_at: Option<String>,
    pub destroyed_at: Option<String>,
}

/// Where a backup is written until it is complete.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

const SNAPSHOT_PREFIX: &str = ".tmp-backup-";

/// Copies of the database left by a backup that was killed: they hold the
/// database's pages (under its key), so they go at the next backup and at
/// disposal.
pub(crate) fn remove_stale_snapshots(vault: &Path) -> Result<()> {
    let entries = std::fs::read_dir(vault).map_err(|e| Error::io(vault, e))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // The copy itself; its journal goes with it (and only with it: a
        // running backup's journal is in use).
        if !name.starts_with(SNAPSHOT_PREFIX) || !name.ends_with(".db") {
            continue;
        }
        // A copy whose backup is still running is locked: leave it.
        let Ok(f) = File::open(e.path()) else {
            continue;
        };
        if f.try_lock().is_ok() {
            fsutil::remove_overwritten(&e.path())?;
            fsutil::remove_overwritten(&vault.join(format!("{name}-journal")))?;
        }
    }
    Ok(())
}

/// A new file only its owner can read: backups and restored vault files
/// carry every keyslot, so other local users must not get to guess at
/// them offline.
pub(crate) fn private_file(path: &Path) -> Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(|e| Error::io(path, e))
}

/// Whether the file at `path` is the backup with this uid (disposal
/// overwrites only that, whatever a record says).
pub(crate) fn is_backup(path: &Path, uid_hex: &str) -> bool {
    File::open(path)
        .ok()
        .and_then(|f| read_header(&mut BufReader::new(f)).ok())
        .is_some_and(|(h, _)| crypto::hex(&h.uid) == uid_hex)
}

/// What a snapshot caught: the key epoch, its suite, and each live
/// document's object file name and recorded SHA-256.
pub(crate) struct Snapshot {
    pub(crate) epoch: u32,
    pub(crate) suite: u16,
    pub(crate) objects: Vec<(String, String)>,
}

/// A temporary copy of the database, locked (flock) while its backup runs
/// so that another backup's cleaning leaves it alone, and removed however
/// the backup ends.
pub(crate) struct TempCopy {
    pub(crate) path: PathBuf,
    _lock: File,
}

impl TempCopy {
    pub(crate) fn new(vault: &Path) -> Result<Self> {
        let path = vault.join(format!(
            "{SNAPSHOT_PREFIX}{}.db",
            crypto::hex(&crypto::random::<8>())
        ));
        let file = private_file(&path)?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(TempCopy { path, _lock: file })
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = fsutil::remove_overwritten(&self.path);
        let mut journal = self.path.clone().into_os_string();
        journal.push("-journal");
        let _ = fsutil::remove_overwritten(Path::new(&journal));
    }
}

pub(crate) fn inbox_files(dir: &Path) -> Result<Vec<ArchiveFile>> {
    let inbox = dir.join(INBOX_DIR);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&inbox).map_err(|e| Error::io(&inbox, e))?;
    for e in entries.flatten() {
        let name = e.file_name();
        // Half-written inbox files start with a dot; they are not events yet.
        if let Ok(entry) =
            Entry::parse(format!("{INBOX_DIR}/{}", name.to_string_lossy()).as_bytes())
        {
            out.push(ArchiveFile {
                entry,
                path: e.path(),
                sha256: None,
            });
        }
    }
    out.sort_by_key(|a| a.entry.name());
    Ok(out)
}

/// Stream the archive of `files` through the object stream into `out`. The
/// archive is written on a second thread into a pipe the encryption reads.
pub(crate) fn encrypt_archive(
    suite: u16,
    key: &[u8; 32],
    header: &BackupHeader,
    files: &[ArchiveFile],
    out: &mut impl Write,
    out_path: &Path,
) -> Result<()> {
    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::io(out_path, e))?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut writer = BufWriter::with_capacity(256 * 1024, writer);
            write_archive(&mut writer, files)
        });
        let sealed = stream::encrypt_with(suite, key, header.uid, header.epoch, &mut reader, out);
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(Error::Crypto("the backup writer stopped".into())));
        // A file that could not be read would end the archive early: its
        // error comes first, else the encryption's.
        produced?;
        sealed.map(drop).map_err(|e| e.into_error(out_path))
    })
}

/// Who restores, and how they sign in to the restored vault.
pub struct RestoreRequest<'a> {
    pub backup: &'a Path,
    pub to: &'a Path,
    pub id: &'a str,
    pub password: &'a Password,
    pub totp: Option<&'a str>,
    pub terminal: &'a str,
    /// The recovery code: a backup of format 2 needs it.
    pub recovery_code: Option<&'a str>,
    /// The token, when the account's slot in the backup needs one.
    pub token: Option<&'a crate::possession::TokenAccess>,
}

pub(crate) fn unpack_into(
    key: &[u8; 32],
    header: &BackupHeader,
    r: &mut (impl Read + Send),
    req: &RestoreRequest,
) -> Result<usize> {
    for sub in [OBJECTS_DIR, vault::SESSIONS_DIR, INBOX_DIR] {
        fsutil::create_private_dir(&req.to.join(sub))?;
    }
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| Error::io(req.backup, e))?;
    let entries = std::thread::scope(|s| {
        let opener = s.spawn(move || {
            let opened = stream::decrypt(key, header.uid, header.epoch, r, &mut writer);
            drop(writer);
            opened
        });
        let parsed = read_archive(&mut BufReader::new(&mut reader), |entry, data| {
            let path = req.to.join(entry.name());
            let mut f = private_file(&path)?;
            std::io::copy(data, &mut f).map_err(|e| Error::io(&path, e))?;
            f.sync_all().map_err(|e| Error::io(&path, e))
        });
        drop(reader);
        let opened = opener
            .join()
            .unwrap_or_else(|_| Err(Error::Crypto("the backup reader stopped".into()).into()));
        // The stream's verdict (tampering, truncation) is the true cause
        // when both fail.
        opened.map_err(|e| e.into_error(req.backup))?;
        parsed
    })?;
    if !entries.contains(&Entry::Database) {
        return Err(Error::tampered("the backup holds no database"));
    }
    let slots_path = req.to.join(KEYSLOTS_FILE);
    let mut slots = private_file(&slots_path)?;
    slots
        .write_all(&header.keyslots)
        .and_then(|_| slots.sync_all())
        .map_err(|e| Error::io(&slots_path, e))?;
    fsutil::sync_dir(req.to)?;
    Ok(entries.len())
}
