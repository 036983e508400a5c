//! Who a notification goes to: the person, fixed addresses, or both, per kind.

use lettre::message::Mailbox;
use writeback_core::{Event, ExpiryReminder, OutcomeCode};

use crate::config::{Recipients, SmtpConfig};

/// Resolved routing: defaults plus per-kind overrides, addresses already parsed.
#[derive(Clone, Debug)]
pub struct Routing {
    default: Route,
    routes: Vec<(String, Route)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    to_user: bool,
    fixed: Vec<Mailbox>,
}

/// The addresses of one message: the person first, then fixed addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressees {
    pub user: Option<Mailbox>,
    pub fixed: Vec<Mailbox>,
}

impl Addressees {
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.fixed.is_empty()
    }
}

pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.parse::<Mailbox>()
        .map_err(|e| format!("`{s}` is not an email address ({e})"))
}

fn parse_list(list: &[String]) -> Result<Vec<Mailbox>, String> {
    list.iter().map(|s| parse_mailbox(s)).collect()
}

impl Routing {
    /// Builds the routing; errors are (key, message).
    pub fn from_config(config: &SmtpConfig) -> Result<Self, (String, String)> {
        let default = Route {
            to_user: config.to_user.unwrap_or(true),
            fixed: parse_list(config.to.as_deref().unwrap_or_default())
                .map_err(|m| ("to".to_string(), m))?,
        };
        let mut routes = Vec::new();
        for (key, r) in &config.routes {
            if !crate::config::is_route_key(key) {
                return Err((
                    format!("routes.{key}"),
                    "not an outcome code, `failed` or `expiry_reminder`".into(),
                ));
            }
            routes.push((
                key.clone(),
                merge(&default, r).map_err(|m| (format!("routes.{key}.to"), m))?,
            ));
        }
        Ok(Routing { default, routes })
    }

    fn route(&self, keys: &[&str]) -> &Route {
        keys.iter()
            .find_map(|k| self.routes.iter().find(|(rk, _)| rk == k).map(|(_, r)| r))
            .unwrap_or(&self.default)
    }

    /// Recipients of an outcome: the code's route, else `failed` for any failure,
    /// else the defaults.
    pub fn for_event(&self, event: &Event) -> Addressees {
        let code = event.outcome.code;
        let mut keys = vec![code.as_str()];
        if code != OutcomeCode::Succeeded {
            keys.push("failed");
        }
        let route = self.route(&keys);
        let mail = event
            .targets
            .iter()
            .find_map(|t| t.mail.as_deref())
            .or(event.identity.mail.as_deref());
        addressees(route, mail)
    }

    pub fn for_reminder(&self, reminder: &ExpiryReminder) -> Addressees {
        addressees(self.route(&["expiry_reminder"]), reminder.mail.as_deref())
    }
}

fn merge(default: &Route, r: &Recipients) -> Result<Route, String> {
    Ok(Route {
        to_user: r.to_user.unwrap_or(default.to_user),
        fixed: match &r.to {
            Some(list) => parse_list(list)?,
            None => default.fixed.clone(),
        },
    })
}

fn addressees(route: &Route, mail: Option<&str>) -> Addressees {
    let user = if route.to_user {
        // A malformed directory value is skipped, not fatal: fixed addresses still get it.
        mail.and_then(|m| m.parse::<Mailbox>().ok())
    } else {
        None
    };
    Addressees {
        user,
        fixed: route.fixed.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SmtpConfig {
        toml::from_str(&format!("host = \"h\"\nfrom = \"w@example.org\"\n{text}"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn per_kind_routes_fall_back_to_failed_then_defaults() {
        let c = config(
            "to = [\"helpdesk@example.org\"]\n[routes.failed]\nto_user = false\n[routes.succeeded]\nto = []\n",
        );
        let r = Routing::from_config(&c).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(r.route(&["succeeded"]).to_user);
        assert!(r.route(&["succeeded"]).fixed.is_empty());
        let failed = r.route(&["rejected_policy", "failed"]);
        assert!(!failed.to_user);
        assert_eq!(failed.fixed.len(), 1);
        assert_eq!(r.route(&["expiry_reminder"]), &r.default);
    }

    #[test]
    fn unknown_route_and_bad_address_are_refused() {
        assert!(Routing::from_config(&config("[routes.sucess]\nto_user = true\n")).is_err());
        let e = Routing::from_config(&config("to = [\"not an address\"]")).err();
        assert_eq!(e.map(|e| e.0), Some("to".to_string()));
    }
}
