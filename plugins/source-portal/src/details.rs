//! A rule's detail (what to do) in the person's language. Policies write their
//! messages in English with the figures in them ("Use at least 12 characters."); for
//! German the page recognises each built-in policy's own sentence, takes the figures
//! out and puts them into the German one. A message it does not recognise — an
//! operator's own words from a policy's `messages`, a plugin's — is shown as written.

use crate::i18n::Lang;

/// One built-in sentence: the rule ids that use it, the English the policy writes and
/// the German shown instead. Placeholders, in the same order in both: `{n}` a whole
/// number, `{in}` a duration after "in" ("3 days"), `{is}` a duration as a subject.
struct Sentence {
    rules: &'static [&'static str],
    en: &'static str,
    de: &'static str,
}

const SENTENCES: &[Sentence] = &[
    // policy-basic and policy-ad-complexity
    Sentence {
        rules: &["length.min", "ad.min_length"],
        en: "Use at least {n} characters.",
        de: "Verwenden Sie mindestens {n} Zeichen.",
    },
    Sentence {
        rules: &["length.max", "ad.max_length"],
        en: "Use at most {n} characters.",
        de: "Verwenden Sie höchstens {n} Zeichen.",
    },
    Sentence {
        rules: &["classes.upper"],
        en: "Add at least one upper-case letter.",
        de: "Fügen Sie mindestens einen Großbuchstaben hinzu.",
    },
    Sentence {
        rules: &["classes.lower"],
        en: "Add at least one lower-case letter.",
        de: "Fügen Sie mindestens einen Kleinbuchstaben hinzu.",
    },
    Sentence {
        rules: &["classes.digit"],
        en: "Add at least one digit.",
        de: "Fügen Sie mindestens eine Ziffer hinzu.",
    },
    Sentence {
        rules: &["classes.symbol"],
        en: "Add at least one symbol, such as ! # % or a space.",
        de: "Fügen Sie mindestens ein Sonderzeichen hinzu, etwa ! # % oder ein Leerzeichen.",
    },
    Sentence {
        rules: &["classes.min_categories"],
        en: "Use characters of at least {n} of these kinds: upper-case letters, lower-case \
             letters, digits, symbols (this password has {n}).",
        de: "Verwenden Sie Zeichen aus mindestens {n} dieser Arten: Großbuchstaben, \
             Kleinbuchstaben, Ziffern, Sonderzeichen (dieses Passwort hat {n}).",
    },
    Sentence {
        rules: &["ad.complexity"],
        en: "Use characters of at least 3 of these kinds: upper-case letters, lower-case \
             letters, digits (0-9), symbols such as ! $ # %, and letters without case such as \
             Chinese or Japanese characters (this password has {n}).",
        de: "Verwenden Sie Zeichen aus mindestens 3 dieser Arten: Großbuchstaben, \
             Kleinbuchstaben, Ziffern (0-9), Sonderzeichen wie ! $ # % und Schriftzeichen ohne \
             Groß- und Kleinschreibung wie chinesische oder japanische Zeichen (dieses Passwort \
             hat {n}).",
    },
    Sentence {
        rules: &["name.contains_account_name", "ad.contains_account_name"],
        en: "Do not include your account name in your password.",
        de: "Ihr Kontoname darf nicht im Passwort vorkommen.",
    },
    Sentence {
        rules: &["name.contains_display_name"],
        en: "Do not include your name, or a part of it, in your password.",
        de: "Ihr Name oder ein Teil davon darf nicht im Passwort vorkommen.",
    },
    Sentence {
        rules: &["ad.contains_display_name"],
        en: "Do not include a part of your name (three letters or more) in your password.",
        de: "Kein Teil Ihres Namens (ab drei Buchstaben) darf im Passwort vorkommen.",
    },
    // policy-banned-words
    Sentence {
        rules: &["banned.contains_name"],
        en: "Do not use your name or account name in your password, even with letters \
             swapped for look-alike digits or symbols.",
        de: "Verwenden Sie weder Ihren Namen noch Ihren Kontonamen im Passwort, auch nicht \
             mit Buchstaben, die durch ähnlich aussehende Ziffern oder Zeichen ersetzt sind.",
    },
    Sentence {
        rules: &["banned.score"],
        en: "This password is too easy to guess: it is too short. Add more characters of your \
             own or choose a different phrase. (It scores {n} of the {n} points needed: each \
             banned word counts 1, every other character 1.)",
        de: "Dieses Passwort ist zu leicht zu erraten: Es ist zu kurz. Fügen Sie eigene Zeichen \
             hinzu oder wählen Sie eine andere Wortfolge. (Es erreicht {n} der nötigen {n} \
             Punkte: Jedes verbotene Wort zählt 1, jedes andere Zeichen 1.)",
    },
    Sentence {
        rules: &["banned.score"],
        en: "This password is too easy to guess: it is built on 1 common or banned word \
             (swapping letters for look-alike digits or symbols does not hide them). Add more \
             characters of your own or choose a different phrase. (It scores {n} of the {n} \
             points needed: each banned word counts 1, every other character 1.)",
        de: "Dieses Passwort ist zu leicht zu erraten: Es beruht auf einem gängigen oder \
             verbotenen Wort (ähnlich aussehende Ziffern oder Zeichen statt Buchstaben \
             verbergen es nicht). Fügen Sie eigene Zeichen hinzu oder wählen Sie eine andere \
             Wortfolge. (Es erreicht {n} der nötigen {n} Punkte: Jedes verbotene Wort zählt 1, \
             jedes andere Zeichen 1.)",
    },
    Sentence {
        rules: &["banned.score"],
        en: "This password is too easy to guess: it is built on {n} common or banned words \
             (swapping letters for look-alike digits or symbols does not hide them). Add more \
             characters of your own or choose a different phrase. (It scores {n} of the {n} \
             points needed: each banned word counts 1, every other character 1.)",
        de: "Dieses Passwort ist zu leicht zu erraten: Es beruht auf {n} gängigen oder \
             verbotenen Wörtern (ähnlich aussehende Ziffern oder Zeichen statt Buchstaben \
             verbergen sie nicht). Fügen Sie eigene Zeichen hinzu oder wählen Sie eine andere \
             Wortfolge. (Es erreicht {n} der nötigen {n} Punkte: Jedes verbotene Wort zählt 1, \
             jedes andere Zeichen 1.)",
    },
    // policy-breached
    Sentence {
        rules: &["breached.found"],
        en: "This password appears in lists of passwords exposed in data breaches, so \
             attackers try it first. Choose a different one.",
        de: "Dieses Passwort steht in Listen von Passwörtern aus Datenlecks, daher probieren \
             Angreifer es zuerst. Wählen Sie ein anderes.",
    },
    // policy-directory: Active Directory's effective policy
    Sentence {
        rules: &["directory.min_length"],
        en: "The new password is too short: use at least {n} characters.",
        de: "Das neue Passwort ist zu kurz: Verwenden Sie mindestens {n} Zeichen.",
    },
    Sentence {
        rules: &["directory.complexity"],
        en: "The new password is not complex enough: use characters from at least three of \
             capital letters, small letters, digits and symbols.",
        de: "Das neue Passwort ist nicht komplex genug: Verwenden Sie Zeichen aus mindestens \
             drei der Arten Großbuchstaben, Kleinbuchstaben, Ziffern und Sonderzeichen.",
    },
    Sentence {
        rules: &["directory.complexity.name"],
        en: "The new password must not contain your account name or parts of your full name.",
        de: "Das neue Passwort darf weder Ihren Kontonamen noch Teile Ihres vollständigen \
             Namens enthalten.",
    },
    Sentence {
        rules: &["directory.min_age"],
        en: "The password was changed too recently: it can be changed again in {in} (the \
             minimum password age is {is}).",
        de: "Das Passwort wurde erst vor Kurzem geändert: Es kann in {in} wieder geändert \
             werden (das Mindestalter des Passworts beträgt {is}).",
    },
    // policy-directory: 389 Directory Server's password policy
    Sentence {
        rules: &["directory.min_age"],
        en: "The password was changed too recently: it can be changed again in about {n} \
             minutes.",
        de: "Das Passwort wurde erst vor Kurzem geändert: Es kann in etwa {n} Minuten wieder \
             geändert werden.",
    },
    Sentence {
        rules: &["directory.min_length"],
        en: "The new password needs at least {n} characters.",
        de: "Das neue Passwort braucht mindestens {n} Zeichen.",
    },
    Sentence {
        rules: &["directory.min_digits"],
        en: "The new password needs at least {n} digits.",
        de: "Das neue Passwort braucht mindestens {n} Ziffern.",
    },
    Sentence {
        rules: &["directory.min_alphas"],
        en: "The new password needs at least {n} letters.",
        de: "Das neue Passwort braucht mindestens {n} Buchstaben.",
    },
    Sentence {
        rules: &["directory.min_uppers"],
        en: "The new password needs at least {n} capital letters.",
        de: "Das neue Passwort braucht mindestens {n} Großbuchstaben.",
    },
    Sentence {
        rules: &["directory.min_lowers"],
        en: "The new password needs at least {n} small letters.",
        de: "Das neue Passwort braucht mindestens {n} Kleinbuchstaben.",
    },
    Sentence {
        rules: &["directory.min_specials"],
        en: "The new password needs at least {n} symbols.",
        de: "Das neue Passwort braucht mindestens {n} Sonderzeichen.",
    },
    Sentence {
        rules: &["directory.min_categories"],
        en: "The new password needs at least {n} kinds of characters (digits, capital \
             letters, small letters, symbols, non-ASCII).",
        de: "Das neue Passwort braucht mindestens {n} Zeichenarten (Ziffern, Großbuchstaben, \
             Kleinbuchstaben, Sonderzeichen, Nicht-ASCII).",
    },
];

