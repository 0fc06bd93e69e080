//! What the request context may ask of the app (see [`AppHandle`]): its features, its
//! endpoints' names, and URLs.

use std::any::Any;

use super::core::AppCore;
use crate::context::{AppHandle, Features, RequestContext};

impl AppHandle for AppCore {
    fn features(&self) -> &Features {
        &self.features
    }

    fn endpoint_name(&self, index: usize) -> &str {
        self.endpoints.get(index).map_or("", |e| &e.name)
    }

    fn url_for(
        &self,
        ctx: &RequestContext,
        endpoint: &str,
        values: &[(&str, &str)],
        query: bool,
        external: bool,
        anchor: Option<&str>,
    ) -> Result<String, String> {
        let index = crate::urls::resolve(self, Some(ctx), endpoint).map_err(|e| e.to_string())?;
        let endpoint = &self.endpoints[index];
        let path = crate::urls::build(&endpoint.name, endpoint.url_pattern(), values, query)
            .map_err(|e| e.to_string())?;
        Ok(crate::urls::finish(ctx, path, external, anchor))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
