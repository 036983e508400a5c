//! What a connector factory gets from the TOML file: its own table, and the means to
//! report an error by file, line and key. Pure: reading files and environment variables
//! is the host's job, behind [`SecretResolver`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::secret::Password;

/// The four plugin kinds, named as their TOML arrays are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectorKind {
    Source,
    Target,
    Policy,
    Notifier,
}

impl ConnectorKind {
    pub const ALL: [ConnectorKind; 4] = [
        ConnectorKind::Source,
        ConnectorKind::Target,
        ConnectorKind::Policy,
        ConnectorKind::Notifier,
    ];

    /// The name of the array of tables in the config file (`[[targets]]`, …).
    pub fn table_name(self) -> &'static str {
        match self {
            ConnectorKind::Source => "sources",
            ConnectorKind::Target => "targets",
            ConnectorKind::Policy => "policies",
            ConnectorKind::Notifier => "notifiers",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            ConnectorKind::Source => "source",
            ConnectorKind::Target => "target",
            ConnectorKind::Policy => "policy",
            ConnectorKind::Notifier => "notifier",
        }
    }
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.singular())
    }
}

/// A configuration error that names where it is: file, line and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    /// The dotted key path, e.g. `targets[0].tls.ca_file`.
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The text of a config file, kept to turn key paths into line numbers.
#[derive(Debug)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub text: String,
}

impl ConfigSource {
    /// The 1-based line where `key_path` (like `targets[1].tls.ca_file`) is written, or
    /// the line of the nearest enclosing table that is.
    pub fn line_of(&self, key_path: &str) -> Option<usize> {
        use toml_edit::{Item, TableLike, Value};
        let doc = toml_edit::ImDocument::parse(self.text.as_str()).ok()?;
        let mut span = None;
        let mut table: Option<&dyn TableLike> = Some(doc.as_table());
        let mut last: Option<&Item> = None;
        for segment in split_key_path(key_path) {
            match segment {
                Segment::Key(k) => {
                    let Some((key, value)) = table.and_then(|t| t.get_key_value(k)) else {
                        break;
                    };
                    span = key.span().or_else(|| value.span()).or(span);
                    table = value.as_table_like();
                    last = Some(value);
                }
                Segment::Index(i) => match last {
                    Some(Item::ArrayOfTables(a)) => {
                        let Some(t) = a.get(i) else { break };
                        span = t.span().or(span);
                        table = Some(t);
                        last = None;
                    }
                    Some(Item::Value(Value::Array(a))) => {
                        let Some(v) = a.get(i) else { break };
                        span = v.span().or(span);
                        table = v.as_inline_table().map(|t| t as &dyn TableLike);
                        last = None;
                    }
                    _ => break,
                },
            }
        }
        span.map(|s| self.line_at(s.start))
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text
            .as_bytes()
            .iter()
            .take(offset)
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// An error located at `key_path`.
    pub fn error(&self, key_path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: Some(self.path.clone()),
            line: self.line_of(key_path),
            key: Some(key_path.to_string()),
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_key_path(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|p| !p.is_empty()).flat_map(|part| {
        let mut out = Vec::new();
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(i) = rest[1..close].parse() {
                out.push(Segment::Index(i));
            }
            rest = &rest[close + 1..];
        }
        out
    })
}

/// Deserializes a TOML value; on error, the key path inside it (empty for the value
/// itself) and the message.
/// A missing key is named in the key path (`targets[0].base_dn`, not `targets[0]`), so
/// that the person sees which key to add.
pub fn deserialize_value<T: DeserializeOwned>(value: toml::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut key = if path == "." { String::new() } else { path };
        let message = e.into_inner().to_string();
        if let Some(field) = missing_field(&message) {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(field);
        }
        (key, message)
    })
}

/// The key of serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(&rest[..end]).filter(|f| !f.is_empty())
}

