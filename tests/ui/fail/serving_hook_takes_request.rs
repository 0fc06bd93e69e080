use erlen::prelude::*;

#[before_serving]
fn warm_up(req: &Request) {
    let _ = req;
}

#[after_serving]
async fn flush(req: &mut Request, State(n): State<u32>) {
    let _ = (req, n);
}

fn main() {}
