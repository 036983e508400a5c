//! What a `PUT` (RFC 7644 §3.5.1) or `PATCH` (§3.5.2) of a User asks for: a new
//! password, `active`, and changes to anything else (which writeback does not write).
//!
//! Both password forms identity providers send are understood:
//! `{"op":"replace","path":"password","value":"…"}` and
//! `{"op":"replace","value":{"password":"…"}}` (Okta). Op names are case-insensitive and
//! `active` may come as a string (`"False"`), as some providers send it.

use serde_json::{Map, Value};
use writeback_core::Password;

use crate::error::ScimError;

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";
const MAX_OPERATIONS: usize = 100;

/// What the request changes. `Debug` is by hand: it never shows the password.
#[derive(Default)]
pub struct UserUpdate {
    pub password: Option<Password>,
    pub active: Option<bool>,
    /// SCIM attribute names the request would change, which writeback does not write.
    pub other_changes: Vec<String>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("active", &self.active)
            .field("other_changes", &self.other_changes)
            .finish()
    }
}

impl UserUpdate {
    fn set(&mut self, name: &str, value: &Value, current: &Value) -> Result<(), ScimError> {
        match name.to_ascii_lowercase().as_str() {
            "password" => {
                let Value::String(s) = value else {
                    return Err(ScimError::invalid_value("`password` must be a string."));
                };
                let password = Password::new(s.as_str());
                password.validate_shape().map_err(|why| {
                    ScimError::invalid_value(format!("The password was refused: {why}."))
                })?;
                self.password = Some(password);
            }
            "active" => self.active = Some(boolean(value)?),
            // Read-only common attributes: RFC 7644 §3.5.1 says values sent are ignored.
            "schemas" | "id" | "meta" => {}
            other => {
                if !same_as_current(current, other, value) {
                    self.note_change(name);
                }
            }
        }
        Ok(())
    }

    fn note_change(&mut self, name: &str) {
        if !self
            .other_changes
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            self.other_changes.push(name.to_string());
        }
    }
}

/// A PUT body: the whole resource. `current` is the resource as rendered now.
pub fn from_put(body: &Value, current: &Value) -> Result<UserUpdate, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(
            "The body must be a SCIM User object.",
        ));
    };
    check_schemas(map, crate::resource::USER_SCHEMA)?;
    let mut update = UserUpdate::default();
    for (key, value) in map {
        update.set(strip_urn(key), value, current)?;
    }
    Ok(update)
}

/// A PATCH body: `{"schemas":[PatchOp], "Operations":[…]}`.
pub fn from_patch(body: &Value, current: &Value) -> Result<UserUpdate, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(
            "The body must be a SCIM PatchOp object.",
        ));
    };
    check_schemas(map, PATCH_SCHEMA)?;
    let ops = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("A PatchOp needs an `Operations` array."))?;
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "A PatchOp needs 1 to {MAX_OPERATIONS} operations."
        )));
    }
    let mut update = UserUpdate::default();
    for op in ops {
        apply_operation(&mut update, op, current)?;
    }
    Ok(update)
}

fn apply_operation(update: &mut UserUpdate, op: &Value, current: &Value) -> Result<(), ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(
            "Each operation must be an object.",
        ));
    };
    let field = |name: &str| {
        op.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let kind = field("op")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ScimError::invalid_syntax("Each operation needs `op`: add, replace or remove.")
        })?
        .to_ascii_lowercase();
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if !p.trim().is_empty() => Some(p.trim()),
        Some(_) => {
            return Err(ScimError::bad_request(
                "invalidPath",
                "`path` must be a non-empty string.",
            ))
        }
    };
    match kind.as_str() {
        "add" | "replace" => {
            let value = field("value").ok_or_else(|| {
                ScimError::invalid_syntax(format!("A `{kind}` operation needs a `value`."))
            })?;
            match path {
                Some(path) => {
                    check_path(path)?;
                    update.set(strip_urn(path), value, current)
                }
                None => {
                    let Value::Object(values) = value else {
                        return Err(ScimError::invalid_syntax(
                            "Without `path`, `value` must be an object of attributes.",
                        ));
                    };
                    for (key, v) in values {
                        update.set(strip_urn(key), v, current)?;
                    }
                    Ok(())
                }
            }
        }
        "remove" => {
            let path = path.ok_or_else(|| {
                ScimError::bad_request("noTarget", "A `remove` operation needs a `path`.")
            })?;
            check_path(path)?;
            let name = strip_urn(path);
            if name.eq_ignore_ascii_case("password") || name.eq_ignore_ascii_case("active") {
                return Err(ScimError::mutability(format!(
                    "`{name}` cannot be removed."
                )));
            }
            if !same_as_current(current, name, &Value::Null) {
                update.note_change(name);
            }
            Ok(())
        }
        other => Err(ScimError::invalid_syntax(format!(
            "`{}` is not a PATCH operation: use add, replace or remove.",
            other.escape_default()
        ))),
    }
}

fn check_schemas(map: &Map<String, Value>, expected: &str) -> Result<(), ScimError> {
    match map.get("schemas") {
        None => Ok(()),
        Some(Value::Array(list))
            if list
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(expected))) =>
        {
            Ok(())
        }
        Some(_) => Err(ScimError::invalid_syntax(format!(
            "`schemas` must contain \"{expected}\"."
        ))),
    }
}

fn check_path(path: &str) -> Result<(), ScimError> {
    if path.len() > 256 || path.chars().any(char::is_control) {
        return Err(ScimError::bad_request(
            "invalidPath",
            "`path` is not a valid attribute path.",
        ));
    }
    Ok(())
}

