//! Benchmarks, run on demand (never as tests):
//!
//! ```text
//! cargo run --release -p kinko-bench [-- SIZE_MIB]
//! ```
//!
//! Each measurement is printed beside a peer measured in the same run on
//! the same data, so the numbers compare like with like on this machine:
//! - the STREAM object format against bare AES-256-GCM over the same
//!   64 KiB chunks (the format's overhead: HKDF, header MAC, SHA-256);
//! - a whole `import`/`export` through the core (file I/O, fsync,
//!   database, audit event) against the STREAM format alone;
//! - the two password KDF profiles.
//!
//! ```text
//! cargo run --release -p kinko-bench -- audit [EVENTS]
//! ```
//!
//! The audit trail (default 1,000,000 events): appending through the real
//! path (leaf, tree nodes, alert rules) against bare inserts of the same
//! rows, both with durable (`synchronous=FULL`) commits; a full
//! verification against merely reading every row; a month's report
//! against counting the month; one inclusion proof against one row read.
//!
//! ```text
//! cargo run --release -p kinko-bench -- keys [SIZE_MIB]
//! ```
//!
//! Backup, restore and `rekey` (AES and Camellia) against copying, reading
//! and encrypting the same bytes (see `keys.rs`).
//!
//! ```text
//! bash bench/server-load.sh [TERMINALS] [SECONDS] [OPEN_MIB]
//! ```
//!
//! The office server under load against a standalone vault (see
//! `server_load.rs`).

mod audit;
mod keys;
mod server_load;

use std::io::Write;
use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use kinko_core::crypto::{self, kdf::KdfParams, kdf::KdfProfile, stream};
use kinko_core::vault::InitOptions;
use kinko_core::{ExportTarget, ImportRequest, Password, Vault};

const PASSWORD: &str = "Zq8!Vault-Speed-42";

/// How the benchmark vaults are made: officer `bench`, [`PASSWORD`].
fn init_options() -> InitOptions {
    InitOptions {
        officer_id: "bench".into(),
        officer_name: "Bench".into(),
        council: "Bench council".into(),
        password: Password::new(PASSWORD),
        kdf: KdfProfile::Argon2id,
        terminal: "bench".into(),
        policy: vec![("totp.required".into(), "false".into())],
    }
}

/// A fresh vault whose officer `bench` signs in with [`PASSWORD`].
fn new_vault(dir: &std::path::Path) {
    Vault::init(dir, init_options()).unwrap();
}

fn rate(label: &str, bytes: usize, secs: f64) {
    println!(
        "{label:<52} {:>8.0} MiB/s  ({secs:.3} s)",
        bytes as f64 / (1 << 20) as f64 / secs
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("audit") {
        let events = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000);
        audit::run(events);
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("keys") {
        let mib = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(256);
        keys::run(mib);
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("server-load") {
        let arg = |n: usize, default: u64| {
            std::env::args()
                .nth(n)
                .and_then(|a| a.parse().ok())
                .unwrap_or(default)
        };
        server_load::run(arg(2, 50) as usize, arg(3, 60), arg(4, 256) as usize);
        return;
    }
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let size = mib << 20;
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let dek = crypto::random_key();
    println!("Kinko benchmarks, {mib} MiB of data\n");

    // Peer: bare AES-256-GCM over 64 KiB chunks, no format around it.
    let cipher = Aes256Gcm::new((&*dek).into());
    let mut buf = data.clone();
    let (_, secs) = time(|| {
        for (i, chunk) in buf.chunks_mut(stream::CHUNK).enumerate() {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let _ = cipher
                .encrypt_inout_detached((&nonce).into(), b"", chunk.into())
                .unwrap();
        }
    });
    rate("peer: bare AES-256-GCM, 64 KiB chunks", size, secs);
    let (_, secs) = time(|| crypto::sha256(&data));
    rate("peer: SHA-256 alone", size, secs);

    let mut ct = Vec::with_capacity(size + size / 4000 + 200);
    let (_, secs) = time(|| stream::encrypt(&dek, [1; 16], 1, &mut &data[..], &mut ct).unwrap());
    rate("STREAM encrypt (+SHA-256 of plaintext)", size, secs);
    let mut back = Vec::with_capacity(size);
    let (_, secs) = time(|| stream::decrypt(&dek, [1; 16], 1, &mut &ct[..], &mut back).unwrap());
    rate("STREAM decrypt (+SHA-256 of plaintext)", size, secs);
    assert_eq!(back, data);

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.bin");
    std::fs::File::create(&src)
        .unwrap()
        .write_all(&data)
        .unwrap();
    let dir = tmp.path().join("vault");
    new_vault(&dir);
    let (mut s, secs) = time(|| {
        Vault::open(&dir)
            .unwrap()
            .sign_in("bench", &Password::new(PASSWORD), None, "bench")
            .unwrap()
    });
    println!(
        "{:<44} {:>8.3} s",
        "sign-in (Argon2id m=64MiB t=3 p=4 + open db)", secs
    );
    let req = ImportRequest {
        source: src.clone(),
        origin: "bench".into(),
        via: "file".into(),
        purpose: "bench".into(),
        title: None,
        personal_data: false,
    };
    let (id, secs) = time(|| s.import(&req, &mut |_, _| {}).unwrap());
    rate("kinko import (file → vault, fsync, audit)", size, secs);
    let out = tmp.path().join("out.bin");
    let (_, secs) = time(|| s.export(id, ExportTarget::File(&out)).unwrap());
    rate("kinko export (vault → new file, fsync, audit)", size, secs);

    for profile in [KdfProfile::Argon2id, KdfProfile::Pbkdf2] {
        let p = KdfParams::new(profile);
        let (_, secs) = time(|| p.derive(b"password").unwrap());
        println!("{:<44} {:>8.3} s", format!("KDF {profile:?}"), secs);
    }
}
