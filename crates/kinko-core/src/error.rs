//! One error type for the whole core. Each variant belongs to a [`Kind`]
//! that the shells turn into an exit code (CLI) or an error code (app);
//! the text is a single sentence that names what was wrong and never holds
//! secrets or document contents.

use std::path::PathBuf;

/// What sort of failure this is: decides the CLI exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: I/O, bad input, a missing vault (exit 1).
    Failed,
    /// Not signed in, wrong credentials, expired session (exit 3).
    Auth,
    /// Signed in but the role or grant does not allow it (exit 4).
    Denied,
    /// Stored bytes are not what Kinko wrote: tampering or damage (exit 5).
    Integrity,
}

/// Every failure the core reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no Kinko vault at {0}")]
    NoVault(PathBuf),
    #[error("a vault already exists at {0}")]
    VaultExists(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Bad input in one named field (`origin`, `birth_date` …): a shell
    /// may add the name of its own flag or control for that field.
    #[error("invalid input: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("wrong user ID or password")]
    BadCredentials,
    #[error("not signed in: {0}")]
    NotSignedIn(String),
    #[error("the account is locked after repeated failed sign-ins until {0} (or until the system administrator unlocks it)")]
    Locked(String),
    #[error("not signed in: {0}")]
    BadCode(String),
    /// The keyslot also needs its PKCS#11 token, which was not given or
    /// could not be used (`possession.rs`).
    #[error("not signed in: {0}")]
    TokenNeeded(String),
    #[error("not permitted: {0}")]
    Denied(String),
    #[error("tampering detected: {0}")]
    Tampered(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    /// An earlier release made the vault: its officer upgrades it first.
    #[error("{0}")]
    NeedsUpgrade(String),
    #[error("the source file changed while it was being imported: {0}")]
    SourceChanged(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the audit event could not be written, so nothing was done: {0}")]
    AuditWrite(String),
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// The office server could not be reached or did not answer as a
    /// Kinko server does (`kinko-remote`).
    #[error("the office server: {0}")]
    Server(String),
    /// The office server refused this terminal: not enrolled, revoked,
    /// or an enrolment token or code it does not know.
    #[error("the office server refused this terminal: {0}")]
    TerminalRefused(String),
}

impl Error {
    /// The kind decides how a shell reports the error (exit code).
    pub fn kind(&self) -> Kind {
        match self {
            Error::BadCredentials
            | Error::NotSignedIn(_)
            | Error::Locked(_)
            | Error::BadCode(_)
            | Error::TokenNeeded(_)
            | Error::TerminalRefused(_) => Kind::Auth,
            Error::Denied(_) => Kind::Denied,
            Error::Tampered(_) => Kind::Integrity,
            _ => Kind::Failed,
        }
    }

    /// What happened and what to do next, for a person, in Japanese and
    /// English: the one list both shells show above the error's own line.
    pub fn lead(&self) -> Lead {
        lead(self.code())
    }

    /// A short, stable code for scripts and the app (`{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoVault(_) => "no_vault",
            Error::VaultExists(_) => "vault_exists",
            Error::Io { .. } => "io",
            Error::Invalid(_) | Error::Field { .. } => "invalid",
            Error::NotFound(_) => "not_found",
            Error::BadCredentials => "bad_credentials",
            Error::NotSignedIn(_) => "not_signed_in",
            Error::Locked(_) => "locked",
            Error::BadCode(_) => "bad_code",
            Error::TokenNeeded(_) => "token_needed",
            Error::Denied(_) => "denied",
            Error::Tampered(_) => "tampered",
            Error::Unsupported(_) => "unsupported",
            Error::NeedsUpgrade(_) => "needs_upgrade",
            Error::SourceChanged(_) => "source_changed",
            Error::Database(_) => "database",
            Error::AuditWrite(_) => "audit_write",
            Error::Crypto(_) => "crypto",
            Error::Cancelled(_) => "cancelled",
            Error::Server(_) => "server",
            Error::TerminalRefused(_) => "terminal_refused",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// Bad input in `field`; `message` names it in words.
    pub(crate) fn field(field: &'static str, message: impl Into<String>) -> Self {
        Error::Field {
            field,
            message: message.into(),
        }
    }

    /// The input field an error is about, if it is about one.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Error::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn tampered(msg: impl Into<String>) -> Self {
        Error::Tampered(msg.into())
    }

    pub(crate) fn denied(msg: impl Into<String>) -> Self {
        Error::Denied(msg.into())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match e.sqlite_error_code() {
            // SQLCipher reports a page whose HMAC fails as "not a database"
            // or as corruption: either way the file is not what we wrote.
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                Error::Tampered("the vault database fails its integrity check".into())
            }
            _ => Error::Database(e.to_string()),
        }
    }
}

/// Result with the core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error's lead sentence, in Japanese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Lead {
    pub ja: &'static str,
    pub en: &'static str,
}

