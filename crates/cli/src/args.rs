//! The command line, as clap parses it.
//!
//! Owns every flag and subcommand definition and nothing else: no behaviour lives here. The
//! help, the man page and the shell completions are all generated from these definitions.
//! Invariant: each subcommand's arguments are one struct, destructured exhaustively by its
//! command function so that no flag is silently dropped.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, one text for the top-level help and the man page.
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  success; for plan --detailed-exitcode, drift, parity and audit: nothing pending
  1  error: invalid spec, bad arguments, a refused or cancelled change, a failed AWS call
  2  pending: changes (plan --detailed-exitcode), drift (drift), undeclared differences
     (parity), findings (audit)"
    };
}

/// The exit codes, as the top-level help and the man page show them.
pub const EXIT_CODES: &str = exit_codes!();

/// Examples and exit codes, after the top-level help.
const AFTER_HELP: &str = concat!(
    "Examples:
  envctl validate --spec environments/webapp.toml
  envctl plan staging --detailed-exitcode
  envctl apply staging
  envctl -v drift --output json

",
    exit_codes!()
);

/// Keep cloud environments identical except in scale.
#[derive(Debug, Parser)]
#[command(name = "envctl", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The spec file
    #[arg(
        long,
        global = true,
        env = "ENVCTL_SPEC",
        default_value = "envctl.toml"
    )]
    pub spec: PathBuf,
    /// AWS region (default: the spec's `project.region`)
    #[arg(long, global = true, env = "ENVCTL_REGION")]
    pub region: Option<String>,
    /// Named AWS profile from the shared config files
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (a local emulator, LocalStack, a VPC endpoint);
    /// `AWS_ENDPOINT_URL` works too
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Never draw progress bars (they are off anyway when stderr is not a terminal or
    /// `NO_COLOR` is set)
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Attempts per AWS request (first included) on throttling and transient errors
    #[arg(long, global = true, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_attempts: u32,
    /// Backoff before the first retry, doubling with jitter after: `1s`, `200ms` (default: 50ms;
    /// 200ms with `--retry-mode standard`)
    #[arg(long, global = true, value_parser = parse_backoff)]
    pub initial_backoff: Option<std::time::Duration>,
    /// AWS requests per second at most, per service, retries included
    #[arg(long, global = true, value_parser = parse_rate)]
    pub max_requests_per_second: Option<f64>,
    /// How throttling is met: `adaptive` paces each service's reads and changes, slowing
    /// them down while AWS throttles and back up as answers come unthrottled (each call
    /// still backs off too); `standard` only backs each call off
    #[arg(long, global = true, value_enum, default_value_t)]
    pub retry_mode: RetryMode,
    /// How long to wait for one resource to become usable or go away: `30m`, `2h` (default:
    /// 60m for Aurora clusters and DB instances, 15m for EC2)
    #[arg(long, global = true, value_parser = parse_duration)]
    pub wait_timeout: Option<std::time::Duration>,
    /// For tests against an emulator: the pause after the first poll of a wait (default 2s)
    #[arg(long, global = true, hide = true, env = "ENVCTL_POLL_INTERVAL", value_parser = parse_backoff)]
    pub poll_interval: Option<std::time::Duration>,
    /// When to color messages and plans: `auto` (on a terminal, unless `NO_COLOR` is set or
    /// `TERM=dumb`), `always`, `never`
    #[arg(long, global = true, value_enum, default_value_t)]
    pub color: ColorChoice,
    /// Log to stderr what envctl does (`-v`), and every AWS call too (`-vv`); `RUST_LOG`
    /// filters logs the usual way
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the whole spec (every environment) and report every problem
    #[command(
        after_help = "Examples:\n  envctl validate --spec environments/webapp.toml\n  envctl validate --output json   # diagnostics as data, for editors and CI annotations"
    )]
    Validate(ValidateArgs),
    /// Rewrite the spec file in the canonical layout, comments kept (`--check`: only say)
    #[command(
        after_help = "Examples:\n  envctl fmt\n  envctl fmt --check   # in CI: exit code 2 when the file is not formatted"
    )]
    Fmt(FmtArgs),
    /// Print the concrete resources one environment expands to
    #[command(after_help = "Example:\n  envctl show staging --output json")]
    Show(ShowArgs),
    /// Show what apply would change, without changing anything
    #[command(
        after_help = "Example:\n  envctl plan staging --out staging.plan --detailed-exitcode"
    )]
    Plan(PlanArgs),
    /// Change the cloud to match the spec
    #[command(
        after_help = "Examples:\n  envctl apply staging\n  envctl apply production --yes\n  envctl apply --plan staging.plan"
    )]
    Apply(ApplyArgs),
    /// Delete everything an environment owns
    #[command(after_help = "Example:\n  envctl destroy staging --yes")]
    Destroy(DestroyArgs),
    /// Report how live environments depart from the spec (read-only)
    #[command(after_help = "Examples:\n  envctl drift\n  envctl drift staging --output json")]
    Drift(DriftArgs),
    /// Repair drift: restore modified fields, recreate what is missing, remove what is unmanaged
    #[command(
        after_help = "Examples:\n  envctl reconcile staging\n  envctl reconcile --yes --watch --interval 5m"
    )]
    Reconcile(ReconcileArgs),
    /// Compare live environments with each other, or list the declared differences
    #[command(
        after_help = "Examples:\n  envctl parity\n  envctl parity staging production --output json\n  envctl parity --differences"
    )]
    Parity(ParityArgs),
    /// Check the spec's `[compliance]` rules on the live cloud, most severe first (read-only)
    #[command(
        after_help = "Examples:\n  envctl compliance\n  envctl compliance production --fail-on high --output json"
    )]
    Compliance(ComplianceArgs),
    /// Drift, parity, compliance, probes and expiring differences in one report, for scheduled jobs
    #[command(
        after_help = "Examples:\n  envctl audit --output markdown > audit.md\n  envctl audit --output html > audit.html\n  envctl audit --fail-on critical --output json"
    )]
    Audit(AuditArgs),
    /// Run a test of an environment with its facts in the environment, and record that it
    /// passed (what `require_verified` asks of a promotion)
    #[command(
        after_help = "Examples:\n  envctl verify staging -- ./smoke-test.sh\n  envctl verify staging -- sh -c 'pg_isready -h \"$ENVCTL_OUTPUT_DB_CLUSTER_MAIN_ENDPOINT\"'\n\nThe command sees ENVCTL_PROJECT, ENVCTL_ENVIRONMENT, ENVCTL_REGION, ENVCTL_ACCOUNT,\nENVCTL_PARITY_DIGEST, and ENVCTL_OUTPUT_<ADDRESS> (each resource's cloud id) with\nENVCTL_OUTPUT_<ADDRESS>_<OUTPUT> (ENDPOINT, READER_ENDPOINT, PORT, PRIVATE_IP, ...).\nIts exit code is envctl's; only an exit code 0 is recorded."
    )]
    Verify(VerifyArgs),
    /// Print the apply graph of what `apply` (or `destroy`) would do now, in Graphviz DOT
    #[command(
        after_help = "Examples:\n  envctl graph staging | dot -Tsvg > staging.svg\n  envctl graph staging --destroy"
    )]
    Graph(GraphArgs),
    /// List what an environment owns in the cloud: addresses, cloud ids, states and outputs
    /// (endpoints, addresses), read now
    #[command(
        after_help = "Examples:\n  envctl state staging\n  envctl state production --output json | jq -r '.resources[] | select(.kind == \"db_cluster\") | .outputs.endpoint'"
    )]
    State(StateArgs),
    /// Write the spec of an environment built by hand: everything inside one VPC, read, nothing
    /// changed (into an existing spec: the environment's scale and drafted differences)
    #[command(
        after_help = "Examples:\n  envctl import staging --vpc vpc-0abc --project shop\n  envctl import production --vpc vpc-0def   # into the same spec: scale overrides, draft differences\n  envctl adopt staging                      # then: tag what was imported as the environment's"
    )]
    Import(ImportArgs),
    /// Make the resources `envctl import` found the environment's own, by tagging them
    /// (nothing else changes; the next plan reads them)
    #[command(after_help = "Example:\n  envctl adopt staging --yes")]
    Adopt(AdoptArgs),
    /// List the recorded verifications of an environment, newest first
    #[command(after_help = "Example:\n  envctl verifications staging --output json")]
    Verifications(VerificationsArgs),
    /// Remove a lock left by a run that died (the lock id is in the error that reported it)
    #[command(after_help = "Example:\n  envctl force-unlock production 18c9f2a4e1b-2f1a")]
    ForceUnlock(ForceUnlockArgs),
    /// Rebuild an environment from the spec, optionally as of a git revision
    #[command(
        after_help = "Examples:\n  envctl redeploy staging --replace-drifted\n  envctl redeploy production --ref v1.4.0 --confirm production"
    )]
    Redeploy(RedeployArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  envctl completions bash > ~/.local/share/bash-completion/completions/envctl\n  envctl completions zsh > ~/.zfunc/_envctl\n  envctl completions fish > ~/.config/fish/completions/envctl.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff)
    #[command(after_help = "Example:\n  envctl man > envctl.1 && man ./envctl.1")]
    Man,
    /// Print the JSON Schema of the spec file, for editors (taplo, Even Better TOML)
    #[command(
        after_help = "Example:\n  envctl schema > envctl.schema.json\n  then put `#:schema ./envctl.schema.json` on the first line of the spec"
    )]
    Schema,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How throttling is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RetryMode {
    // Paced sending per service and API family, fed by throttle answers, and each call's
    // backoff (plain comments: doc comments would turn every `--help` into the long form).
    #[default]
    Adaptive,
    // Each call's backoff only.
    Standard,
}

