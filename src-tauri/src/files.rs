//! Files the person asked the app to write (printable forms, reports,
//! exported checkpoints): always new files, readable by the owner only,
//! never over an existing one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::commands::CommandError;

/// Write `contents` to `dir/name`, refusing if it exists.
pub fn write_new(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, CommandError> {
    if !dir.is_dir() {
        return Err(CommandError::invalid(format!(
            "the folder {} does not exist; choose another",
            dir.display()
        )));
    }
    let path = dir.join(name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CommandError::invalid(format!(
            "{} already exists; move it away or choose another folder",
            path.display()
        )),
        _ => CommandError::invalid(format!("{} could not be written: {e}", path.display())),
    })?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| {
            CommandError::invalid(format!("{} could not be written: {e}", path.display()))
        })?;
    Ok(path)
}
