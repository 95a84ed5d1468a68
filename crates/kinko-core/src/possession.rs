//! The possession factor (issue 15, P6): an IC card, HSM or TPM reached
//! through PKCS#11 (the `cryptoki` crate), bound to the keyslot so that the
//! password alone opens nothing, even to someone who holds every file.
//!
//! At enrolment the token makes a P-256 key pair that never leaves it
//! (sensitive, not extractable, usable only to derive). Kinko makes an
//! ephemeral P-256 point `E`, forgets its private half, and asks the token
//! for the ECDH secret `Z = ECDH(token key, E)`: only that token can
//! compute it again. The keyslot records the key's ID on the token and
//! `E`; its key-encryption key becomes
//! `HKDF-SHA-256(password KDF output ‖ Z)` (`keyslots.rs`). The ECDH
//! derivation itself runs on the token (`CKM_ECDH1_DERIVE`, null KDF);
//! Kinko reads the derived 32 bytes only to feed them to HKDF and wipes
//! them after.
//!
//! Where the module is comes from the terminal (an option or
//! `$KINKO_PKCS11_MODULE`), never from the vault: a library path an
//! insider could write into a vault file would run his code.

use std::path::PathBuf;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, Key32};
use crate::error::{Error, Result};

/// DER of the P-256 curve's OID (1.2.840.10045.3.1.7), `CKA_EC_PARAMS`.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Where the token is, as the terminal says: the PKCS#11 module, the PIN,
/// and (when several tokens are present) the label of the one to use.
#[derive(Clone)]
pub struct TokenAccess {
    pub module: PathBuf,
    pub pin: Zeroizing<String>,
    pub token_label: Option<String>,
}

/// What a keyslot records of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBinding {
    /// Hex of the key's `CKA_ID` on the token.
    pub key_id: String,
    /// Base64 of the ephemeral point `E` (SEC1 uncompressed).
    pub point: String,
    /// The token's label when enrolled, to name it in messages.
    pub token: String,
}

impl TokenBinding {
    /// The token's label as recorded, fit to show: the keyslots file is
    /// writable by an insider, so nothing but plain printable text of a
    /// token label's length comes out of it.
    pub fn label(&self) -> String {
        self.token
            .chars()
            .filter(|c| !c.is_control())
            .take(32)
            .collect()
    }

    /// What the keyslot's AAD says of it: the slot opens only with the
    /// binding it was sealed with.
    pub(crate) fn aad_part(&self) -> String {
        format!("token {} {}", self.key_id, self.point)
    }
}

fn token_error(what: &str) -> impl Fn(cryptoki::error::Error) -> Error + '_ {
    move |e| match e {
        cryptoki::error::Error::Pkcs11(rv, _)
            if matches!(
                rv,
                cryptoki::error::RvError::PinIncorrect
                    | cryptoki::error::RvError::PinLenRange
                    | cryptoki::error::RvError::PinLocked
            ) =>
        {
            Error::NotSignedIn(format!("the token refused the PIN ({rv})"))
        }
        e => Error::TokenNeeded(format!("the token could not {what}: {e}")),
    }
}

/// A logged-in session on the token `access` names.
struct Token {
    _ctx: Pkcs11,
    session: Session,
    label: String,
}

impl Token {
    fn open(access: &TokenAccess) -> Result<Self> {
        // A bare name would be looked up on the library path (or, on some
        // systems, in the working folder): only a full path is loaded.
        if !access.module.is_absolute() {
            return Err(Error::field(
                "pkcs11_module",
                format!(
                    "give the PKCS#11 module's full path, not '{}'",
                    access.module.display()
                ),
            ));
        }
        let ctx = Pkcs11::new(&access.module).map_err(|e| {
            Error::TokenNeeded(format!(
                "the PKCS#11 module {} could not be loaded: {e}",
                access.module.display()
            ))
        })?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(token_error("start"))?;
        let (slot, label) = Self::find_slot(&ctx, access)?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(token_error("open a session"))?;
        let pin = AuthPin::new(access.pin.as_str().into());
        session
            .login(UserType::User, Some(&pin))
            .map_err(token_error("log in"))?;
        Ok(Token {
            _ctx: ctx,
            session,
            label,
        })
    }

