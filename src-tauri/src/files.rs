//! Files the person asked the app to write (printable forms, reports,
//! exported checkpoints): always new files, readable by the owner only,
//! never over an existing one.

use std::path::{Path, PathBuf};

use crate::error::CommandError;

/// Write `contents` to `dir/name`, refusing if it exists (the core's one
/// writer of new files: 0600, all or none, never through a link).
pub fn write_new(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, CommandError> {
    if !dir.is_dir() {
        return Err(CommandError::invalid(format!(
            "the folder {} does not exist; choose another",
            dir.display()
        )));
    }
    let path = dir.join(name);
    kinko_core::fsutil::write_new_files(&[(&path, contents)])?;
    Ok(path)
}
