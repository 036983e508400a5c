//! AD's complexity rules ("Password must meet complexity requirements"): characters
//! from at least three of five categories, and neither the account name nor any token
//! of the display name (3 characters or more) inside the password, case-insensitive.

/// The five categories AD counts.
pub fn categories(password: &str) -> usize {
    let mut seen = [false; 5];
    for c in password.chars() {
        let i = if c.is_uppercase() {
            0
        } else if c.is_lowercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else if c.is_alphabetic() {
            // Letters without case (most Asian scripts).
            4
        } else {
            3
        };
        seen[i] = true;
    }
    seen.iter().filter(|s| **s).count()
}

/// The display-name tokens AD looks for: split at commas, periods, dashes, underscores,
/// spaces, pound signs and tabs; tokens shorter than 3 characters are ignored.
pub fn name_tokens(display_name: &str) -> Vec<String> {
    display_name
        .split([
            ',', '.', '-', '_', ' ', '#', '\t', '\u{2010}', '\u{2013}', '\u{2014}',
        ])
        .filter(|t| t.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// Whether the account name (when 3 characters or more) is inside the password.
pub fn contains_account_name(password: &str, account_name: &str) -> bool {
    account_name.chars().count() >= 3
        && password
            .to_lowercase()
            .contains(&account_name.to_lowercase())
}

/// The display-name tokens found inside the password (for counting, never shown).
pub fn contains_name_token(password: &str, display_name: &str) -> bool {
    let lower = password.to_lowercase();
    name_tokens(display_name)
        .iter()
        .any(|t| lower.contains(t.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_counts() {
        assert_eq!(categories("alllower"), 1);
        assert_eq!(categories("Upper1"), 3);
        assert_eq!(categories("Ab1!"), 4);
        assert_eq!(categories("ÄÖü"), 2);
        assert_eq!(categories("パスワード1a"), 3);
        assert_eq!(categories("\u{1F600}ab"), 2);
    }

    #[test]
    fn names() {
        assert_eq!(name_tokens("Erin M. Hagens"), vec!["erin", "hagens"]);
        assert!(contains_account_name("xxErinHxx1!", "erinh"));
        assert!(!contains_account_name("ab1!", "ab"));
        assert!(contains_name_token("Hagens2024!", "Erin M. Hagens"));
        assert!(!contains_name_token("M1!xyzw", "Erin M. Hagens"));
    }
}
