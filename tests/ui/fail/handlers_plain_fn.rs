use erlen::prelude::*;

fn plain() -> &'static str {
    "not registered"
}

fn main() {
    let _app = App::new().register(handlers![plain]);
}
