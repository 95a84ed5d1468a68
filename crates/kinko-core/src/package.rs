//! Return (E5, D5): the documents of an approved disposal plan leave as one
//! encrypted, integrity-protected package for the bureau, which opens it
//! with `kinko unpack` and no vault. The returned items are then erased
//! like the rest by the plan's execution.
//!
//! ```text
//! header line   JSON: format, vault, who, when, how the package key is
//!               protected (HPKE to the bureau's P-256 key, or a
//!               passphrase through Argon2id)
//! manifest      u64 length + AES-256-GCM(package key, AAD = SHA-256 of
//!               the header line): every file's document number, name,
//!               size, SHA-256 and stream id
//! files         per file: u64 length + the STREAM format of
//!               `crypto::stream` under a key derived from the package key
//!               and the file's place in the manifest
//! ```
//!
//! A changed header fails the manifest's tag; a changed, swapped, dropped
//! or truncated file fails its stream or the manifest's hashes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, kdf::KdfParams, kdf::KdfProfile, stream, HpkeKeyPair, Wrapped};
use crate::error::{Error, Result};
use crate::fsutil;

pub const FORMAT: &str = "kinko-package";
pub const VERSION: u32 = 1;
const KEY_FORMAT: &str = "kinko-recipient-key";
const PUB_FORMAT: &str = "kinko-recipient";
/// No header line is longer; a longer one is not a package.
const MAX_HEADER: u64 = 64 * 1024;
const MAX_MANIFEST: u64 = 64 * 1024 * 1024;

