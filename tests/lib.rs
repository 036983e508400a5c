//! Nothing here: the tests live in `e2e/`.
