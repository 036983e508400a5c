//! The page's words in English and German, chosen by the browser's Accept-Language.
//! Rule messages come from the policies (as configured, in the operator's words); the
//! page names each rule in the person's language.

use writeback_core::OutcomeCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The best supported language in an Accept-Language header (English by default).
    pub fn negotiate(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',').take(20) {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "en" => Lang::En,
                "de" => Lang::De,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }
}

/// Every fixed text on the page.
pub struct Texts {
    pub title: &'static str,
    pub intro: &'static str,
    pub sign_in_with: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub show_rules_hint: &'static str,
    pub check: &'static str,
    pub set_password: &'static str,
    pub rules_heading: &'static str,
    pub rule_met: &'static str,
    pub rule_broken: &'static str,
    pub all_rules_met: &'static str,
    pub confirm_matches: &'static str,
    pub confirm_differs: &'static str,
    pub locked_out: &'static str,
    pub unlock: &'static str,
    pub unlock_hint: &'static str,
    pub need_help: &'static str,
    pub result_heading_ok: &'static str,
    pub result_heading_failed: &'static str,
    pub updated_in: &'static str,
    pub not_found_in: &'static str,
    pub back: &'static str,
    pub sign_in_failed: &'static str,
    pub session_expired: &'static str,
    pub too_many: &'static str,
    pub bad_form: &'static str,
    pub sign_in_again_for_age: &'static str,
    pub unlocked: &'static str,
}

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::En => &EN,
        Lang::De => &DE,
    }
}

static EN: Texts = Texts {
    title: "Set your password",
    intro: "Sign in with your cloud account to choose a new password for the on-premises sign-in (Windows, Wi-Fi, VPN and older applications).",
    sign_in_with: "Sign in with",
    signed_in_as: "Signed in as",
    sign_out: "Sign out",
    current_password: "Current password",
    new_password: "New password",
    confirm_password: "New password again",
    show_rules_hint: "The rules below are checked as you type.",
    check: "Check the rules",
    set_password: "Set password",
    rules_heading: "Password rules",
    rule_met: "met",
    rule_broken: "not met",
    all_rules_met: "The new password meets every rule.",
    confirm_matches: "Both entries match",
    confirm_differs: "The two entries are not the same.",
    locked_out: "Locked out?",
    unlock: "Unlock my account",
    unlock_hint: "Unlocks your on-premises account after too many wrong passwords; your password stays the same.",
    need_help: "Need help?",
    result_heading_ok: "Done",
    result_heading_failed: "Your password was not changed",
    updated_in: "Updated in",
    not_found_in: "No account found in",
    back: "Back",
    sign_in_failed: "Your sign-in could not be verified, so nothing was changed. Sign in again; if it keeps failing, contact the help desk.",
    session_expired: "Your session has ended. Sign in again.",
    too_many: "Too many attempts. Wait a few minutes and try again.",
    bad_form: "The form was out of date or not sent from this page, so nothing was changed. Reload the page and try again.",
    sign_in_again_for_age: "For your safety, sign in again before setting a password.",
    unlocked: "Your account was unlocked.",
};

static DE: Texts = Texts {
    title: "Passwort festlegen",
    intro: "Melden Sie sich mit Ihrem Cloud-Konto an, um ein neues Passwort für die Anmeldung im Unternehmensnetz (Windows, WLAN, VPN und ältere Anwendungen) zu wählen.",
    sign_in_with: "Anmelden mit",
    signed_in_as: "Angemeldet als",
    sign_out: "Abmelden",
    current_password: "Aktuelles Passwort",
    new_password: "Neues Passwort",
    confirm_password: "Neues Passwort wiederholen",
    show_rules_hint: "Die Regeln unten werden während der Eingabe geprüft.",
    check: "Regeln prüfen",
    set_password: "Passwort festlegen",
    rules_heading: "Passwortregeln",
    rule_met: "erfüllt",
    rule_broken: "nicht erfüllt",
    all_rules_met: "Das neue Passwort erfüllt alle Regeln.",
    confirm_matches: "Beide Eingaben stimmen überein",
    confirm_differs: "Die beiden Eingaben sind nicht gleich.",
    locked_out: "Gesperrt?",
    unlock: "Mein Konto entsperren",
    unlock_hint: "Entsperrt Ihr Konto nach zu vielen falschen Passwörtern; Ihr Passwort bleibt gleich.",
    need_help: "Hilfe nötig?",
    result_heading_ok: "Erledigt",
    result_heading_failed: "Ihr Passwort wurde nicht geändert",
    updated_in: "Geändert in",
    not_found_in: "Kein Konto gefunden in",
    back: "Zurück",
    sign_in_failed: "Ihre Anmeldung konnte nicht bestätigt werden, daher wurde nichts geändert. Melden Sie sich erneut an; wenn es weiter fehlschlägt, wenden Sie sich an den Helpdesk.",
    session_expired: "Ihre Sitzung ist abgelaufen. Melden Sie sich erneut an.",
    too_many: "Zu viele Versuche. Warten Sie einige Minuten und versuchen Sie es erneut.",
    bad_form: "Das Formular war veraltet oder kam nicht von dieser Seite, daher wurde nichts geändert. Laden Sie die Seite neu und versuchen Sie es erneut.",
    sign_in_again_for_age: "Melden Sie sich zu Ihrer Sicherheit erneut an, bevor Sie ein Passwort festlegen.",
    unlocked: "Ihr Konto wurde entsperrt.",
};