/// Deserializes a table and reports every bad key, not only the first: after an error
/// the key it names is taken out and the rest is deserialized again (serde stops at the
/// first error). When a required key was taken out that way, a stand-in of a shape it
/// accepts is put in its place, so that the keys after it are still checked; it is not
/// reported twice. Returns the value only when there was no error.
pub fn deserialize_all<T: DeserializeOwned>(
    mut table: toml::Table,
) -> Result<T, Vec<(String, String)>> {
    // Bounded: a table has few keys, and each round takes one out or stops.
    const MAX_ROUNDS: usize = 64;
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        match deserialize_value::<T>(toml::Value::Table(table.clone())) {
            Ok(value) if errors.is_empty() => return Ok(value),
            Ok(_) => break,
            Err((key, message)) => {
                if missing_field(&message).is_some() && removed.contains(&key) {
                    if stand_in::<T>(&mut table, &key) {
                        continue;
                    }
                    break;
                }
                let taken = remove_key(&mut table, &key);
                errors.push((key, message));
                match taken {
                    Some(path) => removed.push(path),
                    None => break,
                }
            }
        }
    }
    Err(errors)
}

/// Puts at `key` the first of a few plain values that gets deserialization past it (an
/// error elsewhere, not at `key` or a table holding it, or none). False if none does.
fn stand_in<T: DeserializeOwned>(table: &mut toml::Table, key: &str) -> bool {
    let candidates = [
        toml::Value::Table(toml::Table::new()),
        toml::Value::String(String::new()),
        toml::Value::Integer(1),
        toml::Value::Boolean(false),
        toml::Value::Array(Vec::new()),
        toml::Value::Float(1.0),
    ];
    for candidate in candidates {
        if !set_key(table, key, candidate) {
            return false;
        }
        match deserialize_value::<T>(toml::Value::Table(table.clone())) {
            Ok(_) => return true,
            Err((at, _)) => {
                let holds = at.is_empty() || key == at || key.starts_with(&format!("{at}."));
                if !holds {
                    return true;
                }
            }
        }
    }
    remove_key(table, key);
    false
}

/// Sets the value at a dotted key path of tables that exist; false if one does not.
fn set_key(table: &mut toml::Table, key_path: &str, value: toml::Value) -> bool {
    let keys: Vec<&str> = key_path.split('.').collect();
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut current = table;
    for k in parents {
        match current.get_mut(*k).and_then(toml::Value::as_table_mut) {
            Some(t) => current = t,
            None => return false,
        }
    }
    current.insert((*last).to_string(), value);
    true
}

/// Takes the value at a key path (`a.b`, `a[2].c`) out of a table: the deepest key that
/// exists on the way, or the array that holds an indexed element. Returns the path of
/// what was removed, or `None` when nothing could be.
fn remove_key(table: &mut toml::Table, key_path: &str) -> Option<String> {
    let keys: Vec<&str> = split_key_path(key_path)
        .map_while(|s| match s {
            Segment::Key(k) => Some(k),
            Segment::Index(_) => None,
        })
        .collect();
    let (last, parents) = keys.split_last()?;
    let mut current = table;
    let mut walked = Vec::new();
    for k in parents {
        // A segment that is not a table here: take out what holds it.
        if !matches!(current.get(*k), Some(toml::Value::Table(_))) {
            current.remove(*k)?;
            walked.push(*k);
            return Some(walked.join("."));
        }
        current = current.get_mut(*k).and_then(toml::Value::as_table_mut)?;
        walked.push(*k);
    }
    current.remove(*last)?;
    walked.push(last);
    Some(walked.join("."))
}

/// Deserializes the table at `key_path` of a config file, with errors located in it.
pub fn parse_section<T: DeserializeOwned>(
    source: &ConfigSource,
    key_path: &str,
    value: toml::Value,
) -> Result<T, ConfigError> {
    deserialize_value(value).map_err(|(key, message)| {
        let full = if key.is_empty() {
            key_path.to_string()
        } else {
            format!("{key_path}.{key}")
        };
        source.error(&full, message)
    })
}

/// One connector's table from the config file, with `type` and `name` taken out.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    pub kind: ConnectorKind,
    /// The registered type name (`openldap`, `webhook`, …).
    pub type_name: String,
    /// The instance name (from `name`, or the type name), unique per kind.
    pub name: String,
    pub table: toml::Table,
    /// Where this table sits in the file, e.g. `targets[0]`.
    pub key_path: String,
    pub source: Option<Arc<ConfigSource>>,
}

