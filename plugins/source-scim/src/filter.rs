//! The SCIM filter subset this provider supports (RFC 7644 §3.4.2.2): `eq` on `id`,
//! `userName`, `externalId` and `emails.value` (also written `emails[value eq "…"]`),
//! joined by `and` / `or`, with parentheses. Anything else is refused with
//! `invalidFilter` naming what is not supported, never silently ignored.

use crate::error::ScimError;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 2048;
/// Most comparisons in one filter (each may become a directory search).
pub const MAX_COMPARISONS: usize = 16;
const MAX_DEPTH: usize = 16;
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";

/// An attribute a filter may compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribute {
    Id,
    UserName,
    ExternalId,
    EmailValue,
}

impl Attribute {
    /// Whether values compare case-sensitively (`caseExact` in RFC 7643 §4.1.1).
    pub fn case_exact(self) -> bool {
        matches!(self, Attribute::Id | Attribute::ExternalId)
    }

    pub fn scim_name(self) -> &'static str {
        match self {
            Attribute::Id => "id",
            Attribute::UserName => "userName",
            Attribute::ExternalId => "externalId",
            Attribute::EmailValue => "emails.value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Eq(Attribute, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// Whether a resource whose attribute values `values` gives matches.
    pub fn matches(&self, values: &dyn Fn(Attribute) -> Vec<String>) -> bool {
        match self {
            Filter::Eq(attr, wanted) => values(*attr).iter().any(|v| {
                if attr.case_exact() {
                    v == wanted
                } else {
                    v.to_lowercase() == wanted.to_lowercase()
                }
            }),
            Filter::And(a, b) => a.matches(values) && b.matches(values),
            Filter::Or(a, b) => a.matches(values) || b.matches(values),
        }
    }

    /// Comparisons whose matches together include every match of the filter: the
    /// directory searches to run before checking each candidate with [`Filter::matches`].
    pub fn candidate_queries(&self) -> Vec<(Attribute, String)> {
        match self {
            Filter::Eq(attr, value) => vec![(*attr, value.clone())],
            Filter::Or(a, b) => {
                let mut q = a.candidate_queries();
                for item in b.candidate_queries() {
                    if !q.contains(&item) {
                        q.push(item);
                    }
                }
                q
            }
            // Either side bounds the result: search the one needing fewer searches.
            Filter::And(a, b) => {
                let (qa, qb) = (a.candidate_queries(), b.candidate_queries());
                if qa.len() <= qb.len() {
                    qa
                } else {
                    qb
                }
            }
        }
    }
}

pub fn parse(text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "The filter is longer than {MAX_FILTER_LEN} bytes."
        )));
    }
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        comparisons: 0,
    };
    let filter = parser.or_expr(0)?;
    if let Some(t) = parser.peek() {
        return Err(ScimError::invalid_filter(format!(
            "Unexpected {} after the end of the filter.",
            t.describe()
        )));
    }
    Ok(filter)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::OpenBracket => "`[`".into(),
            Token::CloseBracket => "`]`".into(),
            Token::Word(w) => format!("`{w}`"),
            Token::Str(_) => "a string".into(),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-' | '$' | '+')
}

