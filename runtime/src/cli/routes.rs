//! `routes`: the app's routes, as `flask routes` prints them: a table of endpoint,
//! methods and rule, sorted by endpoint, HEAD and OPTIONS left out unless asked for.

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::output::Output;
use crate::app::AppCore;

pub(super) fn command() -> Command {
    Command::new("routes")
        .about("Show the routes of the app")
        .long_about("Show every route of the app: its endpoint, methods and rule, as `flask routes`.")
        .arg(
            Arg::new("sort")
                .long("sort")
                .short('s')
                .value_parser(["endpoint", "methods", "rule", "match"])
                .default_value("endpoint")
                .help("Sort by this column; `match` is the order the routes were registered in"),
        )
        .arg(
            Arg::new("all-methods")
                .long("all-methods")
                .action(ArgAction::SetTrue)
                .help("Show HEAD and OPTIONS, which every route answers"),
        )
}

/// Prints the table.
pub(super) fn print(app: &AppCore, args: &ArgMatches, out: &Output) -> u8 {
    let sort = args.get_one::<String>("sort").map_or("endpoint", String::as_str);
    let all = args.get_flag("all-methods");
    out.out(&table(app, sort, all));
    0
}

/// The table, one line a route, each line's trailing space trimmed as Flask does.
pub(crate) fn table(app: &AppCore, sort: &str, all_methods: bool) -> String {
    // (endpoint, methods, rule, registration order)
    let mut rows: Vec<[String; 3]> = Vec::new();
    let mut order: Vec<(usize, usize)> = Vec::new();
    for (pattern, methods, endpoint) in app.router.routes() {
        let Some(e) = app.endpoints.get(endpoint) else { continue };
        let mut names: Vec<&str> =
            methods.into_iter().filter(|m| !matches!(*m, "HEAD" | "OPTIONS")).collect();
        if all_methods {
            if names.contains(&"GET") {
                names.push("HEAD");
            }
            names.push("OPTIONS");
        }
        names.sort_unstable();
        let position = e.patterns.iter().position(|p| p.as_str() == pattern).unwrap_or(0);
        order.push((endpoint, position));
        rows.push([e.name.to_string(), names.join(", "), pattern.to_string()]);
    }
    if rows.is_empty() {
        return "No routes were registered.\n".to_string();
    }
    let mut indexed: Vec<(usize, [String; 3])> = rows.into_iter().enumerate().collect();
    match sort {
        "methods" => indexed.sort_by(|a, b| (&a.1[1], &a.1[0]).cmp(&(&b.1[1], &b.1[0]))),
        "rule" => indexed.sort_by(|a, b| a.1[2].cmp(&b.1[2])),
        "match" => indexed.sort_by_key(|(i, _)| order[*i]),
        _ => indexed.sort_by(|a, b| (&a.1[0], &a.1[2]).cmp(&(&b.1[0], &b.1[2]))),
    }
    let header = ["Endpoint".to_string(), "Methods".to_string(), "Rule".to_string()];
    let body: Vec<[String; 3]> = indexed.into_iter().map(|(_, row)| row).collect();
    let widths: Vec<usize> = (0..3)
        .map(|i| body.iter().chain(std::iter::once(&header)).map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let rule: [String; 3] = [0, 1, 2].map(|i| "-".repeat(widths[i]));
    let mut text = String::new();
    for row in std::iter::once(&header).chain(std::iter::once(&rule)).chain(body.iter()) {
        let line = format!("{:<w0$}  {:<w1$}  {}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1]);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
