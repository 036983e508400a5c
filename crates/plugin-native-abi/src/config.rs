//! A connector's own table from the writeback config file, as the plugin receives it.

use std::path::{Path, PathBuf};

use abi_stable::std_types::RStr;
use abi_stable::StableAbi;
use serde::de::DeserializeOwned;

use crate::data::ConfigProblem;

/// One `[[policies]]` / `[[notifiers]]` / … table, minus the keys the host handles
/// itself (`type`, `name`, `messages`, `on`).
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct ConnectorConfig<'a> {
    /// The instance name (from `name`, or the type name).
    pub name: RStr<'a>,
    /// The table, as TOML text.
    pub toml: RStr<'a>,
    /// The config file's directory: relative paths in the table are relative to it.
    pub base_dir: RStr<'a>,
}

impl<'a> ConnectorConfig<'a> {
    pub fn new(name: &'a str, toml: &'a str, base_dir: &'a str) -> Self {
        ConnectorConfig {
            name: RStr::from_str(name),
            toml: RStr::from_str(toml),
            base_dir: RStr::from_str(base_dir),
        }
    }

    /// Deserializes the table into your config type (use `#[serde(deny_unknown_fields)]`).
    /// An error names the key inside the table; the host adds the file and line.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigProblem> {
        let table: toml::Table = toml::from_str(self.toml.as_str())
            .map_err(|e| ConfigProblem::new("", &format!("the table is not valid TOML: {e}")))?;
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { String::new() } else { path };
            ConfigProblem::new(&key, &e.into_inner().to_string())
        })
    }

    /// A path from the table, made absolute against the config file's directory.
    pub fn path(&self, value: &Path) -> PathBuf {
        if value.is_absolute() {
            value.to_path_buf()
        } else {
            Path::new(self.base_dir.as_str()).join(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Words {
        words: Vec<String>,
        min: Option<u32>,
    }

    #[test]
    fn parse_errors_name_the_key() {
        let ok = ConnectorConfig::new("w", "words = [\"acme\"]\n", "/etc");
        assert!(ok.parse::<Words>().is_ok());
        let bad = ConnectorConfig::new("w", "words = [\"acme\"]\nmin = \"x\"\n", "/etc");
        let err = bad.parse::<Words>().err().map(|e| e.key.to_string());
        assert_eq!(err.as_deref(), Some("min"));
        let unknown = ConnectorConfig::new("w", "words = []\nnope = 1\n", "/etc");
        let err = unknown
            .parse::<Words>()
            .err()
            .map(|e| e.message.to_string());
        assert!(err.unwrap_or_default().contains("nope"));
        assert_eq!(ok.path(Path::new("x.log")), PathBuf::from("/etc/x.log"));
    }
}
