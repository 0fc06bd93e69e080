//! `cargo run --release --example timing [-- --latency-ms 100 --calls 10 --requests 10]`:
//! the article's timing table, measured over HTTP on both backends.

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
    match timing::measure(&options) {
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
