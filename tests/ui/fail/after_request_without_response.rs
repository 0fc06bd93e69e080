use erlen::prelude::*;

#[after_request]
async fn log_status() {
    println!("done");
}

fn main() {}
