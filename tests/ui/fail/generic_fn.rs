use erlen::prelude::*;

#[get("/")]
fn index<T: Default + IntoResponse>() -> T {
    T::default()
}

fn main() {}