impl ConnectorConfig {
    /// A connector config made in code (embedding, tests): errors name the key only.
    pub fn in_code(kind: ConnectorKind, type_name: &str, name: &str, table: toml::Table) -> Self {
        ConnectorConfig {
            kind,
            type_name: type_name.to_string(),
            name: name.to_string(),
            table,
            key_path: format!("{}.{}", kind.table_name(), name),
            source: None,
        }
    }

    /// Deserializes the table into the connector's own config type. Errors name the
    /// file, line and full key.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let value = toml::Value::Table(self.table.clone());
        deserialize_value(value).map_err(|(key, message)| self.error(&key, message))
    }

    /// Deserializes the table into the connector's own config type, reporting every bad
    /// key (see [`deserialize_all`]), each with file, line and full key.
    pub fn parse_all<T: DeserializeOwned>(&self) -> Result<T, Vec<ConfigError>> {
        self.parse_table_all(self.table.clone())
    }

    /// [`ConnectorConfig::parse_all`] of part of this connector's table (a connector
    /// that parses its keys in groups); errors name keys relative to the whole table.
    pub fn parse_table_all<T: DeserializeOwned>(
        &self,
        table: toml::Table,
    ) -> Result<T, Vec<ConfigError>> {
        deserialize_all(table).map_err(|errors| {
            errors
                .into_iter()
                .map(|(key, message)| self.error(&key, message))
                .collect()
        })
    }

    /// An error about `key` (relative to this connector's table; empty for the table).
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let full = if key.is_empty() {
            self.key_path.clone()
        } else if key.starts_with('[') {
            format!("{}{}", self.key_path, key)
        } else {
            format!("{}.{}", self.key_path, key)
        };
        let message = format!(
            "{} `{}` ({}): {}",
            self.kind,
            self.name,
            self.type_name,
            message.into()
        );
        match &self.source {
            Some(source) => source.error(&full, message),
            None => ConfigError {
                file: None,
                line: None,
                key: Some(full),
                message,
            },
        }
    }
}

/// Where a secret comes from. Write `{ env = "NAME" }` or `{ file = "/run/secrets/x" }`;
/// `{ value = "..." }` works but is meant for tests, never for examples.
#[derive(Clone, Deserialize)]
#[serde(try_from = "SecretTable")]
pub struct SecretRef {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub value: Option<Password>,
}

/// What a secret's table may hold. A plain string is refused by the untagged enum
/// without serde echoing it: serde's "invalid type: string \"…\"" would put the secret
/// into the error message.
#[derive(Deserialize)]
#[serde(untagged)]
enum SecretTable {
    Table(SecretKeys),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretKeys {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    value: Option<Password>,
}

impl TryFrom<SecretTable> for SecretRef {
    type Error = &'static str;

    fn try_from(t: SecretTable) -> Result<Self, Self::Error> {
        match t {
            SecretTable::Table(k) => Ok(SecretRef {
                env: k.env,
                file: k.file,
                value: k.value,
            }),
            SecretTable::Other(_) => Err(
                "a secret is a table with one key: { env = \"VAR\" } or { file = \"path\" } \
                 (what was written is not shown, in case it is the secret)",
            ),
        }
    }
}

impl SecretRef {
    pub fn from_env(name: &str) -> Self {
        SecretRef {
            env: Some(name.to_string()),
            file: None,
            value: None,
        }
    }

    pub fn inline(value: &str) -> Self {
        SecretRef {
            env: None,
            file: None,
            value: Some(Password::new(value)),
        }
    }

