//! The command line: every command, flag and value `--help` describes.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::names::{
    AccuracyArg, CategoryArg, ChannelStatusArg, ExtensionReasonArg, GroundArg, HandlingArg,
    KindArg, OrderArg, OutcomeArg, OutcomeOfItemArg, PriorityArg, ResolutionArg, RoleArg,
    SourceArg, StatusArg, TermKindArg, ViewArg,
};
use crate::output::Format;

const AFTER_HELP: &str = "\
Configuration:
  The session (tokens, server, certificate paths) is kept in $LIAISON_CONFIG_DIR, else
  $XDG_CONFIG_HOME/liaison, else $HOME/.config/liaison, in session.json (mode 0600).
  LIAISON_PASSWORD     your password for `login` and the current one for `password change`
  LIAISON_NEW_PASSWORD a new password (`password change`, `admin user add`, `admin user reset-password`)
  NO_COLOR             no colour even on a terminal

";

#[derive(Parser)]
#[command(
    name = "liaisonctl",
    version,
    about = "Command-line client for Liaison: file and work referral cases, manage users and channels, query the audit log",
    after_help = after_help(),
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The configuration notes followed by the exit codes.
fn after_help() -> String {
    format!("{AFTER_HELP}{}", crate::error::EXIT_CODES)
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The server: http://host:port, or https://host:port for TLS. Default: the server you signed
    /// in to, else http://127.0.0.1:50051
    #[arg(long, env = "LIAISON_SERVER", global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Trust only this CA (PEM) for the server's certificate; default: the system's roots
    #[arg(long, env = "LIAISON_CA_CERT", global = true, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; with --client-key
    #[arg(long, env = "LIAISON_CLIENT_CERT", global = true, value_name = "PEM")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS; with --client-cert
    #[arg(long, env = "LIAISON_CLIENT_KEY", global = true, value_name = "PEM")]
    pub client_key: Option<PathBuf>,
    /// The name to expect in the server's certificate, when it differs from the URL's host
    #[arg(
        long,
        env = "LIAISON_TLS_SERVER_NAME",
        global = true,
        value_name = "NAME"
    )]
    pub tls_server_name: Option<String>,
    /// Output format
    #[arg(
        short,
        long,
        value_enum,
        env = "LIAISON_OUTPUT",
        global = true,
        default_value = "table"
    )]
    pub output: Format,
}

#[derive(Subcommand)]
pub enum Command {
    /// Sign in; the session is kept in the config directory and refreshed as needed
    Login {
        /// Your username; asked for on a terminal when not given
        #[arg(long, short, env = "LIAISON_USERNAME")]
        username: Option<String>,
    },
    /// Sign out: end the session on the server and delete the session file
    Logout,
    /// Who you are signed in as, with your roles as they are now
    Whoami,
    /// Your password
    Password {
        #[command(subcommand)]
        command: PasswordCommand,
    },
    /// File and work referral cases
    Case {
        #[command(subcommand)]
        command: CaseCommand,
    },
    /// The case queues: incoming, outgoing, assigned to you, or all you may see; listed or
    /// followed live
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// The register of agencies and channels, and the server's token keys
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Your agency's users and channels (admins)
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The audit log (auditors)
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The work plan's figures for a channel (supervisors and analysts): what came of the
    /// referrals received in a period, by category and kind
    Stats {
        /// The channel's id (left out: your agency's only ACTIVE channel)
        #[arg(long, value_name = "ID")]
        channel: Option<String>,
        /// Received from: RFC 3339, a date, or an age (90d)
        #[arg(long, value_parser = parse_time, value_name = "TIME")]
        from: DateTime<Utc>,
        /// Received until (exclusive; default now)
        #[arg(long, value_parser = parse_time, value_name = "TIME")]
        to: Option<DateTime<Utc>>,
        /// Also write the rows as CSV, for spreadsheets, to this file
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Compute at this signed checkpoint (as an earlier answer named it), to get its figures
        /// again
        #[arg(long, value_name = "SEQ")]
        at_checkpoint: Option<i64>,
    },
    /// Print a shell completion script: `liaisonctl completions bash > /etc/bash_completion.d/liaisonctl`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Change your password (asked for, or LIAISON_PASSWORD and LIAISON_NEW_PASSWORD); your other
    /// sessions end and this one continues
    Change,
}

