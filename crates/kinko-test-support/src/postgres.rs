//! A real PostgreSQL for the tests of the office server: one cluster per
//! test process, made with Debian's `initdb` in a temporary folder,
//! listening on loopback only, stopped when the process exits. Each test
//! takes a database of its own from it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The running cluster.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    /// As root, the cluster runs as the `postgres` user (PostgreSQL
    /// refuses to run as root).
    run_as: Option<String>,
}

static SHARED: OnceLock<Postgres> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The test process's cluster, started on first use.
pub fn shared() -> &'static Postgres {
    SHARED.get_or_init(|| {
        let pg = Postgres::start();
        // SAFETY: registering a plain extern "C" function with the C
        // library; it runs once at process exit.
        unsafe { libc::atexit(stop_shared) };
        pg
    })
}

extern "C" fn stop_shared() {
    if let Some(pg) = SHARED.get() {
        pg.stop();
    }
}

/// The newest PostgreSQL server programs Debian installed.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/setup.sh installs Debian's postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version with initdb under /usr/lib/postgresql")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Postgres {
    fn start() -> Postgres {
        let pg = Postgres::empty();
        pg.tool(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-A",
                "trust",
                "-U",
                "kinko",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.launch();
        pg
    }

    /// A folder for a cluster (owned by the cluster's user) and a free
    /// port; no data yet.
    fn empty() -> Postgres {
        static CLUSTERS: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kinko-pg-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the cluster");
        let is_root = unsafe { libc::geteuid() } == 0;
        let run_as = is_root.then(|| "postgres".to_string());
        if is_root {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a postgres user (Debian's postgresql package makes it)");
            std::os::unix::fs::chown(&dir, Some(uid), None).unwrap();
        }
        Postgres {
            dir,
            bin: bin_dir(),
            port: free_port(),
            run_as,
        }
    }

    /// Start the cluster (made, and stopped or never started).
    fn launch(&self) {
        let pg = self;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=300",
            pg.port,
            pg.dir.display()
        );
        pg.tool(
            "pg_ctl",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-w",
                "-l",
                &pg.dir.join("log").display().to_string(),
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// A cluster of a test's own (a test that stops and starts it must
    /// not take the shared one from the others), removed when dropped.
    pub fn own() -> OwnCluster {
        OwnCluster(Postgres::start())
    }

    /// Stop at once, as a crash or a pulled plug would (the data stay).
    pub fn halt(&self) {
        let data = self.data().display().to_string();
        self.tool("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Start again after [`Postgres::halt`].
    pub fn start_again(&self) {
        self.launch();
    }

    /// A streaming standby of this cluster, as a second box would run it:
    /// `pg_basebackup -R` into a folder of its own, started on a port of
    /// its own. Removed when dropped.
    pub fn standby(&self) -> OwnCluster {
        let standby = Postgres::empty();
        let data = standby.data().display().to_string();
        self.tool(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "kinko",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        standby.launch();
        OwnCluster(standby)
    }

    /// Make commits wait until the standby has them (synchronous
    /// replication), and wait until it streams as the synchronous one.
    pub fn wait_for_synchronous_standby(&self) {
        self.sql(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*';\nSELECT pg_reload_conf();",
        );
        for _ in 0..300 {
            let state = self.sql(
                "postgres",
                "SELECT string_agg(sync_state, ',') FROM pg_stat_replication;",
            );
            if state.trim() == "sync" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the standby never became the synchronous one");
    }

    /// Promote a standby to primary (`pg_ctl promote`).
    pub fn promote(&self) {
        let data = self.data().display().to_string();
        self.tool("pg_ctl", &["-D", &data, "-w", "promote"]);
    }

    /// A cluster started from a copy `pg_basebackup` made (plain format,
    /// WAL included), as a restore on a new box would: the copy becomes
    /// its data folder. Removed when dropped.
    pub fn from_base_backup(backup: &Path) -> OwnCluster {
        let pg = Postgres::empty();
        let data = pg.data();
        let copied = Command::new("cp")
            .arg("-a")
            .arg(backup)
            .arg(&data)
            .status()
            .expect("cp runs");
        assert!(copied.success(), "the base backup copies");
        if let Some(user) = &pg.run_as {
            let owned = Command::new("chown")
                .args(["-R", &format!("{user}:")])
                .arg(&data)
                .status()
                .expect("chown runs");
            assert!(owned.success(), "the copy is given to {user}");
        }
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("the data folder's mode");
        pg.launch();
        OwnCluster(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// One of PostgreSQL's programs, to run as the cluster's user.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        }
    }

    /// Run one of PostgreSQL's programs; it must succeed. What it printed.
    pub fn tool(&self, name: &str, args: &[&str]) -> String {
        let out = self
            .command(name)
            .args(args)
            .output()
            .expect("PostgreSQL's programs run");
        assert!(
            out.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new, empty database; its URL.
    pub fn new_database(&self) -> String {
        let name = format!("kinko_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
        self.tool(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "kinko",
                &name,
            ],
        );
        self.url(&name)
    }

    /// Run SQL on `database` as its superuser (the server operator's
    /// view); what psql printed (unaligned, tuples only).
    pub fn sql(&self, database: &str, sql: &str) -> String {
        use std::io::Write;
        let port = self.port.to_string();
        // The SQL on standard input: a unit's bytes can be longer than
        // one command-line argument may be.
        let mut child = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "kinko",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-f",
                "-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The database name in a URL this cluster gave.
    pub fn database_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or(url)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgresql://kinko@127.0.0.1:{}/{database}", self.port)
    }

    pub fn stop(&self) {
        let data = self.data().display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cluster of one test's own; stopped and removed when dropped.
pub struct OwnCluster(Postgres);

impl std::ops::Deref for OwnCluster {
    type Target = Postgres;
    fn deref(&self) -> &Postgres {
        &self.0
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.0.stop();
    }
}
