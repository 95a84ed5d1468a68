//! Where things are inside a vault directory. Every module that names a
//! file of the vault takes the name from here.

pub const DB_FILE: &str = "kinko.db";
/// The database written again under a new key, until it replaces
/// `DB_FILE` (`rekey`); one left by a killed run is removed by the next.
pub const DB_REKEY_FILE: &str = "kinko.db.rekey";
pub const KEYSLOTS_FILE: &str = "keyslots";
pub const OBJECTS_DIR: &str = "objects";
pub const SESSIONS_DIR: &str = "sessions";
pub const INBOX_DIR: &str = "inbox";
/// In a terminal's replica of an office server's vault: this folder is
/// the server's vault seen through its log, never a vault of its own.
pub const REPLICA_MARKER: &str = "replica-of-server";
/// The lockout counts beside the keyslots (`lockout.rs`), and the file
/// locked while a guess is counted.
pub const SIGNIN_STATE_FILE: &str = "signin-state";
pub const SIGNIN_LOCK_FILE: &str = "signin-state.lock";

/// The files and folders of a vault that Kinko makes at its top level.
const OWN_FILES: &[&str] = &[
    DB_FILE,
    "kinko.db-wal",
    "kinko.db-shm",
    DB_REKEY_FILE,
    KEYSLOTS_FILE,
    SIGNIN_STATE_FILE,
    SIGNIN_LOCK_FILE,
];
const OWN_DIRS: &[&str] = &[OBJECTS_DIR, SESSIONS_DIR, INBOX_DIR];

/// Every vault file readable by its owner only (0600) and the folders
/// 0700, put right at every open (SQLite makes its files with the
/// process's umask, and a copied vault keeps whatever modes it had); a
/// link in the place of one of them is tampering, never followed.
pub(crate) fn make_private(dir: &std::path::Path) -> crate::error::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tighten = |path: &std::path::Path, mode: u32, is_dir: bool| {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::error::Error::io(path, e)),
        };
        if meta.file_type().is_symlink() || meta.is_dir() != is_dir {
            return Err(crate::error::Error::tampered(format!(
                "{} is not what Kinko made there (a link or another kind of file)",
                path.display()
            )));
        }
        if meta.permissions().mode() & 0o777 != mode {
            set_mode(path, mode)?;
        }
        Ok(())
    };
    if std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        set_mode(dir, 0o700)?;
    }
    for name in OWN_FILES {
        tighten(&dir.join(name), 0o600, false)?;
    }
    for name in OWN_DIRS {
        tighten(&dir.join(name), 0o700, true)?;
    }
    Ok(())
}

/// Set a mode; a file system that has no modes (vfat, exFAT, some shares)
/// refuses, and is left as it is.
fn set_mode(path: &std::path::Path, mode: u32) -> crate::error::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Ok(()) => Ok(()),
        Err(e)
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || e.kind() == std::io::ErrorKind::Unsupported =>
        {
            Ok(())
        }
        Err(e) => Err(crate::error::Error::io(path, e)),
    }
}
