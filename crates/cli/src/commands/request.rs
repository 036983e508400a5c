//! `writeback request`: build, sign and send one request to a running webhook source.
//! The password is read from stdin (one line; for a change: old, then new) or from a
//! prompt that does not echo. It is never taken from the command line, where `ps`
//! would show it.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use writeback_core::{CloudIdentity, InitiatorKind, OutcomeCode, Password};
use writeback_signing::Secret;
use writeback_source_webhook::client::{self, RequestBody};
use zeroize::Zeroizing;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Op {
    Reset,
    Change,
    Unlock,
}

#[derive(Args, Debug)]
pub struct RequestArgs {
    /// The webhook source's URL, e.g. https://127.0.0.1:8443/v1/requests
    #[arg(long)]
    pub url: String,
    /// Environment variable holding the whsec_ signing secret.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// File holding the whsec_ signing secret.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// CA certificate (PEM) to verify an HTTPS source with a private certificate.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// The request id (idempotency key); a random one by default.
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, value_enum, default_value_t = Op::Reset)]
    pub operation: Op,
    /// The person must change the password at next logon (reset only).
    #[arg(long)]
    pub must_change: bool,
    #[arg(long)]
    pub upn: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub mail: Option<String>,
    #[arg(long)]
    pub object_id: Option<String>,
    #[arg(long)]
    pub immutable_id: Option<String>,
    /// Initiated by an administrator rather than the person.
    #[arg(long)]
    pub admin: bool,
}

pub async fn run(args: RequestArgs) -> i32 {
    match send(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn read_secret(args: &RequestArgs) -> Result<Zeroizing<String>, String> {
    if let Some(var) = &args.secret_env {
        return std::env::var(var)
            .map(Zeroizing::new)
            .map_err(|_| format!("environment variable {var} is not set"));
    }
    if let Some(path) = &args.secret_file {
        return std::fs::read_to_string(path)
            .map(|s| Zeroizing::new(s.trim().to_string()))
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    Err("give the signing secret with --secret-env VAR or --secret-file FILE".into())
}

/// Reads `n` passwords: lines of stdin, or no-echo prompts on a terminal.
fn read_passwords(prompts: &[&str]) -> Result<Vec<Zeroizing<String>>, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return prompts
            .iter()
            .map(|p| {
                rpassword::prompt_password(format!("{p}: "))
                    .map(Zeroizing::new)
                    .map_err(|e| format!("cannot read the password: {e}"))
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut lines = stdin.lock();
    for p in prompts {
        let mut line = Zeroizing::new(String::new());
        lines
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the {p} from stdin: {e}"))?;
        let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_string());
        if trimmed.is_empty() {
            return Err(format!("no {p} on stdin (one per line)"));
        }
        out.push(trimmed);
    }
    Ok(out)
}

async fn send(args: RequestArgs) -> Result<i32, String> {
    let secret = read_secret(&args)?;
    let secret = Secret::parse(&secret).map_err(|e| format!("the signing secret: {e}"))?;
    let identity = CloudIdentity {
        upn: args.upn.clone(),
        username: args.username.clone(),
        mail: args.mail.clone(),
        object_id: args.object_id.clone(),
        immutable_id: args.immutable_id.clone(),
        ..Default::default()
    };
    identity.validate()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4().simple()));
    let mut body = match args.operation {
        Op::Reset => {
            let p = read_passwords(&["new password"])?;
            RequestBody::reset(
                &id,
                identity,
                Password::new(p[0].as_str()),
                args.must_change,
            )
        }
        Op::Change => {
            let p = read_passwords(&["current password", "new password"])?;
            RequestBody::change(
                &id,
                identity,
                Password::new(p[0].as_str()),
                Password::new(p[1].as_str()),
            )
        }
        Op::Unlock => RequestBody::unlock(&id, identity),
    };
    if args.admin {
        body.initiator.kind = InitiatorKind::Admin;
    }
    let answer = client::send(&args.url, args.ca_file.as_deref(), &secret, &body)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}: {} (HTTP {})", id, answer.reply.outcome, answer.status);
    println!("  {}", answer.reply.message);
    for rule in &answer.reply.rules {
        println!("  - {}: {}", rule.rule, rule.message);
    }
    Ok(if answer.reply.outcome == OutcomeCode::Succeeded {
        0
    } else {
        1
    })
}
