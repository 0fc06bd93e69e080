use erlen::prelude::*;

#[before_serving]
fn warm_up(Json(v): Json<serde_json::Value>) {
    let _ = v;
}

fn main() {}
