//! The sessions dashboard, served by Iris itself: `/ui/` (one self-contained page, no
//! external assets) and `/api/sessions[/<id>]` (JSON). Admins see every session; users see
//! their own.

use super::sessions::{self, SharedStore};
use crate::grants::Role;
use crate::identity::Identity;
use serde_json::json;

/// The page, embedded at build time.
pub const PAGE: &str = include_str!("dashboard.html");

/// A dashboard request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `/ui` without the slash: redirect, so the page's relative URLs resolve.
    Redirect,
    Page,
    List,
    Session(String),
}

/// Which dashboard resource a path names, if any.
pub fn route(path: &str) -> Option<Request> {
    let path = path.split('?').next().unwrap_or_default();
    match path {
        "/ui" => Some(Request::Redirect),
        "/ui/" | "/ui/index.html" => Some(Request::Page),
        "/api/sessions" | "/api/sessions/" => Some(Request::List),
        _ => path
            .strip_prefix("/api/sessions/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| Request::Session(id.to_string())),
    }
}

/// The JSON answer for an API request by `who` with `role`: status and body.
pub fn api(req: &Request, store: &dyn SharedStore, who: &Identity, role: Role) -> (u16, Vec<u8>) {
    let only = if role == Role::Admin {
        None
    } else {
        Some(who.user.as_str())
    };
    let viewer =
        json!({"user": who.user, "role": if role == Role::Admin { "admin" } else { "user" }});
    match req {
        Request::List => {
            let list = sessions::list(store, only);
            (
                200,
                json!({"viewer": viewer, "sessions": list})
                    .to_string()
                    .into_bytes(),
            )
        }
        Request::Session(id) => match sessions::get(store, id) {
            Some(mut s)
                if only.is_none_or(|u| s.get("user").and_then(|v| v.as_str()) == Some(u)) =>
            {
                let requests = s
                    .as_object_mut()
                    .and_then(|o| o.remove("recent"))
                    .unwrap_or(json!([]));
                (
                    200,
                    json!({"viewer": viewer, "session": s, "requests": requests})
                        .to_string()
                        .into_bytes(),
                )
            }
            _ => (
                404,
                json!({"error": {"message": format!("no session {id:?}")}})
                    .to_string()
                    .into_bytes(),
            ),
        },
        Request::Redirect | Request::Page => (404, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn routes() {
        assert_eq!(route("/ui"), Some(Request::Redirect));
        assert_eq!(route("/ui/?x=1"), Some(Request::Page));
        assert_eq!(route("/api/sessions"), Some(Request::List));
        assert_eq!(
            route("/api/sessions/fp_12"),
            Some(Request::Session("fp_12".into()))
        );
        assert_eq!(route("/api/sessions/a/b"), None);
        assert_eq!(route("/v1/models"), None);
    }

    #[test]
    fn the_page_needs_nothing_from_outside() {
        assert!(PAGE.contains("<html") || PAGE.contains("<!doctype") || PAGE.contains("<!DOCTYPE"));
        for external in ["http://", "https://", "//cdn", "@import"] {
            assert!(!PAGE.contains(&format!("src=\"{external}")), "{external}");
            assert!(!PAGE.contains(&format!("href=\"{external}")), "{external}");
        }
    }
}
