//! What makes this machine a terminal of one office server: the server's
//! address, its CA (pinned at enrolment), the terminal's own P-256 key
//! and the certificate the server gave it. Kept in `device/` of the
//! terminal's state folder (`$KINKO_STATE_DIR`), outside every vault;
//! files 0600 in a 0700 folder, never read or written through a link.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use kinko_core::Error;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const SERVER_FILE: &str = "server.json";
const PENDING_FILE: &str = "pending.json";
const CA_FILE: &str = "ca.pem";
const KEY_FILE: &str = "terminal.key";
const CERT_FILE: &str = "terminal.pem";

type Result<T> = std::result::Result<T, Error>;

/// Which server this terminal belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerRecord {
    pub url: String,
    pub ca_fingerprint: String,
    pub terminal: String,
}

/// An enrolment that waits for the system administrator's approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub url: String,
    pub ca_fingerprint: String,
    pub request: String,
    pub code: String,
}

/// The terminal's folder of device files.
pub struct Device {
    dir: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.into(),
        source: e,
    }
}

impl Device {
    /// The device folder under a terminal's state folder.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Device {
            dir: state_dir.join("device"),
        }
    }

    /// The default: under `kinko_core::vault::default_state_dir`.
    pub fn default_location() -> Result<Self> {
        kinko_core::vault::default_state_dir()
            .map(|d| Device::in_state_dir(&d))
            .ok_or_else(|| Error::Invalid("no state folder: set KINKO_STATE_DIR or HOME".into()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn ensure_dir(&self) -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io(&self.dir, e))
    }

    /// Write a file whole: a new inode renamed into place, so a reader
    /// never sees half of it and a link in its place is replaced, not
    /// followed.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.ensure_dir()?;
        let tmp = self.path(&format!(".{name}.new"));
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, self.path(name)).map_err(|e| io(&tmp, e))
    }

    fn read(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let path = self.path(name);
        let mut f = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let mut buf = Zeroizing::new(Vec::new());
        f.read_to_end(&mut buf).map_err(|e| io(&path, e))?;
        Ok(Some(buf))
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<T>> {
        self.read(name)?
            .map(|b| {
                serde_json::from_slice(&b).map_err(|_| {
                    Error::Tampered(format!(
                        "{} is not what Kinko wrote",
                        self.path(name).display()
                    ))
                })
            })
            .transpose()
    }

    fn read_text(&self, name: &str) -> Result<Option<Zeroizing<String>>> {
        self.read(name)?
            .map(|b| {
                String::from_utf8(b.to_vec())
                    .map(Zeroizing::new)
                    .map_err(|_| {
                        Error::Tampered(format!("{} is not text", self.path(name).display()))
                    })
            })
            .transpose()
    }

    /// The server this terminal is enrolled with, if any.
    pub fn server(&self) -> Result<Option<ServerRecord>> {
        self.read_json(SERVER_FILE)
    }

    pub fn pending(&self) -> Result<Option<Pending>> {
        self.read_json(PENDING_FILE)
    }

    pub(crate) fn save_pending(&self, pending: &Pending, key_pem: &str) -> Result<()> {
        self.write(KEY_FILE, key_pem.as_bytes())?;
        self.write(
            PENDING_FILE,
            &serde_json::to_vec(pending).map_err(|e| Error::Invalid(e.to_string()))?,
        )
    }

    /// The key a waiting enrolment made.
    pub(crate) fn key_pem(&self) -> Result<Option<Zeroizing<String>>> {
        self.read_text(KEY_FILE)
    }

    /// Record a finished enrolment: the CA, the key, the certificate and
    /// the server; a waiting request is done with.
    pub(crate) fn save_enrolled(
        &self,
        record: &ServerRecord,
        ca_pem: &str,
        key_pem: &str,
        cert_pem: &str,
    ) -> Result<()> {
        self.write(CA_FILE, ca_pem.as_bytes())?;
        self.write(KEY_FILE, key_pem.as_bytes())?;
        self.write(CERT_FILE, cert_pem.as_bytes())?;
        self.write(
            SERVER_FILE,
            &serde_json::to_vec(record).map_err(|e| Error::Invalid(e.to_string()))?,
        )?;
        match std::fs::remove_file(self.path(PENDING_FILE)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&self.path(PENDING_FILE), e)),
        }
    }

    /// The files a connection needs: CA, certificate, key (PEM).
    pub(crate) fn credentials(
        &self,
    ) -> Result<(Zeroizing<String>, Zeroizing<String>, Zeroizing<String>)> {
        let missing = || {
            Error::TerminalRefused(format!(
                "this terminal is not enrolled (no complete enrolment in {}; run `kinko device enroll`)",
                self.dir.display()
            ))
        };
        Ok((
            self.read_text(CA_FILE)?.ok_or_else(missing)?,
            self.read_text(CERT_FILE)?.ok_or_else(missing)?,
            self.read_text(KEY_FILE)?.ok_or_else(missing)?,
        ))
    }
}
