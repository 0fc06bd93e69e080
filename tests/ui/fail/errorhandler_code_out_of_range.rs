use erlen::prelude::*;

#[errorhandler(302)]
fn moved(err: &HttpError) -> String {
    err.to_string()
}

fn main() {}
