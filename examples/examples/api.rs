//! `cargo run --example api`, then
//! `curl -H 'authorization: Bearer secret' -H 'content-type: application/json' -d '{"text":"hi"}' localhost:5000/echo`.
//! The token is `API_TOKEN`, or `secret`.

fn main() -> std::io::Result<()> {
    let token = std::env::var("API_TOKEN").unwrap_or_else(|_| "secret".to_string());
    erlen_examples::api::app(&token).run()
}
