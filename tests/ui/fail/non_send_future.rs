use erlen::prelude::*;
use std::rc::Rc;

#[get("/")]
async fn index() -> String {
    let shared = Rc::new(String::from("not Send"));
    tokio::task::yield_now().await;
    shared.to_string()
}

fn main() {}
