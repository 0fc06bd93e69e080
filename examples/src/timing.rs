//! Reproduces the article's timing table: the `async_urls` app is served (on each
//! backend), its routes are called over HTTP one request at a time, and the average and
//! median times are compared with the ideal speedup of concurrency, which is the sum of
//! the upstream latencies over the slowest of them (no schedule beats the slowest call).

use std::io;
use std::time::{Duration, Instant};

use erlen::{Backend, Server};

use crate::async_urls;
use crate::upstream::{Upstream, spread};

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Upstream URLs per request.
    pub calls: usize,
    /// Every upstream answers after this many ms; `None`: a fixed spread over 200..1500 ms.
    pub latency_ms: Option<u64>,
    /// Requests per route.
    pub requests: usize,
    /// The backends to serve on.
    pub backends: Vec<Backend>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            calls: 10,
            latency_ms: None,
            requests: 10,
            backends: vec![Backend::Async, Backend::Threaded { workers: 8 }],
        }
    }
}

impl Options {
    /// Parses `--calls N`, `--latency-ms L`, `--requests N` and `--backend async|threaded`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut backends = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            let number = |name: &str, v: String| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name} takes a number above 0, not {v:?}"))
            };
            match arg.as_str() {
                "--calls" => options.calls = number("--calls", value("--calls")?)? as usize,
                "--latency-ms" => options.latency_ms = Some(number("--latency-ms", value("--latency-ms")?)?),
                "--requests" => options.requests = number("--requests", value("--requests")?)? as usize,
                "--backend" => backends.push(match value("--backend")?.as_str() {
                    "async" => Backend::Async,
                    "threaded" => Backend::Threaded { workers: 8 },
                    other => return Err(format!("--backend takes `async` or `threaded`, not {other:?}")),
                }),
                other => {
                    return Err(format!(
                        "unknown argument {other:?}: expected --calls N, --latency-ms L, --requests N, --backend async|threaded"
                    ));
                }
            }
        }
        if !backends.is_empty() {
            options.backends = backends;
        }
        Ok(options)
    }

    /// The upstream latency of each call.
    pub fn latencies(&self) -> Vec<u64> {
        match self.latency_ms {
            Some(ms) => vec![ms; self.calls],
            None => spread(self.calls),
        }
    }

    /// About how long [`measure`] takes: on each backend, every request (and one warm-up
    /// per route) waits for the sum of the latencies on the sequential route, and for the
    /// slowest one on the two concurrent routes.
    pub fn estimate(&self) -> Duration {
        let latencies = self.latencies();
        let per_request = latencies.iter().sum::<u64>() + 2 * latencies.iter().copied().max().unwrap_or(0);
        let per_backend = per_request * (self.requests as u64 + 1);
        Duration::from_millis(per_backend * self.backends.len() as u64)
    }
}

/// What [`measure_with_progress`] reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// Serving on this backend starts.
    Backend(Backend),
    /// Timing this route starts (after its warm-up request).
    Route { kind: &'static str, path: &'static str },
    /// One timed request finished.
    Request(Duration),
    /// The route is done.
    RouteDone(&'a Row),
}

/// The timings of one route.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: &'static str,
    pub path: &'static str,
    pub times: Vec<Duration>,
}

impl Row {
    pub fn average(&self) -> f64 {
        self.times.iter().map(Duration::as_secs_f64).sum::<f64>() / self.times.len().max(1) as f64
    }

    pub fn median(&self) -> f64 {
        let mut secs: Vec<f64> = self.times.iter().map(Duration::as_secs_f64).collect();
        secs.sort_by(f64::total_cmp);
        match secs.len() {
            0 => 0.0,
            n if n % 2 == 1 => secs[n / 2],
            n => (secs[n / 2 - 1] + secs[n / 2]) / 2.0,
        }
    }
}

/// The timings on one backend.
#[derive(Clone, Debug)]
pub struct Report {
    pub backend: Backend,
    pub rows: Vec<Row>,
    /// Sum of the latencies over the slowest one.
    pub ideal: f64,
}

