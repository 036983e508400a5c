//! The connector's table from the config file reaches the plugin as JSON.

use serde::de::DeserializeOwned;

/// Parses the configuration; the error text is shown to the administrator with the
/// file, line and key of the connector's table.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    T::deserialize(&mut de).map_err(|e| format!("invalid configuration: {e}"))
}