fn strip_urn(name: &str) -> &str {
    match name.get(..USER_URN_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(USER_URN_PREFIX) => &name[USER_URN_PREFIX.len()..],
        _ => name,
    }
}

fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value("`active` must be true or false.")),
    }
}

/// Whether setting `path` (dotted, like `name.givenName`; filters such as
/// `emails[type eq "work"]` count as a change) to `value` leaves the resource as it is.
fn same_as_current(current: &Value, path: &str, value: &Value) -> bool {
    let mut node = Some(current);
    for part in path.split('.') {
        if part.contains('[') {
            return value.is_null() && node.is_none();
        }
        node = node.and_then(|n| n.as_object()).and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        });
    }
    same_value(node, value)
}

fn same_value(current: Option<&Value>, value: &Value) -> bool {
    match (current, value) {
        (None | Some(Value::Null), Value::Null) => true,
        (None, Value::Array(a)) => a.is_empty(),
        (None, Value::Object(o)) => o.values().all(|v| same_value(None, v)),
        (None, _) => false,
        (Some(_), Value::Null) => false,
        (Some(Value::String(c)), Value::String(v)) => c.to_lowercase() == v.to_lowercase(),
        (Some(Value::Object(c)), Value::Object(v)) => v.iter().all(|(k, val)| {
            same_value(
                c.iter()
                    .find(|(ck, _)| ck.eq_ignore_ascii_case(k))
                    .map(|(_, cv)| cv),
                val,
            )
        }),
        // A multi-valued attribute is unchanged when every value sent is already there.
        (Some(Value::Array(c)), Value::Array(v)) => v
            .iter()
            .all(|item| c.iter().any(|ci| same_value(Some(ci), item))),
        (Some(c), v) => c == v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn current() -> Value {
        json!({
            "schemas": [crate::resource::USER_SCHEMA],
            "id": "u1",
            "userName": "bjensen",
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "emails": [{ "value": "b@x.org", "primary": true }],
            "active": true
        })
    }

    #[test]
    fn patch_password_in_both_forms() {
        for body in [
            json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"replace","path":"password","value":"Marker-Pw-1"}]}),
            json!({"schemas":[PATCH_SCHEMA],"Operations":[{"op":"Replace","value":{"password":"Marker-Pw-1"}}]}),
            json!({"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:User:password","value":"Marker-Pw-1"}]}),
        ] {
            let u = from_patch(&body, &current()).unwrap_or_else(|e| panic!("{}", e.detail));
            assert_eq!(
                u.password.as_ref().map(Password::expose),
                Some("Marker-Pw-1")
            );
            assert!(u.other_changes.is_empty());
            assert!(!format!("{u:?}").contains("Marker"));
        }
    }

    #[test]
    fn patch_active_and_other_attributes() {
        let body = json!({"schemas":[PATCH_SCHEMA],"Operations":[
            {"op":"replace","path":"active","value":"True"},
            {"op":"replace","value":{"userName":"BJENSEN","name":{"givenName":"Barbara"}}},
            {"op":"replace","path":"displayName","value":"Babs"},
            {"op":"remove","path":"title"},
            {"op":"remove","path":"emails"}
        ]});
        let u = from_patch(&body, &current()).unwrap_or_else(|e| panic!("{}", e.detail));
        assert_eq!(u.active, Some(true));
        assert_eq!(
            u.other_changes,
            vec!["displayName".to_string(), "emails".to_string()]
        );
    }

    #[test]
    fn malformed_patches() {
        let c = current();
        assert_eq!(
            from_patch(&json!({"Operations":[]}), &c)
                .err()
                .map(|e| e.scim_type),
            Some(Some("invalidSyntax"))
        );
        assert!(from_patch(
            &json!({"schemas":["x"],"Operations":[{"op":"add","value":{}}]}),
            &c
        )
        .is_err());
        assert!(from_patch(
            &json!({"Operations":[{"op":"move","path":"a","value":1}]}),
            &c
        )
        .is_err());
        assert!(from_patch(
            &json!({"Operations":[{"op":"replace","path":"password","value":5}]}),
            &c
        )
        .is_err());
        assert!(from_patch(
            &json!({"Operations":[{"op":"replace","path":"password","value":""}]}),
            &c
        )
        .is_err());
        assert!(from_patch(&json!({"Operations":[{"op":"remove"}]}), &c).is_err());
        assert!(from_patch(
            &json!({"Operations":[{"op":"remove","path":"password"}]}),
            &c
        )
        .is_err());
        assert!(from_patch(
            &json!({"Operations":[{"op":"replace","path":"active","value":"maybe"}]}),
            &c
        )
        .is_err());
    }

    #[test]
    fn put_with_the_same_profile_changes_only_the_password() {
        let mut body = current();
        body["password"] = json!("Marker-Pw-2");
        body["meta"] = json!({"resourceType":"User"});
        body["id"] = json!("ignored");
        let u = from_put(&body, &current()).unwrap_or_else(|e| panic!("{}", e.detail));
        assert!(u.password.is_some());
        assert!(u.other_changes.is_empty(), "{:?}", u.other_changes);
        body["locale"] = json!("en-US");
        body["emails"] = json!([{ "value": "new@x.org" }]);
        let u = from_put(&body, &current()).unwrap_or_else(|e| panic!("{}", e.detail));
        assert_eq!(
            u.other_changes,
            vec!["emails".to_string(), "locale".to_string()]
        );
    }
}
