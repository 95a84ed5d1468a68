//! Small, careful file operations: atomic replacement (temp, fsync,
//! rename, fsync the directory) and overwrite-then-unlink removal.

use std::fs::{self, File, OpenOptions};
use std::io::Write;

use crate::crypto::{Digest, Sha256};
use std::path::Path;

use crate::error::{Error, Result};

/// Replace `path` with `bytes` so that a crash leaves either the old or the
/// new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = written_beside(path, bytes)?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(parent(path))
}

/// `bytes` in a durable temporary file (0600) in the directory of `path`.
fn written_beside(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    Ok(tmp)
}

/// The directory a new output file goes in; refuses a name that exists,
/// since an output never replaces a file.
pub fn new_file_dir(out: &Path) -> Result<&Path> {
    if out.exists() {
        return Err(taken(out));
    }
    Ok(parent(out))
}

fn taken(path: &Path) -> Error {
    Error::invalid(format!(
        "{} already exists; choose a new file name",
        path.display()
    ))
}

/// Write new files a person asked for (forms, reports, checkpoints,
/// exports of text): all or none, readable by the owner only (0600),
/// never over an existing file and never through a link (each is written
/// to a temporary file beside it and linked into place, which fails if
/// anything, a symlink included, holds the name).
pub fn write_new_files(files: &[(&Path, &[u8])]) -> Result<()> {
    for (path, _) in files {
        if fs::symlink_metadata(path).is_ok() {
            return Err(taken(path));
        }
    }
    let mut placed: Vec<&Path> = Vec::new();
    let result = files.iter().try_for_each(|(path, bytes)| {
        place_new(path, bytes)?;
        placed.push(path);
        Ok(())
    });
    if result.is_err() {
        // All or none: what was placed before the failure goes again.
        for path in placed {
            let _ = fs::remove_file(path);
        }
    }
    result
}

fn place_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = NewFile::create_for(path)?;
    out.file()
        .write_all(bytes)
        .map_err(|e| Error::io(path, e))?;
    out.place()
}

/// A new output file that has no name until it is complete (D4: a killed
/// export leaves no plaintext behind). On Linux it is opened with
/// `O_TMPFILE` in the output's folder, so it is an inode with no name,
/// freed by the kernel if the process dies, and linked into place only
/// when written and synced (`linkat`, which fails if anything, a link
/// included, holds the name). The folder is opened once, first: a folder
/// Kinko may not read (to sync it) is refused before a byte is written,
/// and the name is given in that folder even if its path is swapped
/// meanwhile. Once the
/// name is given, the file is there: nothing after it can fail (an export
/// that reported failure with its file in place would hand its approval
/// back). A file system without `O_TMPFILE` (FAT on some USB sticks, some
/// network shares) gets a hidden temporary file beside the output
/// instead, removed on every failure the process lives through; a kill
/// there leaves it (docs/key-management.md, known limits).
pub struct NewFile<'a> {
    path: &'a Path,
    folder: File,
    state: Unnamed,
}

enum Unnamed {
    Inode(File),
    Named(tempfile::NamedTempFile),
}

impl<'a> NewFile<'a> {
    /// Begin `path`; refuses a name that is already taken.
    pub fn create_for(path: &'a Path) -> Result<Self> {
        if fs::symlink_metadata(path).is_ok() {
            return Err(taken(path));
        }
        let dir = parent(path);
        let folder = open_folder(dir).map_err(|e| Error::io(dir, e))?;
        let state = match open_unnamed(&folder) {
            Ok(f) => Unnamed::Inode(f),
            Err(e) if unnamed_unsupported(&e) => Unnamed::Named(
                tempfile::Builder::new()
                    .prefix(".kinko-export-")
                    .tempfile_in(dir)
                    .map_err(|e| Error::io(dir, e))?,
            ),
            Err(e) => return Err(Error::io(dir, e)),
        };
        Ok(NewFile {
            path,
            folder,
            state,
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut File {
        match &mut self.state {
            Unnamed::Inode(f) => f,
            Unnamed::Named(t) => t.as_file_mut(),
        }
    }

    /// Sync the bytes and give the file its name. Dropped without this,
    /// nothing is left.
    pub fn place(self) -> Result<()> {
        let path = self.path;
        let taken_or_io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::AlreadyExists => taken(path),
            _ => Error::io(path, e),
        };
        match self.state {
            Unnamed::Inode(f) => {
                f.sync_all().map_err(|e| Error::io(path, e))?;
                link_unnamed(&f, &self.folder, path).map_err(taken_or_io)?;
            }
            Unnamed::Named(t) => {
                t.as_file().sync_all().map_err(|e| Error::io(path, e))?;
                t.persist_noclobber(path)
                    .map_err(|e| taken_or_io(e.error))?;
            }
        }
        // The name is given: the file is there whatever happens now. A
        // folder that cannot be synced makes the name less durable, not
        // the export undone.
        let _ = self.folder.sync_all();
        Ok(())
    }
}

/// The output's folder (the person chose it, links and all), opened once
/// to make the file in it and to sync it.
fn open_folder(dir: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
}

/// An inode with no name in `folder`, readable by the owner only.
fn open_unnamed(folder: &File) -> std::io::Result<File> {
    use std::os::unix::io::{AsRawFd, FromRawFd};
    // SAFETY: a valid folder descriptor and a NUL-terminated path; the
    // descriptor returned is ours alone and is owned by the File.
    let fd = unsafe {
        libc::openat(
            folder.as_raw_fd(),
            c".".as_ptr(),
            libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The errors open(2) gives where a file system has no `O_TMPFILE`.
fn unnamed_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL)
    )
}

/// Give an `O_TMPFILE` inode its name in `folder`, as open(2) shows:
/// `linkat` of `/proc/self/fd/N`, following that one magic link. The new
/// name is never followed: a link already there makes it fail with
/// `EEXIST`.
fn link_unnamed(f: &File, folder: &File, path: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let from = CString::new(format!("/proc/self/fd/{}", f.as_raw_fd())).map_err(|_| invalid())?;
    let name = path.file_name().ok_or_else(invalid)?;
    let to = CString::new(name.as_bytes()).map_err(|_| invalid())?;
    // SAFETY: valid descriptors and NUL-terminated strings that outlive
    // the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            folder.as_raw_fd(),
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Make a rename or unlink in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Overwrite a file's bytes with zeros, flush, then unlink it. On a
/// copy-on-write or flash file system the overwrite is best effort: the
/// real guarantee is that the key opening these bytes is destroyed.
///
/// Only a regular file is touched: the name is opened without following a
/// link (`O_NOFOLLOW`) and without waiting on a pipe, and anything but a
/// regular file (a link someone planted to a file outside the vault, a
/// pipe, a directory) is left alone and reported as tampering.
pub fn remove_overwritten(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(not_made_by_kinko(path)),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            return Err(not_made_by_kinko(path))
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_made_by_kinko(path));
    }
    let zeros = vec![0u8; 64 * 1024];
    let mut left = meta.len();
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n]).map_err(|e| Error::io(path, e))?;
        left -= n as u64;
    }
    f.sync_all().map_err(|e| Error::io(path, e))?;
    drop(f);
    fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    sync_dir(parent(path))
}

