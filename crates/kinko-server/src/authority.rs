//! The server's certificate authority (rcgen, ECDSA P-256): it certifies
//! the server's own TLS key and one client key per enrolled terminal.
//! Terminals pin it by the SHA-256 fingerprint of its certificate, which
//! `init` prints.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};

use crate::config::{ServerDir, CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE};
use crate::error::{Error, Result};

/// How long a terminal's certificate lasts before it is enrolled again.
const TERMINAL_DAYS: i64 = 397;
/// The CA and the server's own certificate: ten years, since terminals
/// pin the CA and a new one means enrolling every terminal again.
const CA_DAYS: i64 = 3650;

/// The CA, loaded to issue certificates.
pub struct Authority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate issued to a terminal.
pub struct Issued {
    pub pem: String,
    pub fingerprint: String,
    /// SHA-256 (hex) of the certified key ([`key_digest`]).
    pub key: String,
}

/// A terminal's signing request, checked: a valid request for a P-256 key.
fn parse_request(csr_pem: &str) -> Result<CertificateSigningRequestParams> {
    let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
        Error::Invalid(format!(
            "the terminal's certificate request is not valid: {e}"
        ))
    })?;
    if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
        return Err(Error::Invalid(
            "a terminal's key must be ECDSA P-256".into(),
        ));
    }
    Ok(csr)
}

/// SHA-256 (hex) of the DER SubjectPublicKeyInfo of the key a terminal's
/// signing request holds: what an approval's signed event names, so that
/// the server can approve only the request the approver was shown.
pub fn key_digest(csr_pem: &str) -> Result<String> {
    let csr = parse_request(csr_pem)?;
    Ok(spki_digest(&csr.public_key))
}

fn spki_digest(key: &impl rcgen::PublicKeyData) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(key.subject_public_key_info()))
}

/// The SHA-256 fingerprint of a DER certificate, as lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(der))
}

/// The DER bytes of the first certificate in a PEM text.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| Error::Authority(format!("not a PEM certificate: {e}")))
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time_now();
    // Five minutes back, for terminals whose clocks run a little slow.
    params.not_before = now - rcgen_duration(5 * 60);
    params.not_after = now + rcgen_duration(days * 86_400);
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_duration(secs: i64) -> time::Duration {
    time::Duration::seconds(secs)
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Authority(format!("no randomness: {e}")))?;
    bytes[0] &= 0x7f; // a positive INTEGER
    Ok(SerialNumber::from_slice(&bytes))
}

impl Authority {
    /// Make a new CA and the server's own certificate for `hosts` (names
    /// or IP addresses the terminals will use) in `dir`.
    pub fn create(dir: &ServerDir, office: &str, hosts: &[String]) -> Result<Authority> {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut ca = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Kinko office server");
        // A name of its own, so that no two servers' CAs share one.
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).map_err(|e| Error::Authority(format!("no randomness: {e}")))?;
        name.push(
            DnType::CommonName,
            format!("Kinko CA {office} {}", data_encoding::HEXLOWER.encode(&tag)),
        );
        ca.distinguished_name = name;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.serial_number = Some(random_serial()?);
        validity(&mut ca, CA_DAYS);
        let ca_cert = ca.self_signed(&ca_key)?;

        let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut server = CertificateParams::new(hosts.to_vec())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, format!("Kinko server {office}"));
        server.distinguished_name = name;
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.serial_number = Some(random_serial()?);
        validity(&mut server, CA_DAYS);
        let issuer = Issuer::new(ca, ca_key);
        let server_cert = server.signed_by(&server_key, &issuer)?;

        dir.write_new(CA_KEY_FILE, issuer.key().serialize_pem().as_bytes())?;
        dir.write_new(CA_CERT_FILE, ca_cert.pem().as_bytes())?;
        dir.write_new(SERVER_KEY_FILE, server_key.serialize_pem().as_bytes())?;
        dir.write_new(SERVER_CERT_FILE, server_cert.pem().as_bytes())?;
        Ok(Authority {
            cert_pem: ca_cert.pem(),
            issuer,
        })
    }

    /// Load the CA of an existing server folder.
    pub fn load(dir: &ServerDir) -> Result<Authority> {
        let cert_pem = dir.read_text(CA_CERT_FILE)?;
        let key = KeyPair::from_pem(&dir.read_text(CA_KEY_FILE)?)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Authority { cert_pem, issuer })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The fingerprint terminals pin.
    pub fn fingerprint(&self) -> Result<String> {
        Ok(fingerprint(&pem_to_der(&self.cert_pem)?))
    }

    /// Certify the key in a terminal's signing request. Only the key is
    /// taken from the request (its signature proves the terminal holds
    /// it); the name, the usage and the dates are the server's.
    pub fn issue_terminal(&self, csr_pem: &str, terminal: &str) -> Result<Issued> {
        let csr = parse_request(csr_pem)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Kinko terminal");
        name.push(DnType::CommonName, terminal);
        params.distinguished_name = name;
        params.subject_alt_names = vec![SanType::URI(
            format!("urn:kinko:terminal:{terminal}")
                .try_into()
                .map_err(|_| Error::Invalid("terminal ID".into()))?,
        )];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(random_serial()?);
        validity(&mut params, TERMINAL_DAYS);
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(Issued {
            fingerprint: fingerprint(cert.der()),
            pem: cert.pem(),
            key: spki_digest(&csr.public_key),
        })
    }
}