/// `message` (the detail of a broken `rule`) in `lang`.
pub fn rule_detail(lang: Lang, rule: &str, message: &str) -> String {
    if lang == Lang::En {
        return message.to_string();
    }
    SENTENCES
        .iter()
        .filter(|s| s.rules.contains(&rule))
        .find_map(|s| translate(s, message))
        .unwrap_or_else(|| message.to_string())
}

const PLACEHOLDERS: [&str; 3] = ["{n}", "{in}", "{is}"];

/// The German sentence when `message` is exactly `s.en` with fitting values in its
/// placeholders.
fn translate(s: &Sentence, message: &str) -> Option<String> {
    let values = captures(s.en, message)?;
    let mut out = String::with_capacity(s.de.len() + 16);
    let mut rest = s.de;
    let mut values = values.into_iter();
    while let Some((at, placeholder)) = next_placeholder(rest) {
        out.push_str(&rest[..at]);
        out.push_str(&german_value(placeholder, values.next()?)?);
        rest = &rest[at + placeholder.len()..];
    }
    out.push_str(rest);
    // Every English value has found its place in the German sentence.
    values.next().is_none().then_some(out)
}

fn next_placeholder(text: &str) -> Option<(usize, &'static str)> {
    PLACEHOLDERS
        .iter()
        .filter_map(|p| text.find(p).map(|at| (at, *p)))
        .min_by_key(|(at, _)| *at)
}