    fn find_slot(ctx: &Pkcs11, access: &TokenAccess) -> Result<(Slot, String)> {
        let mut found = Vec::new();
        for slot in ctx
            .get_slots_with_token()
            .map_err(token_error("list its slots"))?
        {
            let info = ctx
                .get_token_info(slot)
                .map_err(token_error("describe itself"))?;
            let label = info.label().trim().to_string();
            // An empty slot some modules offer for a new token is not one.
            if !info.token_initialized() {
                continue;
            }
            if access.token_label.as_deref().is_none_or(|l| l == label) {
                found.push((slot, label));
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::TokenNeeded(match &access.token_label {
                Some(l) => format!("no token labelled '{l}' is present: insert it"),
                None => "no token is present: insert it".into(),
            })),
            n => Err(Error::TokenNeeded(format!(
                "{n} tokens are present: name the one to use by its label"
            ))),
        }
    }

    /// The ECDH secret of the private key `key_id` and the point `point`,
    /// derived on the token.
    fn derive(&self, key_id: &[u8], point: &[u8]) -> Result<Key32> {
        let key = self.private_key(key_id)?;
        let mechanism = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), point));
        // The derived value must be readable to be fed to HKDF: a session
        // object, not kept on the token.
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ];
        let derived = self
            .session
            .derive_key(&mechanism, key, &template)
            .map_err(token_error("derive the key"))?;
        let value = self
            .session
            .get_attributes(derived, &[AttributeType::Value])
            .map_err(token_error("give the derived key"));
        let _ = self.session.destroy_object(derived);
        let mut out = Zeroizing::new([0u8; 32]);
        match value?.into_iter().next() {
            Some(Attribute::Value(mut v)) if v.len() == 32 => {
                out.copy_from_slice(&v);
                zeroize::Zeroize::zeroize(&mut v);
                Ok(out)
            }
            _ => Err(Error::TokenNeeded(
                "the token gave a derived key of the wrong length".into(),
            )),
        }
    }

    fn private_key(&self, key_id: &[u8]) -> Result<ObjectHandle> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(key_id.to_vec()),
            ])
            .map_err(token_error("search its keys"))?;
        found.into_iter().next().ok_or_else(|| {
            Error::TokenNeeded(format!(
                "the token '{}' does not hold this account's key: insert the token enrolled for it",
                self.label
            ))
        })
    }
}

/// Make a key on the token for `account` and bind it: the binding the
/// keyslot records and the secret its key-encryption key takes in.
pub(crate) fn enrol(access: &TokenAccess, account: &str) -> Result<(TokenBinding, Key32)> {
    let token = Token::open(access)?;
    let key_id = crypto::random::<16>().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::EcParams(P256_PARAMS.to_vec()),
        Attribute::Derive(true),
        Attribute::Id(key_id.clone()),
        Attribute::Label(format!("kinko {account}").into_bytes()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Derive(true),
        Attribute::Id(key_id.clone()),
        Attribute::Label(format!("kinko {account}").into_bytes()),
    ];
    token
        .session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(token_error("make a key"))?;
    // Only the point is kept; its private half is dropped (and wiped) here.
    let point = crypto::HpkeKeyPair::generate().public;
    let secret = token.derive(&key_id, &point)?;
    Ok((
        TokenBinding {
            key_id: crypto::hex(&key_id),
            point: crypto::b64(&point),
            token: token.label.clone(),
        },
        secret,
    ))
}

/// The secret `binding` stands for, from the token `access` reaches.
pub(crate) fn secret(access: &TokenAccess, binding: &TokenBinding) -> Result<Key32> {
    let key_id = crypto::unhex(&binding.key_id)
        .ok_or_else(|| Error::tampered("a keyslot's token binding is damaged"))?;
    let point = crypto::unb64(&binding.point, "token point")?;
    Token::open(access)?.derive(&key_id, &point)
}
