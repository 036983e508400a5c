//! `writeback policy check -c FILE --user NAME`: try a candidate password against the
//! configured policy chain for one person, before deploying the policy.
//!
//! The person's accounts are looked up in every configured target that answers (the
//! name rules need them); a target that cannot be reached is reported and skipped.
//! Every rule's verdict is printed; the exit code is 0 when the password passes every
//! policy, 1 when it breaks a rule, 2 for a usage or config error.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use writeback_core::{Account, CloudIdentity, Outcome, Password, PolicyContext, RuleViolation};
use writeback_host::Host;
use zeroize::Zeroize;

use super::{fail_config, load_config};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a candidate password (read from stdin, or a prompt without echo) against
    /// the configured policies for one user, and print every rule's verdict.
    Check(PolicyCheckArgs),
}

#[derive(Args)]
pub struct PolicyCheckArgs {
    /// The TOML config file.
    #[arg(short, long)]
    pub config: PathBuf,
    /// The user: an account name, or a UPN (anything with `@`).
    #[arg(long)]
    pub user: String,
    /// The user's display name, when the directory is not consulted or has none.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Do not look the user up in the directories.
    #[arg(long)]
    pub offline: bool,
}

/// How long each directory lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(command: PolicyCommand) -> i32 {
    let PolicyCommand::Check(args) = command;
    match check(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn read_candidate() -> Result<Password, String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        Password::new(
            rpassword::prompt_password("candidate password: ")
                .map_err(|e| format!("cannot read the password: {e}"))?,
        )
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let p = Password::new(line.trim_end_matches(['\n', '\r']));
        line.zeroize();
        p
    };
    password
        .validate_shape()
        .map_err(|e| format!("{e}: give one password on one line"))?;
    Ok(password)
}

/// One target's answer to the lookup of the user.
pub struct Lookup {
    pub target: String,
    /// The DN found, or why the target was not used.
    pub result: Result<String, String>,
}

/// One policy's verdict: the rules passed, the rules broken (with the configured
/// message overrides applied), or the policy's own failure.
pub struct PolicyVerdict {
    pub policy: String,
    pub passed: Vec<String>,
    pub failed: Vec<RuleViolation>,
    pub error: Option<Outcome>,
}

impl PolicyVerdict {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.error.is_none()
    }
}

/// Looks the user up in every target (unless `lookup` is false) and runs every
/// configured policy on `password`.
pub async fn check_user(
    host: &Host,
    identity: &CloudIdentity,
    password: &Password,
    lookup: bool,
) -> (Vec<Lookup>, Vec<PolicyVerdict>) {
    let mut lookups = Vec::new();
    let mut accounts: Vec<(String, Account)> = Vec::new();
    if lookup {
        for entry in host.targets() {
            let result =
                match tokio::time::timeout(LOOKUP_TIMEOUT, entry.target.resolve(identity)).await {
                    Ok(Ok(account)) => {
                        let dn = account.dn.clone();
                        accounts.push((entry.name.clone(), account));
                        Ok(dn)
                    }
                    Ok(Err(outcome)) => Err(format!("{}: {}", outcome.code, outcome.message)),
                    Err(_) => Err("no answer within 10 s".to_string()),
                };
            lookups.push(Lookup {
                target: entry.name.clone(),
                result,
            });
        }
    }
    let context = PolicyContext {
        operation: writeback_core::OperationKind::Reset,
        identity,
        accounts: &accounts,
    };
    let mut verdicts = Vec::new();
    for entry in host.policies() {
        let mut verdict = PolicyVerdict {
            policy: entry.name.clone(),
            passed: Vec::new(),
            failed: Vec::new(),
            error: None,
        };
        match entry.policy.evaluate(password, &context).await {
            Ok(violations) => {
                verdict.passed = entry
                    .policy
                    .rule_ids()
                    .into_iter()
                    .filter(|id| !violations.iter().any(|v| &v.rule == id))
                    .collect();
                verdict.failed = violations
                    .into_iter()
                    .map(|mut v| {
                        if let Some(m) = entry.settings.messages.get(&v.rule) {
                            v.message = m.clone();
                        }
                        v
                    })
                    .collect();
            }
            Err(outcome) => verdict.error = Some(outcome),
        }
        verdicts.push(verdict);
    }
    (lookups, verdicts)
}

async fn check(args: PolicyCheckArgs) -> Result<i32, String> {
    let config = load_config(&args.config);
    let registry = crate::builtin_registry();
    let host = match Host::build_with(config, &registry, crate::builtin_options()).await {
        Ok(h) => h,
        Err(e) => fail_config(&e),
    };
    let mut identity = CloudIdentity {
        display_name: args.display_name.clone(),
        ..Default::default()
    };
    if args.user.contains('@') {
        identity.upn = Some(args.user.clone());
    } else {
        identity.username = Some(args.user.clone());
    }
    identity.validate()?;
    if host.policies().is_empty() {
        println!("no policies are configured: every password passes writeback's checks");
    }
    let password = read_candidate()?;
    let (lookups, verdicts) = check_user(&host, &identity, &password, !args.offline).await;
    for l in &lookups {
        match &l.result {
            Ok(dn) => println!("target {}: {} found as {dn}", l.target, args.user),
            Err(why) => println!("target {}: not used ({why})", l.target),
        }
    }
    for v in &verdicts {
        if let Some(outcome) = &v.error {
            println!(
                "policy {}: ERROR {}: {}",
                v.policy, outcome.code, outcome.message
            );
            if let Some(d) = &outcome.admin_detail {
                println!("  detail: {d}");
            }
            continue;
        }
        println!(
            "policy {}: {}",
            v.policy,
            if v.ok() { "pass" } else { "FAIL" }
        );
        for id in &v.passed {
            println!("  [pass] {id}");
        }
        for r in &v.failed {
            println!("  [FAIL] {}: {}", r.rule, r.message);
        }
    }
    let failed = verdicts.iter().any(|v| !v.ok());
    println!(
        "{}",
        if failed {
            "result: rejected"
        } else {
            "result: accepted"
        }
    );
    Ok(i32::from(failed))
}
