//! The guide's forms and APIs example (`docs/forms-and-apis.md`): posts, written through a
//! server-rendered form or a JSON API, both validated with `garde`, the form protected
//! against CSRF, the API described by an OpenAPI document (`cargo run -p
//! erlen-forms-examples --example forms`, then open <http://127.0.0.1:5000/> and
//! <http://127.0.0.1:5000/openapi.json>).
//!
//! The pages blueprint renders the form again with each message next to its input when a
//! post is invalid; the API blueprint answers erlen's JSON 422, and is exempt from CSRF
//! protection (its clients are scripts that send no session cookie).

use std::sync::Mutex;

use erlen::prelude::*;
use serde::{Deserialize, Serialize};

/// A post as it is stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Post {
    pub id: u32,
    pub title: String,
    pub body: String,
}

/// A post to write: what the form and the API take.
#[derive(Debug, Deserialize, Serialize, garde::Validate, schemars::JsonSchema)]
pub struct NewPost {
    /// Between 1 and 100 characters.
    #[garde(length(chars, min = 1, max = 100))]
    pub title: String,
    /// At most 10,000 characters.
    #[garde(length(chars, max = 10_000))]
    #[serde(default)]
    pub body: String,
}

/// Which page of the list.
#[derive(Debug, Deserialize, garde::Validate, schemars::JsonSchema)]
pub struct Page {
    /// The page, from 1.
    #[garde(range(min = 1))]
    #[serde(default = "first")]
    pub page: usize,
    /// Posts per page, 1 to 50.
    #[garde(range(min = 1, max = 50))]
    #[serde(default = "ten")]
    pub per_page: usize,
}

fn first() -> usize {
    1
}

fn ten() -> usize {
    10
}

/// The posts, in memory.
#[derive(Default)]
pub struct Posts(Mutex<Vec<Post>>);

impl Posts {
    fn add(&self, new: NewPost) -> Post {
        let mut posts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let post = Post { id: posts.len() as u32 + 1, title: new.title, body: new.body };
        posts.push(post.clone());
        post
    }

    fn all(&self) -> Vec<Post> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub mod pages {
    use super::*;

    /// The posts and the form to write one.
    #[get("/")]
    pub fn index(State(posts): State<Posts>) -> Template {
        render_template("index.html", context! { posts => posts.all(), errors => context! {} })
    }

    /// Writes a post from the form, then shows the list.
    #[post("/posts")]
    pub fn create(State(posts): State<Posts>, Valid(Form(new)): Valid<Form<NewPost>>) -> Redirect {
        posts.add(new);
        redirect(url_for!(index))
    }

    /// An invalid post: the form again, with what was typed and each message next to its
    /// input.
    #[errorhandler(ValidationErrors)]
    pub fn invalid(err: &ValidationErrors, State(posts): State<Posts>) -> (StatusCode, Template) {
        let page = render_template("index.html", context! { posts => posts.all(), errors => err.by_field() });
        (StatusCode::UNPROCESSABLE_ENTITY, page)
    }
}

pub mod api {
    use super::*;

    /// Lists the posts.
    ///
    /// Oldest first, `per_page` at a time.
    #[get("/posts")]
    pub fn list(State(posts): State<Posts>, Valid(Query(page)): Valid<Query<Page>>) -> Json<Vec<Post>> {
        let all = posts.all();
        Json(all.into_iter().skip((page.page - 1) * page.per_page).take(page.per_page).collect())
    }

    /// Writes a post.
    #[post("/posts")]
    pub async fn create(
        State(posts): State<Posts>,
        Valid(Json(new)): Valid<Json<NewPost>>,
    ) -> (StatusCode, Json<Post>) {
        (StatusCode::CREATED, Json(posts.add(new)))
    }

    /// One post.
    #[get("/posts/<int:id>")]
    pub fn show(id: u32, State(posts): State<Posts>) -> Option<Json<Post>> {
        posts.all().into_iter().find(|p| p.id == id).map(Json)
    }
}

/// The app: the pages under `/`, the API under `/api`, the document at `/openapi.json`.
pub fn app() -> App {
    let pages = Blueprint::new("pages").register(handlers![pages::index, pages::create, pages::invalid]);
    let api = Blueprint::new("api").url_prefix("/api").csrf_exempt().register(handlers![
        api::list,
        api::create,
        api::show
    ]);
    App::new()
        .secret_key(std::env::var("ERLEN_SECRET_KEY").unwrap_or_else(|_| "dev".into()))
        .template_folder(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
        .state(Posts::default())
        .csrf_protect()
        .openapi("/openapi.json")
        .openapi_info("Posts", "1.0.0")
        .register_blueprint(pages)
        .register_blueprint(api)
}
