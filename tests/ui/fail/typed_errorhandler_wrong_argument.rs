use erlen::prelude::*;

#[errorhandler(std::io::Error)]
fn io(err: &std::fmt::Error) -> String {
    err.to_string()
}

fn main() {}
