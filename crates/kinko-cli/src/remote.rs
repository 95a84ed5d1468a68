//! The office server as the command opens it: this terminal's enrolment
//! and its replica of the server's vault (`docs/server.md`); the opening
//! itself is `kinko_remote::terminal`'s, shared with the app.

use kinko_remote::Device;

use crate::failure::Failure;

/// This terminal's device, enrolled with the server `url` names.
pub fn enrolled_with(url: &str) -> Result<Device, Failure> {
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
    Ok(device)
}
