#![deny(deprecated)]

// The warning names the handler by its path and the call by its name; a call made twice
// is reported twice.
mod views {
    use erlen::prelude::*;
    use std::time::Duration;

    #[get("/sleep")]
    pub async fn sleepy() -> &'static str {
        std::thread::sleep(Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(10));
        "slept twice"
    }
}

fn main() {
    let _ = erlen::App::new().register(erlen::handlers![views::sleepy]);
}