/// A recipient's key pair as two files: `NAME.key` (private, for the
/// bureau to keep) and `NAME.pub` (to give to the council).
#[derive(Debug, Clone)]
pub struct RecipientFiles {
    pub key: Zeroizing<String>,
    pub public: String,
    pub fingerprint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    version: u32,
    secret: String,
    public: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PubFile {
    format: String,
    version: u32,
    public: String,
    fingerprint: String,
}

fn fingerprint(public: &[u8]) -> String {
    crypto::hex(&crypto::sha256(public))
}

/// Make a recipient key pair (`kinko recipient new`).
pub fn new_recipient() -> RecipientFiles {
    let pair = HpkeKeyPair::generate();
    let fp = fingerprint(&pair.public);
    let key = KeyFile {
        format: KEY_FORMAT.into(),
        version: VERSION,
        secret: crypto::b64(&*pair.secret),
        public: crypto::b64(&pair.public),
    };
    let public = PubFile {
        format: PUB_FORMAT.into(),
        version: VERSION,
        public: crypto::b64(&pair.public),
        fingerprint: fp.clone(),
    };
    RecipientFiles {
        key: Zeroizing::new(serde_json::to_string_pretty(&key).expect("serialises") + "\n"),
        public: serde_json::to_string_pretty(&public).expect("serialises") + "\n",
        fingerprint: fp,
    }
}

/// Read a recipient's public key file.
pub fn read_public(bytes: &[u8]) -> Result<Vec<u8>> {
    let f: PubFile = serde_json::from_slice(bytes)
        .map_err(|_| Error::invalid("the file is not a Kinko recipient public key (NAME.pub)"))?;
    if f.format != PUB_FORMAT {
        return Err(Error::invalid(
            "the file is not a Kinko recipient public key (NAME.pub)",
        ));
    }
    let public = crypto::unb64(&f.public, "the recipient key")?;
    if fingerprint(&public) != f.fingerprint {
        return Err(Error::tampered(
            "the recipient key file was changed (its fingerprint does not match)",
        ));
    }
    Ok(public)
}

/// Read a recipient's private key file.
pub fn read_secret(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let f: KeyFile = serde_json::from_slice(bytes)
        .map_err(|_| Error::invalid("the file is not a Kinko recipient key (NAME.key)"))?;
    if f.format != KEY_FORMAT {
        return Err(Error::invalid(
            "the file is not a Kinko recipient key (NAME.key)",
        ));
    }
    let raw = Zeroizing::new(crypto::unb64(&f.secret, "the recipient key")?);
    let mut out = Zeroizing::new([0u8; 32]);
    if raw.len() != 32 {
        return Err(Error::tampered("the recipient key has the wrong length"));
    }
    out.copy_from_slice(&raw);
    Ok(out)
}

/// How the package key is protected.
pub enum Protect<'a> {
    /// HPKE to the bureau's public key.
    Recipient(&'a [u8]),
    /// A passphrase, through Argon2id.
    Passphrase(&'a [u8]),
}

/// How the bureau opens it.
pub enum Open<'a> {
    Key(&'a [u8; 32]),
    Passphrase(&'a [u8]),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum Protection {
    Recipient {
        fingerprint: String,
        enc: String,
        wrapped: String,
    },
    Passphrase {
        kdf: KdfParams,
        sealed: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    vault_id: String,
    created_at: String,
    made_by: String,
    protection: Protection,
}

/// One file in the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub document: i64,
    /// The name it came in with; it unpacks to `<document>-<name>`.
    pub name: String,
    pub title: String,
    pub size: u64,
    pub sha256: String,
    /// Hex of the stream id binding the file to its place.
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub vault_id: String,
    pub council: String,
    pub created_at: String,
    pub made_by: String,
    pub files: Vec<ManifestFile>,
}

fn key_context(vault_id: &str) -> Vec<u8> {
    format!("kinko package key v1\0{vault_id}").into_bytes()
}

fn file_key(package_key: &[u8; 32], index: usize, uid: &[u8; 16]) -> crypto::Key32 {
    crypto::hkdf(
        package_key,
        uid,
        &[b"kinko package file v1", &(index as u64).to_be_bytes()],
    )
}

/// A file name safe to create anywhere: no path, no control characters.
pub fn safe_name(document: i64, original: &str) -> String {
    let base: String = original
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let base = base.trim_start_matches('.');
    if base.is_empty() {
        format!("{document}")
    } else {
        format!("{document}-{base}")
    }
}

/// Writes one document's plaintext into the package's pipe.
pub(crate) type Producer = Box<dyn FnOnce(&mut dyn Write) -> Result<()> + Send>;

/// One document going into a package: where its plaintext comes from.
pub(crate) struct Source {
    pub file: ManifestFile,
    /// Writes the document's plaintext (decrypting it from the vault).
    pub write: Producer,
}

/// Write a package to `out` (a new file). Plaintext never touches the
/// disk: each document is decrypted into a pipe and encrypted from it.
pub(crate) fn write(
    out: &Path,
    vault_id: &str,
    council: &str,
    made_by: &str,
    protect: Protect,
    sources: Vec<Source>,
) -> Result<String> {
    let package_key = crypto::random_key();
    let protection = match protect {
        Protect::Recipient(public) => {
            let w = crypto::hpke_wrap(public, &key_context(vault_id), &*package_key)?;
            Protection::Recipient {
                fingerprint: fingerprint(public),
                enc: crypto::b64(&w.enc),
                wrapped: crypto::b64(&w.ciphertext),
            }
        }
        Protect::Passphrase(pass) => {
            let kdf = KdfParams::new(KdfProfile::Argon2id);
            let kek = kdf.derive(pass)?;
            Protection::Passphrase {
                sealed: crypto::b64(&crypto::seal(&kek, &key_context(vault_id), &*package_key)),
                kdf,
            }
        }
    };
    let created_at = crate::audit::now();
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        vault_id: vault_id.into(),
        created_at: created_at.clone(),
        made_by: made_by.into(),
        protection,
    };
    let mut line = serde_json::to_vec(&header).expect("serialises");
    line.push(b'\n');
    let manifest = Manifest {
        vault_id: vault_id.into(),
        council: council.into(),
        created_at,
        made_by: made_by.into(),
        files: sources.iter().map(|s| s.file.clone()).collect(),
    };
    let sealed = crypto::seal(
        &package_key,
        &crypto::sha256(&line),
        &serde_json::to_vec(&manifest).expect("serialises"),
    );
    let dir = fsutil::new_file_dir(out)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".kinko-package-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    {
        let f = tmp.as_file_mut();
        let io = |e| Error::io(out, e);
        f.write_all(&line).map_err(io)?;
        f.write_all(&(sealed.len() as u64).to_be_bytes())
            .map_err(io)?;
        f.write_all(&sealed).map_err(io)?;
        for (index, source) in sources.into_iter().enumerate() {
            write_file(f, &package_key, index, source)?;
        }
        f.sync_all().map_err(io)?;
    }
    let digest = sha256_file(tmp.path())?;
    tmp.persist_noclobber(out)
        .map_err(|e| Error::io(out, e.error))?;
    crate::fsutil::sync_dir(dir)?;
    Ok(digest)
}

/// One file: its length-prefixed stream, encrypted from a pipe that a
/// second thread fills with the decrypted document. The length is written
/// once the stream is done, so nothing is held in memory.
fn write_file(f: &mut File, package_key: &[u8; 32], index: usize, source: Source) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let io = |e| Error::io("package", e);
    let uid = parse_uid(&source.file.uid)?;
    let key = file_key(package_key, index, &uid);
    let start = f.stream_position().map_err(io)?;
    f.write_all(&[0u8; 8]).map_err(io)?;
    let (mut reader, mut writer) = std::io::pipe().map_err(io)?;
    let expected = source.file.clone();
    let produce = source.write;
    let (produced, digest) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let r = produce(&mut writer);
            drop(writer);
            r
        });
        let mut out = std::io::BufWriter::new(&mut *f);
        let digest = stream::encrypt(&key, uid, 1, &mut reader, &mut out)
            .map_err(|e| stream_error(e, "package"))
            .and_then(|d| out.flush().map(|_| d).map_err(io));
        // Drain what is left so the producer never blocks on a full pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        (producer.join(), digest)
    });
    produced.map_err(|_| Error::Crypto("the document reader stopped".into()))??;
    let digest = digest?;
    if crypto::hex(&digest.sha256) != expected.sha256 || digest.len != expected.size {
        return Err(Error::tampered(format!(
            "document {} did not decrypt to what its receipt records",
            expected.document
        )));
    }
    let end = f.stream_position().map_err(io)?;
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    f.write_all(&(end - start - 8).to_be_bytes()).map_err(io)?;
    f.seek(SeekFrom::Start(end)).map_err(io)?;
    Ok(())
}

