//! Enrolling this terminal with an office server (CLI.md: `kinko device
//! enroll`). The terminal makes its P-256 key here, sends only a signing
//! request, and trusts the server only through the CA fingerprint the
//! operator gave. With a one-time token the certificate comes at once;
//! without one the server answers with a code for the system
//! administrator, and asking again collects the certificate once it is
//! approved.

use kinko_core::Error;
use kinko_protocol::{EnrolAnswer, EnrolRequest};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use zeroize::Zeroizing;

use crate::device::{Device, Pending, ServerRecord};
use crate::http::Server;

type Result<T> = std::result::Result<T, Error>;

/// What the person enrolling said.
pub struct Enrolment {
    pub url: String,
    /// The CA's SHA-256 fingerprint as `kinko-server init` printed it.
    pub ca_fingerprint: String,
    pub token: Option<String>,
    /// The terminal's name (default: the host name).
    pub name: String,
    /// The person the terminal is for, if named.
    pub account: Option<String>,
}

/// Where an enrolment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Enrolled { terminal: String },
    Waiting { code: String },
}

/// A fingerprint as people copy it: 64 hex digits, colons and spaces
/// allowed, any case.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32]> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    data_encoding::HEXLOWER
        .decode(hex.as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            Error::Invalid(
                "the CA fingerprint is 64 hexadecimal digits, as `kinko-server init` printed it"
                    .into(),
            )
        })
}

fn normalised(fingerprint: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(fingerprint)
}

/// Enrol, or collect a waiting enrolment for the same server.
pub fn enrol(device: &Device, e: &Enrolment) -> Result<Outcome> {
    let fingerprint = parse_fingerprint(&e.ca_fingerprint)?;
    if let Some(record) = device.server()? {
        return Err(Error::Invalid(format!(
            "this terminal is already enrolled with {} as {}",
            record.url, record.terminal
        )));
    }
    let server = Server::pinned(&e.url, &fingerprint)?;
    if e.token.is_none() {
        if let Some(p) = device.pending()? {
            if p.url == server.url() && p.ca_fingerprint == normalised(&fingerprint) {
                return collect(device);
            }
        }
    }
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::Crypto(format!("cannot make the terminal's key: {e}")))?;
    let key_pem = Zeroizing::new(key.serialize_pem());
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, e.name.as_str());
    params.distinguished_name = dn;
    let csr = params
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(|e| Error::Crypto(format!("cannot make the certificate request: {e}")))?;
    let answer = server.enrol(&EnrolRequest {
        csr,
        name: e.name.clone(),
        account: e.account.clone(),
        token: e.token.clone(),
    })?;
    settle(device, &server, &normalised(&fingerprint), &key_pem, answer)
}

/// Ask again about a waiting enrolment.
pub fn collect(device: &Device) -> Result<Outcome> {
    let pending = device
        .pending()?
        .ok_or_else(|| Error::NotFound("no enrolment of this terminal is waiting".into()))?;
    let key_pem = device.key_pem()?.ok_or_else(|| {
        Error::Tampered(format!(
            "the key of the waiting enrolment is missing from {}",
            device.dir().display()
        ))
    })?;
    let fingerprint = parse_fingerprint(&pending.ca_fingerprint)?;
    let server = Server::pinned(&pending.url, &fingerprint)?;
    let answer = server.collect(&pending.request)?;
    settle(device, &server, &pending.ca_fingerprint, &key_pem, answer)
}

fn settle(
    device: &Device,
    server: &Server,
    fingerprint: &str,
    key_pem: &str,
    answer: EnrolAnswer,
) -> Result<Outcome> {
    match answer {
        EnrolAnswer::Waiting { request, code } => {
            device.save_pending(
                &Pending {
                    url: server.url().to_string(),
                    ca_fingerprint: fingerprint.to_string(),
                    request,
                    code: code.clone(),
                },
                key_pem,
            )?;
            Ok(Outcome::Waiting { code })
        }
        EnrolAnswer::Issued {
            terminal,
            certificate,
        } => {
            let ca = server.pinned_ca_pem().ok_or_else(|| {
                Error::Server("the server's CA was not seen during the enrolment".into())
            })?;
            // The certificate is tried before it is kept: the server must
            // know this terminal by it, with the key made here.
            let check = Server::with_credentials(device, server.url(), &ca, &certificate, key_pem)?;
            let hello = check.hello()?;
            if hello.terminal.id != terminal {
                return Err(Error::Tampered(format!(
                    "the server issued a certificate for {terminal} but knows it as {}",
                    hello.terminal.id
                )));
            }
            device.save_enrolled(
                &ServerRecord {
                    url: server.url().to_string(),
                    ca_fingerprint: fingerprint.to_string(),
                    terminal: terminal.clone(),
                },
                &ca,
                key_pem,
                &certificate,
            )?;
            Ok(Outcome::Enrolled { terminal })
        }
    }
}