/// When to color output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Machine-readable or human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Change nothing: exit code 2 when the file is not in the canonical layout
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// `text` for people, `json` for editors and CI annotations (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The environment to expand
    pub environment: String,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The environment to plan
    pub environment: String,
    /// Save the plan to FILE, for `envctl apply --plan FILE` (`-` writes it to stdout, and the
    /// readable plan to stderr)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Exit 0 when there is nothing to change, 2 when there is, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Replace ADDR although it could be changed in place; the only way a resource that
    /// holds data (a DB cluster) is replaced (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Plan only ADDR and what it depends on, like Terraform's `-target`; `instance.app`
    /// names the whole group (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub target: Vec<String>,
}

/// How apply-like commands run.
#[derive(Debug, Args)]
pub struct ExecutionArgs {
    /// Do not ask for confirmation (needed when there is no terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Confirm a protected environment non-interactively by naming it
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
    /// Operations in flight at most
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    /// When a change fails, undo the changes this run already made (always on in protected
    /// environments)
    #[arg(long)]
    pub rollback: bool,
    /// How long to wait for another run's lock on the environment: `0s`, `30s`, `10m`
    #[arg(long, default_value = "0s", value_parser = parse_wait)]
    pub lock_timeout: std::time::Duration,
    /// Change the environment without holding its lock (nothing stops a second run)
    #[arg(long, conflicts_with = "lock_timeout")]
    pub no_lock: bool,
    /// Instances of one group a resize or replacement takes down at once (default: a quarter
    /// of the group, rounded up); the next batch starts when the previous one runs again
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_unavailable: Option<u16>,
    /// `text` for people; `json` prints the result on stdout (per resource: action, outcome,
    /// cloud id, duration; see docs/json-output.md) and the plan on stderr
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The promotion gate: an environment with `promote_from` changes only after that environment
/// converged on the same spec.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Apply even though the upstream environment has not converged (needs --reason)
    #[arg(long, requires = "reason")]
    pub skip_promotion_gate: bool,
    /// Why the gate is skipped; printed and recorded as a tag on the environment's VPC
    #[arg(long, value_name = "TEXT", requires = "skip_promotion_gate")]
    pub reason: Option<String>,
    /// Change the environment although a declared difference it relies on has expired; the
    /// reason is printed and recorded as a tag on the environment's VPC
    #[arg(long, value_name = "REASON")]
    pub allow_expired: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The environment to apply (not needed with --plan)
    #[arg(required_unless_present = "plan")]
    pub environment: Option<String>,
    /// Apply exactly this saved plan, refused if the cloud changed since it was made
    #[arg(long, value_name = "FILE", conflicts_with = "environment")]
    pub plan: Option<PathBuf>,
    /// Replace ADDR although it could be changed in place; the only way a resource that
    /// holds data (a DB cluster) is replaced: a final snapshot is kept (repeatable)
    #[arg(long, value_name = "ADDR", conflicts_with = "plan")]
    pub replace: Vec<String>,
    /// Change only ADDR and what it depends on, like Terraform's `-target`; `instance.app`
    /// names the whole group (repeatable)
    #[arg(long, value_name = "ADDR", conflicts_with = "plan")]
    pub target: Vec<String>,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The environment to destroy
    pub environment: String,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Environments to check (default: every environment of the spec)
    pub environments: Vec<String>,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Environments to repair (default: every environment of the spec)
    pub environments: Vec<String>,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Keep reading, comparing and repairing until interrupted, like a controller (needs --yes)
    #[arg(long)]
    pub watch: bool,
    /// Time between passes with --watch: `30s`, `5m`, `1h`
    #[arg(long, default_value = "1m", requires = "watch", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Repair only ADDR and what it depends on, like Terraform's `-target`; `instance.app`
    /// names the whole group (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub target: Vec<String>,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct ParityArgs {
    /// Two environments to compare (default: each environment against its `promote_from`)
    #[arg(num_args = 0..=2)]
    pub environments: Vec<String>,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// List the spec's declared differences (reason, risk, owner, expiry) instead
    #[arg(long, conflicts_with = "environments")]
    pub differences: bool,
}

