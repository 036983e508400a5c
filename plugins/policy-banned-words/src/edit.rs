//! Edit distance at most one (one substitution, insertion or deletion), in linear time.

/// Whether `a` can be turned into `b` with at most one edit.
pub fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            short
                .iter()
                .zip(long)
                .filter(|(x, y)| x != y)
                .take(2)
                .count()
                <= 1
        }
        1 => {
            // skip the first difference in the longer one; the rest must match
            let i = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[i..] == long[i + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn microsoft_abcdef_examples() {
        let banned = c("abcdef");
        assert!(within_one_edit(&c("abcdeg"), &banned)); // last character changed
        assert!(within_one_edit(&c("abcdefg"), &banned)); // appended
        assert!(within_one_edit(&c("abcde"), &banned)); // trailing deleted
        assert!(!within_one_edit(&c("abcdgh"), &banned));
        assert!(!within_one_edit(&c("bacdef"), &banned)); // a transposition is two edits
    }
}
