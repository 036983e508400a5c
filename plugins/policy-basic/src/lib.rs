//! Policy: length, character classes, not containing the account name.
