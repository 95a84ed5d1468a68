//! The object file format: an age-style STREAM over AES-256-GCM (D6, D7).
//! See `docs/formats.md` for the byte layout.
//!
//! ```text
//! header (100 bytes)
//!   magic "KINKOOBJ" | format u16 | suite u16 | chunk size u32
//!   | document uid [16] | version u32 | salt [32] | header MAC [32]
//! chunks: ciphertext of up to 64 KiB plaintext, each followed by a 16-byte tag
//! ```
//!
//! Keys come from the document's data key (DEK) with HKDF-SHA-256, bound
//! to the document uid and version, so one document's file put in place of
//! another's cannot open. Each chunk's nonce is an 11-byte big-endian
//! counter and a last-chunk flag; the SHA-256 of the header is every
//! chunk's AAD. Together these detect any flipped byte, reordered, dropped
//! or appended chunk and truncation, and no chunk's plaintext is released
//! before its tag checks.

use std::io::{Read, Write};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use sha2::{Digest, Sha256};

use super::{hkdf, hmac_sha256, hmac_sha256_verify, random, sha256};
use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"KINKOOBJ";
pub const FORMAT_VERSION: u16 = 1;
/// Suite 1: AES-256-GCM, HKDF-SHA-256 key derivation, HMAC-SHA-256 header MAC.
pub const SUITE_AES256GCM: u16 = 1;
/// Suite 2: Camellia-256-GCM (also on the CRYPTREC list), the same KDF and
/// MAC. It exists so that a broken AES can be swapped out by `rekey --suite 2`.
pub const SUITE_CAMELLIA256GCM: u16 = 2;
/// Every suite this build reads and writes.
pub const SUITES: [u16; 2] = [SUITE_AES256GCM, SUITE_CAMELLIA256GCM];

/// A suite's name for people (`kinko about`, `rekey`).
pub fn suite_name(suite: u16) -> &'static str {
    match suite {
        SUITE_AES256GCM => "AES-256-GCM + HKDF-SHA-256 + HMAC-SHA-256",
        SUITE_CAMELLIA256GCM => "Camellia-256-GCM + HKDF-SHA-256 + HMAC-SHA-256",
        _ => "unknown",
    }
}

/// Refuse a suite id this build does not know.
pub fn check_suite(suite: u16) -> Result<()> {
    if SUITES.contains(&suite) {
        Ok(())
    } else {
        Err(Error::Unsupported(format!(
            "content suite {suite} (this Kinko knows 1: AES-256-GCM and 2: Camellia-256-GCM)"
        )))
    }
}

type Camellia256Gcm = aes_gcm::AesGcm<camellia::Camellia256, aes_gcm::aead::consts::U12>;

/// The chunk AEAD of a suite: both are GCM over a 128-bit block cipher.
enum ChunkCipher {
    Aes(Box<Aes256Gcm>),
    Camellia(Box<Camellia256Gcm>),
}

impl ChunkCipher {
    fn new(suite: u16, key: &[u8; 32]) -> Self {
        match suite {
            SUITE_CAMELLIA256GCM => {
                ChunkCipher::Camellia(Box::new(Camellia256Gcm::new(key.into())))
            }
            _ => ChunkCipher::Aes(Box::new(Aes256Gcm::new(key.into()))),
        }
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG]> {
        let tag = match self {
            ChunkCipher::Aes(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            ChunkCipher::Camellia(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
        }
        .map_err(|_| Error::Crypto("chunk encryption failed".into()))?;
        Ok(tag.into())
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG]) -> bool {
        match self {
            ChunkCipher::Aes(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
            }
            ChunkCipher::Camellia(c) => {
                c.decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
            }
        }
        .is_ok()
    }
}
pub const CHUNK: usize = 64 * 1024;
pub const TAG: usize = 16;
pub const HEADER_LEN: usize = 8 + 2 + 2 + 4 + 16 + 4 + 32 + 32;
const MAC_OFFSET: usize = HEADER_LEN - 32;

/// What a stream pass learned about the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest256 {
    pub len: u64,
    pub sha256: [u8; 32],
}

/// The fields of a parsed, authenticated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub suite: u16,
    pub uid: [u8; 16],
    pub version: u32,
    pub salt: [u8; 32],
}

struct Keys {
    payload: ChunkCipher,
    aad: [u8; 32],
}

fn derive_keys(dek: &[u8; 32], header_bytes: &[u8; HEADER_LEN], h: &Header) -> Keys {
    let payload_key = hkdf(
        dek,
        &h.salt,
        &[b"kinko object payload v1", &h.uid, &h.version.to_be_bytes()],
    );
    Keys {
        payload: ChunkCipher::new(h.suite, &payload_key),
        aad: sha256(header_bytes),
    }
}

