//! The password type. It has no `Debug`, `Display` or `Serialize` on purpose: the only
//! way to see the characters is [`Password::expose`], at the place that writes them.

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A password (new or old). Zeroized when dropped; cloning makes a second zeroized copy.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Longest password accepted anywhere (in characters). AD allows 256 (unicodePwd);
    /// anything longer is an input error, not a password.
    pub const MAX_CHARS: usize = 256;

    pub fn new(value: impl Into<String>) -> Self {
        Password(Zeroizing::new(value.into()))
    }

    /// The characters, for the code that must write or check them. Never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks the shape every password must have, whatever the policy: not empty, not
    /// too long, no control characters (they never come from a person typing).
    pub fn validate_shape(&self) -> Result<(), &'static str> {
        if self.0.is_empty() {
            return Err("the password is empty");
        }
        if self.char_count() > Self::MAX_CHARS {
            return Err("the password is longer than 256 characters");
        }
        if self.0.chars().any(char::is_control) {
            return Err("the password contains control characters");
        }
        Ok(())
    }

    /// Compares two passwords without leaking where they first differ.
    pub fn ct_eq(&self, other: &Password) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Zeroizing::new(String::deserialize(deserializer)?);
        Ok(Password::new(value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_rules() {
        assert!(Password::new("Good pass 1").validate_shape().is_ok());
        assert!(Password::new("").validate_shape().is_err());
        assert!(Password::new("a\u{0}b").validate_shape().is_err());
        assert!(Password::new("x".repeat(257)).validate_shape().is_err());
        assert!(Password::new("é".repeat(256)).validate_shape().is_ok());
    }

    #[test]
    fn constant_time_equality() {
        assert!(Password::new("abc").ct_eq(&Password::new("abc")));
        assert!(!Password::new("abc").ct_eq(&Password::new("abd")));
        assert!(!Password::new("abc").ct_eq(&Password::new("abcd")));
    }
}
