//! Resolves `SecretRef`s from environment variables and files.

use writeback_core::{Password, SecretRef, SecretResolver};

/// Reads `{ env = "NAME" }` from the process environment and `{ file = "path" }` from
/// disk (trailing newline trimmed, as secret files usually have one).
pub struct EnvAndFileSecrets;

/// Largest secret file read (a secret is a key or a password, not a document).
const MAX_SECRET_FILE: u64 = 64 * 1024;

impl SecretResolver for EnvAndFileSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, String> {
        if let Some(value) = &secret.value {
            return Ok(value.clone());
        }
        if let Some(name) = &secret.env {
            return match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Password::new(v)),
                Ok(_) => Err(format!(
                    "environment variable {name} is empty; set it to the secret"
                )),
                Err(_) => Err(format!(
                    "environment variable {name} is not set; export it before starting writeback"
                )),
            };
        }
        if let Some(path) = &secret.file {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
            if meta.len() > MAX_SECRET_FILE {
                return Err(format!(
                    "secret file {} is larger than 64 KiB",
                    path.display()
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
            let trimmed = text.trim_end_matches(['\n', '\r']);
            if trimmed.is_empty() {
                return Err(format!("secret file {} is empty", path.display()));
            }
            return Ok(Password::new(trimmed));
        }
        Err("no secret given: write `{ env = \"VAR\" }` or `{ file = \"path\" }`".into())
    }
}
