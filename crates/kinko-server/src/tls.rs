//! The server's TLS: 1.3 only, over AWS-LC, with its own certificate and
//! the CA's; a client certificate is asked for and checked against the CA
//! when one is sent. A request without one reaches only enrolment (the
//! API decides, route by route).

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ServerDir, CA_CERT_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE};
use crate::error::{Error, Result};

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::Tls(e.to_string())
}

/// The rustls configuration `run` serves with.
pub fn server_config(dir: &ServerDir) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let ca =
        CertificateDer::from_pem_slice(dir.read_text(CA_CERT_FILE)?.as_bytes()).map_err(tls_err)?;
    let own = CertificateDer::from_pem_slice(dir.read_text(SERVER_CERT_FILE)?.as_bytes())
        .map_err(tls_err)?;
    let key = PrivateKeyDer::from_pem_slice(dir.read_text(SERVER_KEY_FILE)?.as_bytes())
        .map_err(tls_err)?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(tls_err)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(tls_err)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        // The CA goes with the server's certificate, so that a terminal
        // that has only the fingerprint can find and pin it.
        .with_single_cert(vec![own, ca], key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
