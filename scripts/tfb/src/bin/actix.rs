//! TechEmpower's six tests on actix-web 4, written as actix-web's guide writes handlers.
//!
//! ```sh
//! DATABASE_URL=... TFB_POOL_SIZE=16 TFB_THREADS=1 actix 127.0.0.1:18302
//! ```

use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use tfb_peers::{Db, HELLO, Message, Params, fortunes_page, memory_fortunes, query_count, settings};

#[derive(Debug)]
struct Failed(tfb_peers::Error);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Failed {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl<E: Into<tfb_peers::Error>> From<E> for Failed {
    fn from(e: E) -> Failed {
        Failed(e.into())
    }
}

async fn plaintext() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body(HELLO)
}

async fn json() -> web::Json<Message> {
    web::Json(Message { message: HELLO })
}

async fn db(db: web::Data<Db>) -> Result<HttpResponse, Failed> {
    Ok(HttpResponse::Ok().json(db.world().await?))
}

async fn queries(db: web::Data<Db>, p: web::Query<Params>) -> Result<HttpResponse, Failed> {
    Ok(HttpResponse::Ok().json(db.worlds(query_count(p.queries.as_deref())).await?))
}

async fn fortunes(db: web::Data<Db>) -> Result<HttpResponse, Failed> {
    let page = fortunes_page(db.fortunes().await?)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page))
}

async fn fortunes_in_memory() -> Result<HttpResponse, Failed> {
    let page = fortunes_page(memory_fortunes())?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page))
}

async fn updates(db: web::Data<Db>, p: web::Query<Params>) -> Result<HttpResponse, Failed> {
    Ok(HttpResponse::Ok().json(db.update(query_count(p.queries.as_deref())).await?))
}

fn main() -> Result<(), tfb_peers::Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let (url, pool_size, threads) = settings();
    let pool = web::Data::new(Db::new(&url, pool_size)?);
    eprintln!("actix-web listening on http://{addr}, database {url}");
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(pool.clone())
                .wrap(DefaultHeaders::new().add(("Server", "actix")))
                .route("/plaintext", web::get().to(plaintext))
                .route("/json", web::get().to(json))
                .route("/db", web::get().to(db))
                .route("/queries", web::get().to(queries))
                .route("/fortunes", web::get().to(fortunes))
                .route("/updates", web::get().to(updates))
                .route("/memory/fortunes", web::get().to(fortunes_in_memory))
        })
        .workers(threads)
        .bind(&addr)?
        .run(),
    )?;
    Ok(())
}
