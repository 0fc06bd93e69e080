//! A small site from templates, static files and a streamed page:
//! `cargo run --example pages`, then open http://127.0.0.1:5000/.

fn main() -> std::io::Result<()> {
    erlen_examples::init_logging();
    erlen_examples::pages::app().run()
}
