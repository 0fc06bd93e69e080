//! The channels suite (`erlen_tests::channel_cases`) in one process; `tests/many` runs it
//! through Redis, and across instances.

use erlen::prelude::*;
use erlen_tests::channel_cases;

fn in_process(app: App) -> App {
    app
}

#[test]
fn messages_arrive_in_publish_order_on_both_backends() {
    channel_cases::messages_arrive_in_publish_order_on_both_backends(&in_process);
}

#[test]
fn the_test_client_subscribes_in_process() {
    channel_cases::the_test_client_subscribes_in_process(&in_process);
}

#[test]
fn a_slow_subscriber_is_told_it_lagged() {
    channel_cases::a_slow_subscriber_is_told_it_lagged(&in_process);
}

#[test]
fn each_app_has_its_own_channels() {
    // Two apps in one process share nothing without Redis: as two processes.
    let first = App::new();
    let second = App::new();
    let mut news = second.channels().subscribe_blocking("news").unwrap();
    first.channels().publish_blocking("news", "for the first app").unwrap();
    second.channels().publish_blocking("news", "for the second app").unwrap();
    assert_eq!(news.next(), Some(Ok(Bytes::from("for the second app"))));
}
