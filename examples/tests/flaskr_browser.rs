//! flaskr in a real browser: the app on a socket, headless Chromium driven through
//! chromedriver (WebDriver, with fantoccini) through register, log in, create a post, see
//! it on the index, edit it, log out. A screenshot of the index page is saved as
//! `target/flaskr-index.png`.
//!
//! It needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them when
//! missing; `CHROMIUM` and `CHROMEDRIVER` name other binaries), so it is `#[ignore]`d:
//! `cargo test --workspace` lists it as not run, `-- --include-ignored` runs it. Every wait
//! is bounded: when the browser is missing or cannot start, the test fails with a message
//! that says why, never hangs.

mod browser;

use browser::{
    Chromedriver, STEP, TempDir, WALK, click, fill, open_browser, step, target_dir, wait_for_title,
};
use erlen::{Backend, Server};
use erlen_examples::flaskr::{Config, create_app, db};
use fantoccini::{Client, Locator};

async fn walk(c: &Client, base: &str) {
    // Register, then log in: the register page sends the user to the login page.
    step("open the register page", c.goto(&format!("{base}/auth/register"))).await;
    wait_for_title(c, "Register - Flaskr").await;
    fill(c, "username", "ada").await;
    fill(c, "password", "lovelace").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Log In - Flaskr").await;
    fill(c, "username", "ada").await;
    fill(c, "password", "lovelace").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let nav = step("read the nav", c.find(Locator::Css("nav"))).await;
    assert!(step("read the nav's text", nav.text()).await.contains("ada"), "the nav shows the user");

    // Create a post, and see it on the index.
    click(c, "a.action").await;
    wait_for_title(c, "New Post - Flaskr").await;
    fill(c, "title", "Hello from Chromium").await;
    fill(c, "body", "Written in a real browser,\nserved by erlen.").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let post = step("find the post", c.find(Locator::Css("article.post"))).await;
    let text = step("read the post", post.text()).await;
    assert!(text.contains("Hello from Chromium") && text.contains("by ada on "), "{text}");
    assert!(text.contains("Written in a real browser,\nserved by erlen."), "{text}");
    let png = step("take a screenshot", c.screenshot()).await;
    let shot = target_dir().join("flaskr-index.png");
    std::fs::write(&shot, png).unwrap();

    // Edit it: the form comes filled with the post.
    click(c, "article.post a.action").await;
    wait_for_title(c, r#"Edit "Hello from Chromium" - Flaskr"#).await;
    let title = step("find the title field", c.find(Locator::Css("[name=title]"))).await;
    assert_eq!(
        step("read the title field", title.prop("value")).await.as_deref(),
        Some("Hello from Chromium")
    );
    fill(c, "title", "Edited in Chromium").await;
    click(c, "input[type=submit]").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let text =
        step("read the edited post", async { c.find(Locator::Css("article.post h1")).await?.text().await })
            .await;
    assert_eq!(text, "Edited in Chromium");

    // Log out: the nav offers to log in again, and the post stays.
    click(c, "nav a[href='/auth/logout']").await;
    wait_for_title(c, "Posts - Flaskr").await;
    let nav = step("read the nav", async { c.find(Locator::Css("nav")).await?.text().await }).await;
    assert!(nav.contains("Log In") && !nav.contains("ada"), "{nav}");
    assert!(step("read the page", c.source()).await.contains("Edited in Chromium"));
}

#[test]
#[ignore = "needs Chromium and chromedriver (apt-get install chromium chromium-driver); run with: cargo test --workspace -- --include-ignored"]
fn register_log_in_create_see_edit_and_log_out_in_chromium() {
    browser::require();
    let data = TempDir::new("data");
    let config = Config::for_tests(data.0.join("flaskr.sqlite"));
    db::create_if_missing(&config.database).unwrap();
    let server = Server::bind("127.0.0.1:0").backend(Backend::Async).spawn(create_app(config)).unwrap();
    let base = format!("http://{}", server.addr());

    let profile = TempDir::new("profile");
    let driver = Chromedriver::start(&target_dir().join("flaskr-chromedriver.log"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = open_browser(&driver, &profile.0).await;
        let walked = tokio::time::timeout(WALK, walk(&client, &base)).await;
        let _ = tokio::time::timeout(STEP, client.close()).await;
        walked.unwrap_or_else(|_| panic!("the walk through flaskr took more than {WALK:?}"));
    });
    let shot = target_dir().join("flaskr-index.png");
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0), "{} was saved", shot.display());
    drop(driver);
    server.shutdown();
}
