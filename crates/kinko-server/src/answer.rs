//! Failures as a terminal sees them: an HTTP status and `{code, message}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kinko_protocol::ErrorBody;

use crate::error::Error;

/// An error as a terminal sees it: a status and `{code, message}`.
pub struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            Error::Refused(_) => (StatusCode::UNAUTHORIZED, "refused"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "server"),
        };
        let message = match &self.0 {
            // The database's own words stay in the server's log.
            Error::Database(m) => {
                eprintln!("kinko-server: database: {m}");
                "the server's database is not answering".to_string()
            }
            // So do the object store's (its addresses among them).
            Error::Objects(m) => {
                eprintln!("kinko-server: object store: {m}");
                "the server's object store is not answering".to_string()
            }
            e => e.to_string(),
        };
        (
            status,
            Json(ErrorBody {
                code: code.into(),
                message,
            }),
        )
            .into_response()
    }
}
