//! `cargo run --example data`: an async route (`/data`, one second) next to a sync one.

fn main() -> std::io::Result<()> {
    erlen_examples::init_logging();
    erlen_examples::data::app().run()
}
