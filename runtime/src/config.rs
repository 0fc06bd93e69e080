//! Typed configuration, read at start-up from environment variables or a TOML file and
//! stored as application state, so that views and hooks take it as `State<T>`.
//!
//! Flask keeps configuration in `app.config`, a dictionary filled by
//! `from_prefixed_env()` and `from_file()`; erlen reads it into a struct of the user's,
//! with serde, so that a missing or malformed value is found when the app starts, with
//! its name, rather than when a request first needs it.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Configuration that could not be read: a missing or invalid variable or key, or a file
/// that cannot be read or parsed. Its text names the variable (or the file, line and key)
/// and says how to fix it.
///
/// Its `Debug` output is its `Display` text, and it converts into `std::io::Error`, so
/// that `fn main() -> std::io::Result<()>` prints it readably.
///
/// ```
/// #[derive(Clone, serde::Deserialize)]
/// struct Config {
///     port: u16,
/// }
///
/// let err = erlen::App::new().config_from_env::<Config>("DOCS_CONFIG_ERROR_").err().expect("unset");
/// assert_eq!(err.key(), Some("DOCS_CONFIG_ERROR_PORT"));
/// assert!(err.to_string().contains("DOCS_CONFIG_ERROR_PORT is not set"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
    key: Option<String>,
}

impl ConfigError {
    /// The environment variable (`APP_PORT`) or the TOML key (`database.pool_size`) at fault, when it
    /// is known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for std::io::Error {
    fn from(e: ConfigError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// Deserializes a `T` from the variables in `vars` that start with `prefix`.
pub(crate) fn from_vars<T: DeserializeOwned>(
    prefix: &str,
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<T, ConfigError> {
    let mut found = Vec::new();
    for (name, value) in vars {
        // Variables of other programs may be anything; only ours must be text.
        let Some(name) = name.to_str() else { continue };
        let Some(field) = name.strip_prefix(prefix) else { continue };
        let value = value.into_string().map_err(|_| ConfigError {
            message: format!(
                "the environment variable {name} is not valid UTF-8: set it to text, or unset it"
            ),
            key: Some(name.to_string()),
        })?;
        found.push((field.to_string(), value));
    }
    let names: Vec<String> = found.iter().map(|(field, _)| format!("{prefix}{field}")).collect();
    envy::from_iter::<_, T>(found).map_err(|e| env_error(prefix, &names, e))
}

/// Turns envy's error, which knows the field or the unprefixed variable, into one that
/// names the variable as the user sets it.
fn env_error(prefix: &str, names: &[String], error: envy::Error) -> ConfigError {
    match error {
        envy::Error::MissingValue(field) => {
            let var = format!("{prefix}{}", field.to_uppercase());
            ConfigError {
                message: format!(
                    "configuration: the environment variable {var} is not set (field `{field}`): \
                     set it, or give the field a default with #[serde(default)]"
                ),
                key: Some(var),
            }
        }
        envy::Error::Custom(message) => {
            // envy's words: "{cause} while parsing value '{value}' provided by {VAR}".
            let parsed = message
                .split_once(" while parsing value '")
                .and_then(|(cause, rest)| rest.rsplit_once("' provided by ").map(|(v, var)| (cause, v, var)));
            match parsed {
                Some((cause, value, var)) => {
                    let var = format!("{prefix}{var}");
                    ConfigError {
                        message: format!(
                            "configuration: the environment variable {var}={value:?} is not valid: {cause}"
                        ),
                        key: Some(var),
                    }
                }
                None => {
                    let read = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                    ConfigError {
                        message: format!(
                            "configuration: the environment variables {prefix}* do not fit the configuration: \
                             {message} (variables read: {read})"
                        ),
                        key: None,
                    }
                }
            }
        }
    }
}

/// Reads and deserializes a TOML file.
pub(crate) fn from_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if path.is_relative() {
            format!("; a relative path resolves against the current directory, {}", current_dir().display())
        } else {
            String::new()
        };
        ConfigError {
            message: format!("configuration: the file {shown} cannot be read: {e}{hint}"),
            key: None,
        }
    })?;
    toml::from_str::<T>(&text).map_err(|e| {
        let key = match missing_field(e.message()) {
            Some(field) => Some(match e.span().and_then(|span| table_at(&text, span.start)) {
                Some(table) => format!("{table}.{field}"),
                None => field.to_string(),
            }),
            None => e.span().and_then(|span| key_at(&text, span.start)),
        };
        let about = key.as_deref().map(|k| format!(" (key `{k}`)")).unwrap_or_default();
        ConfigError {
            message: format!(
                "configuration: the file {shown} is not valid{about}: {}",
                e.to_string().trim_end()
            ),
            key,
        }
    })
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// The field of serde's "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message.split_once("missing field `")?.1.split_once('`').map(|(field, _)| field)
}

