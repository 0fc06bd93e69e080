//! Shared helpers for the erlen examples.
