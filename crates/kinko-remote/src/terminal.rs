//! This terminal's office server as a shell opens it (the `kinko`
//! command and the app alike): the enrolment, the replica folder, and the
//! vault through it.

use std::path::PathBuf;
use std::sync::Arc;

use kinko_core::{Error, Vault};

use crate::device::{Device, ServerRecord};
use crate::http::Server;
use crate::vault::RemoteVault;

type Result<T> = std::result::Result<T, Error>;

/// The server this terminal is enrolled with, and its calls as the core's
/// upstream.
pub fn upstream(device: &Device) -> Result<(ServerRecord, Arc<RemoteVault>)> {
    let record = device.server()?.ok_or_else(|| {
        Error::TerminalRefused(
            "this terminal is not enrolled with an office server (run `kinko device enroll`)"
                .into(),
        )
    })?;
    let server = Server::enrolled(device)?;
    let upstream = Arc::new(RemoteVault::new(server, &record.terminal));
    Ok((record, upstream))
}

/// Where this terminal keeps its replica of the server's vault: beside
/// its device folder, in the state folder.
pub fn replica_dir(device: &Device) -> PathBuf {
    device.dir().with_file_name("replica")
}

/// The state folder the device lives in: where this terminal also
/// remembers the audit trail each person saw.
fn state_dir(device: &Device) -> Option<PathBuf> {
    device.dir().parent().map(PathBuf::from)
}

/// The server's vault, through this terminal's replica.
pub fn open_vault(device: &Device) -> Result<Vault> {
    let (_, upstream) = upstream(device)?;
    let vault = Vault::open_replica(&replica_dir(device), upstream)?;
    Ok(match state_dir(device) {
        Some(state) => vault.remembering_in(&state),
        None => vault,
    })
}

/// Does the server hold a vault yet? (Asks it: the first terminal makes
/// the vault, the others find it.)
pub fn server_holds_vault(device: &Device) -> Result<bool> {
    use kinko_core::replica::Upstream;
    let (_, upstream) = upstream(device)?;
    Ok(upstream.state()?.vault.is_some())
}

/// Make the vault on the server this terminal is enrolled with.
pub fn create_vault(
    device: &Device,
    opts: kinko_core::InitOptions,
) -> Result<kinko_core::vault::Created> {
    let (_, upstream) = upstream(device)?;
    Vault::init_on_server(&replica_dir(device), opts, upstream)
}
