//! The view of the app's and blueprints' static folders: Flask's `static` endpoint, which
//! serves a file of the folder with [`send_from_directory`].

use super::core::AppCore;
use crate::error::{HttpError, abort};
use crate::files::send_from_directory;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// The view of every static folder: `GET <prefix>/static/<path:filename>`.
pub(crate) fn static_view(req: &mut Request) -> Result<Response, HttpError> {
    let ctx = crate::context::expect("a static folder");
    let app = ctx.app.as_any().downcast_ref::<AppCore>();
    let dir = ctx
        .endpoint
        .and_then(|e| app?.endpoints[e].static_dir.as_ref())
        .ok_or_else(|| HttpError::internal("the static view was reached without a static folder"))?;
    let name = req.param("filename").ok_or_else(|| abort(404))?;
    send_from_directory(dir, name).into_outcome()
}
