//! `kinko-server`: parses arguments, calls the server's library, prints.
//!
//! Exit codes as for `kinko` (CLI.md): 0 done, 1 failed, 2 usage, 3
//! refused.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kinko_server::api::{router, AppState};
use kinko_server::authority::Authority;
use kinko_server::config::{ServerDir, Settings, DEFAULT_LISTEN};
use kinko_server::limits::{ConnectionLimits, Connections};
use kinko_server::{enrolment, store, Error};

#[derive(Parser)]
#[command(name = "kinko-server", version, about = "Kinko's office server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a server: its CA, its certificate and its tables; prints the
    /// CA fingerprint and a one-time token for the first terminal.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// PostgreSQL, e.g. postgresql://kinko@127.0.0.1:5432/kinko
        #[arg(long, env = "KINKO_SERVER_DATABASE")]
        database: String,
        /// Where ciphertext goes: a folder (default DIR/objects) or s3://bucket
        #[arg(long)]
        objects: Option<String>,
        /// A name or address terminals reach the server by (repeat);
        /// default: this host's name, localhost and 127.0.0.1.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// The office's name, shown in the certificates.
        #[arg(long)]
        office: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Serve the terminals.
    Run {
        #[arg(long)]
        dir: PathBuf,
        /// ADDR:PORT (default: as set at init, 0.0.0.0:8443)
        #[arg(long)]
        listen: Option<String>,
        /// Requests a second each terminal may make (bursts of twice that).
        #[arg(long, default_value_t = kinko_server::limits::DEFAULT_RATE)]
        rate: u32,
        /// Connections each terminal (or address) may hold at once.
        #[arg(long, default_value_t = kinko_server::limits::DEFAULT_CONNECTIONS_PER_TERMINAL)]
        connections_per_terminal: usize,
        /// Seconds a transfer may stand still before it is cut off.
        #[arg(long, default_value_t = kinko_server::limits::DEFAULT_IDLE.as_secs())]
        idle_seconds: u64,
    },
    /// Terminals: tokens, approvals, the list, revocation.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Copy the server into a new folder: its tables by pg_basebackup,
    /// then its objects, then its CA and certificates.
    Backup {
        #[arg(long)]
        dir: PathBuf,
        /// A new or empty folder (on an encrypted medium: it holds the CA key)
        #[arg(long)]
        to: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Make a server in DIR from a backup whose `database` folder runs as
    /// the PostgreSQL cluster DATABASE names.
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, env = "KINKO_SERVER_DATABASE")]
        database: String,
        /// Where the objects go (default DIR/objects)
        #[arg(long)]
        objects: Option<String>,
    },
    /// Point the server at its database anew (another address, a standby
    /// added to the URL); the database must be this server's.
    SetDatabase {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, env = "KINKO_SERVER_DATABASE")]
        database: String,
    },
}

#[derive(Subcommand)]
enum DeviceCmd {
    /// A new one-time enrolment token (24 hours).
    Token {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Approve the terminal waiting with CODE.
    Approve {
        code: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// The enrolled terminals and the ones waiting.
    List {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a terminal: its certificate opens nothing from now on.
    Revoke {
        terminal: String,
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kinko-server: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<Error>() {
                Some(Error::Refused(_)) => 3,
                _ => 1,
            };
            let line = format!("{e:#}")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("kinko-server: {line}");
            ExitCode::from(code)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init {
            dir,
            database,
            objects,
            hosts,
            office,
            json,
        } => init(dir, database, objects, hosts, office, json).await,
        Command::Run {
            dir,
            listen,
            rate,
            connections_per_terminal,
            idle_seconds,
        } => {
            let limits = ConnectionLimits {
                connections: Connections::new(connections_per_terminal),
                idle: std::time::Duration::from_secs(idle_seconds.max(1)),
            };
            serve(dir, listen, rate, limits).await
        }
        Command::Device(cmd) => device(cmd).await,
        Command::Backup { dir, to, json } => {
            let manifest = kinko_server::backup::backup(&ServerDir::new(&dir), &to).await?;
            if json {
                println!("{}", serde_json::to_string(&manifest)?);
            } else {
                println!(
                    "backed up: {} units, {} objects, into {}",
                    manifest.units,
                    manifest.objects,
                    to.display()
                );
            }
            Ok(())
        }
        Command::Restore {
            from,
            dir,
            database,
            objects,
        } => {
            let manifest =
                kinko_server::backup::restore(&from, &ServerDir::new(&dir), database, objects)
                    .await?;
            println!(
                "restored the backup of {} into {}; start it with: kinko-server run --dir {}",
                manifest.made_at,
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        Command::SetDatabase { dir, database } => {
            let server = ServerDir::new(&dir);
            let authority = Authority::load(&server)?;
            let pool = store::pool(&database)?;
            store::check_claim(&pool, &authority.fingerprint()?).await?;
            let mut settings = server.settings()?;
            settings.database = database;
            server.replace_settings(&settings)?;
            println!("the server's database is set");
            Ok(())
        }
    }
}

fn default_hosts() -> Vec<String> {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() && name != "localhost" {
            hosts.insert(0, name.to_string());
        }
    }
    hosts
}

async fn init(
    dir: PathBuf,
    database: String,
    objects: Option<String>,
    hosts: Vec<String>,
    office: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let server = ServerDir::new(&dir);
    // The database first: a server whose tables cannot be made leaves no
    // folder behind.
    let pool = store::pool(&database)?;
    store::create_schema(&pool).await?;
    store::check_unclaimed(&pool).await?;
    server.create()?;
    let hosts = if hosts.is_empty() {
        default_hosts()
    } else {
        hosts
    };
    let office = office.unwrap_or_else(|| hosts[0].clone());
    let authority = Authority::create(&server, &office, &hosts)?;
    let fingerprint = authority.fingerprint()?;
    store::claim(&pool, &fingerprint).await?;
    let objects = objects.unwrap_or_else(|| dir.join("objects").display().to_string());
    server.write_settings(&Settings {
        database,
        objects,
        listen: DEFAULT_LISTEN.into(),
    })?;
    let token = enrolment::new_token(&pool).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"ca_fingerprint": fingerprint, "token": token, "hosts": hosts})
        );
    } else {
        println!("CA fingerprint: {fingerprint}");
        println!("enrolment token for the first terminal (24 hours): {token}");
        println!("the terminal: kinko device enroll --server https://{}:8443 --ca-fingerprint {fingerprint} --token {token}", hosts[0]);
    }
    Ok(())
}