fn mac_key(dek: &[u8; 32], h: &Header) -> super::Key32 {
    hkdf(
        dek,
        &h.salt,
        &[b"kinko object header v1", &h.uid, &h.version.to_be_bytes()],
    )
}

fn nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    // 11-byte counter: the top 3 bytes stay zero for any file under 2^64 chunks.
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

fn build_header(dek: &[u8; 32], h: &Header) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..8].copy_from_slice(MAGIC);
    b[8..10].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
    b[10..12].copy_from_slice(&h.suite.to_be_bytes());
    b[12..16].copy_from_slice(&(CHUNK as u32).to_be_bytes());
    b[16..32].copy_from_slice(&h.uid);
    b[32..36].copy_from_slice(&h.version.to_be_bytes());
    b[36..68].copy_from_slice(&h.salt);
    let tag = hmac_sha256(&*mac_key(dek, h), &b[..MAC_OFFSET]);
    b[MAC_OFFSET..].copy_from_slice(&tag);
    b
}

/// Parse a header without any key: the fields are checked for shape only.
/// The MAC is checked by [`authenticate_header`].
pub fn parse_header(b: &[u8; HEADER_LEN]) -> Result<Header> {
    if &b[0..8] != MAGIC {
        return Err(Error::tampered("not a Kinko object file (bad magic)"));
    }
    let format = u16::from_be_bytes([b[8], b[9]]);
    if format != FORMAT_VERSION {
        return Err(Error::tampered(format!(
            "object format version {format} is not one Kinko wrote"
        )));
    }
    let suite = u16::from_be_bytes([b[10], b[11]]);
    if !SUITES.contains(&suite) {
        return Err(Error::tampered(format!("unknown object suite id {suite}")));
    }
    let chunk = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
    if chunk as usize != CHUNK {
        return Err(Error::tampered(format!(
            "object chunk size {chunk} is not 65536"
        )));
    }
    Ok(Header {
        suite,
        uid: b[16..32].try_into().expect("16 bytes"),
        version: u32::from_be_bytes([b[32], b[33], b[34], b[35]]),
        salt: b[36..68].try_into().expect("32 bytes"),
    })
}

fn authenticate_header(dek: &[u8; 32], b: &[u8; HEADER_LEN], h: &Header) -> Result<()> {
    if !hmac_sha256_verify(&*mac_key(dek, h), &b[..MAC_OFFSET], &b[MAC_OFFSET..]) {
        return Err(Error::tampered("object header fails its MAC"));
    }
    Ok(())
}

/// Whether `header` (an object file's first bytes) authenticates under
/// `dek`: which of several keys a file was made with.
pub fn header_opens(dek: &[u8; 32], header: &[u8; HEADER_LEN]) -> bool {
    parse_header(header).is_ok_and(|h| authenticate_header(dek, header, &h).is_ok())
}

/// Read until `buf` is full or the reader ends; returns how many bytes came.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where a stream failure came from: the side being read, the side being
/// written, or the ciphertext itself.
#[derive(Debug)]
pub enum StreamError {
    Read(std::io::Error),
    Write(std::io::Error),
    Format(Error),
}

impl StreamError {
    /// As the core's error: damage stays tampering; an I/O failure names `what`.
    pub fn into_error(self, what: impl Into<std::path::PathBuf>) -> Error {
        match self {
            StreamError::Format(e) => e,
            StreamError::Read(io) | StreamError::Write(io) => Error::io(what, io),
        }
    }
}

impl From<Error> for StreamError {
    fn from(e: Error) -> Self {
        StreamError::Format(e)
    }
}

/// Encrypt `plaintext` into `out` under `dek`, computing the plaintext's
/// length and SHA-256 in the same pass. Memory use is two chunk buffers,
/// whatever the size.
pub fn encrypt(
    dek: &[u8; 32],
    uid: [u8; 16],
    version: u32,
    plaintext: &mut impl Read,
    out: &mut impl Write,
) -> Result<Digest256, StreamError> {
    encrypt_with(SUITE_AES256GCM, dek, uid, version, plaintext, out)
}

