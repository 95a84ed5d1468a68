//! The command line, as `../shared/CLI.md` specifies it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "kinko",
    version,
    about = "Kinko (金庫): an encrypted, audited vault for personal-data documents"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The vault directory (default: $KINKO_VAULT, else ~/.local/share/kinko/vault).
    #[arg(long, global = true, env = "KINKO_VAULT")]
    pub vault: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    /// Language of the output: ja or en (default: $KINKO_LANG, else the locale).
    #[arg(long, global = true, env = "KINKO_LANG")]
    pub lang: Option<String>,
    /// Sign in as this user for this one command (when no session is open).
    #[arg(long, global = true, env = "KINKO_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// The PKCS#11 module of this terminal's token (IC card reader, HSM,
    /// TPM); its PIN comes from $KINKO_TOKEN_PIN or the terminal.
    #[arg(long, global = true, env = "KINKO_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// Which token, when the module shows several.
    #[arg(long, global = true, env = "KINKO_TOKEN_LABEL")]
    pub token_label: Option<String>,
    /// Work on the vault of the office server this terminal is enrolled
    /// with (https://HOST:PORT), instead of a vault folder.
    #[arg(long, global = true, env = "KINKO_SERVER")]
    pub server: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a vault; ID becomes the Information Management Officer.
    Init {
        #[arg(long)]
        officer: String,
        /// The officer's name.
        #[arg(long)]
        name: String,
        /// The council (協議会) the vault belongs to.
        #[arg(long, default_value = "")]
        council: String,
        /// Password KDF: argon2id (default) or pbkdf2 (the all-CRYPTREC profile).
        #[arg(long, default_value = "argon2id")]
        kdf: String,
        /// A policy setting to start with, KEY=VALUE (repeatable; see `kinko policy show`).
        #[arg(long = "policy", value_name = "KEY=VALUE")]
        policy: Vec<String>,
    },
    /// Version, algorithms in use and the dependency inventory (SBOM); needs no vault.
    About {
        /// Print the whole CycloneDX SBOM (JSON) instead.
        #[arg(long)]
        sbom: bool,
    },
    /// Path, state, counts and last checkpoint of the vault.
    Status,
    /// Check every object and the database; exit 5 naming each damaged item.
    Verify {
        /// Also decrypt every document you hold a key to.
        #[arg(long)]
        deep: bool,
    },
    /// Sign in and print `export KINKO_SESSION=<token>` for later commands (`eval "$(kinko login)"`).
    Login,
    /// End the session in $KINKO_SESSION and destroy its key material.
    Logout,
    /// Change your password (new one from the terminal or $KINKO_NEW_PASSWORD).
    Passwd,
    /// Accounts (system administrator).
    #[command(subcommand)]
    Account(AccountCmd),
    /// The vault's policy: show it, or set one value (officer).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// The handler and worker rosters: managers request, the officer records the bureau's approval.
    #[command(subcommand)]
    Roster(RosterCmd),
    /// Two-factor sign-in with a one-time code (TOTP).
    #[command(subcommand)]
    Totp(TotpCmd),
    /// A PKCS#11 token (IC card, HSM, TPM) as a second factor bound to your keyslot.
    #[command(subcommand)]
    Token(TokenCmd),
    /// This terminal and its office server: enrolment and status.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Receive a file into the vault; prints the new document id.
    Import(ImportArgs),
    /// Documents you may see.
    List,
    /// One document's receipt and who holds its key.
    Show { doc: i64 },
    /// Export a document's plaintext to a new file or - (standard output); logged.
    Open {
        doc: i64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Record the bureau's approval for one export of a personal-data document (officer).
    ApproveExport {
        doc: i64,
        #[arg(long = "ref")]
        reference: String,
        /// Only this person may use the approval.
        #[arg(long = "for")]
        for_account: Option<String>,
    },
    /// Give a person access to a document.
    Grant {
        doc: i64,
        #[arg(long)]
        to: String,
    },
    /// Take a person's access to a document away.
    Revoke {
        doc: i64,
        #[arg(long)]
        from: String,
    },
    /// The audit trail (auditor, officer).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Contract end: the disposal plan (別添1), approval, execution, confirmation, report (別添2).
    #[command(subcommand)]
    Disposal(DisposalCmd),
    /// Check a signed disposal plan or completion report, HTML or JSON (needs no vault).
    VerifyReport {
        file: PathBuf,
        /// The signer's key fingerprint (the officer's, from `kinko status`): the file must be signed with it.
        #[arg(long)]
        key: Option<String>,
        /// The confirmer's key fingerprint: a completion report must have been confirmed with it.
        #[arg(long)]
        confirmer_key: Option<String>,
    },
    /// Write the return package of the approved plan's documents for the bureau (officer).
    Return {
        #[arg(long)]
        out: PathBuf,
        /// The bureau's public key file (NAME.pub from `kinko recipient new`).
        #[arg(
            long,
            conflicts_with = "passphrase",
            required_unless_present = "passphrase"
        )]
        recipient: Option<PathBuf>,
        /// Protect it with a passphrase instead ($KINKO_PASSPHRASE or the terminal).
        #[arg(long)]
        passphrase: bool,
    },
    /// Check and extract a return package into a new directory (the bureau's side; needs no vault).
    Unpack {
        package: PathBuf,
        #[arg(long)]
        to: PathBuf,
        /// The recipient's private key file (NAME.key); without it, a passphrase.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Recipient keys for return packages.
    #[command(subcommand)]
    Recipient(RecipientCmd),
    /// The incident register: add, update, close, list, report.
    #[command(subcommand)]
    Incident(IncidentCmd),
    /// Reports for the bureau.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Write an encrypted backup of the whole vault to a new file (officer, system administrator).
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// The backups on record: where, when, under which key epoch, and whether disposal destroyed them.
    Backups,
    /// Restore a backup into a new directory; --user signs in to it with the password it holds.
    Restore {
        file: PathBuf,
        #[arg(long)]
        to: PathBuf,
    },
    /// Upgrade a vault an earlier Kinko made, once (the officer: --user, password, recovery code from the terminal or $KINKO_RECOVERY_CODE).
    Upgrade,
    /// Re-encrypt every document under new keys, and the database under a new key (officer, with the recovery code).
    Rekey {
        /// Content suite for the new object files: 1 AES-256-GCM, 2 Camellia-256-GCM (default: the current one).
        #[arg(long, value_name = "ID")]
        suite: Option<u16>,
    },
    /// Alerts raised by the audit rules; --ack one with a --note (officer, manager).
    Alerts {
        /// Also list acknowledged alerts.
        #[arg(long)]
        all: bool,
        /// The alert number to acknowledge.
        #[arg(long, value_name = "ALERT", requires = "note")]
        ack: Option<i64>,
        /// What was found or done about it.
        #[arg(long)]
        note: Option<String>,
        /// Keep watching: print the open alerts, then each new one as it is raised (with --json, one JSON object a line), until the session ends or goes idle.
        #[arg(long, conflicts_with_all = ["ack", "all"])]
        follow: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// Add an account; prints its initial password once.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        /// officer, manager, handler, sysadmin, auditor (comma-separated).
        #[arg(long)]
        role: String,
    },
    /// Every account.
    List,
    /// Stop an account signing in for now.
    Suspend { id: String },
    /// Let a suspended account sign in again.
    Resume { id: String },
    /// New keys and a new initial password (shown once); the officer then runs `account recover`.
    Reset { id: String },
    /// The person left: end their access for good (the ID is never reissued).
    Disable { id: String },
    /// End a lockout before its time.
    Unlock { id: String },
    /// Allowed hours (Japan time) for one person, e.g. 08:30-18:00, or `role` for their role's.
    Hours { id: String, span: String },
    /// Give a reset account back its documents (officer; recovery code from the terminal or $KINKO_RECOVERY_CODE).
    Recover { id: String },
    /// Vouch for a new account, a role change or new keys after a reset (officer).
    Certify {
        id: String,
        /// The key fingerprint the person's own screen shows (`kinko status`); asked for on a terminal.
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RosterCmd {
    /// A change to a roster, which takes effect when the officer records the bureau's approval.
    #[command(subcommand)]
    Request(RosterRequestCmd),
    /// Record the bureau's approval of a request (officer).
    Approve {
        request: i64,
        #[arg(long = "ref")]
        reference: String,
        /// The date of the bureau's approval, YYYY-MM-DD.
        #[arg(long)]
        date: String,
    },
    /// The current rosters, or with --pending the requests awaiting approval.
    List {
        #[arg(long)]
        pending: bool,
    },
    /// Both rosters as the documents the council submits: FILE (HTML) and FILE's stem + -handlers.csv / -workers.csv.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum RosterRequestCmd {
    /// Add a person (or change their entry).
    Add(Box<RosterAddArgs>),
    /// Remove a person; from the handler roster their access ends at once.
    Remove {
        id: String,
        #[arg(long, default_value = "handler")]
        roster: String,
    },
}

#[derive(Args, Debug)]
pub struct RosterAddArgs {
    pub id: String,
    /// handler (情報取扱者名簿, default) or worker (業務従事者名簿).
    #[arg(long, default_value = "handler")]
    pub roster: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub address: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    pub birth_date: Option<String>,
    #[arg(long)]
    pub department: String,
    #[arg(long)]
    pub position: String,
    /// The person's role in handling the information (役割).
    #[arg(long)]
    pub duty: Option<String>,
    /// Subcontractor organisation (再委託先), for a subcontractor's staff.
    #[arg(long)]
    pub org: Option<String>,
    #[arg(long)]
    pub education: Option<String>,
    #[arg(long)]
    pub work_history: Option<String>,
    #[arg(long)]
    pub experience: Option<String>,
    #[arg(long)]
    pub training: Option<String>,
    #[arg(long)]
    pub expertise: Option<String>,
    #[arg(long)]
    pub native_language: Option<String>,
    #[arg(long)]
    pub foreign_languages: Option<String>,
    #[arg(long)]
    pub nationality: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Every setting, its value, default and meaning.
    Show,
    /// Change one setting (officer).
    Set { key: String, value: String },
}

#[derive(Subcommand, Debug)]
pub enum TotpCmd {
    /// Start enrolment: prints the otpauth URI and the secret once.
    Enroll,
    /// Turn it on with a code from the authenticator.
    Confirm { code: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Make a key on the token (--pkcs11-module) and bind your keyslot to
    /// it: from then on you sign in with password and token. Asks your
    /// password again.
    Enrol,
}

#[derive(Subcommand, Debug)]
pub enum DeviceCmd {
    /// Enrol this terminal with an office server: with the one-time token
    /// from `kinko-server init`, or without it and wait for the system
    /// administrator to approve the code it prints. Run again to collect
    /// an approval that came after it stopped waiting.
    Enroll {
        /// The server CA's SHA-256 fingerprint, as `kinko-server init` printed it.
        #[arg(long)]
        ca_fingerprint: String,
        #[arg(long, env = "KINKO_ENROL_TOKEN")]
        token: Option<String>,
        /// This terminal's name (default: the host name).
        #[arg(long)]
        name: Option<String>,
        /// How many seconds to wait for an approval (0: print the code and stop).
        #[arg(long, default_value_t = 600)]
        wait: u64,
    },
    /// Which server this terminal is enrolled with, and what the server
    /// says of it.
    Status,
    /// Approve a terminal waiting with CODE (the system administrator,
    /// from an enrolled terminal; signed and audited in the vault).
    Approve { code: String },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// From whom the file came.
    #[arg(long = "from")]
    pub origin: String,
    /// The purpose or contract it is for.
    #[arg(long)]
    pub purpose: String,
    /// How it came (e-mail, USB medium, portal …).
    #[arg(long, default_value = "file")]
    pub via: String,
    #[arg(long)]
    pub title: Option<String>,
    /// The file holds personal data (its export then needs an approval).
    #[arg(long)]
    pub personal_data: bool,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Show events, oldest first.
    Log {
        /// From this time (RFC 3339, or YYYY-MM-DD: from the start of that Japan day).
        #[arg(long)]
        since: Option<String>,
        /// Up to this time (RFC 3339, or YYYY-MM-DD: to the end of that Japan day).
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        /// An event name, or a family such as `document`.
        #[arg(long)]
        event: Option<String>,
        /// A document id, or an object such as account:ID.
        #[arg(long)]
        object: Option<String>,
    },
    /// Recompute the whole trail; exit 5 naming the first bad event.
    Verify {
        /// A checkpoint kept apart: the trail must still begin with its events.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write a signed checkpoint of the trail, to keep apart from the vault.
    Checkpoint {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the analysis of a period: HTML (printable), CSV or JSON.
    Report {
        /// First day (YYYY-MM-DD, Japan time).
        #[arg(long)]
        from: String,
        /// Last day (YYYY-MM-DD, Japan time).
        #[arg(long)]
        to: String,
        #[arg(long)]
        out: PathBuf,
        /// html, csv or json (default: from the file name, else html).
        #[arg(long)]
        format: Option<String>,
    },
    /// One event and the proof that it is in the signed tree.
    Proof { seq: i64 },
    /// Archive events older than the retention period to a signed file, then drop them (officer).
    Archive {
        /// Archive only events before this day (YYYY-MM-DD).
        #[arg(long)]
        before: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an archive file on its own (needs no vault).
    VerifyArchive {
        file: PathBuf,
        /// The vault's audit key fingerprint (from `kinko status`): the
        /// archive must be signed with that key.
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum DisposalCmd {
    /// Write the work plan (別添1) as printable HTML and a signed JSON twin (officer).
    Plan {
        /// Who erases (an officer or manager).
        #[arg(long)]
        executor: String,
        /// Who confirms (another officer or manager).
        #[arg(long)]
        confirmer: String,
        /// The HTML file; the JSON twin goes beside it (NAME.json).
        #[arg(long)]
        out: PathBuf,
        /// Only these documents (the bureau's instruction), e.g. 3,5,8.
        #[arg(long, value_delimiter = ',')]
        items: Option<Vec<i64>>,
        /// Planned completion date (YYYY-MM-DD; default: 14 days from today).
        #[arg(long)]
        complete_by: Option<String>,
        /// Return the documents to the bureau (`kinko return`) before erasing them.
        #[arg(long = "return")]
        returned: bool,
    },
    /// Record the bureau's approval of the current plan (officer).
    Approve {
        #[arg(long = "ref")]
        reference: String,
        /// The date of the bureau's approval (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// The SHA-256 printed on the plan the bureau approved: refused if the current plan differs.
        #[arg(long)]
        sha256: String,
    },
    /// Execute the approved plan: destroy keys, overwrite and remove files (the plan's executor).
    Execute,
    /// Verify every item is unreadable and confirm (the plan's confirmer, another person).
    Confirm,
    /// Write the signed completion report (別添2) as HTML and a JSON twin (officer).
    Report {
        #[arg(long)]
        out: PathBuf,
    },
    /// The current plan and where it stands.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum RecipientCmd {
    /// Make a key pair for the bureau: NAME.key (keep it) and NAME.pub (give it to the council).
    New {
        #[arg(long)]
        out: PathBuf,
    },
}

/// The fields of an incident (times: YYYY-MM-DD HH:MM in Japan time, or RFC 3339).
#[derive(Args, Debug, Clone, Default)]
pub struct IncidentArgs {
    /// When it was detected.
    #[arg(long)]
    pub detected: Option<String>,
    /// When it was reported to the bureau.
    #[arg(long)]
    pub reported: Option<String>,
    /// What happened.
    #[arg(long)]
    pub summary: Option<String>,
    /// Affected items, e.g. document:3,document:5.
    #[arg(long, value_delimiter = ',')]
    pub items: Option<Vec<String>>,
    /// What was done (an update adds to it).
    #[arg(long)]
    pub actions: Option<String>,
    /// The improvement plan (再発防止策).
    #[arg(long)]
    pub plan: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Record an incident (officer, manager); prints its number.
    Add(IncidentArgs),
    /// Change an open incident.
    Update {
        id: i64,
        #[command(flatten)]
        fields: IncidentArgs,
    },
    /// Close an incident once reported to the bureau.
    Close {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// The register (open incidents unless --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// The whole register as a printable page for the bureau.
    Report {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// The monthly implementation-status report (履行状況報告), signed (officer).
    Status {
        /// YYYY-MM
        #[arg(long)]
        month: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// The flag that sets a core input field, for an error about that field:
/// the core names its fields (`origin`, `birth_date`), the command adds
/// its own flag (`--from`, `--birth-date`).
pub fn flag_for(field: &str) -> String {
    match field {
        "origin" => "--from".into(),
        "reference" => "--ref".into(),
        "organisation" => "--org".into(),
        "improvement_plan" => "--plan".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}
