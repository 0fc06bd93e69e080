//! The HTTP methods a route may name, listed once: the macros check `methods = [...]`
//! against it, name it in their messages and define the `#[get]`-style shortcuts from
//! it; the runtime can accept the same list when it registers a route.

/// The HTTP methods a route may name, spelled as in a request line, in the order messages
/// list them.
///
/// ```
/// assert_eq!(erlen_pattern::METHODS[0], "GET");
/// assert!(erlen_pattern::METHODS.contains(&"PATCH"));
/// ```
pub const METHODS: &[&str] =
    &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

/// The method `name` names, in any ASCII case, spelled as in [`METHODS`]; `None` for any
/// other text. `const`, so that a table built at compile time can look its methods up.
///
/// ```
/// assert_eq!(erlen_pattern::method("get"), Some("GET"));
/// assert_eq!(erlen_pattern::method("Patch"), Some("PATCH"));
/// assert_eq!(erlen_pattern::method("FETCH"), None);
/// ```
pub const fn method(name: &str) -> Option<&'static str> {
    let mut i = 0;
    while i < METHODS.len() {
        if same_ignoring_case(METHODS[i].as_bytes(), name.as_bytes()) {
            return Some(METHODS[i]);
        }
        i += 1;
    }
    None
}

const fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_finds_itself_in_any_case() {
        for m in METHODS {
            assert_eq!(method(m), Some(*m));
            assert_eq!(method(&m.to_lowercase()), Some(*m));
        }
        for other in ["", "GE", "GETS", "FETCH", "get "] {
            assert_eq!(method(other), None, "{other:?}");
        }
    }

    #[test]
    fn is_usable_at_compile_time() {
        const POST: Option<&str> = method("post");
        assert_eq!(POST, Some("POST"));
    }
}
