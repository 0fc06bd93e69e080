//! An upload with a progress bar, a live log over Server-Sent Events and a chat over a
//! WebSocket: `cargo run --example live`, then open http://127.0.0.1:5000/ in two tabs.
//! Uploads are kept in `$TMPDIR/erlen-live-uploads` (or `ERLEN_LIVE_UPLOADS`).

fn main() -> std::io::Result<()> {
    erlen_examples::init_logging();
    let uploads = std::env::var_os("ERLEN_LIVE_UPLOADS")
        .map(Into::into)
        .unwrap_or_else(|| std::env::temp_dir().join("erlen-live-uploads"));
    println!("uploads go to {}", std::path::Path::new(&uploads).display());
    erlen_examples::live::app(uploads)?.run()
}
