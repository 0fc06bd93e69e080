use erlen::prelude::*;

mod views {
    use erlen::prelude::*;

    #[get("/users/<int:id>")]
    pub fn show(id: i64) -> String {
        id.to_string()
    }
}

#[get("/")]
fn index() -> String {
    url_for!(views::shwo, id = 7)
}

fn main() {}
