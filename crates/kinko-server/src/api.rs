//! The HTTP API terminals call. Enrolment is open to a TLS client without
//! a certificate; everything else needs the certificate of an enrolled
//! terminal that is not revoked ([`Terminal`]).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Query};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use deadpool_postgres::Pool;
use kinko_protocol::{
    Append, Appended, CreateVault, Hello, ListedTerminal, TerminalInfo, Turn, TurnRequest, Units,
    VaultState, WaitingTerminal,
};

use crate::answer::ApiError;
use crate::authority::Authority;
use crate::enrolment::{self, EnrolAnswer, EnrolRequest};
use crate::error::Error;
use crate::limits::{self, Rates};
use crate::log;
use crate::objects::Objects;
pub use crate::peer::Peer;
use crate::store;
use crate::turns::Turns;

/// The largest request body: a unit with its keyslots; a snapshot unit
/// holds the whole database (base64 in JSON).
const UNIT_LIMIT: usize = 64 << 20;

/// What the server shares with every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Pool,
    pub authority: Arc<Authority>,
    pub turns: Turns,
    pub objects: Objects,
    pub rates: Rates,
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

/// How long a call may take (a turn waits up to 30 s of it); object
/// transfers have no limit but the connection's.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The routes.
pub fn router(state: AppState) -> Router {
    let rates = state.rates.clone();
    let calls = Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/enrol/{request}", get(collect))
        .route("/v1/enrol/waiting/{code}", get(waiting))
        .route("/v1/terminals", get(terminals))
        .route("/v1/hello", get(hello))
        .route("/v1/vault", get(vault_state).post(create_vault))
        .route("/v1/turn", post(take_turn))
        .route("/v1/turn/{lease}", delete(give_back))
        .route("/v1/units", get(units).post(append))
        .route("/v1/erased", get(erased))
        .layer(DefaultBodyLimit::max(UNIT_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            CALL_TIMEOUT,
        ));
    // Objects stream through in parts; their size is the document's.
    let objects = Router::new().route(
        "/v1/objects/{name}",
        get(get_object)
            .put(put_object)
            .layer(DefaultBodyLimit::disable()),
    );
    calls
        .merge(objects)
        .layer(axum::middleware::from_fn_with_state(rates, limits::limit))
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

/// A terminal waiting with `code`, for an approver's terminal.
async fn waiting(
    _: Terminal,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<WaitingTerminal>, ApiError> {
    Ok(Json(enrolment::waiting_one(&state.db, &code).await?))
}

/// Every terminal, with its key and the unit that approved it, for a
/// terminal's `audit verify`.
async fn terminals(
    _: Terminal,
    State(state): State<AppState>,
) -> Result<Json<Vec<ListedTerminal>>, ApiError> {
    let rows = store::terminals(&state.db).await?;
    Ok(Json(
        rows.into_iter()
            .map(|t| ListedTerminal {
                id: t.id,
                name: t.name,
                account: t.account,
                key: t.key,
                approved_in: t.approved_in.map(|n| n as u64),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
    ))
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
        snapshot: log::snapshot(&state.db).await?,
    }))
}

async fn create_vault(
    Terminal(terminal): Terminal,
    State(state): State<AppState>,
    Json(req): Json<CreateVault>,
) -> Result<Json<Appended>, ApiError> {
    let seq = log::create(&state.db, &terminal.id, &req.vault, &req.unit).await?;
    Ok(Json(Appended {
        seq,
        approved: None,
    }))
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
    let approval = req.approve.as_ref().map(|a| log::Approval {
        authority: &state.authority,
        code: &a.code,
        key: &a.key,
    });
    let appended = log::append(
        &state.db,
        &terminal.id,
        req.base,
        &req.unit,
        approval,
        &req.erase,
    )
    .await;
    state.turns.give_back(&req.lease);
    let (seq, approved) = appended?;
    // Recorded with the unit: gone from the store now. One left by a
    // failure here goes at the server's next start (`serve.rs`), and a
    // terminal asking for it is told it was erased.
    for name in &req.erase {
        if let Err(e) = state.objects.delete(name).await {
            eprintln!("kinko-server: erased object {name} is still in the store ({e}); it goes at the next start");
        }
    }
    Ok(Json(Appended {
        seq,
        approved: approved.map(|a| kinko_protocol::TerminalInfo {
            id: a.terminal,
            name: a.name,
            account: a.account,
        }),
    }))
}

async fn put_object(
    _: Terminal,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Body,
) -> Result<(), ApiError> {
    if let Some(unit) = store::erased_by(&state.db, &name).await? {
        return Err(Error::Conflict(format!("object {name} was erased by unit {unit}")).into());
    }
    state.objects.put(&name, body).await?;
    Ok(())
}

async fn get_object(
    _: Terminal,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::body::Body, ApiError> {
    if let Some(unit) = store::erased_by(&state.db, &name).await? {
        return Err(Error::NotFound(format!("object {name} was erased by unit {unit}")).into());
    }
    Ok(state.objects.get(&name).await?)
}

/// Every object a unit erased, for a terminal's `audit verify` and a
/// disposal's confirmation.
async fn erased(
    _: Terminal,
    State(state): State<AppState>,
) -> Result<Json<Vec<kinko_protocol::ErasedObject>>, ApiError> {
    Ok(Json(store::erased(&state.db).await?))
}
