//! Where things are inside a vault directory. Every module that names a
//! file of the vault takes the name from here.

pub const DB_FILE: &str = "kinko.db";
/// The database written again under a new key, until it replaces
/// `DB_FILE` (`rekey`); one left by a killed run is removed by the next.
pub const DB_REKEY_FILE: &str = "kinko.db.rekey";
pub const KEYSLOTS_FILE: &str = "keyslots";
pub const OBJECTS_DIR: &str = "objects";
pub const SESSIONS_DIR: &str = "sessions";
pub const INBOX_DIR: &str = "inbox";
