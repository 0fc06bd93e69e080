//! flaskr's `test_factory.py`.

use erlen::prelude::*;
use erlen_examples::flaskr::{Config, create_app};

use super::conftest::Fixture;

/// Answers whether the app's configuration says it is under test (Flask's
/// `app.testing`).
#[get("/_testing")]
fn testing(State(config): State<Config>) -> &'static str {
    if config.testing { "testing" } else { "not testing" }
}

fn is_testing(config: Config) -> bool {
    let client = create_app(config).register(handlers![testing]).test_client();
    client.get("/_testing").send().text() == "testing"
}

/// `test_config`: the factory without a test configuration is not in testing mode; with
/// one, it is.
#[test]
fn config() {
    assert!(!is_testing(Config::from_env()));
    assert!(is_testing(Config::for_tests("unused.sqlite")));
}

/// `test_hello`.
#[test]
fn hello() {
    let fixture = Fixture::new();
    let response = fixture.client().get("/hello").send();
    assert_eq!(response.bytes().as_ref(), b"Hello, World!");
}
