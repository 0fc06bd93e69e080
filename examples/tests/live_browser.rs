//! The live example in a real browser: headless Chromium uploads a 5 MiB file through the
//! page's form (progress to 100%), sees it listed and told in the live log (SSE), joins
//! the chat (WebSocket) and hears itself. A screenshot is saved as `target/live.png`.
//!
//! It needs Debian's `chromium` and `chromium-driver`, as the flaskr browser test does, and
//! is `#[ignore]`d as that one is: `cargo test --workspace -- --include-ignored` runs it.

mod browser;

use browser::{
    Chromedriver, STEP, TempDir, WALK, click, open_browser, step, target_dir, type_into, wait_for_text,
};
use erlen::{Backend, Server};
use fantoccini::Client;

const SIZE: usize = 5 << 20;

async fn walk(c: &Client, base: &str, upload: &std::path::Path) {
    step("open the page", c.goto(&format!("{base}/"))).await;
    wait_for_text(c, "#log-state", |t| t == "live").await;
    wait_for_text(c, "#log", |t| t.contains("the server started")).await;

    // Upload through the form: the progress bar fills, the file is listed and logged.
    type_into(c, "#upload input[type=file]", &upload.display().to_string()).await;
    click(c, "#upload button").await;
    wait_for_text(c, "#percent", |t| t == "done").await;
    let progress =
        step("read the progress", c.execute("return document.getElementById('progress').value", vec![]))
            .await;
    assert_eq!(progress.as_f64(), Some(100.0), "the progress bar is full");
    let files = wait_for_text(c, "#files", |t| t.contains("big.bin")).await;
    assert!(files.contains(&format!("big.bin ({SIZE} bytes)")), "{files}");
    wait_for_text(c, "#log", |t| t.contains(&format!("uploaded big.bin ({SIZE} bytes)"))).await;

    // Join the chat and hear what we say; the log tells that we joined.
    type_into(c, "#name", "ada").await;
    click(c, "#join button").await;
    wait_for_text(c, "#log", |t| t.contains("ada joined the chat")).await;
    type_into(c, "#message", "hello from Chromium").await;
    click(c, "#say button").await;
    wait_for_text(c, "#chat", |t| t.contains("ada: hello from Chromium")).await;

    let png = step("take a screenshot", c.screenshot()).await;
    std::fs::write(target_dir().join("live.png"), png).unwrap();
}

#[test]
#[ignore = "needs Chromium and chromedriver (apt-get install chromium chromium-driver); run with: cargo test --workspace -- --include-ignored"]
fn upload_log_and_chat_in_chromium() {
    browser::require();
    let uploads = TempDir::new("live-uploads");
    let files = TempDir::new("live-files");
    let upload = files.0.join("big.bin");
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 249) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let app = erlen_examples::live::app(&uploads.0).unwrap();
    let server = Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(app).unwrap();
    let base = format!("http://{}", server.addr());

    let profile = TempDir::new("live-profile");
    let driver = Chromedriver::start(&target_dir().join("live-chromedriver.log"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = open_browser(&driver, &profile.0).await;
        let walked = tokio::time::timeout(WALK, walk(&client, &base, &upload)).await;
        let _ = tokio::time::timeout(STEP, client.close()).await;
        walked.unwrap_or_else(|_| panic!("the walk through the live page took more than {WALK:?}"));
    });
    assert_eq!(std::fs::read(uploads.0.join("big.bin")).unwrap(), data, "the upload arrived whole");
    drop(driver);
    server.shutdown();
}
