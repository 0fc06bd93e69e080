//! The article's main example: fetch a list of URLs inside one route, concurrently
//! (`/async_get_urls_v2`), through the blocking bridge from a sync route
//! (`/async_get_urls_v1`, the Flask 1.x pattern), or one after another
//! (`/sync_get_urls`, the baseline).
//!
//! One `reqwest::Client` lives in the app's state, so connections are pooled across
//! requests (the article opens a session per request). Every call has a timeout: a slow
//! or failing upstream is an error line on the page, never a hung request or a 500.

use std::sync::Arc;
use std::time::Duration;

use erlen::prelude::*;
use futures::future::join_all;

/// The URLs the routes fetch.
#[derive(Clone, Debug)]
pub struct Urls(pub Arc<Vec<String>>);

/// How long one outbound call may take.
#[derive(Clone, Copy, Debug)]
pub struct FetchTimeout(pub Duration);

/// What one call found: the status, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub url: String,
    pub status: Result<u16, String>,
}

/// Fetches one URL (the article's `fetch_url`).
pub async fn fetch_url(client: &reqwest::Client, url: &str, timeout: Duration) -> Site {
    let status = match client.get(url).timeout(timeout).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) if e.is_timeout() => Err(format!("no answer within {} ms", timeout.as_millis())),
        Err(e) => Err(e.to_string()),
    };
    Site { url: url.to_string(), status }
}

/// Fetches every URL concurrently (the article's `get_all_urls`).
pub async fn get_all_urls(client: &reqwest::Client, urls: &[String], timeout: Duration) -> Vec<Site> {
    join_all(urls.iter().map(|url| fetch_url(client, url, timeout))).await
}

/// The article's page: a heading, then one line per site.
pub fn render(sites: &[Site]) -> Html<String> {
    let mut page = String::from("<h1>URLs:</h1>");
    for site in sites {
        let url = erlen::escape_html(&site.url);
        match &site.status {
            Ok(code) => page.push_str(&format!("<p>URL: {url} --- Status Code: {code}</p>")),
            Err(why) => page.push_str(&format!("<p>URL: {url} --- Error: {}</p>", erlen::escape_html(why))),
        }
    }
    Html(page)
}

#[route("/async_get_urls_v2")]
async fn async_get_urls_v2(
    State(client): State<reqwest::Client>,
    State(urls): State<Urls>,
    State(timeout): State<FetchTimeout>,
) -> Html<String> {
    let sites = join_all(urls.0.iter().map(|url| fetch_url(&client, url, timeout.0))).await;
    render(&sites)
}

#[route("/async_get_urls_v1")]
fn async_get_urls_v1(
    State(client): State<reqwest::Client>,
    State(urls): State<Urls>,
    State(timeout): State<FetchTimeout>,
) -> Html<String> {
    let sites = erlen::block_on(get_all_urls(&client, &urls.0, timeout.0));
    render(&sites)
}

#[route("/sync_get_urls")]
fn sync_get_urls(
    State(client): State<reqwest::Client>,
    State(urls): State<Urls>,
    State(timeout): State<FetchTimeout>,
) -> Html<String> {
    // One call after another, as `requests.get` in a loop would.
    let sites: Vec<Site> =
        urls.0.iter().map(|url| erlen::block_on(fetch_url(&client, url, timeout.0))).collect();
    render(&sites)
}

/// The app for `urls`, with a 5 s timeout per call.
pub fn app(urls: Vec<String>) -> App {
    app_with_timeout(urls, Duration::from_secs(5))
}

/// The app for `urls` with a chosen timeout per call.
pub fn app_with_timeout(urls: Vec<String>, timeout: Duration) -> App {
    App::new()
        .state(reqwest::Client::new())
        .state(Urls(Arc::new(urls)))
        .state(FetchTimeout(timeout))
        .register(handlers![async_get_urls_v2, async_get_urls_v1, sync_get_urls])
}

/// URLs from `--url` arguments, else from `ERLEN_URLS` (separated by commas or spaces).
pub fn urls_from(args: &[String], env: Option<&str>) -> Vec<String> {
    let mut urls = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if let Some(url) = arg.strip_prefix("--url=") {
            urls.push(url.to_string());
        } else if arg == "--url" {
            urls.extend(args.next().cloned());
        }
    }
    if let (true, Some(env)) = (urls.is_empty(), env) {
        urls = env.split([',', ' ']).filter(|u| !u.is_empty()).map(str::to_string).collect();
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_arguments_then_the_environment() {
        let args: Vec<String> = ["--url", "http://a", "--url=http://b"].map(String::from).to_vec();
        assert_eq!(urls_from(&args, Some("http://c")), ["http://a", "http://b"]);
        assert_eq!(urls_from(&[], Some("http://c, http://d")), ["http://c", "http://d"]);
        assert!(urls_from(&[], None).is_empty());
    }

    #[test]
    fn the_page_escapes_what_it_shows() {
        let sites = [
            Site { url: "http://x/?a=<b>".into(), status: Ok(200) },
            Site { url: "http://y".into(), status: Err("refused & gone".into()) },
        ];
        let Html(page) = render(&sites);
        assert_eq!(
            page,
            "<h1>URLs:</h1><p>URL: http://x/?a=&lt;b&gt; --- Status Code: 200</p>\
             <p>URL: http://y --- Error: refused &amp; gone</p>"
        );
    }
}
