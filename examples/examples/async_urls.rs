//! `cargo run --example async_urls [-- --url URL ...]`: the article's fan-out routes.
//! Without URLs (from `--url` or `ERLEN_URLS`) it starts an embedded upstream on loopback
//! whose endpoints answer after 200 to 1500 ms, so it runs offline.

use erlen_examples::{async_urls, upstream};

fn main() -> std::io::Result<()> {
    erlen_examples::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut urls = async_urls::urls_from(&args, std::env::var("ERLEN_URLS").ok().as_deref());
    let mut embedded = None;
    if urls.is_empty() {
        let up = upstream::Upstream::start()?;
        urls = up.urls(&upstream::spread(10));
        eprintln!(" * No --url given: fetching an embedded upstream, e.g. {}", urls[0]);
        embedded = Some(up);
    }
    eprintln!(" * Try /async_get_urls_v2, /async_get_urls_v1 and /sync_get_urls");
    let result = async_urls::app(urls).run();
    drop(embedded);
    result
}
