//! The only module that touches cryptographic primitives. Everything here
//! is a thin, typed wrapper over a well-kept crate (aes-gcm, hpke, p256,
//! hkdf, sha2, argon2, pbkdf2); nothing is implemented by hand.
//!
//! Algorithms (all on the CRYPTREC e-Government Recommended Ciphers List,
//! except Argon2id, kept as the default password KDF for its GPU
//! resistance, with PBKDF2-HMAC-SHA-256 as the strict profile):
//! AES-256-GCM, SHA-256, HKDF/HMAC-SHA-256, ECDH (HPKE DHKEM P-256) and
//! ECDSA P-256.

pub mod kdf;
pub mod stream;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use hpke::{Deserializable, Serializable};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A 256-bit secret key that is wiped from memory when dropped.
pub type Key32 = Zeroizing<[u8; 32]>;

/// Fresh bytes from the operating system's CSPRNG.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS RNG failing is not something a user can act on; it is so rare
    // (no /dev/urandom) that treating it as fatal is what every peer does.
    getrandom::fill(&mut out).expect("the operating system's random number generator failed");
    out
}

/// A fresh random 256-bit key.
pub fn random_key() -> Key32 {
    Zeroizing::new(random::<32>())
}

/// SHA-256 for data read in pieces (files, archives) and for the audit
/// tree: the one hash Kinko uses, named here so that no module but this
/// one depends on a primitive crate.
pub use sha2::{Digest, Sha256};

/// SHA-256 of a byte string.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HKDF-SHA-256: derive a 256-bit key bound to `info`.
pub fn hkdf(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Key32 {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    let info: Vec<u8> = info.concat();
    hk.expand(&info, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    okm
}

/// HMAC-SHA-256 tag.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of an HMAC-SHA-256 tag.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    use hmac::{KeyInit as _, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// AES-256-GCM with a random 96-bit nonce: returns `nonce || ciphertext || tag`.
/// Used for small records (keyslots, sessions, inbox), never for documents.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = random::<12>();
    let ct = cipher
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM accepts messages of this size");
    [nonce.as_slice(), &ct].concat()
}

/// Opens what [`seal`] made. Fails if the key, the AAD or any byte is wrong.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(12);
    let nonce: &[u8; 12] = nonce.try_into().ok()?;
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(nonce.into(), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

type HpkeKem = hpke::kem::DhP256HkdfSha256;
type HpkeKdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::AesGcm256;

/// An HPKE (RFC 9180) receiving key pair: DHKEM(P-256, HKDF-SHA256),
/// HKDF-SHA256, AES-256-GCM. The private half is a 32-byte scalar.
pub struct HpkeKeyPair {
    pub secret: Key32,
    pub public: Vec<u8>,
}

impl HpkeKeyPair {
    pub fn generate() -> Self {
        use hpke::Kem as _;
        let (sk, pk) = HpkeKem::gen_keypair();
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&sk.to_bytes());
        HpkeKeyPair {
            secret,
            public: pk.to_bytes().to_vec(),
        }
    }

    /// The public key belonging to a stored private key.
    pub fn public_of(secret: &[u8; 32]) -> Result<Vec<u8>> {
        use hpke::Kem as _;
        let sk = <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(secret)
            .map_err(|_| Error::Crypto("not a valid P-256 private key".into()))?;
        Ok(HpkeKem::sk_to_pk(&sk).to_bytes().to_vec())
    }
}

/// A key wrapped to one recipient with HPKE: the encapsulated key and the
/// sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub enc: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Wrap a secret to a recipient's HPKE public key. `context` is used as
/// both the HPKE info and the AAD, binding the wrap to what it is for.
pub fn hpke_wrap(recipient_public: &[u8], context: &[u8], secret: &[u8]) -> Result<Wrapped> {
    let pk = <HpkeKem as hpke::Kem>::PublicKey::from_bytes(recipient_public)
        .map_err(|_| Error::tampered("a stored public key is not a valid P-256 point"))?;
    let (enc, ciphertext) = hpke::single_shot_seal::<HpkeAead, HpkeKdf, HpkeKem>(
        &hpke::OpModeS::Base,
        &pk,
        context,
        secret,
        context,
    )
    .map_err(|e| Error::Crypto(format!("HPKE seal: {e}")))?;
    Ok(Wrapped {
        enc: enc.to_bytes().to_vec(),
        ciphertext,
    })
}

/// Unwrap what [`hpke_wrap`] made. `None` if this key cannot open it or a
/// byte was changed.
pub fn hpke_unwrap(
    recipient_secret: &[u8; 32],
    context: &[u8],
    wrapped: &Wrapped,
) -> Option<Zeroizing<Vec<u8>>> {
    let sk = <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(recipient_secret).ok()?;
    let enc = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(&wrapped.enc).ok()?;
    hpke::single_shot_open::<HpkeAead, HpkeKdf, HpkeKem>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        context,
        &wrapped.ciphertext,
        context,
    )
    .ok()
    .map(Zeroizing::new)
}

/// An ECDSA P-256 (SHA-256) signing key pair.
pub struct SigningKeyPair {
    pub secret: Key32,
    pub public: Vec<u8>,
}

