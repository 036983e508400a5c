//! The webhook body parser (plugins/source-webhook wire.rs): the JSON a signed
//! `POST /v1/requests` carries. Any bytes must give a request or an `invalid_request`
//! reason, and that reason must never repeat a password from the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use writeback_source_webhook::fuzzing::parse_request;

/// The refusal message for `body`, or `None` when it parses.
fn refusal(body: &[u8]) -> Option<String> {
    parse_request(body, "fuzz").err().map(|e| e.message)
}

fuzz_target!(|body: &[u8]| {
    let message = match parse_request(body, "fuzz") {
        Ok(request) => {
            // What parsed is what the pipeline may rely on.
            assert!(request.identity.validate().is_ok());
            if let Some(pw) = request.operation.new_password() {
                assert!(pw.validate_shape().is_ok());
            }
            return;
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            e.message
        }
    };
    // Passwords as sent: the string values of the two password fields.
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let text = String::from_utf8_lossy(body);
    for field in ["new_password", "old_password"] {
        let Some(Value::String(password)) = map.get(field) else {
            continue;
        };
        // Short values and values that occur elsewhere in the body (as a key, the id
        // ...) may be in a message for a good reason.
        if password.len() < 6 || text.matches(password.as_str()).count() != 1 {
            continue;
        }
        if !message.contains(password.as_str()) {
            continue;
        }
        // Text of the message itself ("invalid type", ...) is not a leak: the same
        // body with another password of the same length must give it too.
        let other: String = "Q".repeat(password.chars().count());
        let replaced = text.replacen(password.as_str(), &other, 1);
        let again = refusal(replaced.as_bytes()).unwrap_or_default();
        assert!(
            again.contains(password.as_str()),
            "the refusal repeats the `{field}` value: {message:?}"
        );
    }
});
