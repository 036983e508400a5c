//! The relay's request message as an agent reads it off NATS (crates/relay wire.rs), and
//! its pre-flight check message (check.rs). Two inputs from one byte string: the bytes
//! themselves as a message of either kind (any bytes give an envelope or a JSON error,
//! and opening what parses gives a request or an `OpenError`, never a panic); and the bytes as edits to a genuine message sealed to the agent's key
//! (whatever the edits, it opens only as the request that was sealed, or not at all:
//! the AEAD binds every field the agent acts on).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_core::{CloudIdentity, Initiator, Operation, Password, Request, RequestId};
use writeback_relay::check::{open_check, CheckEnvelope};
use writeback_relay::seal::PrivateKey;
use writeback_relay::wire::{open_request, seal_request, Envelope};

struct Fixture {
    key: PrivateKey,
    genuine: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let (key, public) = PrivateKey::generate();
        let request = Request {
            id: RequestId::parse("fuzz-1").expect("a valid id"),
            source: "webhook".into(),
            operation: Operation::Reset {
                new_password: Password::new("Fuzz-Marker-1"),
                must_change: false,
            },
            identity: CloudIdentity {
                username: Some("alice".into()),
                ..Default::default()
            },
            initiator: Initiator::default(),
        };
        let envelope = seal_request(&request, 4_000_000_000_000, &[public]).expect("sealing");
        let genuine = serde_json::to_vec(&envelope).expect("serialising");
        Fixture { key, genuine }
    })
}

fn what_it_asks(r: &Request) -> String {
    format!(
        "{} {} {:?} {:?} {:?}",
        r.id,
        r.source,
        r.operation.kind(),
        r.identity.username,
        match &r.operation {
            Operation::Reset { new_password, must_change } =>
                (new_password.expose().to_string(), *must_change),
            _ => (String::new(), false),
        }
    )
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let keys = std::slice::from_ref(&f.key);
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(data) {
        let _ = open_request(&envelope, keys);
    }
    if let Ok(check) = serde_json::from_slice::<CheckEnvelope>(data) {
        let _ = open_check(&check, keys);
    }
    // Edits: each 3 bytes are (position high, position low, new byte).
    let mut edited = f.genuine.clone();
    for edit in data.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([edit[0], edit[1]])) % edited.len();
        edited[at] = edit[2];
    }
    if edited == f.genuine {
        return;
    }
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(&edited) {
        if let Ok(opened) = open_request(&envelope, keys) {
            let original: Envelope = serde_json::from_slice(&f.genuine).expect("genuine parses");
            let first = open_request(&original, keys).expect("genuine opens");
            assert_eq!(
                what_it_asks(&opened),
                what_it_asks(&first),
                "an edited message opened as a different request"
            );
        }
    }
});
