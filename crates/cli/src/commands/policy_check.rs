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
use writeback_core::{Account, CloudIdentity, Password, PolicyContext};
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

    let pipeline = host.pipeline_handle();
    let mut accounts: Vec<(String, Account)> = Vec::new();
    if !args.offline {
        for entry in pipeline.targets() {
            match tokio::time::timeout(LOOKUP_TIMEOUT, entry.target.resolve(&identity)).await {
                Ok(Ok(account)) => {
                    println!(
                        "target {}: {} found as {}",
                        entry.name, args.user, account.dn
                    );
                    accounts.push((entry.name.clone(), account));
                }
                Ok(Err(outcome)) => println!(
                    "target {}: not used ({}: {})",
                    entry.name, outcome.code, outcome.message
                ),
                Err(_) => println!("target {}: not used (no answer within 10 s)", entry.name),
            }
        }
    }
    if pipeline.policies().is_empty() {
        println!("no policies are configured: every password passes writeback's checks");
    }

    let password = read_candidate()?;
    let context = PolicyContext {
        identity: &identity,
        accounts: &accounts,
    };
    let mut failed = false;
    for entry in pipeline.policies() {
        let violations = match entry.policy.evaluate(&password, &context).await {
            Ok(v) => v,
            Err(outcome) => {
                println!(
                    "policy {}: ERROR {}: {}",
                    entry.name, outcome.code, outcome.message
                );
                if let Some(d) = &outcome.admin_detail {
                    println!("  detail: {d}");
                }
                failed = true;
                continue;
            }
        };
        let verdict = if violations.is_empty() {
            "pass"
        } else {
            "FAIL"
        };
        println!("policy {}: {verdict}", entry.name);
        let broken: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
        for id in entry.policy.rule_ids() {
            if !broken.contains(&id.as_str()) {
                println!("  [pass] {id}");
            }
        }
        for v in &violations {
            let message = entry.settings.messages.get(&v.rule).unwrap_or(&v.message);
            println!("  [FAIL] {}: {message}", v.rule);
        }
        failed |= !violations.is_empty();
    }
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
