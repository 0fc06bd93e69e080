//! Typed configuration from prefixed environment variables and from a TOML file, stored as
//! state: views read it as `State<T>`, and a missing or bad value is a start-up error that
//! names it.
//!
//! Every test takes `ENV`: setting a variable while another thread reads the environment
//! is undefined behaviour on some platforms, and building an app reads it. Each test also
//! has a prefix of its own.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use erlen::prelude::*;
use serde::Deserialize;

static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|p| p.into_inner())
}

fn set(vars: &[(&str, &str)]) {
    for (k, v) in vars {
        // SAFETY: every test of this binary holds `ENV` while it touches the environment
        // or builds an app, so no other thread reads it concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(k, v)
        };
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Debug,
    Info,
}

#[derive(Clone, Debug, Deserialize)]
struct Settings {
    name: String,
    port: u16,
    debug: bool,
    ratio: f64,
    level: Level,
    hosts: Vec<String>,
    token: Option<String>,
    #[serde(default)]
    retries: u32,
}

#[get("/settings")]
fn settings(State(s): State<Settings>) -> String {
    format!(
        "{} {} {} {} {:?} {:?} {:?} {}",
        s.name, s.port, s.debug, s.ratio, s.level, s.hosts, s.token, s.retries
    )
}

#[test]
fn prefixed_variables_become_typed_state() {
    let _env = env_lock();
    set(&[
        ("CFG_T1_NAME", "blog"),
        ("CFG_T1_PORT", "8080"),
        ("CFG_T1_DEBUG", "true"),
        ("CFG_T1_RATIO", "0.5"),
        ("CFG_T1_LEVEL", "info"),
        ("CFG_T1_HOSTS", "a.example,b.example"),
        ("CFG_T1_UNRELATED", "ignored"),
    ]);
    let app = App::new().config_from_env::<Settings>("CFG_T1_").expect("the configuration reads");
    let client = app.register(handlers![settings]).test_client();
    assert_eq!(
        client.get("/settings").send().text(),
        r#"blog 8080 true 0.5 Info ["a.example", "b.example"] None 0"#
    );
}

#[test]
fn a_missing_variable_is_named_with_the_fix() {
    let _env = env_lock();
    set(&[("CFG_T2_NAME", "blog"), ("CFG_T2_DEBUG", "false")]);
    let err = App::new().config_from_env::<Settings>("CFG_T2_").map(drop).expect_err("port is missing");
    let text = err.to_string();
    assert_eq!(err.key(), Some("CFG_T2_PORT"), "{text}");
    assert!(text.contains("CFG_T2_PORT is not set (field `port`)"), "{text}");
    assert!(text.contains("#[serde(default)]"), "{text}");
}

