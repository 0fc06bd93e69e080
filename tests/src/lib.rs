//! Integration tests for erlen live in `tests/`.
