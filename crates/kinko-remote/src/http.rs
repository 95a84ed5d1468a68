//! HTTPS calls to the office server: TLS 1.3 over AWS-LC, the server
//! trusted only through the CA this terminal pinned, this terminal known
//! by its client certificate. Answers and failures become the core's
//! errors, so the shells report them as they report everything else.

use std::sync::Arc;
use std::time::Duration;

use kinko_core::Error;
use kinko_protocol::{
    Append, Appended, Approve, CreateVault, EnrolAnswer, EnrolRequest, ErasedObject, ErrorBody,
    Hello, ListedTerminal, NewUnit, Turn, TurnRequest, Units, VaultState, WaitingTerminal,
};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::device::Device;
use crate::pin::PinnedCa;

type Result<T> = std::result::Result<T, Error>;

/// A connection to one server.
pub struct Server {
    url: String,
    client: reqwest::blocking::Client,
    pin: Option<Arc<PinnedCa>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Server(format!("TLS: {e}")))
}

fn client(tls: ClientConfig) -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        // The pinned server only: never follow it elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .https_only(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Server(format!("cannot make a client: {e}")))
}

/// The server's base URL, checked: HTTPS only.
fn base_url(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("https://") {
        return Err(Error::Invalid(format!(
            "the server's address must start with https:// (got {url})"
        )));
    }
    Ok(url.to_string())
}

impl Server {
    /// For enrolment: the server is trusted if the CA it presents has the
    /// given SHA-256 fingerprint; no client certificate yet.
    pub fn pinned(url: &str, fingerprint: &[u8; 32]) -> Result<Server> {
        let pin = Arc::new(PinnedCa::new(*fingerprint, provider()));
        let tls = tls_builder()?
            .dangerous()
            .with_custom_certificate_verifier(pin.clone())
            .with_no_client_auth();
        Ok(Server {
            url: base_url(url)?,
            client: client(tls)?,
            pin: Some(pin),
        })
    }

    /// For everything else: the stored CA as the only root and this
    /// terminal's certificate.
    pub fn enrolled(device: &Device) -> Result<Server> {
        let record = device.server()?.ok_or_else(|| {
            Error::TerminalRefused(
                "this terminal is not enrolled with a server (run `kinko device enroll`)".into(),
            )
        })?;
        let (ca, cert, key) = device.credentials()?;
        Server::with_credentials(device, &record.url, &ca, &cert, &key)
    }

