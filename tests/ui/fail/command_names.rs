use erlen::prelude::*;

#[command]
fn run() {}

#[command("routes")]
fn list() {}

#[command("--init")]
fn init() {}

#[command(init)]
fn init2() {}

fn main() {}
