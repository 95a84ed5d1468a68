//! The accept loop: TLS on each connection, then HTTP/1.1 into the API
//! with the client certificate's fingerprint (if any) attached to every
//! request. Connections are capped, in all and for each terminal; a
//! handshake must finish in time, and an answer the terminal stops
//! reading is cut off after the idle limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::answer::ApiError;
use crate::authority::fingerprint;
use crate::error::{Error, Result};
use crate::limits::{peer_key, ConnectionLimits};
use crate::peer::Peer;

/// How many connections the server holds at once; more wait in the
/// kernel's backlog.
const MAX_CONNECTIONS: usize = 512;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's head must arrive in this time: a client that trickles it
/// in byte by byte (slowloris) is cut off rather than holding a slot.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            p = slots.clone().acquire_owned() => p.map_err(|e| Error::Tls(e.to_string()))?,
        };
        let (tcp, addr) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            a = listener.accept() => match a {
                Ok(a) => a,
                // A connection that failed before it was accepted (reset,
                // too many files) is the client's loss, not the server's.
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(acceptor, tcp, addr, app, limits).await;
        });
    }
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    app: axum::Router,
    limits: ConnectionLimits,
) {
    let _ = tcp.set_nodelay(true);
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
        return;
    };
    let peer = Peer {
        addr,
        certificate: tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| fingerprint(c)),
    };
    // An answer (an object, most often) the terminal stops reading would
    // hold the connection for ever: a write that waits past the idle
    // limit ends it. Reads are not timed here: the request head has its
    // own limit and an upload's body its own (`objects.rs`).
    let mut io = tokio_io_timeout::TimeoutStream::new(tls);
    io.set_write_timeout(Some(limits.idle));
    let io = TokioIo::new(Box::pin(io));
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let Some(_slot) = limits.connections.admit(peer_key(&peer)) else {
        // Over its share: every request on this connection is told so,
        // and the connection is closed after the first answer.
        let _ = http
            .serve_connection(io, hyper::service::service_fn(too_many))
            .await;
        return;
    };
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(peer.clone());
            app.clone().oneshot(req)
        });
    let _ = http.serve_connection(io, service).await;
}

/// The answer to a terminal that holds its share of connections already.
async fn too_many(
    _: hyper::Request<hyper::body::Incoming>,
) -> std::result::Result<axum::response::Response, std::convert::Infallible> {
    use axum::response::IntoResponse;
    let mut answer = ApiError::from(Error::Busy(
        "too many connections from this terminal at once; close some and try again".into(),
    ))
    .into_response();
    answer.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    Ok(answer)
}