/// The rule's name in the person's language (the id itself for rules this page does
/// not know, e.g. a plugin's).
pub fn rule_label(lang: Lang, rule: &str) -> String {
    let (en, de) = match rule {
        "length.min" | "ad.min_length" => ("Long enough", "Lang genug"),
        "length.max" | "ad.max_length" => ("Not too long", "Nicht zu lang"),
        "classes.upper" => ("An upper-case letter", "Ein Großbuchstabe"),
        "classes.lower" => ("A lower-case letter", "Ein Kleinbuchstabe"),
        "classes.digit" => ("A digit", "Eine Ziffer"),
        "classes.symbol" => ("A symbol", "Ein Sonderzeichen"),
        "classes.min_categories" | "ad.complexity" => (
            "Enough kinds of characters",
            "Genug verschiedene Zeichenarten",
        ),
        "name.contains_account_name" | "ad.contains_account_name" => (
            "Does not contain your account name",
            "Enthält nicht Ihren Kontonamen",
        ),
        "name.contains_display_name" | "ad.contains_display_name" | "banned.contains_name" => {
            ("Does not contain your name", "Enthält nicht Ihren Namen")
        }
        "banned.score" => (
            "No common or banned words",
            "Keine gängigen oder verbotenen Wörter",
        ),
        "breached.found" => (
            "Not known from data breaches",
            "Nicht aus Datenlecks bekannt",
        ),
        "directory.min_length" => (
            "Long enough for the directory",
            "Lang genug für das Verzeichnis",
        ),
        "directory.complexity" => (
            "Complex enough for the directory",
            "Komplex genug für das Verzeichnis",
        ),
        "directory.complexity.name" => (
            "No part of your name (directory rule)",
            "Kein Teil Ihres Namens (Verzeichnisregel)",
        ),
        "directory.min_digits" => (
            "Enough digits for the directory",
            "Genug Ziffern für das Verzeichnis",
        ),
        "directory.min_alphas" => (
            "Enough letters for the directory",
            "Genug Buchstaben für das Verzeichnis",
        ),
        "directory.min_uppers" => (
            "Enough capital letters for the directory",
            "Genug Großbuchstaben für das Verzeichnis",
        ),
        "directory.min_lowers" => (
            "Enough small letters for the directory",
            "Genug Kleinbuchstaben für das Verzeichnis",
        ),
        "directory.min_specials" => (
            "Enough symbols for the directory",
            "Genug Sonderzeichen für das Verzeichnis",
        ),
        "directory.min_categories" => (
            "Enough kinds of characters for the directory",
            "Genug Zeichenarten für das Verzeichnis",
        ),
        "directory.min_age" => (
            "Not changed too recently",
            "Nicht zu kurz nach der letzten Änderung",
        ),
        other => return other.to_string(),
    };
    match lang {
        Lang::En => en.to_string(),
        Lang::De => de.to_string(),
    }
}

/// A person's sentence for an outcome in German (English uses the outcome's own
/// message, which the connector wrote).
pub fn outcome_de(code: OutcomeCode) -> &'static str {
    match code {
        OutcomeCode::Succeeded => "Ihr Passwort wurde geändert.",
        OutcomeCode::RejectedPolicy => {
            "Das neue Passwort erfüllt die Passwortregeln nicht. Wählen Sie ein anderes."
        }
        OutcomeCode::RejectedHistory => {
            "Dieses Passwort wurde schon einmal verwendet. Wählen Sie eines, das Sie noch nicht benutzt haben."
        }
        OutcomeCode::RejectedMinAge => {
            "Das Passwort wurde erst kürzlich geändert. Versuchen Sie es später erneut oder wenden Sie sich an den Helpdesk."
        }
        OutcomeCode::WrongOldPassword => {
            "Das aktuelle Passwort stimmt nicht. Prüfen Sie es und versuchen Sie es erneut."
        }
        OutcomeCode::NotFound => {
            "Zu Ihrem Cloud-Konto gibt es kein Konto im Unternehmensnetz. Der Helpdesk kann es verknüpfen."
        }
        OutcomeCode::AmbiguousIdentity => {
            "Mehrere Konten passen zu Ihnen, daher wurde nichts geändert. Der Helpdesk muss das Duplikat bereinigen."
        }
        OutcomeCode::AdminActionRequired => {
            "Das Passwort konnte wegen einer Verzeichniseinstellung nicht gesetzt werden. Der Helpdesk sieht die Einzelheiten."
        }
        OutcomeCode::DirectoryUnavailable => {
            "Das Verzeichnis ist gerade nicht erreichbar. Versuchen Sie es in einigen Minuten erneut."
        }
        OutcomeCode::Timeout => {
            "Es hat zu lange gedauert. Versuchen Sie es in einigen Minuten erneut."
        }
        OutcomeCode::PluginFault => {
            "Ein interner Fehler hat die Änderung verhindert. Versuchen Sie es erneut; wenn es weiter fehlschlägt, wenden Sie sich an den Helpdesk."
        }
        OutcomeCode::InvalidRequest => "Die Anfrage war fehlerhaft und wurde nicht ausgeführt.",
        OutcomeCode::Unauthorized => "Die Anfrage war nicht angemeldet und wurde abgelehnt.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("de-CH,de;q=0.9,en;q=0.8")), Lang::De);
        assert_eq!(Lang::negotiate(Some("fr,en;q=0.5,de;q=0.4")), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr, de;q=0.7")), Lang::De);
        assert_eq!(Lang::negotiate(Some("de;q=0")), Lang::En);
        assert_eq!(Lang::negotiate(Some("garbage;;;,")), Lang::En);
    }

    #[test]
    fn known_rules_have_names_in_both_languages() {
        assert_eq!(rule_label(Lang::De, "length.min"), "Lang genug");
        assert_eq!(rule_label(Lang::En, "plugin.rule"), "plugin.rule");
    }
}