async fn serve(
    dir: PathBuf,
    listen: Option<String>,
    rate: u32,
    limits: ConnectionLimits,
) -> anyhow::Result<()> {
    let server = ServerDir::new(&dir);
    let settings = server.settings()?;
    let authority = Authority::load(&server)?;
    let pool = store::pool(&settings.database)?;
    store::check_claim(&pool, &authority.fingerprint()?).await?;
    // Tables and columns a later release added (idempotent).
    store::create_schema(&pool).await?;
    let tls = kinko_server::tls::server_config(&server)?;
    let listen = listen.unwrap_or(settings.listen.clone());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let rates = kinko_server::limits::Rates::new(rate);
    let objects = kinko_server::objects::Objects::open(&settings.objects)?.with_idle(limits.idle);
    // Objects a disposal erased whose deletion a stop cut short (or a
    // restore of the store put back): gone before anyone is served.
    for erased in store::erased(&pool).await? {
        if let Err(e) = objects.delete(&erased.name).await {
            eprintln!(
                "kinko-server: erased object {} is still in the store ({e}); it is served to nobody",
                erased.name
            );
        }
    }
    let app = router(AppState {
        db: pool,
        authority: Arc::new(authority),
        turns: Default::default(),
        objects,
        rates: rates.clone(),
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            rates.forget_quiet();
        }
    });
    println!("kinko-server: listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    kinko_server::serve::serve(listener, tls, app, limits, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

async fn device(cmd: DeviceCmd) -> anyhow::Result<()> {
    let dir = match &cmd {
        DeviceCmd::Token { dir }
        | DeviceCmd::Approve { dir, .. }
        | DeviceCmd::List { dir, .. }
        | DeviceCmd::Revoke { dir, .. } => dir.clone(),
    };
    let server = ServerDir::new(&dir);
    let settings = server.settings()?;
    let pool = store::pool(&settings.database)?;
    match cmd {
        DeviceCmd::Token { .. } => {
            println!("{}", enrolment::new_token(&pool).await?);
        }
        DeviceCmd::Approve { code, .. } => {
            let authority = Authority::load(&server)?;
            let a = enrolment::approve(&pool, &authority, &code).await?;
            println!(
                "approved: {} ({}{})",
                a.terminal,
                a.name,
                a.account.map(|x| format!(", for {x}")).unwrap_or_default()
            );
        }
        DeviceCmd::List { json, .. } => {
            let terminals = store::terminals(&pool).await?;
            let waiting = enrolment::waiting(&pool).await?;
            if json {
                let waiting: Vec<_> = waiting
                    .iter()
                    .map(|(code, name, account)| serde_json::json!({"code": code, "name": name, "account": account}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"terminals": terminals, "waiting": waiting})
                );
            } else {
                for t in terminals {
                    let state = match &t.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => "enrolled".into(),
                    };
                    println!(
                        "{}  {}  {}  {}",
                        t.id,
                        t.name,
                        t.account.unwrap_or_default(),
                        state
                    );
                }
                for (code, name, account) in waiting {
                    println!("{code}  {name}  {}  waiting", account.unwrap_or_default());
                }
            }
        }
        DeviceCmd::Revoke { terminal, .. } => {
            enrolment::revoke(&pool, &terminal).await?;
            println!("revoked: {terminal}");
        }
    }
    Ok(())
}
