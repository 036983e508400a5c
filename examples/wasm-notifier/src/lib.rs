//! Posts each outcome to a chat-style webhook (Slack, Mattermost and Rocket.Chat
//! accept `{"text": ...}`) through the HTTP capability the administrator grants.
//!
//! ```toml
//! [[plugins]]
//! path = "wasm_notifier_example.wasm"
//! allow_http = ["https://chat.example.com/hooks/abc123"]
//!
//! [[notifiers]]
//! type = "chat-webhook"
//! url = "https://chat.example.com/hooks/abc123"
//! channel = "#identity"   # optional
//! ```

use serde::Deserialize;
use serde_json::json;
use writeback_plugin_wasm_guest::notifier::{
    http, log, About, Event, NotifierPlugin, NotifyError, OutcomeCode,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    channel: Option<String>,
}

struct ChatWebhook;

fn who(event: &Event) -> &str {
    let i = &event.identity;
    [&i.upn, &i.username, &i.mail, &i.object_id]
        .into_iter()
        .find_map(|v| v.as_deref())
        .unwrap_or("(unknown user)")
}

fn text(event: &Event) -> String {
    let mark = if event.outcome.code == OutcomeCode::Succeeded {
        "✅"
    } else {
        "⚠️"
    };
    let mut line = format!(
        "{mark} password {} for {}: {} — {}",
        event.operation.as_str(),
        who(event),
        event.outcome.code.as_str(),
        event.outcome.message
    );
    if !event.outcome.rules.is_empty() {
        let rules: Vec<&str> = event
            .outcome
            .rules
            .iter()
            .map(|r| r.rule.as_str())
            .collect();
        line.push_str(&format!(" (rules: {})", rules.join(", ")));
    }
    line.push_str(&format!(" [request {}]", event.request_id));
    line
}

impl NotifierPlugin for ChatWebhook {
    type Config = Config;
    const ABOUT: About = About {
        name: "chat-webhook",
        version: "1.0.0",
        description: "posts each outcome as a chat message to a webhook",
    };

    fn notify(config: &Config, event: &Event) -> Result<(), NotifyError> {
        let mut body = json!({ "text": text(event), "event_id": event.event_id });
        if let Some(channel) = &config.channel {
            body["channel"] = json!(channel);
        }
        match http::post_json(&config.url, &body) {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(NotifyError::new(
                format!("the webhook answered HTTP {}", r.status),
                r.status >= 500,
            )),
            Err(http::HttpError::NotAllowed(m)) => {
                log::error("the webhook URL is not granted: add it to `allow_http` in the [[plugins]] entry");
                Err(NotifyError::new(m, false))
            }
            Err(http::HttpError::InvalidRequest(m)) => Err(NotifyError::new(m, false)),
            Err(http::HttpError::Failed(m)) => Err(NotifyError::new(m, true)),
            Err(http::HttpError::Timeout) => {
                Err(NotifyError::new("the webhook did not answer in time", true))
            }
        }
    }
}

writeback_plugin_wasm_guest::notifier_plugin!(ChatWebhook);