fn not_made_by_kinko(path: &Path) -> Error {
    Error::tampered(format!(
        "{} is not a file Kinko made (a link, a pipe or a directory put in its place); it was left alone",
        path.display()
    ))
}

/// A lock file (for `flock`), made 0600 and never opened through a link.
pub(crate) fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Make a directory readable only by its owner, and its missing parents,
/// if it is not there yet.
pub fn ensure_private_dir(path: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(|e| Error::io(path, e))
}

/// Create a directory readable only by its owner.
pub fn create_private_dir(path: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(|e| Error::io(path, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A writer that hashes (SHA-256) and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The SHA-256 and length of everything written.
    pub(crate) fn finish(self) -> ([u8; 32], u64) {
        (self.hasher.finalize().into(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_file_has_no_name_until_it_is_placed() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out.csv");
        let mut f = NewFile::create_for(&out).unwrap();
        assert!(
            matches!(f.state, Unnamed::Inode(_)),
            "this file system has O_TMPFILE: the file must have no name"
        );
        f.file().write_all(b"secret").unwrap();
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "a name appeared"
        );
        drop(f);
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "dropped, nothing is left"
        );
        let mut f = NewFile::create_for(&out).unwrap();
        f.file().write_all(b"secret").unwrap();
        // Someone takes the name meanwhile (a link to elsewhere): refused.
        let elsewhere = d.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &out).unwrap();
        assert!(f.place().is_err());
        assert!(!elsewhere.exists(), "the link was followed");
        fs::remove_file(&out).unwrap();
        let mut f = NewFile::create_for(&out).unwrap();
        f.file().write_all(b"secret").unwrap();
        f.place().unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"secret");
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            NewFile::create_for(&out).is_err(),
            "a taken name is refused"
        );
    }

    #[test]
    fn new_files_are_private_all_or_none_and_never_over_a_name_or_a_link() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.html"), d.path().join("a.json"));
        write_new_files(&[(&a, b"one"), (&b, b"two")]).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A taken name refuses the whole set.
        let c = d.path().join("c.html");
        assert!(write_new_files(&[(&c, b"x"), (&a, b"y")]).is_err());
        assert!(!c.exists(), "all or none");
        assert_eq!(fs::read(&a).unwrap(), b"one");
        // A later file that cannot be written takes back the earlier ones.
        let nowhere = d.path().join("missing-folder/c.json");
        assert!(write_new_files(&[(&c, b"x"), (&nowhere, b"y")]).is_err());
        assert!(!c.exists(), "an earlier file was left behind");
        // A planted link, even one pointing nowhere, is never written through.
        let outside = d.path().join("outside");
        let link = d.path().join("link.html");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(write_new_files(&[(&link, b"z")]).is_err());
        assert!(!outside.exists());
        // Nothing is left behind by a refused or a finished write.
        let mut names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.html", "a.json", "link.html"]);
    }

    #[test]
    fn removal_never_follows_a_link_or_touches_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"someone else's file").unwrap();
        let link = dir.path().join("session");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(matches!(remove_overwritten(&link), Err(Error::Tampered(_))));
        assert_eq!(fs::read(&outside).unwrap(), b"someone else's file");
        let sub = dir.path().join("a-directory");
        fs::create_dir(&sub).unwrap();
        assert!(matches!(remove_overwritten(&sub), Err(Error::Tampered(_))));
        assert!(sub.is_dir());
        let ours = dir.path().join("ours");
        fs::write(&ours, b"key material").unwrap();
        remove_overwritten(&ours).unwrap();
        assert!(!ours.exists());
        remove_overwritten(&ours).unwrap();
    }
}