#[test]
fn a_value_of_the_wrong_type_is_named_with_the_value() {
    let _env = env_lock();
    set(&[
        ("CFG_T3_NAME", "blog"),
        ("CFG_T3_PORT", "eighty"),
        ("CFG_T3_DEBUG", "false"),
        ("CFG_T3_RATIO", "1"),
        ("CFG_T3_LEVEL", "info"),
        ("CFG_T3_HOSTS", ""),
    ]);
    let err = App::new().config_from_env::<Settings>("CFG_T3_").map(drop).expect_err("port is not a number");
    let text = err.to_string();
    assert_eq!(err.key(), Some("CFG_T3_PORT"), "{text}");
    assert!(text.contains(r#"CFG_T3_PORT="eighty" is not valid: invalid digit"#), "{text}");
    // It converts into the io::Error that `fn main() -> std::io::Result<()>` returns.
    let io: std::io::Error = err.into();
    assert!(io.to_string().contains("CFG_T3_PORT"), "{io}");
}

#[test]
fn an_unknown_enum_variant_lists_the_variables_read() {
    let _env = env_lock();
    set(&[
        ("CFG_T4_NAME", "blog"),
        ("CFG_T4_PORT", "1"),
        ("CFG_T4_DEBUG", "false"),
        ("CFG_T4_RATIO", "1"),
        ("CFG_T4_LEVEL", "verbose"),
        ("CFG_T4_HOSTS", ""),
    ]);
    let err = App::new().config_from_env::<Settings>("CFG_T4_").map(drop).expect_err("no such level");
    let text = err.to_string();
    assert!(text.contains("unknown variant `verbose`"), "{text}");
    assert!(text.contains("CFG_T4_LEVEL"), "{text}");
}

#[derive(Clone, Debug, Deserialize)]
struct FileConfig {
    title: String,
    database: Database,
}

#[derive(Clone, Debug, Deserialize)]
struct Database {
    url: String,
    pool_size: u32,
}

#[get("/file")]
fn file_config(State(c): State<FileConfig>) -> String {
    format!("{} {} {}", c.title, c.database.url, c.database.pool_size)
}

/// A TOML file of this test's own, removed when dropped.
struct TempToml(PathBuf);

impl TempToml {
    fn new(name: &str, text: &str) -> TempToml {
        let path = std::env::temp_dir().join(format!("erlen-config-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).expect("the temporary file is written");
        TempToml(path)
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_toml_file_becomes_typed_state() {
    let _env = env_lock();
    let file =
        TempToml::new("ok", "title = \"blog\"\n\n[database]\nurl = \"sqlite://blog.db\"\npool_size = 4\n");
    let app = App::new().config_from_file::<FileConfig>(&file.0).expect("the file reads");
    let client = app.register(handlers![file_config]).test_client();
    assert_eq!(client.get("/file").send().text(), "blog sqlite://blog.db 4");
}

#[test]
fn a_wrong_type_in_the_file_names_the_file_line_and_key() {
    let _env = env_lock();
    let file = TempToml::new(
        "type",
        "title = \"blog\"\n\n[database]\nurl = \"sqlite://blog.db\"\npool_size = \"four\"\n",
    );
    let err = App::new().config_from_file::<FileConfig>(&file.0).map(drop).expect_err("pool_size is text");
    let text = err.to_string();
    assert_eq!(err.key(), Some("database.pool_size"), "{text}");
    assert!(text.contains(&file.0.display().to_string()), "{text}");
    assert!(text.contains("line 5"), "{text}");
    assert!(text.contains("invalid type"), "{text}");
}

#[test]
fn a_missing_key_in_the_file_is_named() {
    let _env = env_lock();
    let file = TempToml::new("missing", "title = \"blog\"\n\n[database]\nurl = \"sqlite://blog.db\"\n");
    let err = App::new().config_from_file::<FileConfig>(&file.0).map(drop).expect_err("pool_size is missing");
    let text = err.to_string();
    assert_eq!(err.key(), Some("database.pool_size"), "{text}");
    assert!(text.contains("missing field `pool_size`"), "{text}");
    assert!(text.contains(&file.0.display().to_string()), "{text}");
}

#[test]
fn a_file_that_is_not_toml_or_not_there_is_a_clear_error() {
    let _env = env_lock();
    let file = TempToml::new("syntax", "title = \"blog\n");
    let text =
        App::new().config_from_file::<FileConfig>(&file.0).map(drop).expect_err("bad TOML").to_string();
    assert!(text.contains("is not valid") && text.contains("line 1"), "{text}");

    let missing = std::env::temp_dir().join("erlen-config-no-such-file.toml");
    let text =
        App::new().config_from_file::<FileConfig>(&missing).map(drop).expect_err("no file").to_string();
    assert!(text.contains("cannot be read") && text.contains("erlen-config-no-such-file.toml"), "{text}");
}

#[test]
fn configurations_from_both_sources_live_side_by_side() {
    let _env = env_lock();
    set(&[
        ("CFG_T5_NAME", "env"),
        ("CFG_T5_PORT", "1"),
        ("CFG_T5_DEBUG", "false"),
        ("CFG_T5_RATIO", "2.5"),
        ("CFG_T5_LEVEL", "debug"),
        ("CFG_T5_HOSTS", "h"),
        ("CFG_T5_TOKEN", "t"),
        ("CFG_T5_RETRIES", "3"),
    ]);
    let file = TempToml::new("both", "title = \"file\"\n[database]\nurl = \"u\"\npool_size = 1\n");
    let client = App::new()
        .config_from_env::<Settings>("CFG_T5_")
        .and_then(|app| app.config_from_file::<FileConfig>(&file.0))
        .expect("both read")
        .register(handlers![settings, file_config])
        .test_client();
    assert_eq!(client.get("/settings").send().text(), r#"env 1 false 2.5 Debug ["h"] Some("t") 3"#);
    assert_eq!(client.get("/file").send().text(), "file u 1");
}