    /// Exactly one of `env`, `file`, `value` must be set.
    pub fn check(&self) -> Result<(), SecretError> {
        let n = [
            self.env.is_some(),
            self.file.is_some(),
            self.value.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n == 1 {
            Ok(())
        } else {
            Err(SecretError::NotExactlyOne)
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.env, &self.file) {
            (Some(e), _) => write!(f, "SecretRef(env:{e})"),
            (_, Some(p)) => write!(f, "SecretRef(file:{})", p.display()),
            _ => f.write_str("SecretRef(inline)"),
        }
    }
}

/// Why a secret could not be read. The messages say what to do and never contain the
/// secret (a secret file's contents are not quoted).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("give exactly one of `env = \"VAR\"`, `file = \"path\"` or `value = \"...\"`")]
    NotExactlyOne,
    #[error("no secret given: write `{{ env = \"VAR\" }}` or `{{ file = \"path\" }}`")]
    Missing,
    #[error("environment variable {name} is empty; set it to the secret")]
    EnvEmpty { name: String },
    #[error("environment variable {name} is not set; export it before starting writeback")]
    EnvUnset { name: String },
    #[error("cannot read secret file {}: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {} is larger than {} KiB", path.display(), max / 1024)]
    FileTooLarge { path: PathBuf, max: u64 },
    #[error("secret file {} is empty", path.display())]
    FileEmpty { path: PathBuf },
    /// A resolver that takes only some kinds of secret (tests, embedders) says which.
    #[error("{0}")]
    Unsupported(String),
}

/// Turns a [`SecretRef`] into the secret. The host reads environment variables and files.
pub trait SecretResolver: Send + Sync {
    fn resolve(&self, secret: &SecretRef) -> Result<Password, SecretError>;
}

/// What a factory may use while building a connector.
pub struct BuildContext<'a> {
    pub secrets: &'a dyn SecretResolver,
    /// The directory of the config file: relative paths in a config are relative to it.
    pub base_dir: &'a Path,
}

