//! Filter templates: `(&(objectClass=inetOrgPerson)(uid={username}))`, where each
//! `{name}` is filled from the cloud identity with the value escaped (RFC 4515).
//! A placeholder the identity has no value for makes filling fail: an unfilled
//! filter is never sent.

use std::fmt;

use writeback_core::CloudIdentity;

use crate::escape::filter_value;

/// A parsed, validated filter template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

/// Filling failed because the identity lacks an attribute the template names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingAttribute(pub String);

impl fmt::Display for MissingAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the identity has no `{}`, which the filter template needs",
            self.0
        )
    }
}

impl std::error::Error for MissingAttribute {}

/// Why a filter template was refused (reported under the connector's `filter` key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error("the filter template is longer than {max} characters")]
    TooLong { max: usize },
    #[error(
        "the filter template must be a parenthesized LDAP filter, e.g. \
         `(&(objectClass=inetOrgPerson)(uid={{username}}))`"
    )]
    NotParenthesized,
    #[error("the filter template has a `}}` without a matching `{{`")]
    UnopenedBrace,
    #[error("the filter template has a `{{` without a matching `}}`")]
    UnclosedBrace,
    #[error(
        "`{{{name}}}` is not a placeholder: use an identity attribute name such as \
         {{username}}, {{upn}}, {{mail}}, {{object_id}}"
    )]
    BadPlaceholder { name: String },
    #[error(
        "the filter template has no placeholder: it would match the same \
         entries for every person (add e.g. `{{username}}`)"
    )]
    NoPlaceholder,
    #[error(transparent)]
    Unfillable(#[from] MissingAttribute),
    #[error("`{text}` is not a valid LDAP filter (RFC 4515)")]
    InvalidFilter { text: String },
}

impl FilterTemplate {
    /// Longest template accepted; real ones are well under 200 characters.
    pub const MAX_LEN: usize = 2048;

    /// Parses and checks a template: balanced `{}` around placeholder names made of
    /// letters, digits and `_`; at least one placeholder (a template without one would
    /// match the same entries for everyone); and a filter ldap3 can parse once filled.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.len() > Self::MAX_LEN {
            return Err(TemplateError::TooLong { max: Self::MAX_LEN });
        }
        if !text.starts_with('(') || !text.ends_with(')') {
            return Err(TemplateError::NotParenthesized);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(TemplateError::UnopenedBrace);
            }
            let Some(len) = rest[open + 1..].find('}') else {
                return Err(TemplateError::UnclosedBrace);
            };
            let name = &rest[open + 1..open + 1 + len];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::BadPlaceholder {
                    name: name.to_string(),
                });
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            parts.push(Part::Placeholder(name.to_string()));
            rest = &rest[open + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        let template = FilterTemplate {
            text: text.to_string(),
            parts,
        };
        if template.placeholders().next().is_none() {
            return Err(TemplateError::NoPlaceholder);
        }
        let sample = template.fill_with(|_| Some("sample"))?;
        ldap3::parse_filter(&sample).map_err(|_| TemplateError::InvalidFilter {
            text: text.to_string(),
        })?;
        Ok(template)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The identity attribute names the template uses.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The filter for this identity, every value escaped.
    pub fn fill(&self, identity: &CloudIdentity) -> Result<String, MissingAttribute> {
        self.fill_with(|name| identity.get(name))
    }

    /// The filter with values from `lookup`, every value escaped. An empty value counts
    /// as missing.
    pub fn fill_with<'v>(
        &self,
        lookup: impl Fn(&str) -> Option<&'v str>,
    ) -> Result<String, MissingAttribute> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Placeholder(name) => match lookup(name).filter(|v| !v.is_empty()) {
                    Some(value) => out.push_str(&filter_value(value)),
                    None => return Err(MissingAttribute(name.clone())),
                },
            }
        }
        Ok(out)
    }

    /// The `(objectClass=…)` assertions of the template, for listing every entry in
    /// scope (`(objectClass=*)` when it names none).
    pub fn object_class_filter(&self) -> String {
        let lower = self.text.to_ascii_lowercase();
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = lower[from..].find("(objectclass=") {
            let start = from + at;
            let Some(end) = self.text[start..].find(')') else {
                break;
            };
            let item = &self.text[start..start + end + 1];
            if !item.contains('{') && !item.contains('*') {
                found.push(item.to_string());
            }
            from = start + end + 1;
        }
        match found.len() {
            0 => "(objectClass=*)".to_string(),
            1 => found.remove(0),
            _ => format!("(&{})", found.concat()),
        }
    }
}

impl fmt::Display for FilterTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "(&(objectClass=inetOrgPerson)(uid={username}))";

    fn identity(username: &str) -> CloudIdentity {
        CloudIdentity {
            username: Some(username.into()),
            ..Default::default()
        }
    }

    #[test]
    fn fills_and_escapes() {
        let t = FilterTemplate::parse(T).unwrap();
        assert_eq!(
            t.fill(&identity("alice")).unwrap(),
            "(&(objectClass=inetOrgPerson)(uid=alice))"
        );
        assert_eq!(
            t.fill(&identity("*)(uid=*")).unwrap(),
            "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"
        );
    }

    #[test]
    fn missing_attribute_is_an_error_not_a_filter() {
        let t = FilterTemplate::parse("(|(uid={username})(mail={mail}))").unwrap();
        let err = t.fill(&identity("alice")).unwrap_err();
        assert_eq!(err, MissingAttribute("mail".into()));
        assert!(err.to_string().contains("`mail`"));
        let empty = CloudIdentity {
            username: Some(String::new()),
            mail: Some("a@x".into()),
            ..Default::default()
        };
        assert!(t.fill(&empty).is_err());
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "uid={username}",
            "(uid={username)",
            "(uid=username})",
            "(uid={})",
            "(uid={user name})",
            "(objectClass=person)",
            "(&(uid={username})",
        ] {
            assert!(FilterTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn object_class_part_for_listing() {
        let t = FilterTemplate::parse(T).unwrap();
        assert_eq!(t.object_class_filter(), "(objectClass=inetOrgPerson)");
        let two = FilterTemplate::parse(
            "(&(objectclass=person)(objectClass=posixAccount)(uid={username}))",
        )
        .unwrap();
        assert_eq!(
            two.object_class_filter(),
            "(&(objectclass=person)(objectClass=posixAccount))"
        );
        let none = FilterTemplate::parse("(uid={username})").unwrap();
        assert_eq!(none.object_class_filter(), "(objectClass=*)");
        assert_eq!(t.placeholders().collect::<Vec<_>>(), vec!["username"]);
    }
}
