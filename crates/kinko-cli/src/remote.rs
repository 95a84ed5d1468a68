//! The office server as the command opens it: this terminal's enrolment
//! and its replica of the server's vault (`docs/server.md`).

use std::path::PathBuf;
use std::sync::Arc;

use kinko_remote::{Device, RemoteVault, Server};

use crate::failure::Failure;

/// The vault of the server this terminal is enrolled with, through its
/// replica in the state folder. `url` must be that server's.
pub fn upstream(url: &str) -> Result<(Device, Arc<RemoteVault>), Failure> {
    let device = Device::default_location()?;
    let record = device.server()?.ok_or_else(|| {
        kinko_core::Error::TerminalRefused(format!(
            "this terminal is not enrolled with {url} (run `kinko device enroll`)"
        ))
    })?;
    if record.url.trim_end_matches('/') != url.trim_end_matches('/') {
        return Err(
            anyhow::anyhow!("this terminal is enrolled with {}, not {url}", record.url).into(),
        );
    }
    let server = Server::enrolled(&device)?;
    Ok((device, Arc::new(RemoteVault::new(server, &record.terminal))))
}

/// Where this terminal keeps its replica of the server's vault.
pub fn replica_dir(device: &Device) -> PathBuf {
    device.dir().with_file_name("replica")
}
