//! A terminal's side of the office server (issue 16): its enrolment, the
//! files that make it a terminal of one server (the pinned CA, its key
//! and certificate), and the calls it makes. Nothing here is a rule of
//! the vault's: those stay in `kinko-core`, which this crate serves.

pub mod device;
pub mod enrol;
mod http;
mod pin;
pub mod terminal;
pub mod vault;

pub use device::Device;
pub use enrol::{collect, enrol, parse_fingerprint, Enrolment, Outcome};
pub use http::Server;
pub use kinko_protocol::{Hello, TerminalInfo};
pub use vault::RemoteVault;