impl Report {
    /// How many times faster the concurrent route is than the sequential one (averages).
    pub fn speedup(&self) -> f64 {
        let avg = |kind: &str| self.rows.iter().find(|r| r.kind == kind).map(Row::average).unwrap_or(0.0);
        avg("Synchronous") / avg("Asynchronous (v2)").max(f64::EPSILON)
    }
}

/// The routes timed, with the article's names for them.
pub const ROUTES: [(&str, &str); 3] = [
    ("Synchronous", "/sync_get_urls"),
    ("Asynchronous (v2)", "/async_get_urls_v2"),
    ("Bridge (v1)", "/async_get_urls_v1"),
];

/// Serves the app on each backend and times its routes.
pub fn measure(options: &Options) -> io::Result<Vec<Report>> {
    measure_with_progress(options, |_| {})
}

/// [`measure`], telling `progress` about each step: the default run takes minutes.
pub fn measure_with_progress(
    options: &Options,
    mut progress: impl FnMut(Progress),
) -> io::Result<Vec<Report>> {
    let latencies = options.latencies();
    let ideal =
        latencies.iter().sum::<u64>() as f64 / latencies.iter().copied().max().unwrap_or(1).max(1) as f64;
    let upstream = Upstream::start()?;
    let urls = upstream.urls(&latencies);
    let client = reqwest::Client::new();
    let mut reports = Vec::new();
    for &backend in &options.backends {
        progress(Progress::Backend(backend));
        let server = Server::bind("127.0.0.1:0").backend(backend).spawn(async_urls::app(urls.clone()))?;
        let mut rows = Vec::new();
        for (kind, path) in ROUTES {
            let url = format!("http://{}{path}", server.addr());
            let call = || -> io::Result<Duration> {
                let start = Instant::now();
                let page = erlen::block_on(async {
                    client.get(&url).send().await?.error_for_status()?.text().await
                })
                .map_err(io::Error::other)?;
                let took = start.elapsed();
                if page.matches("Status Code: 200").count() != latencies.len() {
                    return Err(io::Error::other(format!("{path} did not list every URL with 200: {page}")));
                }
                Ok(took)
            };
            call()?; // warm up: connections to the app and the upstream
            progress(Progress::Route { kind, path });
            let mut times = Vec::with_capacity(options.requests);
            for _ in 0..options.requests {
                let took = call()?;
                progress(Progress::Request(took));
                times.push(took);
            }
            let row = Row { kind, path, times };
            progress(Progress::RouteDone(&row));
            rows.push(row);
        }
        server.shutdown();
        reports.push(Report { backend, rows, ideal });
    }
    Ok(reports)
}

/// The backend as the tables name it.
pub fn backend_name(backend: Backend) -> String {
    match backend {
        Backend::Async => "async backend (hyper on tokio)".to_string(),
        Backend::Threaded { workers } => format!("threaded backend ({workers} workers)"),
    }
}

/// The report as the article's table, plus the speedups.
pub fn render(report: &Report, options: &Options) -> String {
    let backend = backend_name(report.backend);
    let latency = match options.latency_ms {
        Some(ms) => format!("{} upstream calls of {ms} ms each", options.calls),
        None => format!("{} upstream calls of 200..1500 ms", options.calls),
    };
    let mut out = format!("{backend}: {latency}, {} requests per route\n\n", options.requests);
    out.push_str("| Type              | Average Time (seconds) | Median Time (seconds) |\n");
    out.push_str("|-------------------|------------------------|-----------------------|\n");
    for row in &report.rows {
        out.push_str(&format!("| {:<17} | {:>22.6} | {:>21.6} |\n", row.kind, row.average(), row.median()));
    }
    let speedup = report.speedup();
    out.push_str(&format!(
        "\nasync over sync: {speedup:.2}x; ideal {:.2}x (sum of latencies / slowest); {:.0}% of ideal\n",
        report.ideal,
        100.0 * speedup / report.ideal
    ));
    out
}
