//! The office server (issue 16): one vault for a council's terminals.
//!
//! It holds what the terminals send (ciphertext, sealed changes, signed
//! events) in PostgreSQL and an object store, and it reads none of it:
//! every key and every rule stays on the terminals (`docs/server.md`,
//! decisions 51 and 52). What it does itself is decide who may talk to it
//! at all: each terminal has a client certificate from the server's own
//! CA ([`authority`]), issued at enrolment ([`enrolment`]) and checked at
//! every request ([`api`]).

pub mod answer;
pub mod api;
pub mod authority;
pub mod backup;
pub mod config;
pub mod enrolment;
pub mod error;
pub mod limits;
pub mod log;
pub mod objects;
pub mod peer;
pub mod serve;
pub mod store;
pub mod tls;
pub mod turns;

pub use error::{Error, Result};