/// The values in `message` at the template's placeholders (with their kinds), when
/// the literal parts match exactly. A value runs up to the next literal part.
fn captures<'a>(template: &str, message: &'a str) -> Option<Vec<(&'static str, &'a str)>> {
    let mut values = Vec::new();
    let mut rest_t = template;
    let mut rest_m = message;
    loop {
        match next_placeholder(rest_t) {
            None => return (rest_t == rest_m).then_some(values),
            Some((at, placeholder)) => {
                rest_m = rest_m.strip_prefix(&rest_t[..at])?;
                rest_t = &rest_t[at + placeholder.len()..];
                let literal_end = next_placeholder(rest_t).map_or(rest_t.len(), |(a, _)| a);
                let literal = &rest_t[..literal_end];
                let end = if literal.is_empty() {
                    rest_m.len()
                } else {
                    rest_m.find(literal)?
                };
                values.push((placeholder, &rest_m[..end]));
                rest_m = &rest_m[end..];
            }
        }
    }
}

/// A captured value in German, or `None` when it is not what the placeholder holds
/// (then the English message is shown as it is).
fn german_value(placeholder: &str, (kind, value): (&str, &str)) -> Option<String> {
    if placeholder != kind {
        return None;
    }
    if kind == "{n}" {
        let digits =
            !value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit());
        return digits.then(|| value.to_string());
    }
    let (n, unit) = value.split_once(' ')?;
    if n.is_empty() || n.len() > 12 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let one = n == "1";
    // "in 3 Tagen" (after "in") but "beträgt 3 Tage".
    let dative = kind == "{in}";
    let word = match (unit, one, dative) {
        ("day", true, _) => "Tag",
        ("days", false, true) => "Tagen",
        ("days", false, false) => "Tage",
        ("hour", true, _) => "Stunde",
        ("hours", false, _) => "Stunden",
        ("minute", true, _) => "Minute",
        ("minutes", false, _) => "Minuten",
        _ => return None,
    };
    Some(format!("{n} {word}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_details_are_german_with_their_figures() {
        assert_eq!(
            rule_detail(Lang::De, "length.min", "Use at least 12 characters."),
            "Verwenden Sie mindestens 12 Zeichen."
        );
        assert_eq!(
            rule_detail(
                Lang::De,
                "classes.min_categories",
                "Use characters of at least 3 of these kinds: upper-case letters, lower-case \
                 letters, digits, symbols (this password has 1)."
            ),
            "Verwenden Sie Zeichen aus mindestens 3 dieser Arten: Großbuchstaben, \
             Kleinbuchstaben, Ziffern, Sonderzeichen (dieses Passwort hat 1)."
        );
        assert_eq!(
            rule_detail(
                Lang::De,
                "directory.min_age",
                "The password was changed too recently: it can be changed again in 3 days \
                 (the minimum password age is 1 day)."
            ),
            "Das Passwort wurde erst vor Kurzem geändert: Es kann in 3 Tagen wieder geändert \
             werden (das Mindestalter des Passworts beträgt 1 Tag)."
        );
        assert!(rule_detail(
            Lang::De,
            "banned.score",
            "This password is too easy to guess: it is built on 2 common or banned words \
             (swapping letters for look-alike digits or symbols does not hide them). Add more \
             characters of your own or choose a different phrase. (It scores 4 of the 7 \
             points needed: each banned word counts 1, every other character 1.)"
        )
        .starts_with("Dieses Passwort ist zu leicht zu erraten: Es beruht auf 2 gängigen"));
    }

    #[test]
    fn every_sentence_the_built_in_policies_write_is_recognised() {
        // What the policies really write (not a copy of it): a sentence changed there
        // and not here fails this test instead of showing English on the German page.
        use writeback_core::{Account, CloudIdentity, OperationKind, PolicyContext};
        let identity = CloudIdentity {
            username: Some("ada".into()),
            display_name: Some("Ada Lovelace".into()),
            ..Default::default()
        };
        let mut account = Account {
            dn: "cn=ada".into(),
            ..Default::default()
        };
        for (k, v) in [
            ("samaccountname", "ada"),
            ("uid", "ada"),
            ("displayname", "Ada Lovelace"),
        ] {
            account.attributes.insert(k.into(), vec![v.into()]);
        }
        let accounts = [("ad".to_string(), account)];
        let ctx = PolicyContext {
            operation: OperationKind::Reset,
            identity: &identity,
            accounts: &accounts,
        };
        let basic: writeback_policy_basic::BasicConfig = toml::from_str(
            "min_length = 40\nmax_length = 12\nmin_categories = 4\n\
             require = [\"upper\", \"lower\", \"digit\", \"symbol\"]",
        )
        .unwrap();
        let ad: writeback_policy_ad_complexity::AdComplexityConfig =
            toml::from_str("min_length = 40").unwrap();
        let mut written = Vec::new();
        for password in ["adalovelace", "ADA-lovelace-ADA-lovelace", "x"] {
            written.extend(writeback_policy_basic::evaluate(&basic, password, &ctx));
            written.extend(writeback_policy_ad_complexity::evaluate(
                &ad, password, &ctx,
            ));
        }
        written.push(writeback_core::RuleViolation::new(
            "breached.found",
            writeback_policy_breached::MESSAGE,
        ));
        let rules: std::collections::BTreeSet<&str> =
            written.iter().map(|v| v.rule.as_str()).collect();
        assert!(
            rules.len() >= 12,
            "too few rules broken to be a test: {rules:?}"
        );
        for v in &written {
            let german = rule_detail(Lang::De, &v.rule, &v.message);
            assert_ne!(german, v.message, "`{}` is not recognised", v.rule);
        }
    }

    #[test]
    fn other_words_stay_as_written() {
        // An operator's own message, a plugin's rule, a figure that is not one.
        let own = "Bitte mindestens 14 Zeichen (Hausregel).";
        assert_eq!(rule_detail(Lang::De, "length.min", own), own);
        assert_eq!(
            rule_detail(Lang::De, "plugin.rule", "Use at least 12 characters."),
            "Use at least 12 characters."
        );
        assert_eq!(
            rule_detail(Lang::De, "length.min", "Use at least many characters."),
            "Use at least many characters."
        );
        assert_eq!(
            rule_detail(
                Lang::De,
                "length.min",
                "Use at least 12 characters. And more."
            ),
            "Use at least 12 characters. And more."
        );
        assert_eq!(
            rule_detail(Lang::En, "length.min", "Use at least 12 characters."),
            "Use at least 12 characters."
        );
    }
}