/// The name of the `[table]` header at byte `at`, where a missing key is reported.
fn table_at(text: &str, at: usize) -> Option<String> {
    let line = text.get(at..)?.lines().next()?.trim();
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.trim_matches(|c| c == '[' || c == ']').trim().to_string())
}

/// The dotted key of the `key = value` line at byte `at`, with its table's name
/// (`database.pool_size`), when the error points into such a line.
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start].lines().rev().map(str::trim).find_map(|l| {
        let inner = l.strip_prefix('[')?.strip_suffix(']')?;
        Some(inner.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, serde::Deserialize)]
    struct Config {
        port: u16,
        debug: bool,
        name: String,
        ratio: Option<f64>,
        #[serde(default)]
        hosts: Vec<String>,
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
    }

    #[test]
    fn prefixed_variables_fill_the_fields() {
        let config: Config = from_vars(
            "APP_",
            vars(&[
                ("APP_PORT", "8080"),
                ("APP_DEBUG", "true"),
                ("APP_NAME", "blog"),
                ("APP_HOSTS", "a,b"),
                ("OTHER_PORT", "1"),
                ("APP_UNUSED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config,
            Config {
                port: 8080,
                debug: true,
                name: "blog".into(),
                ratio: None,
                hosts: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err =
            from_vars::<Config>("APP_", vars(&[("APP_PORT", "1"), ("APP_DEBUG", "false")])).unwrap_err();
        assert_eq!(err.key(), Some("APP_NAME"));
        assert!(err.to_string().contains("APP_NAME is not set (field `name`)"), "{err}");
        assert!(err.to_string().contains("#[serde(default)]"), "{err}");
    }

    #[test]
    fn a_bad_value_is_named_with_the_value_and_why() {
        let err = from_vars::<Config>(
            "APP_",
            vars(&[("APP_PORT", "eighty"), ("APP_DEBUG", "no"), ("APP_NAME", "x")]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(err.key() == Some("APP_PORT") || err.key() == Some("APP_DEBUG"), "{text}");
        assert!(text.contains("is not valid"), "{text}");
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_named() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let list = vec![(OsString::from("APP_NAME"), OsString::from_vec(vec![0xff, 0xfe]))];
            let err = from_vars::<Config>("APP_", list).unwrap_err();
            assert_eq!(err.key(), Some("APP_NAME"));
            // Other programs' variables may be anything.
            let list = vec![
                (OsString::from("ELSE"), OsString::from_vec(vec![0xff])),
                (OsString::from("APP_X"), "1".into()),
            ];
            assert!(from_vars::<Config>("APP_", list).unwrap_err().to_string().contains("APP_PORT"));
        }
    }

    #[test]
    fn the_key_of_a_toml_error_is_found_with_its_table() {
        let text = "title = \"x\"\n\n[database]\n# comment\npool_size = \"four\"\n";
        let at = text.find("\"four\"").unwrap();
        assert_eq!(key_at(text, at).as_deref(), Some("database.pool_size"));
        assert_eq!(key_at(text, 0).as_deref(), Some("title"));
        assert_eq!(key_at("[[servers]]\nport = 1\n", 19).as_deref(), Some("servers.port"));
        assert_eq!(table_at("a = 1\n[database]\n", 6).as_deref(), Some("database"));
        assert_eq!(missing_field("missing field `pool_size`"), Some("pool_size"));
    }
}
