//! Certificates: who a person is, which roles they hold and which keys are
//! theirs, as a statement signed by someone entitled to make it.
//!
//! The chain has one root: the vault's root signing key, made at `init`.
//! Its private half is sealed to the custodian key (the recovery code) and
//! its public half is in every keyslot's anchor, so an insider who can
//! write the database cannot put another root in front of anyone else.
//! The root certifies the Information Management Officer; the officer
//! certifies everyone else, after the person made their own keys at their
//! first sign-in and showed the officer their key fingerprint.
//!
//! The account row stays what the people who run accounts ask for (name,
//! roles, status); what Kinko acts on is the certificate: the roles a
//! person acts with and every key Kinko wraps a document key to come from
//! the newest valid certificate of that account, never from the row.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::crypto::{self, SigningKeyPair};
use crate::error::{Error, Result};
use crate::permission::Roles;

const FORMAT: &str = "kinko-certificate v1";
/// The issuer name of certificates the root key signed.
pub(crate) const ROOT: &str = "root";

/// What a certificate says, as signed (compact JSON of this struct).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertBody {
    pub format: String,
    pub vault_id: String,
    pub serial: i64,
    pub account: String,
    pub name: String,
    pub roles: String,
    /// Base64 of the HPKE public key document keys are wrapped to.
    pub hpke_public: String,
    /// Base64 of the ECDSA P-256 public key the person signs with.
    pub sign_public: String,
    pub valid_from: String,
    pub issuer: String,
    /// The serial of the issuer's own certificate (none for the root).
    pub issuer_serial: Option<i64>,
}

/// A stored certificate, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub body: CertBody,
    pub roles: Roles,
    pub hpke_public: Vec<u8>,
    pub sign_public: Vec<u8>,
    bytes: Vec<u8>,
    signature: Vec<u8>,
}

fn message(bytes: &[u8]) -> Vec<u8> {
    [b"kinko certificate v1\0".as_slice(), bytes].concat()
}

impl Cert {
    /// Does this certificate vouch for `message` as signed by `account`
    /// acting with roles that `may` accept? The one rule every signed fact
    /// is held to: the certificate is the signer's, its certified roles
    /// give the right, and its key made the signature. (Its chain to the
    /// root was checked when it was loaded, `by_serial`.)
    pub(crate) fn vouches(
        &self,
        account: &str,
        may: impl Fn(&Roles) -> bool,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.body.account == account
            && may(&self.roles)
            && crypto::ecdsa_verify(&self.sign_public, message, signature)
    }

    /// A stored certificate's bytes and signature, parsed (not yet
    /// checked against its issuer: [`by_serial`], [`current`]).
    pub(crate) fn parse(bytes: Vec<u8>, signature: Vec<u8>) -> Result<Self> {
        let body: CertBody = serde_json::from_slice(&bytes)
            .map_err(|_| Error::tampered("a stored certificate is not a Kinko certificate"))?;
        if body.format != FORMAT {
            return Err(Error::tampered(
                "a stored certificate has an unknown format",
            ));
        }
        Ok(Cert {
            roles: Roles::parse(&body.roles).map_err(|_| {
                Error::tampered("a stored certificate names roles Kinko never gives")
            })?,
            hpke_public: crypto::unb64(&body.hpke_public, "a certificate's HPKE key")?,
            sign_public: crypto::unb64(&body.sign_public, "a certificate's signing key")?,
            body,
            bytes,
            signature,
        })
    }

    /// The certificate as stored: its signed bytes and the signature.
    pub(crate) fn stored(&self) -> (&[u8], &[u8]) {
        (&self.bytes, &self.signature)
    }

    /// Do these public keys belong to this certificate?
    pub fn names_keys(&self, hpke_public: &[u8], sign_public: &[u8]) -> bool {
        self.hpke_public == hpke_public && self.sign_public == sign_public
    }
}

/// What a new certificate is to say (its serial and issuer are added by
/// [`issue`]).
pub(crate) struct Subject<'a> {
    pub account: &'a str,
    pub name: &'a str,
    pub roles: &'a str,
    pub hpke_public: &'a [u8],
    pub sign_public: &'a [u8],
}

/// Who signs a new certificate: the root (at `init` and the upgrade) or
/// an officer, with the serial of their own certificate.
pub(crate) struct Issuer<'a> {
    pub name: &'a str,
    pub serial: Option<i64>,
    pub secret: &'a [u8; 32],
}

