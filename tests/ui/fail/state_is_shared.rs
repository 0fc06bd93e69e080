// Application state is one value shared by every request: a view cannot change it in
// place (each request writing to its own copy was the old mistake). Shared state that
// changes goes behind a lock: `State<Mutex<BTreeMap<..>>>`.
use std::collections::BTreeMap;

use erlen::prelude::*;

#[post("/notes")]
fn create(State(notes): State<BTreeMap<u32, String>>) -> &'static str {
    notes.insert(1, "milk".to_string());
    "created"
}

fn main() {
    let _ = App::new().state(BTreeMap::<u32, String>::new()).register(handlers![create]);
}
