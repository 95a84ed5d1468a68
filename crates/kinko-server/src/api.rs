//! The HTTP API terminals call. Enrolment is open to a TLS client without
//! a certificate; everything else needs the certificate of an enrolled
//! terminal that is not revoked ([`Terminal`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Query};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use deadpool_postgres::Pool;
use kinko_protocol::{
    Append, Appended, CreateVault, ErrorBody, Hello, TerminalInfo, Turn, TurnRequest, Units,
    VaultState,
};

use crate::authority::Authority;
use crate::enrolment::{self, EnrolAnswer, EnrolRequest};
use crate::error::Error;
use crate::log;
use crate::objects::Objects;
use crate::store;
use crate::turns::Turns;

/// The largest request body: a unit with its keyslots.
const UNIT_LIMIT: usize = 16 << 20;

/// What the server shares with every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Pool,
    pub authority: Arc<Authority>,
    pub turns: Turns,
    pub objects: Objects,
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
        .route("/v1/vault", get(vault_state).post(create_vault))
        .route("/v1/turn", post(take_turn))
        .route("/v1/turn/{lease}", delete(give_back))
        .route("/v1/units", get(units).post(append))
        .layer(DefaultBodyLimit::max(UNIT_LIMIT))
        // Objects stream through in parts; their size is the document's.
        .route(
            "/v1/objects/{name}",
            get(get_object)
                .put(put_object)
                .layer(DefaultBodyLimit::disable()),
        )
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

/// The vault's record, the log's head and the newest keyslots.
async fn vault_state(
    _: Terminal,
    State(state): State<AppState>,
) -> Result<Json<VaultState>, ApiError> {
    Ok(Json(VaultState {
        vault: log::vault(&state.db).await?,
        head: log::head(&state.db).await?,
        keyslots: log::keyslots(&state.db).await?,
    }))
}

async fn create_vault(
    Terminal(terminal): Terminal,
    State(state): State<AppState>,
    Json(req): Json<CreateVault>,
) -> Result<Json<Appended>, ApiError> {
    let seq = log::create(&state.db, &terminal.id, &req.vault, &req.unit).await?;
    Ok(Json(Appended { seq }))
}

/// Wait for this terminal's turn; hand it the units it has not seen.
async fn take_turn(
    Terminal(terminal): Terminal,
    State(state): State<AppState>,
    Json(req): Json<TurnRequest>,
) -> Result<Json<Turn>, ApiError> {
    let lease = state.turns.take(&terminal.id).await?;
    let read = async {
        let head = log::head(&state.db).await?;
        let units = log::units_after(&state.db, req.after).await?;
        Ok::<_, Error>((head, units))
    };
    match read.await {
        Ok((head, units)) => Ok(Json(Turn { lease, head, units })),
        Err(e) => {
            state.turns.give_back(&lease);
            Err(e.into())
        }
    }
}

async fn give_back(
    Terminal(terminal): Terminal,
    State(state): State<AppState>,
    Path(lease): Path<String>,
) -> Result<(), ApiError> {
    state.turns.check(&lease, &terminal.id)?;
    state.turns.give_back(&lease);
    Ok(())
}

#[derive(serde::Deserialize)]
struct After {
    after: u64,
}

async fn units(
    _: Terminal,
    State(state): State<AppState>,
    Query(q): Query<After>,
) -> Result<Json<Units>, ApiError> {
    Ok(Json(Units {
        head: log::head(&state.db).await?,
        units: log::units_after(&state.db, q.after).await?,
    }))
}

/// Append under the terminal's turn; the turn ends whatever the outcome.
async fn append(
    Terminal(terminal): Terminal,
    State(state): State<AppState>,
    Json(req): Json<Append>,
) -> Result<Json<Appended>, ApiError> {
    state.turns.check(&req.lease, &terminal.id)?;
    let appended = log::append(&state.db, &terminal.id, req.base, &req.unit).await;
    state.turns.give_back(&req.lease);
    Ok(Json(Appended { seq: appended? }))
}

async fn put_object(
    _: Terminal,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Body,
) -> Result<(), ApiError> {
    state.objects.put(&name, body).await?;
    Ok(())
}

async fn get_object(
    _: Terminal,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::body::Body, ApiError> {
    Ok(state.objects.get(&name).await?)
}
