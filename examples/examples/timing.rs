//! `cargo run --release --example timing [-- --latency-ms 100 --calls 10 --requests 10]`:
//! the article's timing table, measured over HTTP on both backends. Progress goes to
//! stderr as each request ends (the default run takes about four minutes), the tables to
//! stdout.

use erlen_examples::timing;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match timing::Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // The default run takes about four minutes: say so, then show each request as it ends.
    let estimate = options.estimate().as_secs();
    let estimate =
        if estimate < 90 { format!("{estimate} s") } else { format!("{} minutes", (estimate + 30) / 60) };
    eprintln!(
        "timing {} routes, {} requests each (after one to warm up), on {} backend(s): about {estimate}",
        timing::ROUTES.len(),
        options.requests,
        options.backends.len(),
    );
    let progress = |step: timing::Progress| match step {
        timing::Progress::Backend(backend) => eprintln!("{}:", timing::backend_name(backend)),
        timing::Progress::Route { kind, path } => eprint!("  {kind:<17} {path:<19} "),
        timing::Progress::Request(_) => eprint!("."),
        timing::Progress::RouteDone(row) => eprintln!(" {:.3} s on average", row.average()),
    };
    match timing::measure_with_progress(&options, progress) {
        Ok(reports) => {
            for report in &reports {
                println!("{}", timing::render(report, &options));
            }
        }
        Err(e) => {
            eprintln!("timing failed: {e}");
            std::process::exit(1);
        }
    }
}
