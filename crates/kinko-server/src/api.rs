//! The HTTP API terminals call. Enrolment is open to a TLS client without
//! a certificate; everything else needs the certificate of an enrolled
//! terminal that is not revoked ([`Terminal`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::Pool;
use kinko_protocol::{ErrorBody, Hello, TerminalInfo};

use crate::authority::Authority;
use crate::enrolment::{self, EnrolAnswer, EnrolRequest};
use crate::error::Error;
use crate::store;

/// What the server shares with every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Pool,
    pub authority: Arc<Authority>,
}

/// Who is at the other end of a connection: its address and the
/// fingerprint of the client certificate it showed, if any (rustls has
/// already checked that the certificate chains to the server's CA).
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub certificate: Option<String>,
}

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
            _ => (StatusCode::SERVICE_UNAVAILABLE, "server"),
        };
        let message = match &self.0 {
            // The database's own words stay in the server's log.
            Error::Database(m) => {
                eprintln!("kinko-server: database: {m}");
                "the server's database is not answering".to_string()
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

/// An enrolled terminal that is not revoked: what every call but
/// enrolment needs.
#[derive(Debug, Clone)]
pub struct Terminal(pub TerminalInfo);

impl FromRequestParts<AppState> for Terminal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fingerprint = parts
            .extensions
            .get::<Peer>()
            .and_then(|p| p.certificate.clone())
            .ok_or_else(|| {
                Error::Refused("this call needs an enrolled terminal's certificate".into())
            })?;
        let row = store::terminal_by_fingerprint(&state.db, &fingerprint)
            .await?
            .ok_or_else(|| Error::Refused("this terminal is not enrolled here".into()))?;
        if let Some(at) = row.revoked_at {
            return Err(Error::Refused(format!("this terminal was revoked at {at}")).into());
        }
        Ok(Terminal(TerminalInfo {
            id: row.id,
            name: row.name,
            account: row.account,
        }))
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/enrol/{request}", get(collect))
        .route("/v1/hello", get(hello))
        .with_state(state)
}

async fn enrol(
    State(state): State<AppState>,
    Json(req): Json<EnrolRequest>,
) -> Result<Json<EnrolAnswer>, ApiError> {
    Ok(Json(
        enrolment::enrol(&state.db, &state.authority, &req).await?,
    ))
}

async fn collect(
    State(state): State<AppState>,
    Path(request): Path<String>,
) -> Result<Json<EnrolAnswer>, ApiError> {
    Ok(Json(enrolment::collect(&state.db, &request).await?))
}

/// Who the server takes this terminal to be.
async fn hello(Terminal(terminal): Terminal) -> Json<Hello> {
    Json(Hello {
        server: "kinko-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        terminal,
    })
}
