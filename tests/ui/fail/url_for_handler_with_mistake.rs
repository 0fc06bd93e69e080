use erlen::prelude::*;

// Each handler has one mistake, reported once, where it is. `url_for!` elsewhere adds
// nothing of its own: no "cannot find macro", no "is a struct, not a macro".

// The argument was renamed, the route was not.
#[get("/users/<int:id>")]
fn show(user_id: i64) -> String {
    user_id.to_string()
}

// The attribute's arguments are wrong.
#[get("/posts/<int:id>", methods = ["GET"])]
fn post(id: i64) -> String {
    id.to_string()
}

#[get("/")]
fn index() -> String {
    format!("{} {}", url_for!(show, id = 1), url_for!(post, id = 2))
}

fn main() {
    let _app = App::new().register(handlers![show, post, index]);
}
