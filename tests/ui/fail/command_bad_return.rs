use erlen::prelude::*;

#[command]
fn dump() -> Vec<u8> {
    Vec::new()
}

#[command]
fn counted() -> Result<usize, String> {
    Ok(1)
}

fn main() {}