/// SHA-256 of a file, read in chunks.
fn sha256_file(path: &Path) -> Result<String> {
    use crate::crypto::Digest;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = crate::crypto::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crypto::hex(&h.finalize()))
}

/// A stream failure as the core's error: damage stays tampering.
pub(crate) fn stream_error(e: stream::StreamError, what: &str) -> Error {
    e.into_error(what)
}

fn parse_uid(hex: &str) -> Result<[u8; 16]> {
    data_encoding::HEXLOWER
        .decode(hex.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::tampered("a package file id is malformed"))
}

/// What `unpack` found and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Unpacked {
    pub vault_id: String,
    pub council: String,
    pub created_at: String,
    pub made_by: String,
    pub files: Vec<ManifestFile>,
    pub to: PathBuf,
}

/// Check and extract a package into `to` (a new or empty directory). Files
/// appear only once every file has checked; on any failure none is left.
pub fn unpack(package: &Path, to: &Path, open: Open) -> Result<Unpacked> {
    let f = File::open(package).map_err(|e| Error::io(package, e))?;
    unpack_from(&mut BufReader::new(f), package, to, open)
}

/// [`unpack`] from any reader of package bytes (`what` names it in errors).
pub fn unpack_from(r: &mut impl BufRead, what: &Path, to: &Path, open: Open) -> Result<Unpacked> {
    let package = what;
    let mut line = Vec::new();
    r.take(MAX_HEADER)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io(package, e))?;
    let header: Header = serde_json::from_slice(&line)
        .ok()
        .filter(|h: &Header| h.format == FORMAT)
        .ok_or_else(|| Error::invalid("the file is not a Kinko return package"))?;
    if header.version != VERSION {
        return Err(Error::Unsupported(format!(
            "package version {}",
            header.version
        )));
    }
    let package_key = open_key(&header, open)?;
    let sealed = read_block(r, MAX_MANIFEST)?;
    let manifest: Manifest = crypto::open(&package_key, &crypto::sha256(&line), &sealed)
        .and_then(|m| serde_json::from_slice(&m).ok())
        .ok_or_else(|| Error::tampered("the package's header or manifest was changed"))?;
    prepare_dir(to)?;
    let mut written: Vec<(tempfile::TempPath, PathBuf)> = Vec::new();
    for (index, file) in manifest.files.iter().enumerate() {
        let target = to.join(safe_name(file.document, &file.name));
        let uid = parse_uid(&file.uid)?;
        let key = file_key(&package_key, index, &uid);
        let len = read_len(r)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".kinko-unpack-")
            .tempfile_in(to)
            .map_err(|e| Error::io(to, e))?;
        let mut chunk = r.take(len);
        let digest = stream::decrypt(&key, uid, 1, &mut chunk, tmp.as_file_mut())
            .map_err(|e| stream_error(e, &target.display().to_string()))?;
        if chunk.limit() != 0
            || crypto::hex(&digest.sha256) != file.sha256
            || digest.len != file.size
        {
            return Err(Error::tampered(format!(
                "file {} of the package does not match its manifest",
                file.document
            )));
        }
        tmp.as_file().sync_all().map_err(|e| Error::io(to, e))?;
        written.push((tmp.into_temp_path(), target));
    }
    let mut rest = [0u8; 1];
    if r.read(&mut rest).map_err(|e| Error::io(package, e))? != 0 {
        return Err(Error::tampered("the package has bytes after its last file"));
    }
    for (tmp, target) in written {
        tmp.persist_noclobber(&target)
            .map_err(|e| Error::io(&target, e.error))?;
    }
    crate::fsutil::sync_dir(to)?;
    Ok(Unpacked {
        vault_id: manifest.vault_id,
        council: manifest.council,
        created_at: manifest.created_at,
        made_by: manifest.made_by,
        files: manifest.files,
        to: to.to_path_buf(),
    })
}

