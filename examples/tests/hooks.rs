//! The `hooks` example: async before/after/teardown hooks and an async 500 handler.

use std::time::{Duration, Instant};

use erlen_examples::hooks::{self, Delays};

fn quick() -> Delays {
    let ms = Duration::from_millis(30);
    Delays { load_user: ms, log_status: ms, error_email: ms }
}

#[test]
fn the_before_hook_loads_the_user_and_the_after_hook_waits_too() {
    let client = hooks::app_with(quick()).test_client();
    let start = Instant::now();
    let resp = client.get("/").send();
    assert_eq!(resp.text(), "Hello, ada!");
    assert!(start.elapsed() >= Duration::from_millis(60), "both hooks awaited their work");
}

#[test]
fn the_async_500_handler_answers_for_an_unhandled_error() {
    let client = hooks::app_with(quick()).test_client();
    let start = Instant::now();
    let resp = client.get("/error").send();
    assert_eq!((resp.status().as_u16(), resp.text()), (500, "500 error".to_string()));
    // before + error handler + after.
    assert!(start.elapsed() >= Duration::from_millis(90));
}

#[test]
fn the_default_delays_are_the_articles_second() {
    let d = Delays::default();
    assert_eq!(
        (d.load_user, d.log_status, d.error_email),
        (Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(1))
    );
}
