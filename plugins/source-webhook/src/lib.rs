//! Cloud source: signed webhook requests over HTTPS (Standard Webhooks).
