//! The session suite (`erlen_tests::session_cases`) on the cookie store and the memory
//! store; `tests/many` runs it on Redis. Plus what only a server-side store does: a
//! logout revokes the old cookie, and `regenerate` moves the session to a new id.

use erlen::SessionStore;
use erlen::prelude::*;
use erlen_tests::session_cases;

/// One `#[test]` per case of the suite, on the store `$store`.
macro_rules! suite {
    ($module:ident, $store:expr) => {
        mod $module {
            use super::*;
            fn store(app: App) -> App {
                app.session_store($store)
            }
            #[test]
            fn the_session_and_flashes_work_over_sockets_on_both_backends() {
                session_cases::the_session_and_flashes_work_over_sockets_on_both_backends(&store);
            }
            #[test]
            fn tampered_truncated_and_foreign_cookies_are_empty_sessions() {
                session_cases::tampered_truncated_and_foreign_cookies_are_empty_sessions(&store);
            }
            #[test]
            fn rotated_keys_keep_old_sessions_valid() {
                session_cases::rotated_keys_keep_old_sessions_valid(&store);
            }
            #[test]
            fn permanent_sessions_get_a_max_age() {
                session_cases::permanent_sessions_get_a_max_age(&store);
            }
            #[test]
            fn a_session_without_a_secret_key_is_a_logged_500() {
                session_cases::a_session_without_a_secret_key_is_a_logged_500(&store);
            }
            #[test]
            fn cookies_are_read_set_and_deleted() {
                session_cases::cookies_are_read_set_and_deleted(&store);
            }
            #[test]
            fn follow_redirects_goes_through_post_redirect_get() {
                session_cases::follow_redirects_goes_through_post_redirect_get(&store);
            }
            #[test]
            fn session_transaction_reads_and_changes_the_clients_session() {
                session_cases::session_transaction_reads_and_changes_the_clients_session(&store);
            }
            #[test]
            fn templates_see_flashes_once_per_request_and_the_session() {
                session_cases::templates_see_flashes_once_per_request_and_the_session(&store);
            }
        }
    };
}

suite!(cookie_store, SessionStore::Cookie);
suite!(memory_store, SessionStore::Memory);

#[test]
fn a_logout_revokes_the_old_cookie_on_a_server_side_store() {
    session_cases::a_logout_revokes_the_old_cookie(&|app| app.session_store(SessionStore::Memory));
}

#[test]
fn a_cookie_session_cannot_be_revoked() {
    // The reason for server-side stores: the cookie store's old cookie stays valid.
    let client = session_cases::app_with(&|app| app).test_client();
    client.post("/login/ada").send();
    let stolen = client.cookie("session").unwrap();
    client.post("/logout").send();
    client.set_cookie(Cookie::new("session", stolen));
    assert_eq!(client.get("/peek").send().text(), "ada");
}

#[test]
fn regenerate_moves_the_session_to_a_new_id() {
    session_cases::regenerate_moves_the_session(&|app| app.session_store(SessionStore::Memory));
}
