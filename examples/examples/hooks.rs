//! `cargo run --example hooks`: async before/after/teardown hooks and an async 500
//! handler, logged through `tracing`. Try `/` and `/error`.

fn main() -> std::io::Result<()> {
    erlen_examples::init_logging();
    erlen_examples::hooks::app().run()
}