#[derive(Args, Clone, Debug)]
pub struct Paging {
    /// Show at most this many
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Show every one, following the pages to the end
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// Ask the server for pages of this size
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    /// Go on from where an earlier listing stopped (the token it printed)
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct CaseTarget {
    /// The case: its reference (IN-CA-DRUGS-2026-000042) or its id
    pub id: String,
    /// The etag you last saw; without it, the current one is fetched (GetCase)
    #[arg(long)]
    pub etag: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct TextInput {
    /// The text
    #[arg(long, conflicts_with = "file")]
    pub text: Option<String>,
    /// Read the text from this file
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// What an expedited preservation request asks to keep, and why (Budapest Convention Art. 29).
#[derive(Args, Clone, Debug, Default)]
pub struct PreservationArgs {
    /// The stored data to preserve (with --kind preservation)
    #[arg(long, value_name = "TEXT")]
    pub preserve_data: Option<String>,
    /// Who holds the data, or where it is
    #[arg(long, value_name = "TEXT")]
    pub preserve_custodian: Option<String>,
    /// The offence under investigation, and the facts in brief
    #[arg(long, value_name = "TEXT")]
    pub preserve_offence: Option<String>,
    /// Why preservation is necessary
    #[arg(long, value_name = "TEXT")]
    pub preserve_necessity: Option<String>,
    /// The formal request that will follow
    #[arg(long, value_name = "TEXT")]
    pub preserve_formal_request: Option<String>,
}

/// The markings you set as the provider of a case or note.
#[derive(Args, Clone, Debug, Default)]
pub struct MarkingArgs {
    /// The handling code: H0 no restriction beyond the law; H1 not for use as evidence without
    /// your permission; H2 not to be disseminated without your permission; H3 other restrictions,
    /// stated with --conditions
    #[arg(long, value_enum, ignore_case = true)]
    pub handling: Option<HandlingArg>,
    /// The restrictions an H3 marking states
    #[arg(long, value_name = "TEXT")]
    pub conditions: Option<String>,
    /// How reliable the source is: A no doubt, B mostly reliable, C not reliable, X cannot be
    /// judged
    #[arg(long, value_enum, ignore_case = true)]
    pub source: Option<SourceArg>,
    /// How accurate the information is: 1 known true, 2 known personally to the source,
    /// 3 corroborated, 4 cannot be judged
    #[arg(long, value_enum)]
    pub accuracy: Option<AccuracyArg>,
}

// Parsed once per run: the size of the filing's variant costs nothing worth boxing it for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum CaseCommand {
    /// File a referral to the other agency of a channel.
    ///
    /// The summary comes from --summary, --summary-file, or standard input when neither is given.
    ///
    /// Retrying is safe: the request id is derived from what is filed (your user id, the channel,
    /// category, priority, title and summary, as a UUIDv5), so running the same command again —
    /// after a timeout, a dropped connection, or to be sure — returns the case the first run filed
    /// instead of filing a second one. To file a second referral with identical content on purpose,
    /// pass a fresh --request-id.
    File {
        /// The channel's id; may be left out when your agency has exactly one ACTIVE channel
        #[arg(long)]
        channel: Option<String>,
        /// drugs, fraud, cyber, or another category the channel agreed (organised-crime;
        /// `liaisonctl directory terms CHANNEL` lists them)
        #[arg(long, value_parser = parse_category, value_name = "CATEGORY")]
        category: String,
        #[arg(long, value_enum)]
        priority: PriorityArg,
        /// 1 to 200 characters
        #[arg(long)]
        title: String,
        /// The summary (1 to 20,000 characters)
        #[arg(long, conflicts_with = "summary_file")]
        summary: Option<String>,
        /// Read the summary from this file
        #[arg(long, value_name = "FILE")]
        summary_file: Option<PathBuf>,
        /// Use this request id (a UUID) instead of the one derived from the content
        #[arg(long, value_name = "UUID")]
        request_id: Option<String>,
        /// What it is: a request (an answer is owed), spontaneous information, or an expedited
        /// preservation request (then give the --preserve-* details)
        #[arg(long, value_enum, default_value = "request")]
        kind: KindArg,
        #[command(flatten)]
        preservation: PreservationArgs,
        /// Without markings, the case is H0, graded X4
        #[command(flatten)]
        markings: MarkingArgs,
        /// The legal basis cited: the code or id of one agreed on the channel (`liaisonctl
        /// directory terms CHANNEL` lists them); required of a request once the channel agreed any
        #[arg(long, value_name = "CODE")]
        basis: Option<String>,
        /// A numbered item the request asks for ("subscriber of +1 604 555 0100"); repeat for
        /// each, in order. Each is answered or refused before the case closes
        #[arg(long = "item", value_name = "TEXT")]
        items: Vec<String>,
    },
    /// Release a referral waiting for release (PENDING_RELEASE -> FILED): a second supervisor
    /// of your agency approves its RELEASE; its filer asks again after a proposal lapsed
    Release {
        /// The case: its reference or id
        id: String,
    },
    /// Approve a move that awaits your approval (`liaisonctl queue approvals` lists them): it is
    /// made at once
    Approve {
        /// The move's id
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a move awaiting approval, or withdraw one you proposed
    Reject {
        /// The move's id
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show a case
    Show {
        /// The case: its reference (IN-CA-DRUGS-2026-000042) or its id
        id: String,
    },
    /// Acknowledge a filed case (receiving supervisor): FILED -> ACKNOWLEDGED
    Ack(CaseTarget),
    /// Answer, partly answer or refuse one numbered item of a request (assignee or receiving
    /// supervisor); every item needs one before the case closes
    Answer {
        #[command(flatten)]
        case: CaseTarget,
        /// The item's number
        #[arg(long = "item", value_name = "N")]
        number: i32,
        #[arg(long, value_enum)]
        outcome: OutcomeOfItemArg,
        /// For a refusal, the ground (EU Directive 2023/977 Art. 6)
        #[arg(long, value_enum)]
        ground: Option<GroundArg>,
        /// The answer, or the refusal's reasons (shared with both agencies)
        #[arg(long)]
        text: String,
    },
    /// Decline a filed request (receiving supervisor): FILED -> DECLINED
    Decline {
        #[command(flatten)]
        case: CaseTarget,
        /// The ground, from the closed list (EU Directive 2023/977 Art. 6)
        #[arg(long, value_enum)]
        ground: GroundArg,
        /// Why, in words both sides read (required)
        #[arg(long)]
        reason: String,
    },
    /// Assign or reassign a case to an officer of the receiving agency: ACKNOWLEDGED -> IN_PROGRESS
    Assign {
        #[command(flatten)]
        case: CaseTarget,
        /// The officer: their username or user id (`liaisonctl directory colleagues` lists them)
        #[arg(long, value_name = "USER")]
        to: String,
    },
    /// Ask the originating side for information: IN_PROGRESS -> AWAITING_INFO
    RequestInfo {
        #[command(flatten)]
        case: CaseTarget,
        /// What you need (shared with both agencies)
        #[arg(long)]
        question: String,
    },
    /// Answer a request for information (originating side): AWAITING_INFO -> IN_PROGRESS
    ProvideInfo {
        #[command(flatten)]
        case: CaseTarget,
        /// The answer (shared with both agencies)
        #[arg(long)]
        answer: String,
    },
    /// Close a case with a resolution (assignee or receiving supervisor)
    Close {
        #[command(flatten)]
        case: CaseTarget,
        #[arg(long, value_enum)]
        resolution: ResolutionArg,
    },
    /// Reopen a closed case (receiving supervisor): CLOSED -> IN_PROGRESS
    Reopen {
        #[command(flatten)]
        case: CaseTarget,
        /// Why (required)
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a case (filer or originating supervisor)
    Withdraw {
        #[command(flatten)]
        case: CaseTarget,
        /// Why (optional)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Add a note: --shared notes are seen by both agencies, --internal ones only by yours.
    /// The body comes from --text, --file, or standard input.
    Note {
        /// The case: its reference (IN-CA-DRUGS-2026-000042) or its id
        id: String,
        /// Both agencies see the note
        #[arg(
            long,
            conflicts_with = "internal",
            required_unless_present = "internal"
        )]
        shared: bool,
        /// Only your agency sees the note
        #[arg(long)]
        internal: bool,
        #[command(flatten)]
        body: TextInput,
        /// Without --handling, the note carries the case's; never a laxer one
        #[command(flatten)]
        markings: MarkingArgs,
    },
    /// Confirm a preservation request (receiving side): the data is kept until --until, at least
    /// 60 days after the request was filed
    Preserve {
        #[command(flatten)]
        case: CaseTarget,
        /// RFC 3339, a date, or a span from now (90d)
        #[arg(long, value_parser = parse_future_time, value_name = "TIME")]
        until: DateTime<Utc>,
    },
    /// Keep preserved data longer (receiving side)
    ExtendPreservation {
        #[command(flatten)]
        case: CaseTarget,
        /// Later than the current date: RFC 3339, a date, or a span from now
        #[arg(long, value_parser = parse_future_time, value_name = "TIME")]
        until: DateTime<Utc>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move the answer's deadline later (assignee or receiving supervisor), once per reason;
    /// the requesting side sees it at once
    ExtendDeadline {
        #[command(flatten)]
        case: CaseTarget,
        /// The new deadline, later than the one in force: RFC 3339, a date, or a span from now
        #[arg(long, value_parser = parse_future_time, value_name = "TIME")]
        to: DateTime<Utc>,
        #[arg(long, value_enum)]
        reason: ExtensionReasonArg,
        /// The reasons in words, which the requesting side reads (required for --reason other)
        #[arg(long)]
        text: Option<String>,
    },
    /// The formal request now covers the preserved data (requesting side)
    Supersede {
        #[command(flatten)]
        case: CaseTarget,
        /// The formal request, such as its MLAT reference
        #[arg(long)]
        formal_request: String,
    },
    /// Change a case's markings (its provider: the filer or an originating supervisor). What you
    /// leave out stays as it is; relaxing the handling needs --reason
    Mark {
        #[command(flatten)]
        case: CaseTarget,
        #[command(flatten)]
        markings: MarkingArgs,
        /// Why (required to relax the handling)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Change a note's markings (its author, or a supervisor of the author's agency); never
    /// laxer than the case's handling
    MarkNote {
        /// The case: its reference or its id
        case: String,
        /// The note's id (`liaisonctl case notes` lists them)
        note: String,
        #[command(flatten)]
        markings: MarkingArgs,
        /// Why (required to relax the handling)
        #[arg(long)]
        reason: Option<String>,
    },
    /// The notes of a case you may see, oldest first
    Notes {
        /// The case: its reference (IN-CA-DRUGS-2026-000042) or its id
        id: String,
        #[command(flatten)]
        paging: Paging,
    },
    /// The timeline of a case, oldest first
    Timeline {
        /// The case: its reference (IN-CA-DRUGS-2026-000042) or its id
        id: String,
        #[command(flatten)]
        paging: Paging,
    },
}

#[derive(Args, Clone, Debug)]
pub struct QueueFilters {
    /// Only cases still FILED past their acknowledgement deadline
    #[arg(long)]
    pub overdue: bool,
    /// Only cases with a deadline running out within this span (30m, 2h, 3d)
    #[arg(long, value_parser = parse_span, value_name = "SPAN")]
    pub due_within: Option<chrono::Duration>,
    /// Only cases that missed a deadline (acknowledgement or answer)
    #[arg(long)]
    pub breached: bool,
    /// Only cases in this status; repeat, or separate with commas, for several
    #[arg(long, value_enum, value_delimiter = ',')]
    pub status: Vec<StatusArg>,
    /// drugs, fraud, cyber, or another category agreed on a channel
    #[arg(long, value_parser = parse_category, value_name = "CATEGORY")]
    pub category: Option<String>,
    /// Only cases of this kind; repeat, or separate with commas, for several
    #[arg(long, value_enum, value_delimiter = ',')]
    pub kind: Vec<KindArg>,
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Only cases on this channel (id)
    #[arg(long, value_name = "ID")]
    pub channel: Option<String>,
    /// Only cases assigned to this user (id)
    #[arg(long, value_name = "USER_ID")]
    pub assignee: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct QueueArgs {
    #[command(flatten)]
    pub filters: QueueFilters,
    #[arg(long, value_enum, default_value = "newest")]
    pub order: OrderArg,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Cases received by your agency
    Incoming(QueueArgs),
    /// Cases filed by your agency
    Outgoing(QueueArgs),
    /// Cases assigned to you
    Mine(QueueArgs),
    /// Every case you may see
    All(QueueArgs),
    /// Moves under four eyes: those awaiting your approval (the default), yours, or all of your
    /// agency's
    Approvals {
        /// Those you proposed
        #[arg(long, conflicts_with = "all")]
        mine: bool,
        /// All of your agency's, on the cases you may see
        #[arg(long)]
        all: bool,
        /// Only this case's (reference or id)
        #[arg(long = "case", value_name = "CASE")]
        case_id: Option<String>,
        /// Also approved, rejected and expired ones
        #[arg(long)]
        decided: bool,
    },
    /// Follow a queue live: each event as it happens, until Ctrl-C
    ///
    /// One line per event: a table row, or with --output json one JSON object (the event, the
    /// case as it stands, and the resume token). Keeps going by itself: when the access token expires the session is refreshed, and when
    /// the server restarts, is busy or the connection drops it reconnects with growing pauses
    /// (giving up after 10 failed attempts in a row). Each time it resumes just after the last
    /// event it printed, so none is shown twice or missed. On exit the table view prints the
    /// resume token to standard error: pass it to --resume to continue later from there.
    Watch(WatchArgs),
}

#[derive(Args, Clone, Debug)]
pub struct WatchArgs {
    /// The queue to follow
    #[arg(value_enum)]
    pub view: ViewArg,
    #[command(flatten)]
    pub filters: QueueFilters,
    /// Start just after this point instead of now: the token an earlier watch printed when it
    /// stopped, or the resume_token of any of its JSON lines
    #[arg(long, value_name = "TOKEN")]
    pub resume: Option<String>,
    /// Exit (0) after this many events
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Every registered agency
    Agencies,
    /// The channels your agency is a party to
    Channels {
        #[arg(long, value_enum)]
        status: Option<ChannelStatusArg>,
    },
    /// One channel
    Channel {
        /// The channel's id
        id: String,
    },
    /// A channel's register: the legal bases agreed on it (requests cite one with `case file
    /// --basis CODE`)
    Terms {
        /// The channel's id
        channel: String,
        /// Also proposed, rejected, withdrawn and retired terms
        #[arg(long)]
        all: bool,
    },
    /// The people of your agency who work cases (officers and supervisors): whom a case can be
    /// assigned to
    Colleagues {
        /// Only officers, or only supervisors
        #[arg(long, value_enum)]
        role: Option<CaseRoleArg>,
    },
    /// The public keys that verify access tokens (JWKS)
    Keys,
}

/// A role that works cases.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseRoleArg {
    Officer,
    Supervisor,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Your agency's users
    User {
        #[command(subcommand)]
        command: AdminUserCommand,
    },
    /// Your agency's channels
    Channel {
        #[command(subcommand)]
        command: AdminChannelCommand,
    },
    /// Role changes waiting for a second admin (granting a case role to an admin, or ADMIN to
    /// an officer or supervisor)
    RoleChange {
        #[command(subcommand)]
        command: RoleChangeCommand,
    },
    /// Your agency's time zone and public holidays: due times show in both sides' hours
    Agency {
        /// An IANA time zone (Asia/Kolkata, America/Vancouver, UTC)
        #[arg(long, value_name = "ZONE")]
        time_zone: Option<String>,
        /// A public holiday (YYYY-MM-DD); repeat, or separate with commas. Replaces the list
        #[arg(long = "holiday", value_name = "DATE", value_delimiter = ',')]
        holidays: Vec<String>,
        /// Remove every holiday
        #[arg(long, conflicts_with = "holidays")]
        no_holidays: bool,
    },
}

#[derive(Subcommand)]
pub enum RoleChangeCommand {
    /// The changes waiting for a decision
    List {
        /// Also those approved, rejected or expired
        #[arg(long)]
        all: bool,
    },
    /// Approve and apply a change another admin proposed
    Approve {
        /// The role change's id (`admin role-change list`)
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a change (or withdraw your own proposal)
    Reject {
        /// The role change's id
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AdminUserCommand {
    /// The users of your agency
    List {
        /// Disabled users too
        #[arg(long)]
        include_disabled: bool,
    },
    /// Add a user; the password is asked for, or read from LIAISON_NEW_PASSWORD
    Add {
        /// 3 to 64 characters: lower-case letters, digits, '.', '_' and '-'
        username: String,
        /// Defaults to the username
        #[arg(long)]
        display_name: Option<String>,
        /// A role to grant; repeat, or separate with commas, for several
        #[arg(long = "role", value_enum, value_delimiter = ',', required = true)]
        roles: Vec<RoleArg>,
    },
    /// Replace a user's roles
    Roles {
        /// The user's username or id
        user: String,
        /// A role to hold; repeat, or separate with commas, for several
        #[arg(
            long = "role",
            value_enum,
            value_delimiter = ',',
            required_unless_present = "none"
        )]
        roles: Vec<RoleArg>,
        /// Remove every role
        #[arg(long, conflicts_with = "roles")]
        none: bool,
        /// Propose the change for another admin to approve: needed when it would let an admin
        /// read case content (ADMIN with OFFICER or SUPERVISOR)
        #[arg(long)]
        propose: bool,
        /// Why (with --propose)
        #[arg(long, requires = "propose")]
        reason: Option<String>,
    },
    /// Change a user's display name (the username stays)
    Rename {
        /// The user's username or id
        user: String,
        /// The new display name
        display_name: String,
    },
    /// Disable a user: they cannot sign in and their sessions end
    Disable {
        /// The user's username or id
        user: String,
    },
    /// Enable a disabled user
    Enable {
        /// The user's username or id
        user: String,
    },
    /// Set a temporary password (asked for, or LIAISON_NEW_PASSWORD); the user must change it at
    /// their next sign-in, and their sessions end
    ResetPassword {
        /// The user's username or id
        user: String,
    },
    /// End every session of a user
    RevokeSessions {
        /// The user's username or id
        user: String,
    },
}

#[derive(Subcommand)]
pub enum AdminChannelCommand {
    /// The channels your agency is a party to
    List {
        #[arg(long, value_enum)]
        status: Option<ChannelStatusArg>,
    },
    /// Propose a channel to an agency of another country
    Propose {
        /// The partner agency's code (such as CA-RCMP) or id
        #[arg(long)]
        partner: String,
        /// A category the channel covers; repeat, or separate with commas, for several
        #[arg(long = "category", value_enum, value_delimiter = ',', required = true)]
        categories: Vec<CategoryArg>,
    },
    /// Approve a channel the other agency proposed: it becomes ACTIVE
    Approve(ChannelTarget),
    /// Suspend an ACTIVE channel: no new filings; only your agency can resume it
    Suspend(ChannelTarget),
    /// Resume a channel your agency suspended: it becomes ACTIVE again
    Resume(ChannelTarget),
    /// The channel's register of legal bases, which both agencies agree as they agree the channel
    Term {
        #[command(subcommand)]
        command: TermCommand,
    },
}

#[derive(Subcommand)]
pub enum TermCommand {
    /// Propose a term; it binds once the other agency's admin approves it
    Propose {
        /// The channel's id
        channel: String,
        #[arg(long, value_enum, default_value = "legal-basis")]
        kind: TermKindArg,
        /// What people cite: 2 to 32 of A-Z, 0-9, '_' and '-' (such as CA-IN-MLAT)
        #[arg(long)]
        code: String,
        /// Its full name (for a rule, what it asks, when left out)
        #[arg(long)]
        title: Option<String>,
        /// Where it is published or registered
        #[arg(long)]
        reference: Option<String>,
        /// What the agencies agreed about its use
        #[arg(long)]
        notes: Option<String>,
        /// For a deadline: its window (8h, 3d)
        #[arg(long, value_parser = parse_span, value_name = "SPAN")]
        duration: Option<chrono::Duration>,
        /// For DUE_SOON: the share of a window after which a deadline is due soon (50 to 95)
        #[arg(long)]
        percent: Option<i32>,
    },
    /// Agree a term the other agency proposed
    Approve {
        /// The term's id
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refuse a term the other agency proposed, or withdraw one your agency proposed
    Reject {
        /// The term's id
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Retire an agreed term: new referrals can no longer cite it
    Retire {
        /// The term's id
        id: String,
        /// Why, for the other agency (required)
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args, Clone, Debug)]
pub struct ChannelTarget {
    /// The channel's id
    pub id: String,
    /// The etag you last saw; without it, the current one is fetched (GetChannel)
    #[arg(long)]
    pub etag: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct AuditFilters {
    /// Only calls by this user (id)
    #[arg(long, value_name = "USER_ID")]
    pub actor: Option<String>,
    /// Only calls about this case (id)
    #[arg(long = "case", value_name = "CASE_ID")]
    pub case_id: Option<String>,
    /// Only this method, such as CaseService/GetCase (the liaison.v1. prefix may be left out)
    #[arg(long)]
    pub method: Option<String>,
    #[arg(long, value_enum)]
    pub outcome: Option<OutcomeArg>,
    /// Only calls that read or changed material marked with this handling code or a stricter one
    /// (H2: who read H2 or H3 material)
    #[arg(long, value_enum, ignore_case = true, value_name = "CODE")]
    pub min_handling: Option<HandlingArg>,
    /// Entries at or after this time: RFC 3339, a date (2026-03-01, UTC), or an age (30m, 12h, 7d)
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub since: Option<DateTime<Utc>>,
    /// Entries before this time, in the same forms as --since
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Entries of the audit log you may see, newest first
    Query {
        #[command(flatten)]
        filters: AuditFilters,
        #[command(flatten)]
        paging: Paging,
    },
    /// Every matching entry as NDJSON (one JSON object a line), oldest first, streamed
    Export {
        #[command(flatten)]
        filters: AuditFilters,
        /// Write to this file (created with mode 0600) instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Recompute the chain (or a range of it) on the server and check its signed checkpoints;
    /// exits 1 when anything is wrong
    Verify {
        /// First sequence number (default: the start)
        #[arg(long, conflicts_with = "checkpoint")]
        from: Option<i64>,
        /// Last sequence number (default: the head)
        #[arg(long, conflicts_with = "checkpoint")]
        to: Option<i64>,
        /// Prove this checkpoint, kept earlier (`audit checkpoint --out`), is still part of the chain
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// The latest signed checkpoint of the chain: keep it to verify later
    Checkpoint {
        /// Also write it to this file, for `audit verify --checkpoint`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// A time on the command line: RFC 3339, a date (midnight UTC), or an age such as 30m, 12h, 7d, 2w.
/// A category's code as people type it: `drugs`, `organised-crime`, `ORGANISED_CRIME`.
pub fn parse_category(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase().replace('-', "_");
    let ok = (2..=32).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    if ok {
        Ok(code)
    } else {
        Err(format!(
            "{text:?} is no category: drugs, fraud, cyber, or a code such as organised-crime"
        ))
    }
}

pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time_at(text, Utc::now())
}

fn parse_time_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    absolute_time(text)
        .or_else(|| duration(text).and_then(|age| now.checked_sub_signed(age)))
        .ok_or_else(|| {
            format!("{text:?} is not a time: use RFC 3339 (2026-03-01T09:00:00Z), a date (2026-03-01) or an age (30m, 12h, 7d)")
        })
}

/// A time to come: RFC 3339, a date (UTC midnight), or a span from now (`90d`, `12w`).
pub fn parse_future_time(text: &str) -> Result<DateTime<Utc>, String> {
    parse_future_time_at(text, Utc::now())
}

/// A span such as `2h` or `3d`.
pub fn parse_span(text: &str) -> Result<chrono::Duration, String> {
    duration(text)
        .ok_or_else(|| format!("{text:?} is not a span: a number and s, m, h, d or w (2h, 3d)"))
}

fn parse_future_time_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    absolute_time(text)
        .or_else(|| duration(text).and_then(|span| now.checked_add_signed(span)))
        .ok_or_else(|| {
            format!("{text:?} is not a time: use RFC 3339 (2027-03-01T09:00:00Z), a date (2027-03-01) or a span from now (90d, 12w)")
        })
}

fn absolute_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `30m`, `12h`, `7d`, `2w`: a number and a unit.
fn duration(text: &str) -> Option<chrono::Duration> {
    let split = text.len().saturating_sub(1);
    let (number, unit) = (text.get(..split), text.get(split..));
    let amount: Option<i64> = number.and_then(|n| n.parse().ok()).filter(|n| *n >= 0);
    match (amount, unit) {
        (Some(n), Some("s")) => chrono::Duration::try_seconds(n),
        (Some(n), Some("m")) => chrono::Duration::try_minutes(n),
        (Some(n), Some("h")) => chrono::Duration::try_hours(n),
        (Some(n), Some("d")) => chrono::Duration::try_days(n),
        (Some(n), Some("w")) => chrono::Duration::try_weeks(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("LIAISON_CONFIG_DIR"), "{help}");
    }

    #[test]
    fn times_to_come() {
        let now = Utc::now();
        assert_eq!(
            parse_future_time_at("90d", now).unwrap(),
            now + chrono::Duration::days(90)
        );
        assert_eq!(
            parse_future_time_at("2027-03-01", now)
                .unwrap()
                .to_rfc3339(),
            "2027-03-01T00:00:00+00:00"
        );
        assert!(parse_future_time_at("soon", now).is_err());
    }

    #[test]
    fn times() {
        let now = Utc::now();
        assert_eq!(
            parse_time_at("2h", now).unwrap(),
            now - chrono::Duration::hours(2)
        );
        assert_eq!(
            parse_time_at("2026-03-01", now).unwrap().to_rfc3339(),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time_at("2026-03-01T09:00:00+05:30", now)
                .unwrap()
                .to_rfc3339(),
            "2026-03-01T03:30:00+00:00"
        );
        assert!(parse_time_at("soon", now).is_err());
        assert!(parse_time_at("-3d", now).is_err());
        assert!(parse_time_at("", now).is_err());
    }
}
