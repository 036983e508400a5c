//! Standard Webhooks signing and verification (HMAC-SHA256, constant time).