    /// A connection with the given CA, certificate and key (PEM).
    pub(crate) fn with_credentials(
        device: &Device,
        url: &str,
        ca: &str,
        cert: &str,
        key: &str,
    ) -> Result<Server> {
        let bad = |what: &str| {
            Error::Tampered(format!(
                "the terminal's {what} in {} is damaged",
                device.dir().display()
            ))
        };
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.as_bytes()).map_err(|_| bad("CA"))?)
            .map_err(|_| bad("CA"))?;
        let chain =
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).map_err(|_| bad("certificate"))?];
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|_| bad("key"))?;
        let tls = tls_builder()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad(&format!("certificate ({e})")))?;
        Ok(Server {
            url: base_url(url)?,
            client: client(tls)?,
            pin: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) found by the pin, after a call.
    pub(crate) fn pinned_ca_pem(&self) -> Option<String> {
        let pin = self.pin.as_ref()?;
        let der = pin.found.lock().ok()?.clone()?;
        Some(pem("CERTIFICATE", der.as_ref()))
    }

    pub fn enrol(&self, req: &EnrolRequest) -> Result<EnrolAnswer> {
        self.answer(
            self.client
                .post(format!("{}/v1/enrol", self.url))
                .json(req)
                .send(),
        )
    }

    pub fn collect(&self, request: &str) -> Result<EnrolAnswer> {
        self.answer(
            self.client
                .get(format!("{}/v1/enrol/{request}", self.url))
                .send(),
        )
    }

    /// The terminal waiting for approval with `code` (letters, digits
    /// and dashes only: the core checks a code before it asks).
    pub fn waiting(&self, code: &str) -> Result<WaitingTerminal> {
        self.answer(
            self.client
                .get(format!("{}/v1/enrol/waiting/{code}", self.url))
                .send(),
        )
    }

    /// Every terminal the server lists, with its key and approval.
    pub fn terminals(&self) -> Result<Vec<ListedTerminal>> {
        self.answer(self.client.get(format!("{}/v1/terminals", self.url)).send())
    }

    /// Who the server takes this terminal to be.
    pub fn hello(&self) -> Result<Hello> {
        self.answer(self.client.get(format!("{}/v1/hello", self.url)).send())
    }

    /// The vault the server holds, the log's head and the newest keyslots.
    pub fn vault_state(&self) -> Result<VaultState> {
        self.answer(self.client.get(format!("{}/v1/vault", self.url)).send())
    }

    /// Create the vault on the server with its first unit.
    pub fn create_vault(&self, req: &CreateVault) -> Result<Appended> {
        self.answer(
            self.client
                .post(format!("{}/v1/vault", self.url))
                .json(req)
                .send(),
        )
    }

    /// Wait for this terminal's turn to write; the units after `after`.
    pub fn take_turn(&self, after: u64) -> Result<Turn> {
        self.answer(
            self.client
                .post(format!("{}/v1/turn", self.url))
                .json(&TurnRequest { after })
                .send(),
        )
    }

    /// Give a turn back unused.
    pub fn give_back(&self, lease: &str) -> Result<()> {
        self.done(
            self.client
                .delete(format!("{}/v1/turn/{lease}", self.url))
                .send(),
        )
    }

    /// Append a unit at `base + 1` under the turn `lease`.
    pub fn append(
        &self,
        lease: &str,
        base: u64,
        unit: NewUnit,
        approve: Option<Approve>,
        erase: Vec<String>,
    ) -> Result<Appended> {
        self.answer(
            self.client
                .post(format!("{}/v1/units", self.url))
                .json(&Append {
                    lease: lease.to_string(),
                    base,
                    unit,
                    approve,
                    erase,
                })
                .send(),
        )
    }

    /// Every object a unit erased.
    pub fn erased(&self) -> Result<Vec<ErasedObject>> {
        self.answer(self.client.get(format!("{}/v1/erased", self.url)).send())
    }

    /// Does the server still hand out the object `name`? (A HEAD request:
    /// nothing of it is sent.)
    pub fn has_object(&self, name: &str) -> Result<bool> {
        let response = self
            .client
            .head(format!("{}/v1/objects/{name}", self.url))
            .send()
            .map_err(|e| self.transport_error(&e))?;
        match response.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refusal(response)),
        }
    }

    /// Units after `after` (a page), without a turn.
    pub fn units_after(&self, after: u64) -> Result<Units> {
        self.answer(
            self.client
                .get(format!("{}/v1/units?after={after}", self.url))
                .send(),
        )
    }

    /// Upload an object file (streamed).
    pub fn put_object(&self, name: &str, path: &std::path::Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::Io {
            path: path.into(),
            source: e,
        })?;
        self.done(
            self.client
                .put(format!("{}/v1/objects/{name}", self.url))
                .timeout(Duration::from_secs(3600))
                .body(file)
                .send(),
        )
    }

    /// Download an object file into `into` (a new file, 0600).
    pub fn get_object(&self, name: &str, into: &std::path::Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut response = self
            .client
            .get(format!("{}/v1/objects/{name}", self.url))
            .timeout(Duration::from_secs(3600))
            .send()
            .map_err(|e| self.transport_error(&e))?;
        if !response.status().is_success() {
            return Err(self.refusal(response));
        }
        let io = |e: std::io::Error| Error::Io {
            path: into.into(),
            source: e,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(into)
            .map_err(io)?;
        // Read a mebibyte at a time: each read of the blocking client is a
        // hand-over between threads, and 8 KiB reads cap the transfer.
        let mut body = std::io::BufReader::with_capacity(1 << 20, &mut response);
        std::io::copy(&mut body, &mut file)
            .map_err(|e| Error::Server(format!("the object {name} did not arrive whole: {e}")))?;
        file.sync_all().map_err(io)
    }

    /// A call whose success carries nothing.
    fn done(&self, sent: reqwest::Result<reqwest::blocking::Response>) -> Result<()> {
        let response = sent.map_err(|e| self.transport_error(&e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.refusal(response))
        }
    }

    fn answer<T: for<'de> serde::Deserialize<'de>>(
        &self,
        sent: reqwest::Result<reqwest::blocking::Response>,
    ) -> Result<T> {
        let response = sent.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return response.json().map_err(|e| {
                Error::Server(format!(
                    "{} answered with something Kinko cannot read: {e}",
                    self.url
                ))
            });
        }
        Err(self.refusal(response))
    }

    /// An answer that is not a success, as the core's error.
    fn refusal(&self, response: reqwest::blocking::Response) -> Error {
        let status = response.status();
        let body: Option<ErrorBody> = response.json().ok();
        let message = body
            .map(|b| b.message)
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status.as_u16() {
            401 | 403 => Error::TerminalRefused(message),
            400 => Error::Invalid(message),
            404 => Error::NotFound(message),
            _ => Error::Server(message),
        }
    }

    /// A failure before any answer: the pin (tampering: this is not the
    /// server the terminal was told of), a refusal of our certificate in
    /// the handshake, or no connection at all.
    fn transport_error(&self, e: &reqwest::Error) -> Error {
        let mut chain = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            chain.push_str(&s.to_string());
            chain.push_str(": ");
            source = s.source();
        }
        if chain.contains("fingerprint was given") {
            return Error::Tampered(format!(
                "the server at {} is not the one whose CA fingerprint was given",
                self.url
            ));
        }
        if chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate") {
            return Error::Tampered(format!(
                "the server at {} does not show a certificate from the CA this terminal pinned",
                self.url
            ));
        }
        // The server's alert when it will not take this terminal's
        // certificate: not from its CA (UnknownCA, or DecryptError when a
        // CA of the same name signed it), damaged, or none at all.
        const REFUSALS: [&str; 5] = [
            "CertificateRequired",
            "BadCertificate",
            "UnknownCA",
            "DecryptError",
            "AccessDenied",
        ];
        if chain.contains("received fatal alert") && REFUSALS.iter().any(|a| chain.contains(a)) {
            return Error::TerminalRefused(format!(
                "the server at {} refused this terminal's certificate",
                self.url
            ));
        }
        Error::Server(format!(
            "cannot reach {}: {}",
            self.url,
            chain.trim_end_matches(": ")
        ))
    }
}

/// PEM text of DER bytes.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der))
}
