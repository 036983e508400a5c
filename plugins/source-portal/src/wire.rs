//! What the page reads from a browser before anything is checked: the posted form's
//! fields, a cookie, and the provider's answer on `/callback`. Small and separate so
//! the fuzz targets (fuzz/, through `crate::fuzzing`) reach exactly what the routes use.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use writeback_core::Password;
use zeroize::Zeroizing;

/// The longest cookie value taken (the page's own are 43 characters).
pub const MAX_COOKIE_VALUE: usize = 128;
/// The longest `code`, `state` or `error` taken from the callback's query.
pub const MAX_CALLBACK_VALUE: usize = 2048;

/// The fields of a posted form this page knows, each wiped on drop. A field sent twice
/// counts as sent once, with its last value (what a browser never does).
pub struct Form(HashMap<&'static str, Zeroizing<String>>);

impl Form {
    pub const FIELDS: [&'static str; 4] = ["csrf", "password", "confirm", "current"];

    pub fn parse(bytes: &[u8]) -> Form {
        let mut fields = HashMap::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            let Some(key) = Self::FIELDS.iter().find(|f| **f == k.as_ref()) else {
                continue;
            };
            fields.insert(*key, Zeroizing::new(v.into_owned()));
        }
        Form(fields)
    }

    /// The field's value, empty when it was not sent.
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(|v| v.as_str()).unwrap_or("")
    }

    pub fn password(&self, key: &str) -> Password {
        Password::new(self.get(key))
    }
}

/// The value of cookie `name` from the request's `Cookie` headers: the first one set
/// and not empty, at most [`MAX_COOKIE_VALUE`] bytes.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty() && v.len() <= MAX_COOKIE_VALUE).then(|| v.to_string())
        })
}

/// What the provider's redirect to `/callback` says.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackQuery {
    /// A sign-in to finish: the code to exchange and the state it belongs to.
    Code { code: String, state: String },
    /// The provider refused (`error=...`): its error code, shortened for the log.
    ProviderError(String),
    /// Not a callback this page can use (for the log).
    Unusable(&'static str),
}

impl CallbackQuery {
    /// Reads the query string. `code`, `state` and `error` may each appear once: a
    /// repeated one is refused rather than guessed at.
    pub fn parse(query: Option<&str>) -> CallbackQuery {
        let mut code = None;
        let mut state = None;
        let mut error = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match k.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "error" => &mut error,
                _ => continue,
            };
            if slot.is_some() {
                return CallbackQuery::Unusable("the callback repeats code, state or error");
            }
            *slot = Some(v.into_owned());
        }
        if let Some(error) = error {
            return CallbackQuery::ProviderError(
                error
                    .chars()
                    .take(100)
                    .filter(|c| !c.is_control())
                    .collect(),
            );
        }
        match (code, state) {
            (Some(code), Some(state))
                if !code.is_empty()
                    && !state.is_empty()
                    && code.len() <= MAX_CALLBACK_VALUE
                    && state.len() <= MAX_CALLBACK_VALUE =>
            {
                CallbackQuery::Code { code, state }
            }
            (Some(_), Some(_)) => {
                CallbackQuery::Unusable("the callback's code or state is empty or too long")
            }
            _ => CallbackQuery::Unusable("the callback has no code or state"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_is_a_code_and_a_state_each_once() {
        assert_eq!(
            CallbackQuery::parse(Some("code=a%2Bb&state=s1&iss=x")),
            CallbackQuery::Code {
                code: "a+b".into(),
                state: "s1".into()
            }
        );
        assert_eq!(
            CallbackQuery::parse(Some("error=access_denied&state=s1")),
            CallbackQuery::ProviderError("access_denied".into())
        );
        assert!(matches!(
            CallbackQuery::parse(Some("code=a&state=s1&state=s2")),
            CallbackQuery::Unusable(_)
        ));
        assert!(matches!(
            CallbackQuery::parse(Some("code=&state=s1")),
            CallbackQuery::Unusable(_)
        ));
        assert!(matches!(
            CallbackQuery::parse(None),
            CallbackQuery::Unusable(_)
        ));
    }

    #[test]
    fn only_known_form_fields_are_kept() {
        let f = Form::parse(b"password=a%26b&other=x&csrf=t&csrf=u");
        assert_eq!(f.get("password"), "a&b");
        assert_eq!(f.get("csrf"), "u");
        assert_eq!(f.get("other"), "");
    }
}