impl SigningKeyPair {
    pub fn generate() -> Self {
        use p256::elliptic_curve::Generate;
        let mut rng = hpke::rand_core::UnwrapErr(getrandom::SysRng);
        let sk = p256::ecdsa::SigningKey::generate_from_rng(&mut rng);
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&sk.to_bytes());
        SigningKeyPair {
            secret,
            public: sk.verifying_key().to_sec1_bytes().to_vec(),
        }
    }
}

impl SigningKeyPair {
    /// The public half (SEC1) of a stored ECDSA P-256 private key.
    pub fn public_of(secret: &[u8; 32]) -> Result<Vec<u8>> {
        let sk = p256::ecdsa::SigningKey::from_slice(secret)
            .map_err(|_| Error::Crypto("not a valid ECDSA P-256 private key".into()))?;
        Ok(sk.verifying_key().to_sec1_bytes().to_vec())
    }
}

/// Sign a message with a stored ECDSA P-256 private key (DER-free, 64 bytes).
pub fn ecdsa_sign(secret: &[u8; 32], message: &[u8]) -> Result<Vec<u8>> {
    EcdsaSecret::parse(secret)?.sign(message)
}

/// Check an ECDSA P-256 signature made by [`ecdsa_sign`].
pub fn ecdsa_verify(public: &[u8], message: &[u8], signature: &[u8]) -> bool {
    EcdsaPublic::parse(public).is_some_and(|k| k.verify(message, signature))
}

/// An ECDSA P-256 private key parsed once, for signing many messages (a
/// person's audit events), with its public half for checking one's own
/// signatures. AWS-LC signs (its P-256 is several times faster than the
/// pure-Rust one, which an action signing its event feels) and wipes the
/// key when it frees it.
pub struct EcdsaSecret {
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    public: EcdsaPublic,
}

impl EcdsaSecret {
    pub fn parse(secret: &[u8; 32]) -> Result<Self> {
        let invalid = || Error::Crypto("not a valid ECDSA P-256 private key".into());
        let public_bytes = SigningKeyPair::public_of(secret)?;
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            secret,
            &public_bytes,
        )
        .map_err(|_| invalid())?;
        let public = EcdsaPublic::parse(&public_bytes).ok_or_else(invalid)?;
        Ok(EcdsaSecret { pair, public })
    }

    /// Sign as [`ecdsa_sign`] does (64 bytes, r || s).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        // AWS-LC draws its own nonce; the generator argument is ring's.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&rng, message)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| Error::Crypto("ECDSA signing failed".into()))
    }

    /// The public half, to check one's own signatures with.
    pub fn public(&self) -> &EcdsaPublic {
        &self.public
    }
}

/// An ECDSA P-256 public key parsed once, for checking many signatures
/// by the same person (the audit trail's events).
pub struct EcdsaPublic(aws_lc_rs::signature::ParsedPublicKey);

impl EcdsaPublic {
    pub fn parse(public: &[u8]) -> Option<Self> {
        aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            public,
        )
        .ok()
        .map(EcdsaPublic)
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

/// Bytes from lower-case hex; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    data_encoding::HEXLOWER.decode(text.as_bytes()).ok()
}

/// Lower-case hex, for ids and hashes shown to people.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Standard base64, for binary fields inside JSON files.
pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64.encode(bytes)
}

/// Decode standard base64; `what` names the field in the error.
pub fn unb64(text: &str, what: &str) -> Result<Vec<u8>> {
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|_| Error::tampered(format!("{what} is not valid base64")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_rejects_changes() {
        let key = random_key();
        let sealed = seal(&key, b"aad", b"secret");
        assert_eq!(open(&key, b"aad", &sealed).unwrap().as_slice(), b"secret");
        assert!(open(&key, b"other", &sealed).is_none());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(open(&key, b"aad", &bad).is_none());
        assert!(open(&random_key(), b"aad", &sealed).is_none());
    }

    #[test]
    fn hpke_wrap_only_opens_for_recipient_and_context() {
        let alice = HpkeKeyPair::generate();
        let bob = HpkeKeyPair::generate();
        let w = hpke_wrap(&alice.public, b"ctx", b"dek").unwrap();
        assert_eq!(
            hpke_unwrap(&alice.secret, b"ctx", &w).unwrap().as_slice(),
            b"dek"
        );
        assert!(hpke_unwrap(&bob.secret, b"ctx", &w).is_none());
        assert!(hpke_unwrap(&alice.secret, b"other", &w).is_none());
        assert_eq!(HpkeKeyPair::public_of(&alice.secret).unwrap(), alice.public);
    }

    #[test]
    fn ecdsa_signs_and_detects_changes() {
        let kp = SigningKeyPair::generate();
        let sig = ecdsa_sign(&kp.secret, b"report").unwrap();
        assert!(ecdsa_verify(&kp.public, b"report", &sig));
        assert!(!ecdsa_verify(&kp.public, b"reporT", &sig));
        assert_eq!(SigningKeyPair::public_of(&kp.secret).unwrap(), kp.public);
    }
}