/// Sign and store a certificate; returns its serial.
pub(crate) fn issue(
    conn: &Connection,
    vault_id: &str,
    issuer: &Issuer,
    subject: &Subject,
) -> Result<i64> {
    let serial: i64 = conn.query_row(
        "SELECT coalesce(max(serial), 0) + 1 FROM certificates",
        [],
        |r| r.get(0),
    )?;
    let body = CertBody {
        format: FORMAT.into(),
        vault_id: vault_id.into(),
        serial,
        account: subject.account.into(),
        name: subject.name.into(),
        roles: subject.roles.into(),
        hpke_public: crypto::b64(subject.hpke_public),
        sign_public: crypto::b64(subject.sign_public),
        valid_from: crate::time::now(),
        issuer: issuer.name.into(),
        issuer_serial: issuer.serial,
    };
    let bytes = serde_json::to_vec(&body).expect("a certificate serialises");
    let signature = crypto::ecdsa_sign(issuer.secret, &message(&bytes))?;
    conn.execute(
        "INSERT INTO certificates (serial, account, body, signature) VALUES (?1, ?2, ?3, ?4)",
        params![serial, subject.account, bytes, signature],
    )?;
    Ok(serial)
}

fn load(conn: &Connection, serial: i64) -> Result<Option<Cert>> {
    let row: Option<(String, Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT account, body, signature FROM certificates WHERE serial = ?1",
            [serial],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((account, bytes, signature)) = row else {
        return Ok(None);
    };
    let cert = Cert::parse(bytes, signature)?;
    if cert.body.serial != serial || cert.body.account != account {
        return Err(Error::tampered(format!(
            "certificate {serial} was moved to another row or account"
        )));
    }
    Ok(Some(cert))
}

/// The newest certificate of `account`, checked back to the root; `None`
/// if the officer never certified it.
pub(crate) fn current(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    account: &str,
) -> Result<Option<Cert>> {
    let serial: Option<i64> = conn.query_row(
        "SELECT max(serial) FROM certificates WHERE account = ?1",
        [account],
        |r| r.get(0),
    )?;
    let Some(serial) = serial else {
        return Ok(None);
    };
    let cert = load(conn, serial)?
        .ok_or_else(|| Error::tampered(format!("certificate {serial} of {account} vanished")))?;
    check_chain(conn, vault_id, root, &cert)?;
    // A reset or a disabling revoked it: the person is not certified now.
    if crate::revocation::is_revoked(conn, serial, account)? {
        return Ok(None);
    }
    Ok(Some(cert))
}

/// Certificate `serial`, checked back to the root (the signer of a
/// statement names the certificate it signed under).
pub(crate) fn by_serial(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    serial: i64,
) -> Result<Cert> {
    let cert = load(conn, serial)?.ok_or_else(|| {
        Error::tampered(format!(
            "a statement names certificate {serial}, which the vault does not hold"
        ))
    })?;
    check_chain(conn, vault_id, root, &cert)?;
    Ok(cert)
}

/// The certificate a statement (its stored bytes) names as its signer's:
/// [`by_serial`], and if it was revoked since, the statement must be one
/// its holder made before (`revocation.rs`).
pub(crate) fn of_statement(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    serial: i64,
    bytes: &[u8],
) -> Result<Cert> {
    let cert = by_serial(conn, vault_id, root, serial)?;
    crate::revocation::check_statement(conn, serial, &cert.body.account, bytes)?;
    Ok(cert)
}

/// Every link up to the root: a valid signature by an issuer whose own
/// certificate (an officer's) is valid, ending at the root key.
fn check_chain(conn: &Connection, vault_id: &str, root: &[u8], cert: &Cert) -> Result<()> {
    let parent = match cert.body.issuer.as_str() {
        ROOT => None,
        _ => cert
            .body
            .issuer_serial
            .filter(|s| *s < cert.body.serial)
            .map(|s| load(conn, s))
            .transpose()?
            .flatten(),
    };
    if !chain_holds(vault_id, root, cert, parent.as_ref()) {
        return Err(Error::tampered(format!(
            "the certificate of {} (serial {}) was not signed by the officer or the vault's root key",
            cert.body.account, cert.body.serial
        )));
    }
    // An officer's certificate revoked since vouches only for what it
    // certified before.
    match parent {
        Some(p) => {
            crate::revocation::check_statement(conn, p.body.serial, &p.body.account, &cert.bytes)
        }
        None => Ok(()),
    }
}

/// The chain rule on certificates in hand (no database: a report's seal
/// carries them). It has two links only: the root certifies the officer,
/// and only the officer's own root-signed certificate (`parent`)
/// certifies anyone else.
pub(crate) fn chain_holds(vault_id: &str, root: &[u8], cert: &Cert, parent: Option<&Cert>) -> bool {
    let root_signed = |c: &Cert| {
        c.body.vault_id == vault_id
            && c.body.issuer == ROOT
            && c.body.issuer_serial.is_none()
            && crypto::ecdsa_verify(root, &message(&c.bytes), &c.signature)
    };
    if cert.body.vault_id != vault_id {
        return false;
    }
    if cert.body.issuer == ROOT {
        return root_signed(cert);
    }
    let Some(parent) = parent else {
        return false;
    };
    cert.body.issuer_serial == Some(parent.body.serial)
        && parent.body.serial < cert.body.serial
        && parent.body.account == cert.body.issuer
        && parent.roles.has(crate::permission::Role::Officer)
        && root_signed(parent)
        && crypto::ecdsa_verify(&parent.sign_public, &message(&cert.bytes), &cert.signature)
}

/// The HPKE key Kinko may wrap a new document key to for `account`: the
/// one its certificate names, if the person still holds it (the row shows
/// the keys they hold now; a reset gives new ones), the account is active
/// and its certified roles may hold documents.
pub(crate) fn wrap_key(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    account: &str,
) -> Result<Vec<u8>> {
    let held = HeldKeys::read(conn, account)?
        .ok_or_else(|| Error::NotFound(format!("account {account}")))?;
    if held.status != "active" {
        return Err(Error::denied(format!(
            "account {account} is {}",
            held.status
        )));
    }
    let Some(cert) = held.certificate(conn, vault_id, root, account)? else {
        return Err(if held.requested(vault_id, root, account) {
            Error::denied(format!(
                "{account}'s keys await the officer's certification, so no document key can be given to them yet (kinko account certify {account})"
            ))
        } else {
            Error::tampered(format!(
                "the account record of {account} names keys that are neither certified nor asked for by {account} (changed outside Kinko)"
            ))
        });
    };
    may_hold_documents(&cert)
}

/// The HPKE key a document key already given to `account` is wrapped to
/// again (`rekey`, `revoke`): as [`wrap_key`], but a suspended account
/// keeps its grants, and a holder without a certificate for the keys it
/// holds (nobody Kinko ever gave a key to) is tampering.
pub(crate) fn holder_key(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    account: &str,
) -> Result<Vec<u8>> {
    let held = HeldKeys::read(conn, account)?.ok_or_else(|| {
        Error::tampered(format!(
            "a document is wrapped to {account}, who is not an account"
        ))
    })?;
    // Disabling destroys every wrap of the account: one now was put back.
    if held.status == "disabled" {
        return Err(Error::tampered(format!(
            "a document is wrapped to {account}, whose account is disabled"
        )));
    }
    let cert = held
        .certificate(conn, vault_id, root, account)?
        .ok_or_else(|| {
            Error::tampered(format!(
                "{account} is not certified by the officer for the keys they hold"
            ))
        })?;
    may_hold_documents(&cert)
}

/// What an account row says about the keys its person holds now (only the
/// person writes their keys there), read once per check.
struct HeldKeys {
    status: String,
    hpke: Vec<u8>,
    sign: Vec<u8>,
    request: Option<Vec<u8>>,
}

impl HeldKeys {
    fn read(conn: &Connection, account: &str) -> Result<Option<HeldKeys>> {
        Ok(conn
            .query_row(
                "SELECT status, hpke_public, sign_public, key_request FROM accounts WHERE id = ?1",
                [account],
                |r| {
                    Ok(HeldKeys {
                        status: r.get(0)?,
                        hpke: r.get(1)?,
                        sign: r.get(2)?,
                        request: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The newest valid certificate of the account, if it names these keys.
    fn certificate(
        &self,
        conn: &Connection,
        vault_id: &str,
        root: &[u8],
        account: &str,
    ) -> Result<Option<Cert>> {
        Ok(
            current(conn, vault_id, root, account)?
                .filter(|c| c.names_keys(&self.hpke, &self.sign)),
        )
    }

    fn requested(&self, vault_id: &str, root: &[u8], account: &str) -> bool {
        self.request
            .as_ref()
            .is_some_and(|sig| request_holds(vault_id, account, &self.hpke, &self.sign, root, sig))
    }
}

fn may_hold_documents(cert: &Cert) -> Result<Vec<u8>> {
    if !cert.roles.reads_documents() {
        return Err(Error::tampered(format!(
            "a document key was to be wrapped to {}, whose certified roles ({}) may never hold one",
            cert.body.account, cert.body.roles
        )));
    }
    Ok(cert.hpke_public.clone())
}

/// The person's own proof that they hold the keys on their row and trust
/// this vault's root: signed with their new signing key at their first
/// sign-in, checked by `certify`.
fn request_message(
    vault_id: &str,
    account: &str,
    hpke: &[u8],
    sign: &[u8],
    root: &[u8],
) -> Vec<u8> {
    let mut m = b"kinko key request v1".to_vec();
    for part in [vault_id.as_bytes(), account.as_bytes(), hpke, sign, root] {
        m.extend_from_slice(&(part.len() as u32).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

pub(crate) fn sign_request(
    vault_id: &str,
    account: &str,
    hpke: &[u8],
    sign_secret: &[u8; 32],
    root: &[u8],
) -> Result<Vec<u8>> {
    let sign = SigningKeyPair::public_of(sign_secret)?;
    crypto::ecdsa_sign(
        sign_secret,
        &request_message(vault_id, account, hpke, &sign, root),
    )
}

pub(crate) fn request_holds(
    vault_id: &str,
    account: &str,
    hpke: &[u8],
    sign: &[u8],
    root: &[u8],
    signature: &[u8],
) -> bool {
    crypto::ecdsa_verify(
        sign,
        &request_message(vault_id, account, hpke, sign, root),
        signature,
    )
}

/// What the person reads from their own screen and the officer compares
/// before certifying: a hash of the account, its two public keys and the
/// root the person's keyslot trusts, as 8 groups of 4 hex digits.
pub fn fingerprint(vault_id: &str, account: &str, hpke: &[u8], sign: &[u8], root: &[u8]) -> String {
    let mut m = b"kinko key fingerprint v1".to_vec();
    m.extend_from_slice(&request_message(vault_id, account, hpke, sign, root));
    let h = crypto::hex(&crypto::sha256(&m)[..16]);
    h.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The root signing key's private half, sealed to the custodian key.
pub(crate) fn root_context(vault_id: &str) -> Vec<u8> {
    format!("kinko root key v1\0{vault_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        crate::db::in_memory_for_tests()
    }

    fn subject<'a>(id: &'a str, roles: &'a str, k: &'a (Vec<u8>, Vec<u8>)) -> Subject<'a> {
        Subject {
            account: id,
            name: id,
            roles,
            hpke_public: &k.0,
            sign_public: &k.1,
        }
    }

    #[test]
    fn a_chain_holds_only_back_to_the_root() {
        let c = db();
        let root = SigningKeyPair::generate();
        let officer = SigningKeyPair::generate();
        let keys = (b"hpke".to_vec(), officer.public.clone());
        let by_root = Issuer {
            name: ROOT,
            serial: None,
            secret: &root.secret,
        };
        let s1 = issue(&c, "v", &by_root, &subject("boss", "officer", &keys)).unwrap();
        let by_officer = Issuer {
            name: "boss",
            serial: Some(s1),
            secret: &officer.secret,
        };
        let hana = (b"h2".to_vec(), b"s2".to_vec());
        issue(&c, "v", &by_officer, &subject("hana", "handler", &hana)).unwrap();
        let got = current(&c, "v", &root.public, "hana").unwrap().unwrap();
        assert_eq!(got.roles.to_text(), "handler");
        // Another root, another vault, or a certificate signed by a
        // handler do not hold.
        let other = SigningKeyPair::generate();
        assert!(current(&c, "v", &other.public, "hana").is_err());
        assert!(current(&c, "w", &root.public, "hana").is_err());
        let by_hana = Issuer {
            name: "hana",
            serial: Some(2),
            secret: &officer.secret,
        };
        issue(&c, "v", &by_hana, &subject("sam", "manager", &hana)).unwrap();
        assert!(matches!(
            current(&c, "v", &root.public, "sam"),
            Err(Error::Tampered(_))
        ));
        // A changed byte of a stored body fails.
        c.execute("UPDATE certificates SET body = CAST(replace(body, 'handler', 'manager') AS BLOB) WHERE serial = 2", [])
            .unwrap();
        assert!(matches!(
            current(&c, "v", &root.public, "hana"),
            Err(Error::Tampered(_))
        ));
        assert!(current(&c, "v", &root.public, "nobody").unwrap().is_none());
    }

    #[test]
    fn a_request_binds_the_keys_and_the_root() {
        let k = SigningKeyPair::generate();
        let sig = sign_request("v", "hana", b"hpke", &k.secret, b"root").unwrap();
        assert!(request_holds(
            "v", "hana", b"hpke", &k.public, b"root", &sig
        ));
        assert!(!request_holds(
            "v", "hana", b"hpke", &k.public, b"fake", &sig
        ));
        assert!(!request_holds(
            "v", "hanb", b"hpke", &k.public, b"root", &sig
        ));
        let f = fingerprint("v", "hana", b"hpke", &k.public, b"root");
        assert_eq!(f.len(), 39);
        assert_ne!(f, fingerprint("v", "hana", b"hpke", &k.public, b"fake"));
    }
}
