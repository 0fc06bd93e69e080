use erlen::prelude::*;

struct Api;

impl Api {
    #[get("/")]
    fn index(&self) -> &'static str {
        "api"
    }
}

fn main() {}
