//! The password page's ID token check (plugins/source-portal oidc.rs `verify`) against
//! a fixed key set, without a network. Three shapes of input from one byte string:
//! the bytes as a token; a token whose header and claims the fuzzer writes, signed
//! with the provider's real key; and such a token with bytes changed afterwards.
//! Nothing panics; no token verifies unless the key signed exactly it; and one that
//! verifies was ES256, from the issuer, for this client, unexpired, not from the
//! future, and carries this sign-in's nonce.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;
use writeback_source_portal::fuzzing::IdTokens;

const ISSUER: &str = "https://idp.example.test";
const CLIENT: &str = "portal";
const NONCE: &str = "n-0S6_WzA2Mj";
/// "Now" for every check (2027-01-15), so seeds' exp/iat stay meaningful.
const NOW: i64 = 1_800_000_000;
const SKEW: i64 = 60;

struct Fixture {
    key: EcdsaKeyPair,
    tokens: IdTokens,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key just made");
        let point = key.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        let tokens = IdTokens::new(ISSUER, CLIENT, jwks.to_string().as_bytes())
            .expect("the fixed key set");
        Fixture { key, tokens }
    })
}

/// A claim the fuzzer picks: the right value, a near miss, its own, or none.
#[derive(Arbitrary, Debug)]
enum Pick<'a> {
    Right,
    RightWithSlash,
    Other(&'a str),
    Number(i64),
    Missing,
}

impl Pick<'_> {
    fn value(&self, right: &str) -> Option<Value> {
        match self {
            Pick::Right => Some(Value::from(right)),
            Pick::RightWithSlash => Some(Value::from(format!("{right}/"))),
            Pick::Other(s) => Some(Value::from(*s)),
            Pick::Number(n) => Some(Value::from(*n)),
            Pick::Missing => None,
        }
    }
}

/// Claims and header built from parts, so most inputs get past the JSON and reach
/// every claim check.
#[derive(Arbitrary, Debug)]
struct Parts<'a> {
    alg: Pick<'a>,
    kid: Pick<'a>,
    iss: Pick<'a>,
    aud: Vec<Pick<'a>>,
    aud_as_list: bool,
    azp: Pick<'a>,
    exp: Option<i32>,
    iat: Option<i32>,
    nonce: Pick<'a>,
}

impl Parts<'_> {
    fn header(&self) -> Vec<u8> {
        let mut h = serde_json::Map::new();
        h.insert("typ".into(), "JWT".into());
        if let Some(v) = self.alg.value("ES256") {
            h.insert("alg".into(), v);
        }
        if let Some(v) = self.kid.value("k1") {
            h.insert("kid".into(), v);
        }
        serde_json::to_vec(&h).expect("JSON")
    }

    fn claims(&self) -> Vec<u8> {
        let mut c = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                c.insert(k.into(), v);
            }
        };
        put("iss", self.iss.value(ISSUER));
        let auds: Vec<Value> = self.aud.iter().filter_map(|a| a.value(CLIENT)).collect();
        put(
            "aud",
            match (self.aud_as_list, auds.first()) {
                (true, _) => Some(Value::Array(auds.clone())),
                (false, Some(first)) => Some(first.clone()),
                (false, None) => None,
            },
        );
        put("azp", self.azp.value(CLIENT));
        put("exp", self.exp.map(|d| Value::from(NOW + i64::from(d))));
        put("iat", self.iat.map(|d| Value::from(NOW + i64::from(d))));
        put("nonce", self.nonce.value(NONCE));
        put("sub", Some("fuzz-sub".into()));
        serde_json::to_vec(&c).expect("JSON")
    }
}

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    Raw(&'a str),
    Signed(Parts<'a>),
    SignedBytes { header: &'a [u8], claims: &'a [u8] },
    Edited { parts: Parts<'a>, at: u16, byte: u8 },
}

fn sign(header: &[u8], claims: &[u8]) -> String {
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let sig = fixture()
        .key
        .sign(&SystemRandom::new(), signed.as_bytes())
        .expect("signing");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// What a token that verified must say.
fn assert_acceptable(header: &[u8], claims: &serde_json::Map<String, Value>) {
    let header: Value = serde_json::from_slice(header).expect("a header that verified is JSON");
    assert_eq!(header["alg"], "ES256");
    let iss = claims["iss"].as_str().expect("iss");
    assert_eq!(iss.trim_end_matches('/'), ISSUER);
    match &claims["aud"] {
        Value::String(a) => assert_eq!(a, CLIENT),
        Value::Array(list) => {
            assert!(list.iter().any(|a| a == CLIENT));
            if list.len() > 1 {
                assert_eq!(claims["azp"], CLIENT);
            }
        }
        other => panic!("aud {other:?} accepted"),
    }
    if let Some(azp) = claims.get("azp") {
        assert_eq!(azp, CLIENT);
    }
    assert!(claims["exp"].as_i64().expect("exp") >= NOW - SKEW);
    assert!(claims["iat"].as_i64().expect("iat") <= NOW + SKEW);
    assert_eq!(claims["nonce"], NONCE);
}

fn check_signed(header: &[u8], claims: &[u8]) {
    let token = sign(header, claims);
    if let Ok(checked) = fixture().tokens.verify(&token, NONCE, NOW) {
        assert_acceptable(header, &checked);
    }
}

fuzz_target!(|input: Input<'_>| {
    let f = fixture();
    match input {
        Input::Raw(token) => {
            // Nobody but the key's holder can make a token that verifies.
            assert!(f.tokens.verify(token, NONCE, NOW).is_err());
        }
        Input::Signed(parts) => check_signed(&parts.header(), &parts.claims()),
        Input::SignedBytes { header, claims } => check_signed(header, claims),
        Input::Edited { parts, at, byte } => {
            let token = sign(&parts.header(), &parts.claims());
            let mut edited = token.clone().into_bytes();
            let at = usize::from(at) % edited.len();
            edited[at] = byte;
            let Ok(edited) = String::from_utf8(edited) else {
                return;
            };
            if edited != token {
                assert!(
                    f.tokens.verify(&edited, NONCE, NOW).is_err(),
                    "a token changed after signing verified"
                );
            }
        }
    }
});
