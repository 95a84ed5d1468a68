//! Backup and restore of a server (issue 16). The tables are copied by
//! PostgreSQL's own `pg_basebackup` (a consistent copy of a running
//! cluster, its WAL included), then every object through `object_store`,
//! then the server's folder. That order makes the copy whole: a terminal
//! stores an object before the unit that names it, and the server never
//! deletes one, so every object a copied unit names is there when the
//! objects are copied after the tables.
//!
//! Everything in a backup is what the server holds: ciphertext, sealed
//! units, signed events, and the CA's private key. It opens no document,
//! but the CA key enrols terminals: keep a backup as the server's disk is
//! kept (an encrypted medium, locked away).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::authority::Authority;
use crate::config::{self, ServerDir, Settings};
use crate::error::{Error, Result};
use crate::objects::Objects;
use crate::{log, store};

/// What a backup says of itself (`backup.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub made_at: String,
    /// The CA of the server it was taken from: a restore checks the
    /// copied database belongs to it.
    pub ca_fingerprint: String,
    /// Units in the log when the copy of the tables began (the copy may
    /// hold more: those committed while it ran).
    pub units: u64,
    pub objects: u64,
    /// Where the objects were kept (a folder or an s3:// URL).
    pub objects_from: String,
}

const MANIFEST: &str = "backup.json";
const DATABASE: &str = "database";
const OBJECTS: &str = "objects";
const SERVER: &str = "server";
/// The server's files a backup keeps (its settings are written anew at a
/// restore: the database and the objects are somewhere else then).
const SERVER_FILES: [&str; 4] = [
    config::CA_CERT_FILE,
    config::CA_KEY_FILE,
    config::SERVER_CERT_FILE,
    config::SERVER_KEY_FILE,
];

/// Copy the server in `server` into `to` (a new or empty folder).
pub async fn backup(server: &ServerDir, to: &Path) -> Result<Manifest> {
    let settings = server.settings()?;
    let authority = Authority::load(server)?;
    let ca_fingerprint = authority.fingerprint()?;
    let pool = store::pool(&settings.database)?;
    store::check_claim(&pool, &ca_fingerprint).await?;
    make_folder(to)?;
    let units = log::head(&pool).await?;
    base_backup(&settings.database, &to.join(DATABASE))?;
    let objects = copy_objects_out(&Objects::open(&settings.objects)?, &to.join(OBJECTS)).await?;
    make_folder(&to.join(SERVER))?;
    for name in SERVER_FILES {
        write_new(&to.join(SERVER).join(name), &server.read(name)?)?;
    }
    let manifest = Manifest {
        made_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ca_fingerprint,
        units,
        objects,
        objects_from: settings.objects.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Invalid(format!("the manifest: {e}")))?;
    write_new(&to.join(MANIFEST), &json)?;
    Ok(manifest)
}

/// Make a server in `dir` from the backup in `from`: its CA and
/// certificates, its objects put into `objects` (default `DIR/objects`),
/// its tables in `database`, which must be the backup's `database` folder
/// started as a PostgreSQL cluster (`docs/server.md`).
pub async fn restore(
    from: &Path,
    dir: &ServerDir,
    database: String,
    objects: Option<String>,
) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(&read(&from.join(MANIFEST))?)
        .map_err(|e| Error::Invalid(format!("{}: {e}", from.join(MANIFEST).display())))?;
    // The database first: a restore whose tables are not the backup's
    // leaves no folder behind.
    let pool = store::pool(&database)?;
    store::check_claim(&pool, &manifest.ca_fingerprint).await?;
    let units = log::head(&pool).await?;
    if units < manifest.units {
        return Err(Error::Invalid(format!(
            "the database holds {units} units but the backup was taken at {}: it is not this backup's copy",
            manifest.units
        )));
    }
    dir.create()?;
    for name in SERVER_FILES {
        dir.write_new(name, &read(&from.join(SERVER).join(name))?)?;
    }
    let objects = objects.unwrap_or_else(|| dir.path().join(OBJECTS).display().to_string());
    copy_objects_in(&from.join(OBJECTS), &Objects::open(&objects)?).await?;
    let listen = config::DEFAULT_LISTEN.to_string();
    dir.write_settings(&Settings {
        database,
        objects,
        listen,
    })?;
    Ok(manifest)
}

/// A folder of the backup: new or empty, 0700.
fn make_folder(path: &Path) -> Result<()> {
    if let Ok(mut entries) = std::fs::read_dir(path) {
        if entries.next().is_some() {
            return Err(Error::Exists(path.into()));
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(path, e))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = new_file(path)?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// A new file, readable by its owner only, never through a link.
fn new_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

/// `pg_basebackup` of the cluster `url` names into `to` (plain format,
/// the WAL streamed with it). The connection goes by libpq's environment,
/// not the command line, so a password is not shown to `ps`.
fn base_backup(url: &str, to: &Path) -> Result<()> {
    let mut command = Command::new("pg_basebackup");
    command
        .args(["-X", "stream", "-c", "fast", "--no-password", "-D"])
        .arg(to);
    libpq_environment(url, &mut command)?;
    let out = command.output().map_err(|e| {
        Error::Database(format!(
            "cannot run pg_basebackup (Debian's postgresql-client): {e}"
        ))
    })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(Error::Database(format!("pg_basebackup failed: {said}")));
    }
    Ok(())
}

/// The connection `url` names, as libpq's environment variables.
fn libpq_environment(url: &str, command: &mut Command) -> Result<()> {
    use tokio_postgres::config::{Host, TargetSessionAttrs};
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::Invalid(format!("the database URL: {e}")))?;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    // Nothing of the caller's own libpq settings leaks in.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
    command.env("PGHOST", hosts.join(","));
    if !ports.is_empty() {
        command.env("PGPORT", ports.join(","));
    }
    if let Some(user) = config.get_user() {
        command.env("PGUSER", user);
    }
    if let Some(password) = config.get_password() {
        command.env("PGPASSWORD", String::from_utf8_lossy(password).as_ref());
    }
    if let Some(timeout) = config.get_connect_timeout() {
        command.env("PGCONNECT_TIMEOUT", timeout.as_secs().max(1).to_string());
    }
    if config.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
        command.env("PGTARGETSESSIONATTRS", "read-write");
    }
    Ok(())
}

/// Every object of `store` into the folder `to`; how many.
async fn copy_objects_out(store: &Objects, to: &Path) -> Result<u64> {
    make_folder(to)?;
    let mut count = 0;
    for name in store.names().await? {
        let path = to.join(&name);
        let mut file = new_file(&path)?;
        let mut stream = store.stream(&name).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::Objects(e.to_string()))?;
            file.write_all(&chunk).map_err(|e| Error::io(&path, e))?;
        }
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        count += 1;
    }
    Ok(count)
}

/// Every object file in the folder `from` into `store`.
async fn copy_objects_in(from: &Path, store: &Objects) -> Result<u64> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| Error::io(from, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut count = 0;
    for path in names {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        store.put_file(name, &path).await?;
        count += 1;
    }
    Ok(count)
}
