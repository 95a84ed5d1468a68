//! A refusal as the page receives it: `{code, lead, message, field?}`; the
//! code picks the sentence, the lead is the core's, the message its one
//! line, the field the input it is about.

use serde::Serialize;

/// A refusal as the page receives it: the code, the core's lead for it
/// (the one list both shells use) and the detail line.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CommandError {
    pub code: &'static str,
    pub lead: kinko_core::error::Lead,
    pub message: String,
    /// The input field the refusal is about (`origin`, `birth_date` …),
    /// for the page to point at its control.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

impl CommandError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        CommandError {
            code,
            lead: kinko_core::error::lead(code),
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError::new("invalid", message)
    }

    pub(crate) fn not_signed_in() -> Self {
        CommandError::new("not_signed_in", "sign in first")
    }

    /// A long action holds the session; ask again when it is done.
    pub fn busy() -> Self {
        CommandError::new(
            "busy",
            "the app is busy with a long action; try again when it is done",
        )
    }
}

impl CommandError {
    pub(crate) fn locked() -> Self {
        CommandError::new("locked", "the app locked; sign in again")
    }
}

impl From<kinko_core::Error> for CommandError {
    fn from(e: kinko_core::Error) -> Self {
        CommandError {
            code: e.code(),
            lead: e.lead(),
            message: e.to_string(),
            field: e.field_name(),
        }
    }
}

pub type Reply<T> = Result<T, CommandError>;
