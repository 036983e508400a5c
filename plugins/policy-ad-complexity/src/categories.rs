//! AD's five character categories.

/// A category of characters as AD's complexity check counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Upper,
    Lower,
    Digit,
    Special,
    /// Alphabetic, but neither upper nor lower case (e.g. Chinese, Japanese, Thai).
    OtherLetter,
}

/// The special characters Microsoft lists for the complexity setting. Currency signs
/// and spaces are not among them.
const SPECIAL: &str = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/";

/// The category of one character, if any (a character counts for one at most).
pub fn category_of(c: char) -> Option<Category> {
    if c.is_uppercase() {
        Some(Category::Upper)
    } else if c.is_lowercase() {
        Some(Category::Lower)
    } else if c.is_ascii_digit() {
        Some(Category::Digit)
    } else if SPECIAL.contains(c) {
        Some(Category::Special)
    } else if c.is_alphabetic() {
        Some(Category::OtherLetter)
    } else {
        None
    }
}

/// The categories `password` has characters of, sorted.
pub fn categories_present(password: &str) -> Vec<Category> {
    let mut present: Vec<Category> = password.chars().filter_map(category_of).collect();
    present.sort();
    present.dedup();
    present
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_categories() {
        assert_eq!(category_of('Ä'), Some(Category::Upper));
        assert_eq!(category_of('ß'), Some(Category::Lower));
        assert_eq!(category_of('Ж'), Some(Category::Upper));
        assert_eq!(category_of('λ'), Some(Category::Lower));
        assert_eq!(category_of('7'), Some(Category::Digit));
        assert_eq!(category_of('/'), Some(Category::Special));
        assert_eq!(category_of('漢'), Some(Category::OtherLetter));
        assert_eq!(category_of('€'), None);
        assert_eq!(category_of(' '), None);
    }

    #[test]
    fn winter_passes_ad_complexity() {
        // the point: AD's rules let this through
        assert_eq!(categories_present("Winter2026!").len(), 4);
        assert_eq!(categories_present("漢字abc1").len(), 3);
        assert_eq!(categories_present("password €€€").len(), 1);
    }
}