/// Formats of the audit report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AuditFormat {
    #[default]
    Text,
    Json,
    Markdown,
    Html,
}

/// Formats of the compliance report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

/// A compliance severity, as `--fail-on` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    /// Every violation fails
    #[default]
    Low,
    Medium,
    High,
    /// Only critical violations fail
    Critical,
}

impl FailOn {
    /// The least severity that counts.
    pub fn severity(self) -> envctl_spec::ComplianceSeverity {
        match self {
            FailOn::Low => envctl_spec::ComplianceSeverity::Low,
            FailOn::Medium => envctl_spec::ComplianceSeverity::Medium,
            FailOn::High => envctl_spec::ComplianceSeverity::High,
            FailOn::Critical => envctl_spec::ComplianceSeverity::Critical,
        }
    }
}

#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Environments to check (default: every environment of the spec)
    pub environments: Vec<String>,
    /// `text` for people, `json` for programs (see docs/json-output.md), `markdown` for an
    /// issue or a wiki page
    #[arg(short, long, value_enum, default_value_t)]
    pub output: ReportFormat,
    /// The least severity that makes the exit code 2 (violations below it are still listed)
    #[arg(long, value_enum, default_value_t, value_name = "SEVERITY")]
    pub fail_on: FailOn,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// `text` for people, `json` for programs (see docs/json-output.md), `markdown` for an
    /// issue or a wiki page, `html` for one self-contained page to open, print or send
    #[arg(short, long, value_enum, default_value_t)]
    pub output: AuditFormat,
    /// The least compliance severity that makes the exit code 2 (drift, parity, probe and
    /// expiry findings always do)
    #[arg(long, value_enum, default_value_t, value_name = "SEVERITY")]
    pub fail_on: FailOn,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The environment to test (it must have no drift)
    pub environment: String,
    /// The command to run, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The environment to plan
    pub environment: String,
    /// The graph of `destroy` (every delete, dependents first) instead of `apply`'s
    #[arg(long)]
    pub destroy: bool,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// The environment to read
    pub environment: String,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The environment the VPC is
    pub environment: String,
    /// The VPC to import (its id)
    #[arg(long, value_name = "VPC_ID")]
    pub vpc: String,
    /// The project of a new spec (an existing spec keeps its own)
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The environment whose imported resources to adopt
    pub environment: String,
    /// Do not ask for confirmation (needed when there is no terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct VerificationsArgs {
    /// The environment whose verifications to list
    pub environment: String,
    /// `text` for people, `json` for programs (see docs/json-output.md)
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RedeployArgs {
    /// The environment to rebuild
    pub environment: String,
    /// Read the spec as it was at this git revision (a known-good version)
    #[arg(long, value_name = "GITREV")]
    pub r#ref: Option<String>,
    /// Replace resources changed outside envctl instead of patching them
    #[arg(long, conflicts_with = "replace_all")]
    pub replace_drifted: bool,
    /// Replace every resource that holds no data and is not deletion-protected (what is kept
    /// is listed, with why)
    #[arg(long)]
    pub replace_all: bool,
    /// Replace ADDR too, a resource that holds data included (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub replace: Vec<String>,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The locked environment
    pub environment: String,
    /// The id of the lock to remove, as the lock error printed it
    pub lock_id: String,
    /// Do not ask for confirmation (needed when there is no terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Parses a backoff in milliseconds or seconds (`200ms`, `1s`).
pub fn parse_backoff(text: &str) -> Result<std::time::Duration, String> {
    match text.strip_suffix("ms") {
        Some(ms) => ms
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| format!("`{text}` is not a duration like `200ms` or `1s`")),
        None => parse_duration(text),
    }
}

/// Parses a positive request rate.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a positive number of requests per second"
        )),
    }
}

/// Parses a wait that may be zero (`0s`, `30s`, `10m`).
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    if text.trim_end_matches('s').trim() == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(text)
}

/// Parses `90`, `30s`, `5m`, `2h` into a duration of at least one second.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like `30s`, `5m` or `1h`"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        _ => {
            return Err(format!(
                "`{text}` is not a duration like `30s`, `5m` or `1h`"
            ));
        }
    };
    if seconds == 0 {
        return Err("the interval must be at least one second".to_string());
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(
            parse_duration("5m"),
            Ok(std::time::Duration::from_secs(300))
        );
        assert_eq!(
            parse_duration("2h"),
            Ok(std::time::Duration::from_secs(7200))
        );
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
