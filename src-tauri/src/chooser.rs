//! What the person chose in the system's file chooser (or dropped on the
//! window), kept in the shell. The page never sends a path: it receives an
//! opaque, one-time handle and a name to show, and gives the handle back
//! to the command that reads or writes there. Script in the page (an XSS,
//! an inspector) can therefore reach only files the person picked, once,
//! for the purpose they were picked for.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::CommandError;

/// A file to receive, or a folder to save into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
}

/// What the page is given for a choice: the handle to send back and what
/// to show the person (the path, so they see where it goes).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Chosen {
    pub handle: String,
    pub name: String,
}

/// How many choices wait at once; an older one is forgotten.
const KEPT: usize = 8;

#[derive(Default)]
pub struct Choices {
    waiting: Mutex<VecDeque<(String, Kind, PathBuf)>>,
}

impl Choices {
    /// Keep a path the person chose and hand out its handle.
    pub fn offer(&self, kind: Kind, path: PathBuf) -> Chosen {
        let handle = hex(&kinko_core::crypto::random::<16>());
        let name = path.display().to_string();
        let mut waiting = self.lock();
        if waiting.len() >= KEPT {
            waiting.pop_front();
        }
        waiting.push_back((handle.clone(), kind, path));
        Chosen { handle, name }
    }

    /// The path behind `handle`, once: it is forgotten as it is taken.
    /// Anything else (a typed path, a used or unknown handle, a folder
    /// where a file is wanted, a file that is gone) is refused.
    pub fn take(&self, handle: &str, kind: Kind) -> Result<PathBuf, CommandError> {
        let mut waiting = self.lock();
        let at = waiting
            .iter()
            .position(|(h, k, _)| h == handle.trim() && *k == kind)
            .ok_or_else(|| {
                CommandError::invalid(match kind {
                    Kind::File => "choose the file with the chooser (each choice is used once)",
                    Kind::Folder => "choose the folder with the chooser (each choice is used once)",
                })
            })?;
        let (_, _, path) = waiting.remove(at).expect("position is in range");
        drop(waiting);
        still_there(kind, &path)?;
        Ok(path)
    }

    /// Forget every choice (the lock, a sign-out): the next person picks
    /// their own.
    pub fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, Kind, PathBuf)>> {
        match self.waiting.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The end-to-end run cannot drive the system's chooser dialog (WebDriver
/// reaches only the page), so builds made for it (`webdriver`, debug only)
/// take the answer from the file named by `$KINKO_E2E_CHOOSER`, written by
/// the test before it clicks the button; no file means "cancelled". The
/// shipped app always opens the real dialog.
#[cfg(all(debug_assertions, feature = "webdriver"))]
pub fn scripted_answer() -> Option<Option<PathBuf>> {
    let file = std::env::var_os("KINKO_E2E_CHOOSER")?;
    let answer = std::fs::read_to_string(&file).ok();
    let _ = std::fs::remove_file(&file);
    Some(answer.map(|a| PathBuf::from(a.trim())))
}

#[cfg(not(all(debug_assertions, feature = "webdriver")))]
pub fn scripted_answer() -> Option<Option<PathBuf>> {
    None
}

/// Only regular files may be received, and only existing folders saved
/// into: a chosen path is checked again when it is used.
fn still_there(kind: Kind, path: &Path) -> Result<(), CommandError> {
    let ok = match kind {
        Kind::File => path.is_file(),
        Kind::Folder => path.is_dir(),
    };
    if ok {
        Ok(())
    } else {
        Err(CommandError::invalid(format!(
            "{} is no longer there; choose again",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_opens_its_own_kind_once_and_a_path_never() {
        let d = tempfile::tempdir().unwrap();
        let pdf = d.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF").unwrap();
        let c = Choices::default();
        let f = c.offer(Kind::File, pdf.clone());
        assert_eq!(f.name, pdf.display().to_string());
        assert!(c.take(&f.name, Kind::File).is_err(), "a raw path");
        assert!(c.take(&f.handle, Kind::Folder).is_err(), "the wrong kind");
        assert_eq!(c.take(&f.handle, Kind::File).unwrap(), pdf);
        assert!(c.take(&f.handle, Kind::File).is_err(), "used twice");
        let gone = c.offer(Kind::File, d.path().join("gone.pdf"));
        assert!(
            c.take(&gone.handle, Kind::File).is_err(),
            "a file that is gone"
        );
        let dir = c.offer(Kind::Folder, d.path().to_path_buf());
        c.forget();
        assert!(c.take(&dir.handle, Kind::Folder).is_err(), "forgotten");
    }

    #[test]
    fn only_the_newest_choices_wait() {
        let c = Choices::default();
        let first = c.offer(Kind::File, PathBuf::from("/tmp/0"));
        for i in 1..=KEPT {
            c.offer(Kind::File, PathBuf::from(format!("/tmp/{i}")));
        }
        assert!(c.take(&first.handle, Kind::File).is_err());
    }
}