impl BuildContext<'_> {
    /// Resolves the secret at `key` of `config`, with an error naming the key. A
    /// relative `{ file = "…" }` is relative to the config file's directory, like every
    /// other path in the config (not to the working directory).
    pub fn secret(
        &self,
        config: &ConnectorConfig,
        key: &str,
        secret: &SecretRef,
    ) -> Result<Password, ConfigError> {
        secret
            .check()
            .map_err(|e| config.error(key, e.to_string()))?;
        let anchored;
        let secret = match &secret.file {
            Some(file) if file.is_relative() => {
                anchored = SecretRef {
                    env: secret.env.clone(),
                    file: Some(self.path(file)),
                    value: secret.value.clone(),
                };
                &anchored
            }
            _ => secret,
        };
        self.secrets
            .resolve(secret)
            .map_err(|e| config.error(key, e.to_string()))
    }

    /// A path from the config, made absolute against the config file's directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[pipeline]\ndeadline_ms = 100\n\n[[targets]]\ntype = \"openldap\"\nurl = \"ldaps://x\"\n\n[[targets]]\ntype = \"openldap\"\n[targets.tls]\nca_file = \"ca.pem\"\n";

    fn source() -> ConfigSource {
        ConfigSource {
            path: PathBuf::from("w.toml"),
            text: TEXT.to_string(),
        }
    }

    #[test]
    fn lines_of_keys() {
        let s = source();
        assert_eq!(s.line_of("pipeline.deadline_ms"), Some(2));
        assert_eq!(s.line_of("targets[0].url"), Some(6));
        assert_eq!(s.line_of("targets[1].tls.ca_file"), Some(11));
        // an unknown key falls back to its table
        assert_eq!(s.line_of("targets[0].nope"), Some(4));
    }

    #[test]
    fn parse_errors_name_file_line_and_key() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Tls {
            ca_file: u32,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            tls: Tls,
        }
        let source = Arc::new(source());
        let doc: toml::Table = toml::from_str(TEXT).unwrap_or_default();
        let table = doc
            .get("targets")
            .and_then(|t| t.as_array())
            .and_then(|a| a.get(1))
            .and_then(|t| t.as_table())
            .cloned()
            .unwrap_or_default();
        let cfg = ConnectorConfig {
            kind: ConnectorKind::Target,
            type_name: "openldap".into(),
            name: "ldap".into(),
            table,
            key_path: "targets[1]".into(),
            source: Some(source),
        };
        let err = cfg
            .parse::<T>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("w.toml:11: `targets[1].tls.ca_file`"),
            "{err}"
        );
    }

    #[test]
    fn parse_all_reports_every_bad_key_once() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Tls {
            ca_file: String,
        }
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            url: String,
            bind_password: SecretRef,
            base_dn: String,
            timeout_ms: u64,
            tls: Tls,
        }
        let table: toml::Table = toml::from_str(
            "url = \"ldaps://x\"\nbind_password = \"Marker-Inline-7\"\ntimeout_ms = \"5s\"\n\
             urll = 1\ntls = { ca_file = 3 }\n",
        )
        .unwrap_or_default();
        let cfg = ConnectorConfig::in_code(ConnectorKind::Target, "t", "ldap", table);
        let errors: Vec<String> = cfg
            .parse_all::<T>()
            .err()
            .unwrap_or_default()
            .iter()
            .map(|e| e.to_string())
            .collect();
        let keys: Vec<&str> = [
            "bind_password",
            "timeout_ms",
            "urll",
            "tls.ca_file",
            "base_dn",
        ]
        .into_iter()
        .filter(|k| {
            errors
                .iter()
                .any(|e| e.contains(&format!("`targets.ldap.{k}`")))
        })
        .collect();
        assert_eq!(keys.len(), 5, "{errors:#?}");
        assert_eq!(errors.len(), 5, "each key once: {errors:#?}");
        assert!(errors.iter().all(|e| !e.contains("Marker")), "{errors:#?}");

        let ok: toml::Table = toml::from_str(
            "url = \"u\"\nbind_password = { env = \"X\" }\nbase_dn = \"b\"\ntimeout_ms = 1\n\
             tls = { ca_file = \"c\" }\n",
        )
        .unwrap_or_default();
        let cfg = ConnectorConfig::in_code(ConnectorKind::Target, "t", "ldap", ok);
        assert!(cfg.parse_all::<T>().is_ok());
    }

    #[test]
    fn a_secret_written_as_a_plain_string_is_not_echoed() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct T {
            bind_password: SecretRef,
        }
        let table: toml::Table =
            toml::from_str("bind_password = \"Marker-Plain-9\"").unwrap_or_default();
        let cfg = ConnectorConfig::in_code(ConnectorKind::Target, "t", "t", table);
        let err = cfg
            .parse::<T>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("bind_password") && err.contains("env"),
            "{err}"
        );
        assert!(!err.contains("Marker"), "{err}");
    }

    /// Issue 15, item 12: `{ file = "name" }` was read from the working directory.
    #[test]
    fn a_relative_secret_file_is_relative_to_the_config_directory() {
        struct Echo;
        impl SecretResolver for Echo {
            fn resolve(&self, secret: &SecretRef) -> Result<Password, SecretError> {
                let file = secret.file.as_deref().ok_or(SecretError::Missing)?;
                Ok(Password::new(file.display().to_string()))
            }
        }
        let ctx = BuildContext {
            secrets: &Echo,
            base_dir: Path::new("/etc/writeback"),
        };
        let cfg = ConnectorConfig::in_code(ConnectorKind::Target, "t", "t", toml::Table::new());
        let file = |p: &str| SecretRef {
            env: None,
            file: Some(PathBuf::from(p)),
            value: None,
        };
        let read = |r: SecretRef| {
            ctx.secret(&cfg, "bind_password", &r)
                .map(|p| p.expose().to_string())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(read(file("ldap.secret")), "/etc/writeback/ldap.secret");
        assert_eq!(read(file("sub/x")), "/etc/writeback/sub/x");
        assert_eq!(read(file("/run/secrets/x")), "/run/secrets/x");
    }

    #[test]
    fn secret_ref_debug_hides_inline_value() {
        let s = SecretRef::inline("Marker-secret");
        assert!(!format!("{s:?}").contains("Marker"));
        assert!(s.check().is_ok());
        let none = SecretRef {
            env: None,
            file: None,
            value: None,
        };
        assert!(none.check().is_err());
    }
}
