use erlen::prelude::*;

#[template_filter]
async fn shout(value: String) -> String {
    value.to_uppercase()
}

fn main() {}
