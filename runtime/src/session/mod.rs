//! The session and flash messages, Flask's model. By default the session's values live in
//! a cookie, as JSON, signed with the app's secret key (HMAC, through the `cookie` crate's
//! signed jar) so that the client can read but not change them; with a server-side
//! [`SessionStore`] (this process's memory, or Redis) the cookie carries only a signed
//! random id and the values stay on the server, where a logout deletes them.
//!
//! The session is loaded the first time a view, hook or template asks for it (a
//! server-side one is read from its store before the hooks), and written back after the
//! `after_request` hooks only when it was modified (deleted when emptied); a response whose
//! session was read carries `Vary: Cookie`. A tampered, truncated, expired or foreign
//! cookie is an empty session, never an error; a store that does not answer is a 503.

mod config;
mod server;
mod sessions;
mod state;

pub use config::{SessionConfig, SessionStore};
pub(crate) use server::Memory;
#[cfg(feature = "redis")]
pub(crate) use server::OnRedis;
pub(crate) use sessions::{Sessions, Store, current, of_request, preload, save};
pub use state::{Session, flash, flash_category, get_flashed_messages};

#[cfg(test)]
mod tests {

    use std::time::Duration;

    use super::config::SessionConfig;
    use super::sessions::{Sessions, Store};
    use super::state::Session;
    use std::sync::Arc;

    fn sessions(secret: &str, fallbacks: &[&str]) -> Sessions {
        let fallbacks = fallbacks.iter().map(|f| f.as_bytes().to_vec()).collect();
        Sessions::new(Some(secret.as_bytes().to_vec()), fallbacks, SessionConfig::default(), Store::Cookie)
    }

    fn cookie_with(sessions: &Sessions, key: &str, value: &str) -> String {
        let state = Arc::new(sessions.load(std::iter::empty()).unwrap());
        let session = Session::new(state.clone());
        session.insert(key, value);
        let cookie = sessions.cookie_for(&state).unwrap();
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn user(sessions: &Sessions, header: &str) -> Option<String> {
        let state = Arc::new(sessions.load(std::iter::once(header))?);
        Session::new(state).get("user")
    }

    #[test]
    fn a_signed_cookie_round_trips_and_tampering_empties_it() {
        let s = sessions("secret", &[]);
        let header = cookie_with(&s, "user", "ada");
        assert_eq!(user(&s, &header).as_deref(), Some("ada"));
        let mut bytes = header.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(user(&s, &String::from_utf8(bytes).unwrap()), None, "one byte changed");
        assert_eq!(user(&s, &header[..header.len() - 5]), None, "truncated");
        assert_eq!(user(&sessions("other", &[]), &header), None, "a foreign key");
        assert_eq!(user(&s, "session=%%%; other=1"), None, "garbage");
    }

    #[test]
    fn fallback_keys_keep_old_sessions_valid() {
        let old = sessions("old", &[]);
        let header = cookie_with(&old, "user", "ada");
        assert_eq!(user(&sessions("new", &["old"]), &header).as_deref(), Some("ada"));
        assert_eq!(user(&sessions("new", &[]), &header), None);
    }

    #[test]
    fn an_expired_cookie_is_an_empty_session() {
        let s = sessions("secret", &[]);
        let header = cookie_with(&s, "user", "ada");
        let mut short = sessions("secret", &[]);
        short.config.lifetime = Duration::ZERO;
        // Signed "now"; with a lifetime of zero it is expired a second later.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(user(&short, &header), None);
    }
}