/// [`encrypt`] under a chosen content suite.
pub fn encrypt_with(
    suite: u16,
    dek: &[u8; 32],
    uid: [u8; 16],
    version: u32,
    plaintext: &mut impl Read,
    out: &mut impl Write,
) -> Result<Digest256, StreamError> {
    check_suite(suite)?;
    let h = Header {
        suite,
        uid,
        version,
        salt: random::<32>(),
    };
    let header = build_header(dek, &h);
    let keys = derive_keys(dek, &header, &h);
    out.write_all(&header).map_err(StreamError::Write)?;

    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut cur = zeroize::Zeroizing::new(vec![0u8; CHUNK + TAG]);
    let mut next = zeroize::Zeroizing::new(vec![0u8; CHUNK + TAG]);
    let mut cur_len = read_full(plaintext, &mut cur[..CHUNK]).map_err(StreamError::Read)?;
    let mut counter = 0u64;
    loop {
        // A chunk is the last if it is short, or full with nothing after it.
        let (last, next_len) = if cur_len < CHUNK {
            (true, 0)
        } else {
            let n = read_full(plaintext, &mut next[..CHUNK]).map_err(StreamError::Read)?;
            (n == 0, n)
        };
        hasher.update(&cur[..cur_len]);
        len += cur_len as u64;
        let tag = keys
            .payload
            .seal(&nonce(counter, last), &keys.aad, &mut cur[..cur_len])?;
        cur[cur_len..cur_len + TAG].copy_from_slice(&tag);
        out.write_all(&cur[..cur_len + TAG])
            .map_err(StreamError::Write)?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
        counter += 1;
    }
    Ok(Digest256 {
        len,
        sha256: hasher.finalize().into(),
    })
}

