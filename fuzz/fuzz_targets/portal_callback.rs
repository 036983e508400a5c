//! The provider's redirect to the password page's `/callback` (plugins/source-portal
//! wire.rs `CallbackQuery`): any query string gives a code and state to use, the
//! provider's error, or a refusal. A code and state are each sent exactly once, not
//! empty, within the size limit, with no `error` beside them; what is used reads back
//! the same when sent alone; a provider error is short and free of control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writeback_source_portal::fuzzing::{CallbackQuery, MAX_CALLBACK_VALUE};

fn times(query: &str, key: &str) -> usize {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == key)
        .count()
}

fuzz_target!(|data: &[u8]| {
    // The router hands the handler the raw query as text.
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    match CallbackQuery::parse(Some(query)) {
        CallbackQuery::Code { code, state } => {
            assert_eq!(times(query, "code"), 1);
            assert_eq!(times(query, "state"), 1);
            assert_eq!(times(query, "error"), 0);
            assert!(!code.is_empty() && code.len() <= MAX_CALLBACK_VALUE);
            assert!(!state.is_empty() && state.len() <= MAX_CALLBACK_VALUE);
            let alone: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("state", &state)
                .append_pair("code", &code)
                .finish();
            assert_eq!(
                CallbackQuery::parse(Some(&alone)),
                CallbackQuery::Code { code, state }
            );
        }
        CallbackQuery::ProviderError(error) => {
            assert_eq!(times(query, "error"), 1);
            assert!(error.chars().count() <= 100);
            assert!(!error.chars().any(char::is_control));
        }
        CallbackQuery::Unusable(why) => assert!(!why.is_empty()),
    }
});
