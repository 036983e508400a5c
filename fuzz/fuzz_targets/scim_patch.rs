//! What a SCIM `PUT` or `PATCH` of a User asks for (plugins/source-scim update.rs).
//! Any JSON body must give an update or a SCIM error, and neither the error nor the
//! update's `Debug` may repeat a password from the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use writeback_source_scim::error::ScimError;
use writeback_source_scim::update::{from_patch, from_put, UserUpdate};

fn current() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "alice",
        "externalId": "0001",
        "userName": "alice@example.test",
        "name": {"givenName": "Alice", "familyName": "Example"},
        "emails": [{"value": "alice@example.test", "primary": true}],
        "active": true,
        "meta": {"resourceType": "User"}
    })
}

/// Every string under a key that names the password, wherever it is.
fn passwords(v: &Value, under_password: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if under_password => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| passwords(i, under_password, out)),
        Value::Object(map) => {
            for (k, v) in map {
                let named = k.to_ascii_lowercase().ends_with("password");
                passwords(v, named, out);
                // `{"path":"password","value":"…"}` carries it under `value`.
                if k.eq_ignore_ascii_case("value") {
                    if let Some(Value::String(p)) = map
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                        .map(|(_, v)| v)
                    {
                        if p.to_ascii_lowercase().contains("password") {
                            passwords(v, true, out);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn run(put: bool, body: &Value) -> Result<UserUpdate, ScimError> {
    if put {
        from_put(body, &current())
    } else {
        from_patch(body, &current())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let put = selector & 1 == 1;
    // The server reads the body with serde_json too (routes.rs).
    let Ok(body) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let result = run(put, &body);
    let shown = match &result {
        Ok(update) => {
            if let Some(pw) = &update.password {
                assert!(pw.validate_shape().is_ok());
            }
            format!("{update:?} {:?}", update.other_changes)
        }
        Err(e) => {
            assert!(e.status.is_client_error(), "{}", e.status);
            e.detail.clone()
        }
    };
    let mut found = Vec::new();
    passwords(&body, false, &mut found);
    let text = String::from_utf8_lossy(json);
    for pw in found {
        if pw.len() < 6 || text.matches(pw.as_str()).count() != 1 || !shown.contains(&pw) {
            continue;
        }
        // Text of the message itself is not a leak: the same body with another
        // password of that length must show it too.
        let other = "Q".repeat(pw.chars().count());
        let Ok(body2) = serde_json::from_str::<Value>(&text.replacen(pw.as_str(), &other, 1))
        else {
            continue;
        };
        let again = match run(put, &body2) {
            Ok(u) => format!("{u:?} {:?}", u.other_changes),
            Err(e) => e.detail,
        };
        assert!(again.contains(&pw), "a password is repeated in {shown:?}");
    }
});
