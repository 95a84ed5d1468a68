//! The server's folder: its CA, its own certificate and its settings.
//! Everything in it is readable by the server's user only (0600 files in
//! a 0700 folder); the CA key is what makes terminal certificates.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
pub const SERVER_CERT_FILE: &str = "server.pem";
pub const SERVER_KEY_FILE: &str = "server.key";
pub const SETTINGS_FILE: &str = "server.json";

/// Where the server listens when `run` is not told.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";

/// What `kinko-server init` was told, kept for `run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// PostgreSQL, as a `postgresql://` URL (it may hold a password:
    /// hence the file's mode).
    pub database: String,
    /// Where ciphertext objects go: a folder path or an `s3://` URL.
    pub objects: String,
    pub listen: String,
}

/// The server's folder.
pub struct ServerDir {
    path: PathBuf,
}

impl ServerDir {
    pub fn new(path: &Path) -> Self {
        ServerDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Make the folder for a new server; one that already holds a server
    /// is refused, so a second `init` never replaces a CA terminals pin.
    pub fn create(&self) -> Result<()> {
        if self.file(SETTINGS_FILE).exists() || self.file(CA_KEY_FILE).exists() {
            return Err(Error::Exists(self.path.clone()));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Write a new file of the folder, readable by the owner only; an
    /// existing file or a link in its place is refused.
    pub fn write_new(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.file(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        f.sync_all().map_err(|e| Error::io(&path, e))
    }

    /// Read a file of the folder, never through a link.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        let path = self.file(name);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(format!(
                    "no Kinko server at {} (run `kinko-server init` first)",
                    self.path.display()
                )),
                _ => Error::io(&path, e),
            })?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(|e| Error::io(&path, e))?;
        Ok(buf)
    }

    pub fn read_text(&self, name: &str) -> Result<String> {
        String::from_utf8(self.read(name)?)
            .map_err(|_| Error::Invalid(format!("{name} is not text")))
    }

    pub fn settings(&self) -> Result<Settings> {
        serde_json::from_slice(&self.read(SETTINGS_FILE)?)
            .map_err(|e| Error::Invalid(format!("{SETTINGS_FILE}: {e}")))
    }

    pub fn write_settings(&self, settings: &Settings) -> Result<()> {
        self.write_new(SETTINGS_FILE, &settings_bytes(settings)?)
    }

    /// Replace the settings: written beside, then renamed over, so a
    /// crash leaves the old file or the new one, never half of one.
    pub fn replace_settings(&self, settings: &Settings) -> Result<()> {
        let staged = format!("{SETTINGS_FILE}.new");
        let _ = std::fs::remove_file(self.file(&staged));
        self.write_new(&staged, &settings_bytes(settings)?)?;
        std::fs::rename(self.file(&staged), self.file(SETTINGS_FILE))
            .map_err(|e| Error::io(self.file(SETTINGS_FILE), e))
    }
}

fn settings_bytes(settings: &Settings) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(settings).map_err(|e| Error::Invalid(format!("settings: {e}")))
}
