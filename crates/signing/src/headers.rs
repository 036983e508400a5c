//! Header names and the shape rules for their values, shared by signer and verifier.

/// The message id header: unique per message, kept across retries.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The attempt's time, integer seconds since the Unix epoch.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Longest `webhook-id` accepted.
pub(crate) const MAX_ID_LEN: usize = 256;
/// Most signature entries looked at (each costs one HMAC over the body).
pub(crate) const MAX_SIGNATURES: usize = 8;

/// A message id must be printable ASCII without spaces or `.`: the signed content
/// joins id, timestamp and body with `.`, so a dot in the id would let one signature
/// stand for another split of the same bytes.
pub(crate) fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err("must be 1 to 256 characters");
    }
    if !id.bytes().all(|b| b.is_ascii_graphic() && b != b'.') {
        return Err("must be printable ASCII without spaces or `.`");
    }
    Ok(())
}
