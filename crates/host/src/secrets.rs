//! Resolves `SecretRef`s from environment variables and files.

use writeback_core::{Password, SecretError, SecretRef, SecretResolver};

/// Reads `{ env = "NAME" }` from the process environment and `{ file = "path" }` from
/// disk (trailing newline trimmed, as secret files usually have one).
pub struct EnvAndFileSecrets;

/// Largest secret file read (a secret is a key or a password, not a document).
const MAX_SECRET_FILE: u64 = 64 * 1024;

impl SecretResolver for EnvAndFileSecrets {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, SecretError> {
        if let Some(value) = &secret.value {
            return Ok(value.clone());
        }
        if let Some(name) = &secret.env {
            return match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Password::new(v)),
                Ok(_) => Err(SecretError::EnvEmpty { name: name.clone() }),
                Err(_) => Err(SecretError::EnvUnset { name: name.clone() }),
            };
        }
        if let Some(path) = &secret.file {
            let unreadable = |source| SecretError::FileUnreadable {
                path: path.clone(),
                source,
            };
            let meta = std::fs::metadata(path).map_err(unreadable)?;
            if meta.len() > MAX_SECRET_FILE {
                return Err(SecretError::FileTooLarge {
                    path: path.clone(),
                    max: MAX_SECRET_FILE,
                });
            }
            let text = std::fs::read_to_string(path).map_err(unreadable)?;
            let trimmed = text.trim_end_matches(['\n', '\r']);
            if trimmed.is_empty() {
                return Err(SecretError::FileEmpty { path: path.clone() });
            }
            return Ok(Password::new(trimmed));
        }
        Err(SecretError::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(secret: &SecretRef) -> String {
        match EnvAndFileSecrets.resolve(secret) {
            Ok(_) => "resolved".to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn each_failure_says_what_to_do_and_never_shows_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let unset = "WRITEBACK_TEST_SECRET_THAT_IS_NEVER_SET";
        assert_eq!(
            message(&SecretRef::from_env(unset)),
            format!("environment variable {unset} is not set; export it before starting writeback")
        );

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let from_file = |path: &std::path::Path| SecretRef {
            env: None,
            file: Some(path.to_path_buf()),
            value: None,
        };
        assert_eq!(
            message(&from_file(&empty)),
            format!("secret file {} is empty", empty.display())
        );

        let big = dir.path().join("big");
        std::fs::write(&big, "Marker-Secret-7".repeat(5000)).unwrap();
        let said = message(&from_file(&big));
        assert_eq!(
            said,
            format!("secret file {} is larger than 64 KiB", big.display())
        );

        let missing = dir.path().join("missing");
        let said = message(&from_file(&missing));
        assert!(
            said.starts_with(&format!("cannot read secret file {}: ", missing.display())),
            "{said}"
        );

        let none = SecretRef {
            env: None,
            file: None,
            value: None,
        };
        assert_eq!(
            message(&none),
            "no secret given: write `{ env = \"VAR\" }` or `{ file = \"path\" }`"
        );
    }

    #[test]
    fn a_secret_file_is_read_without_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "Marker-Secret-8\n").unwrap();
        let secret = SecretRef {
            env: None,
            file: Some(path),
            value: None,
        };
        let got = EnvAndFileSecrets
            .resolve(&secret)
            .map(|p| p.expose() == "Marker-Secret-8");
        assert!(matches!(got, Ok(true)));
    }
}