/// Decrypt an object made by [`encrypt`], writing each chunk's plaintext
/// only after its tag checks. `uid` and `version` are what the database
/// says this object is: a file of another document is reported as
/// tampering.
pub fn decrypt(
    dek: &[u8; 32],
    uid: [u8; 16],
    version: u32,
    ciphertext: &mut impl Read,
    out: &mut impl Write,
) -> Result<Digest256, StreamError> {
    let mut header = [0u8; HEADER_LEN];
    let n = read_full(ciphertext, &mut header).map_err(StreamError::Read)?;
    if n < HEADER_LEN {
        return Err(Error::tampered("object file is truncated inside its header").into());
    }
    let h = parse_header(&header)?;
    if h.uid != uid || h.version != version {
        return Err(Error::tampered("object file belongs to another document").into());
    }
    authenticate_header(dek, &header, &h)?;
    let keys = derive_keys(dek, &header, &h);

    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut cur = zeroize::Zeroizing::new(vec![0u8; CHUNK + TAG]);
    let mut next = zeroize::Zeroizing::new(vec![0u8; CHUNK + TAG]);
    let mut cur_len = read_full(ciphertext, &mut cur).map_err(StreamError::Read)?;
    let mut counter = 0u64;
    loop {
        if cur_len < TAG {
            return Err(
                Error::tampered(format!("object file is truncated at chunk {counter}")).into(),
            );
        }
        let (last, next_len) = if cur_len < CHUNK + TAG {
            (true, 0)
        } else {
            let n = read_full(ciphertext, &mut next).map_err(StreamError::Read)?;
            (n == 0, n)
        };
        if last && counter > 0 && cur_len == TAG {
            // The writer never emits an empty final chunk after a full one.
            return Err(Error::tampered("object file has an empty final chunk").into());
        }
        let pt_len = cur_len - TAG;
        let (body, tag) = cur[..cur_len].split_at_mut(pt_len);
        let tag: &[u8; TAG] = (&*tag).try_into().expect("16-byte tag");
        if !keys
            .payload
            .open(&nonce(counter, last), &keys.aad, body, tag)
        {
            return Err(Error::tampered(format!(
                "object chunk {counter} fails authentication (changed, reordered, dropped or appended data)"
            ))
            .into());
        }
        hasher.update(&cur[..pt_len]);
        len += pt_len as u64;
        out.write_all(&cur[..pt_len]).map_err(StreamError::Write)?;
        if last {
            break;
        }
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
        counter += 1;
    }
    Ok(Digest256 {
        len,
        sha256: hasher.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(dek: &[u8; 32], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encrypt(dek, [7; 16], 1, &mut &data[..], &mut out).unwrap();
        out
    }

    fn dec(dek: &[u8; 32], ct: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        match decrypt(dek, [7; 16], 1, &mut &ct[..], &mut out) {
            Ok(d) => {
                assert_eq!(d.len as usize, out.len());
                Ok(out)
            }
            Err(StreamError::Format(e)) => Err(e),
            Err(e) => panic!("unexpected I/O error {e:?}"),
        }
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        let dek = crate::crypto::random_key();
        for n in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            3 * 1024 * 1024 + 17,
        ] {
            let data = sample(n);
            let ct = enc(&dek, &data);
            let chunks = n.div_ceil(CHUNK).max(1);
            assert_eq!(ct.len(), HEADER_LEN + n + chunks * TAG, "size {n}");
            assert_eq!(dec(&dek, &ct).unwrap(), data, "size {n}");
            let mut sink = Vec::new();
            let d = encrypt(&dek, [7; 16], 1, &mut &data[..], &mut sink).unwrap();
            assert_eq!(d.sha256, sha256(&data));
        }
    }

    #[test]
    fn tamper_matrix_is_detected() {
        let dek = crate::crypto::random_key();
        let data = sample(3 * CHUNK + 100);
        let ct = enc(&dek, &data);
        let chunk = |i: usize| {
            let s = HEADER_LEN + i * (CHUNK + TAG);
            s..(s + CHUNK + TAG).min(ct.len())
        };
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, at) in [
            ("header", 20),
            ("header mac", 90),
            ("chunk", HEADER_LEN + 5),
        ] {
            let mut c = ct.clone();
            c[at] ^= 0x40;
            cases.push((name, c));
        }
        let mut c = ct.clone();
        let tag_at = chunk(0).end - 1;
        c[tag_at] ^= 1;
        cases.push(("tag", c));
        let mut swapped = ct[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&ct[chunk(1)]);
        swapped.extend_from_slice(&ct[chunk(0)]);
        swapped.extend_from_slice(&ct[chunk(2).start..]);
        cases.push(("swapped chunks", swapped));
        cases.push(("last chunk dropped", ct[..chunk(3).start].to_vec()));
        let mut appended = ct.clone();
        appended.extend_from_slice(&ct[chunk(1)]);
        cases.push(("chunk appended", appended));
        cases.push(("truncated mid-chunk", ct[..chunk(1).start + 100].to_vec()));
        cases.push(("truncated header", ct[..50].to_vec()));
        for (name, bad) in cases {
            assert!(matches!(dec(&dek, &bad), Err(Error::Tampered(_))), "{name}");
        }
        // Another document's object: same DEK even, different uid.
        let mut other = Vec::new();
        encrypt(&dek, [8; 16], 1, &mut &data[..], &mut other).unwrap();
        assert!(matches!(dec(&dek, &other), Err(Error::Tampered(_))));
        // Wrong key.
        assert!(matches!(
            dec(&crate::crypto::random_key(), &ct),
            Err(Error::Tampered(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_content_round_trips(data in proptest::collection::vec(any::<u8>(), 0..200_000)) {
            let dek = crate::crypto::random_key();
            prop_assert_eq!(dec(&dek, &enc(&dek, &data)).unwrap(), data);
        }

        #[test]
        fn any_single_byte_change_is_tampering(
            len in 0usize..140_000, at in any::<prop::sample::Index>(), bit in 0u8..8
        ) {
            let dek = crate::crypto::random_key();
            let mut ct = enc(&dek, &sample(len));
            let i = at.index(ct.len());
            ct[i] ^= 1 << bit;
            prop_assert!(matches!(dec(&dek, &ct), Err(Error::Tampered(_))));
        }

        #[test]
        fn any_truncation_or_garbage_is_tampering(
            len in 0usize..140_000, cut in any::<prop::sample::Index>(),
            junk in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let dek = crate::crypto::random_key();
            let ct = enc(&dek, &sample(len));
            let cut = cut.index(ct.len());
            prop_assert!(matches!(dec(&dek, &ct[..cut]), Err(Error::Tampered(_))));
            prop_assert!(matches!(dec(&dek, &junk), Err(Error::Tampered(_))));
        }
    }

    /// Suite 2 (Camellia-256-GCM) round-trips, is not suite 1 under
    /// another name, and its id cannot be swapped in the header.
    #[test]
    fn camellia_suite_round_trips_and_its_id_is_bound() {
        let dek = [9u8; 32];
        let data: Vec<u8> = (0..(CHUNK * 2 + 5)).map(|i| i as u8).collect();
        let mut ct = Vec::new();
        encrypt_with(
            SUITE_CAMELLIA256GCM,
            &dek,
            [7; 16],
            1,
            &mut &data[..],
            &mut ct,
        )
        .unwrap();
        assert_eq!(u16::from_be_bytes([ct[10], ct[11]]), SUITE_CAMELLIA256GCM);
        assert_eq!(dec(&dek, &ct).unwrap(), data);
        // The suite id is under the header MAC: it cannot be swapped.
        let mut as_aes = ct.clone();
        as_aes[10..12].copy_from_slice(&SUITE_AES256GCM.to_be_bytes());
        assert!(matches!(dec(&dek, &as_aes), Err(Error::Tampered(_))));
        let mut bad = ct.clone();
        bad[HEADER_LEN + 3] ^= 1;
        assert!(matches!(dec(&dek, &bad), Err(Error::Tampered(_))));
        assert!(encrypt_with(3, &dek, [7; 16], 1, &mut &data[..], &mut Vec::new()).is_err());
        let mut unknown = ct;
        unknown[10..12].copy_from_slice(&7u16.to_be_bytes());
        assert!(matches!(dec(&dek, &unknown), Err(Error::Tampered(_))));
    }
}
