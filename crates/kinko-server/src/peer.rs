//! Who is at the other end of a connection, as the accept loop
//! (`serve.rs`) attaches it to every request.

use std::net::SocketAddr;

/// Who is at the other end of a connection: its address and the
/// fingerprint of the client certificate it showed, if any (rustls has
/// already checked that the certificate chains to the server's CA).
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub certificate: Option<String>,
}
