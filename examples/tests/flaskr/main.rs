//! flaskr's test suite (Flask's tutorial, `examples/tutorial/tests/`), ported one test
//! for one test: each Python test case, parametrized ones included, is one `#[test]`
//! here, in a module named after its file, and asserts the same things. `conftest` holds
//! the fixtures; `serve` runs the app over real sockets on both backends.

mod conftest;
mod serve;
mod test_auth;
mod test_blog;
mod test_db;
mod test_factory;