/// The lead for an error code (any code a shell uses: the core's, and
/// `locked` / `not_signed_in` / `invalid` for the shells' own refusals).
/// Worded for either shell: no screen, button or flag is named.
pub fn lead(code: &str) -> Lead {
    let (ja, en) = match code {
        "no_vault" => ("金庫が見つかりません。場所を確かめるか、新しく作成してください。", "No vault was found. Check where it is, or create one."),
        "vault_exists" => ("そこには既に金庫があります。サインインしてください。", "A vault already exists there. Sign in instead."),
        "io" => ("ファイルを読み書きできませんでした。場所と空き容量を確認して、もう一度お試しください。", "A file could not be read or written. Check the place and free space, then try again."),
        "invalid" => ("入力内容に誤りがあります。続く説明を見て直してください。", "Something entered is not right. The detail says what; correct it and try again."),
        "not_found" => ("見つかりません。番号やIDを確認してください。", "Not found. Check the number or ID."),
        "token_needed" => ("このアカウントはICカード等のトークンも使ってサインインします。トークンを差し込み、PINを入力してください。", "This account signs in with its token as well: insert it and give its PIN."),
        "bad_credentials" => ("ユーザーIDまたはパスワードが違います。続けて間違えると一定時間ロックされます。", "Wrong user ID or password. Repeated failures lock the account for a while."),
        "not_signed_in" => ("サインインが必要です（または時間切れです）。もう一度サインインしてください。", "You need to sign in (or the session ended). Sign in again."),
        "locked" => ("アカウントまたはアプリがロックされています。時間をおくか、システム管理者に解除を依頼してください。", "The account or the app is locked. Wait, or ask the system administrator to unlock it."),
        "bad_code" => ("ワンタイムコードが違います。認証アプリの最新のコードを入力してください。", "Wrong one-time code. Type the latest code from your authenticator app."),
        "denied" => ("この操作は許可されていません（記録されました）。必要なら情報取扱管理担当者または情報管理責任者に相談してください。", "You are not permitted to do this (the attempt is recorded). Ask the handling manager or the officer if you need it."),
        "tampered" => ("改ざんまたは破損を検出しました。操作を中止し、直ちに情報管理責任者に報告してください。", "Tampering or damage was detected. Stop and report it to the Information Management Officer at once."),
        "unsupported" => ("この操作には対応していません。続く説明をご覧ください。", "This is not supported. See the detail."),
        "needs_upgrade" => ("この金庫は以前の版の Kinko で作られました。情報管理責任者が回復コードで一度だけ更新すると、使えるようになります。", "An earlier Kinko made this vault. Once its Information Management Officer upgrades it with the recovery code, it opens again."),
        "source_changed" => ("取込み中に元のファイルが変わりました。ファイルを閉じてからもう一度受領してください。", "The file changed while it was being received. Close it and receive it again."),
        "database" => ("金庫のデータベースでエラーが起きました。もう一度お試しください。続く場合は情報管理責任者に報告してください。", "The vault's database failed. Try again; if it persists, report it to the officer."),
        "audit_write" => ("監査ログに記録できなかったため、操作を取り消しました。情報管理責任者に報告してください。", "The audit trail could not be written, so nothing was done. Report it to the officer."),
        "cancelled" => ("中止しました。何も保存されていません。", "Cancelled; nothing was kept."),
        "server" => ("事務所サーバーに接続できないか、応答が正しくありません。ネットワークとサーバーの状態を確認して、もう一度お試しください。", "The office server could not be reached or answered wrongly. Check the network and the server, then try again."),
        "terminal_refused" => ("事務所サーバーがこの端末を受け付けませんでした。システム管理者に端末の登録を依頼してください。", "The office server refused this terminal. Ask the system administrator to enrol it."),
        "busy" => ("時間のかかる処理の最中です。終わってからもう一度お試しください。", "A long action is running. Try again when it is done."),
        "crypto" => ("暗号処理でエラーが起きました。情報管理責任者に報告してください。", "A cryptographic operation failed. Report it to the officer."),
        _ => ("うまくいきませんでした。続く説明をご覧ください。", "That did not work. See the detail."),
    };
    Lead { ja, en }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_lead_in_both_languages() {
        let errors = [
            Error::NoVault("x".into()),
            Error::VaultExists("x".into()),
            Error::io("x", std::io::Error::other("x")),
            Error::Invalid("x".into()),
            Error::NotFound("x".into()),
            Error::BadCredentials,
            Error::NotSignedIn("x".into()),
            Error::Locked("x".into()),
            Error::BadCode("x".into()),
            Error::TokenNeeded("x".into()),
            Error::Denied("x".into()),
            Error::Tampered("x".into()),
            Error::Unsupported("x".into()),
            Error::NeedsUpgrade("x".into()),
            Error::SourceChanged("x".into()),
            Error::Database("x".into()),
            Error::AuditWrite("x".into()),
            Error::Crypto("x".into()),
            Error::Cancelled("x".into()),
            Error::Server("x".into()),
            Error::TerminalRefused("x".into()),
        ];
        let fallback = lead("");
        for e in &errors {
            let l = e.lead();
            assert_ne!(l, fallback, "{} has no lead", e.code());
            assert!(!l.ja.is_empty() && !l.en.is_empty());
        }
    }
}
