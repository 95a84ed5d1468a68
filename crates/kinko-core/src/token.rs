//! The session token (`<id>.<key>`, handed to the user by `kinko login`)
//! and the sealed session file it opens: the formats only, parsed here as
//! outside bytes (see `parsers`).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto;
use crate::error::{Error, Result};
use crate::keyslots::SlotSecrets;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    sealed: String,
}

fn session_aad(vault_id: &str, id: &str) -> Vec<u8> {
    format!("kinko session v1\0{vault_id}\0{id}").into_bytes()
}

/// The token for session `id` sealed under `key`.
pub(crate) fn token(id: &str, key: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "{id}.{}",
        data_encoding::BASE64URL_NOPAD.encode(key)
    ))
}

/// A session file holding `secrets` for `account`, sealed under the
/// token's key. The account ID travels inside the sealed part, so a
/// session file does not say whose it is.
pub(crate) fn seal_session_file(
    key: &[u8; 32],
    vault_id: &str,
    id: &str,
    secrets: &SlotSecrets,
    account: &str,
) -> Vec<u8> {
    let mut payload = secrets.to_bytes();
    payload.extend_from_slice(account.as_bytes());
    let sealed = crypto::seal(key, &session_aad(vault_id, id), &payload);
    let file = SessionFile {
        sealed: crypto::b64(&sealed),
    };
    serde_json::to_vec(&file).expect("serialises")
}

fn bad_token() -> Error {
    Error::NotSignedIn("the session token is not valid; sign in again with kinko login".into())
}

/// Split a session token (`<id>.<key>`, outside bytes) into the session id
/// and its 256-bit key. The id is checked when it names a file.
pub fn parse_token(token: &str) -> Result<(String, Zeroizing<[u8; 32]>)> {
    let (id, key_text) = token.trim().split_once('.').ok_or_else(bad_token)?;
    let key_bytes = Zeroizing::new(
        data_encoding::BASE64URL_NOPAD
            .decode(key_text.as_bytes())
            .map_err(|_| bad_token())?,
    );
    let key: [u8; 32] = key_bytes.as_slice().try_into().map_err(|_| bad_token())?;
    Ok((id.to_string(), Zeroizing::new(key)))
}

/// Open a session file (outside bytes) with its token's key: the keys it
/// holds and the account it belongs to.
pub fn open_session_file(
    bytes: &[u8],
    key: &[u8; 32],
    vault_id: &str,
    id: &str,
) -> Result<(SlotSecrets, String)> {
    let damaged = || Error::tampered("a session file is damaged");
    let file: SessionFile = serde_json::from_slice(bytes).map_err(|_| damaged())?;
    let sealed = crypto::unb64(&file.sealed, "session")?;
    let plain = crypto::open(key, &session_aad(vault_id, id), &sealed).ok_or_else(bad_token)?;
    if plain.len() < SlotSecrets::LEN {
        return Err(damaged());
    }
    let (keys, account) = plain.split_at(SlotSecrets::LEN);
    let secrets = SlotSecrets::from_bytes(keys)?;
    let account = std::str::from_utf8(account).map_err(|_| damaged())?;
    Ok((secrets, account.to_string()))
}