fn open_key(header: &Header, open: Open) -> Result<crypto::Key32> {
    let context = key_context(&header.vault_id);
    let raw = match (&header.protection, open) {
        (Protection::Recipient { enc, wrapped, .. }, Open::Key(secret)) => {
            let w = Wrapped {
                enc: crypto::unb64(enc, "the package key")?,
                ciphertext: crypto::unb64(wrapped, "the package key")?,
            };
            crypto::hpke_unwrap(secret, &context, &w).ok_or(Error::BadCredentials)?
        }
        (Protection::Passphrase { kdf, sealed }, Open::Passphrase(pass)) => {
            let kek = kdf.derive(pass)?;
            crypto::open(&kek, &context, &crypto::unb64(sealed, "the package key")?)
                .ok_or(Error::BadCredentials)?
        }
        (Protection::Recipient { fingerprint, .. }, Open::Passphrase(_)) => {
            return Err(Error::field(
                "key",
                format!("the package is for the recipient key {fingerprint}: give that recipient's key file"),
            ))
        }
        (Protection::Passphrase { .. }, Open::Key(_)) => {
            return Err(Error::invalid(
                "the package is protected by a passphrase, not a key",
            ))
        }
    };
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() != 32 {
        return Err(Error::tampered("the package key has the wrong length"));
    }
    key.copy_from_slice(&raw);
    Ok(key)
}

fn read_len(r: &mut impl Read) -> Result<u64> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)
        .map_err(|_| Error::tampered("the package is truncated"))?;
    Ok(u64::from_be_bytes(len))
}

fn read_block(r: &mut impl Read, max: u64) -> Result<Vec<u8>> {
    let len = read_len(r)?;
    if len > max {
        return Err(Error::tampered(
            "the package's manifest is implausibly large",
        ));
    }
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v)
        .map_err(|_| Error::tampered("the package is truncated"))?;
    Ok(v)
}

fn prepare_dir(to: &Path) -> Result<()> {
    match std::fs::read_dir(to) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::invalid(format!(
                    "{} is not empty; unpack into a new directory",
                    to.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => crate::fsutil::create_private_dir(to),
        Err(e) => Err(Error::io(to, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_directory() {
        assert_eq!(safe_name(3, "../../etc/passwd"), "3-passwd");
        assert_eq!(safe_name(3, "a\\b\\..\\c.txt"), "3-c.txt");
        assert_eq!(safe_name(3, "..."), "3");
        assert_eq!(safe_name(3, "名簿.csv"), "3-名簿.csv");
    }

    #[test]
    fn recipient_files_round_trip_and_catch_edits() {
        let r = new_recipient();
        let public = read_public(r.public.as_bytes()).unwrap();
        assert_eq!(fingerprint(&public), r.fingerprint);
        read_secret(r.key.as_bytes()).unwrap();
        let edited = r.public.replacen(&r.fingerprint[..4], "0000", 1);
        assert!(read_public(edited.as_bytes()).is_err());
        assert!(read_public(b"{}").is_err());
    }
}
