//! The `timing` example's measurement, on a small scale.

use erlen_examples::timing::{Options, measure, render};

#[test]
fn options_parse_and_reject_mistakes() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let o = Options::parse(&args("--calls 4 --latency-ms 100 --requests 3 --backend threaded")).unwrap();
    assert_eq!((o.calls, o.latency_ms, o.requests, o.backends.len()), (4, Some(100), 3, 1));
    assert_eq!(o.latencies(), [100; 4]);
    assert_eq!(Options::default().latencies().len(), 10);
    assert!(Options::parse(&args("--calls zero")).unwrap_err().contains("number"));
    assert!(Options::parse(&args("--fast")).unwrap_err().contains("unknown argument"));
}

#[test]
fn the_default_run_is_announced_as_taking_minutes() {
    // 11 requests (one to warm up) x (8.5 s in sequence + 2 x 1.5 s at once), on 2 backends.
    assert_eq!(Options::default().estimate().as_secs(), 252);
    let quick = Options::parse(&["--latency-ms", "100", "--requests", "4"].map(String::from)).unwrap();
    assert_eq!(quick.estimate().as_millis(), 5 * (1000 + 200) * 2);
}

#[test]
fn concurrency_wins_on_both_backends() {
    let options =
        Options::parse(&["--calls", "6", "--latency-ms", "60", "--requests", "2"].map(String::from)).unwrap();
    let reports = measure(&options).unwrap();
    assert_eq!(reports.len(), 2);
    for report in &reports {
        assert!((report.ideal - 6.0).abs() < 1e-9);
        // Six 60 ms calls: 360 ms in sequence, 60 ms at once. Generous: at least 3x.
        assert!(report.speedup() > 3.0, "{}", render(report, &options));
        let table = render(report, &options);
        for kind in ["Synchronous", "Asynchronous (v2)", "Bridge (v1)", "Average Time (seconds)"] {
            assert!(table.contains(kind), "{table}");
        }
    }
}