fn lex(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                let mut end = None;
                let mut escaped = false;
                chars.next();
                for (i, ch) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| {
                    ScimError::invalid_filter("A string in the filter is not closed with `\"`.")
                })?;
                // JSON string rules (RFC 7644 §3.4.2.2: values are JSON literals).
                let value: String = serde_json::from_str(&text[start..=end]).map_err(|_| {
                    ScimError::invalid_filter("A string in the filter has an invalid escape.")
                })?;
                tokens.push(Token::Str(value));
            }
            c if is_word_char(c) => {
                let mut end = start;
                while let Some(&(i, ch)) = chars.peek() {
                    if !is_word_char(ch) {
                        break;
                    }
                    end = i + ch.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_string()));
            }
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "Unexpected character `{}` at byte {start} of the filter.",
                    other.escape_default()
                )))
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    comparisons: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(depth)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and_expr(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(
                "The filter nests parentheses too deeply.",
            ));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or_expr(depth + 1)?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => Err(ScimError::invalid_filter(
                "`not` is not supported: this provider filters with `eq`, `and`, `or` and parentheses.",
            )),
            Some(Token::Word(path)) => self.attribute_expr(&path, depth),
            Some(other) => Err(ScimError::invalid_filter(format!(
                "Expected an attribute name, found {}.",
                other.describe()
            ))),
            None => Err(ScimError::invalid_filter("The filter ends where an attribute name was expected.")),
        }
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "Expected {what}, found {}.",
                t.describe()
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "The filter ends where {what} was expected."
            ))),
        }
    }

    fn attribute_expr(&mut self, path: &str, depth: usize) -> Result<Filter, ScimError> {
        let name = strip_urn(path);
        if self.peek() == Some(&Token::OpenBracket) {
            self.next();
            if !name.eq_ignore_ascii_case("emails") {
                return Err(unsupported_attribute(path));
            }
            let inner = self.email_value_filter(depth + 1)?;
            self.expect(Token::CloseBracket, "`]`")?;
            return Ok(inner);
        }
        let attribute = top_level_attribute(name).ok_or_else(|| unsupported_attribute(path))?;
        self.comparison(attribute)
    }

    /// Inside `emails[…]`: `value eq "…"` comparisons joined by `or`. (`and` inside the
    /// brackets would need one address to equal two values, which no caller means.)
    fn email_value_filter(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut left = self.email_value_term(depth)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.email_value_term(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn email_value_term(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter("The filter nests too deeply."));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.email_value_filter(depth + 1)?;
                self.expect(Token::Close, "`)`")?;
                Ok(inner)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("value") => self.comparison(Attribute::EmailValue),
            Some(Token::Word(w)) => Err(ScimError::invalid_filter(format!(
                "`emails[{w} …]` is not supported: inside `emails[…]` only `value eq \"…\"` joined by `or` is."
            ))),
            Some(t) => Err(ScimError::invalid_filter(format!("Expected `value` inside `emails[…]`, found {}.", t.describe()))),
            None => Err(ScimError::invalid_filter("The filter ends inside `emails[…]`.")),
        }
    }

    fn comparison(&mut self, attribute: Attribute) -> Result<Filter, ScimError> {
        let op = match self.next() {
            Some(Token::Word(op)) => op,
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "Expected an operator after `{}`, found {}.",
                    attribute.scim_name(),
                    t.describe()
                )))
            }
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "The filter ends after `{}`: expected `eq \"value\"`.",
                    attribute.scim_name()
                )))
            }
        };
        let op = op.to_ascii_lowercase();
        if op != "eq" {
            let known = ["ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"];
            return Err(ScimError::invalid_filter(if known.contains(&op.as_str()) {
                format!(
                    "The operator `{op}` is not supported: this provider filters with `eq` only."
                )
            } else {
                format!("`{op}` is not a SCIM comparison operator.")
            }));
        }
        let value = match self.next() {
            Some(Token::Str(s)) => s,
            Some(Token::Word(w)) => {
                return Err(ScimError::invalid_filter(format!(
                    "`{}` compares with a string in double quotes, not `{w}`.",
                    attribute.scim_name()
                )))
            }
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "Expected a quoted value after `{} eq`.",
                    attribute.scim_name()
                )))
            }
        };
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(ScimError::invalid_filter(format!(
                "The filter has more than {MAX_COMPARISONS} comparisons."
            )));
        }
        Ok(Filter::Eq(attribute, value))
    }
}

/// `urn:ietf:params:scim:schemas:core:2.0:User:userName` → `userName`.
fn strip_urn(path: &str) -> &str {
    match path.get(..USER_URN.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(USER_URN) => &path[USER_URN.len()..],
        _ => path,
    }
}

fn top_level_attribute(name: &str) -> Option<Attribute> {
    match name.to_ascii_lowercase().as_str() {
        "id" => Some(Attribute::Id),
        "username" => Some(Attribute::UserName),
        "externalid" => Some(Attribute::ExternalId),
        // A multi-valued attribute without a sub-attribute compares its `value`.
        "emails.value" | "emails" => Some(Attribute::EmailValue),
        _ => None,
    }
}

