//! What Kinko's tests share: the core tests (`crates/kinko-core/tests`),
//! the command's end-to-end tests (`tests/cli`) and the app's command tests
//! (`src-tauri/tests`). The Python window tests keep their own TOTP helper.

use std::path::Path;

use kinko_core::crypto;
use kinko_core::keyslots::KeySlots;

/// The officer's password in every test vault.
pub const OFFICER_PW: &str = "Kinko-Vault-7q2x!";

/// Open the vault's database the way someone holding `id`'s keyslot and a
/// SQLCipher tool would: with the raw database key, outside Kinko. Attack
/// tests edit the vault through this, then show Kinko notices.
pub fn raw_db(vault: &Path, id: &str, password: &str) -> rusqlite::Connection {
    let slots = KeySlots::load(&vault.join("keyslots")).expect("the vault has a keyslots file");
    let keys = slots
        .unlock(id, password.as_bytes())
        .expect("the password opens the slot");
    let conn = rusqlite::Connection::open(vault.join("kinko.db")).expect("the database opens");
    conn.pragma_update(None, "key", format!("x'{}'", crypto::hex(&keys.db_key)))
        .expect("the key is accepted");
    conn
}

/// The one-time code an authenticator would show at `unix` seconds.
pub fn totp_at(secret_base32: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).expect("a base32 secret");
    totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("a TOTP generator")
        .generate(unix)
        .to_string()
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// The one-time code an authenticator shows now.
pub fn totp_now(secret_base32: &str) -> String {
    totp_at(secret_base32, now_unix())
}
