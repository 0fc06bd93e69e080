//! The guide's notes app (`docs/first-app.md`): `cargo run --example notes`, then open
//! http://127.0.0.1:5000/.

fn main() -> std::io::Result<()> {
    erlen_examples::notes::app().run()
}