fn unsupported_attribute(path: &str) -> ScimError {
    ScimError::invalid_filter(format!(
        "Filtering on `{path}` is not supported: filter on `id`, `userName`, `externalId` or `emails.value` with `eq`."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: Attribute, v: &str) -> Filter {
        Filter::Eq(a, v.into())
    }

    fn ok(text: &str) -> Filter {
        parse(text).unwrap_or_else(|e| panic!("{text}: {}", e.detail))
    }

    fn refused(text: &str) -> String {
        match parse(text) {
            Ok(f) => panic!("{text} parsed as {f:?}"),
            Err(e) => {
                assert_eq!(e.scim_type, Some("invalidFilter"));
                e.detail
            }
        }
    }

    #[test]
    fn simple_comparisons() {
        assert_eq!(
            ok("userName eq \"bjensen\""),
            eq(Attribute::UserName, "bjensen")
        );
        assert_eq!(ok("USERNAME EQ \"b\""), eq(Attribute::UserName, "b"));
        assert_eq!(
            ok("externalId eq \"x-1\""),
            eq(Attribute::ExternalId, "x-1")
        );
        assert_eq!(
            ok("emails.value eq \"a@b.org\""),
            eq(Attribute::EmailValue, "a@b.org")
        );
        assert_eq!(
            ok("emails[value eq \"a@b.org\"]"),
            eq(Attribute::EmailValue, "a@b.org")
        );
        assert_eq!(
            ok("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"b\""),
            eq(Attribute::UserName, "b")
        );
        assert_eq!(
            ok("userName eq \"say \\\"hi\\\" \\u00e9\""),
            eq(Attribute::UserName, "say \"hi\" é")
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let f = ok("userName eq \"a\" or userName eq \"b\" and externalId eq \"c\"");
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq(Attribute::UserName, "a")),
                Box::new(Filter::And(
                    Box::new(eq(Attribute::UserName, "b")),
                    Box::new(eq(Attribute::ExternalId, "c"))
                ))
            )
        );
        let g = ok("(userName eq \"a\" or userName eq \"b\") and externalId eq \"c\"");
        assert!(matches!(g, Filter::And(..)));
    }

    #[test]
    fn everything_else_is_invalid_filter() {
        assert!(refused("userName co \"a\"").contains("`co` is not supported"));
        assert!(refused("userName pr").contains("`pr` is not supported"));
        assert!(refused("title eq \"x\"").contains("`title`"));
        assert!(refused("not (userName eq \"a\")").contains("`not`"));
        assert!(refused("userName eq bjensen").contains("double quotes"));
        assert!(refused("userName eq \"a").contains("not closed"));
        assert!(refused("(userName eq \"a\"").contains("`)`"));
        assert!(refused("userName eq \"a\" userName").contains("Unexpected"));
        assert!(refused("emails[type eq \"work\"]").contains("emails[type"));
        assert!(refused("userName eq \"a\" ; drop").contains("Unexpected character"));
        assert!(refused("").contains("ends"));
        let deep = format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40));
        assert!(refused(&deep).contains("deeply"));
        let many = vec!["userName eq \"a\""; 17].join(" or ");
        assert!(refused(&many).contains("more than 16"));
    }

    #[test]
    fn matching_respects_case_exactness() {
        let values = |a: Attribute| match a {
            Attribute::UserName => vec!["BJensen".to_string()],
            Attribute::ExternalId => vec!["Ext".to_string()],
            Attribute::EmailValue => vec!["b@x.org".to_string(), "bj@y.org".to_string()],
            Attribute::Id => vec!["id1".to_string()],
        };
        assert!(ok("userName eq \"bjensen\"").matches(&values));
        assert!(!ok("externalId eq \"ext\"").matches(&values));
        assert!(ok("emails.value eq \"BJ@y.org\" and id eq \"id1\"").matches(&values));
        assert!(!ok("emails.value eq \"c@y.org\" or id eq \"ID1\"").matches(&values));
    }

    #[test]
    fn candidate_queries_cover_the_filter() {
        let f = ok("(userName eq \"a\" or userName eq \"b\") and externalId eq \"c\"");
        assert_eq!(
            f.candidate_queries(),
            vec![(Attribute::ExternalId, "c".to_string())]
        );
        let g = ok(
            "userName eq \"a\" or emails[value eq \"m\" or value eq \"a\"] or userName eq \"a\"",
        );
        assert_eq!(g.candidate_queries().len(), 3);
    }
}
