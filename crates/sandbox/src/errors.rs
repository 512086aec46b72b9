//! The sandbox's own table of Graph API errors → the exact JSON envelopes
//! and HTTP statuses the live API answers with.
//!
//! Keys follow the recorded responses in `fixtures/graph-api/`: plain token
//! errors carry only `message`, `type`, `code`, `fbtrace_id`; content
//! publishing errors add `error_subcode`, `is_transient`,
//! `error_user_title` and `error_user_msg`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// Subcode the sandbox uses for "this container was already published"
/// (code 100). The live API's answer is not documented; what matters is
/// that a second publish never makes a second Story and that the error
/// says "do not retry" rather than "make a new container".
pub const SUBCODE_ALREADY_PUBLISHED: u64 = 2207099;

/// One Graph error, ready to be turned into its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.message`.
    pub message: String,
    /// `error.type`.
    pub kind: &'static str,
    /// `error.code`.
    pub code: i64,
    /// `error.error_subcode`, when the live API sends one.
    pub subcode: Option<u64>,
    /// `error.is_transient`, when the live API sends it.
    pub is_transient: Option<bool>,
    /// `error.error_user_title` and `error.error_user_msg`.
    pub user: Option<Box<(String, String)>>,
    /// Minutes until calls are accepted again (rate limits only): goes into
    /// the usage header's `estimated_time_to_regain_access`.
    pub regain_minutes: Option<u64>,
}

impl GraphError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        GraphError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "OAuthException",
            code,
            subcode: None,
            is_transient: None,
            user: None,
            regain_minutes: None,
        }
    }

    /// A content-publishing style error: every key present.
    fn publishing(code: i64, subcode: u64, message: &str, title: &str, msg: String) -> Self {
        GraphError {
            subcode: Some(subcode),
            is_transient: Some(false),
            user: Some(Box::new((title.into(), msg))),
            ..GraphError::new(code, message)
        }
    }

    /// The JSON body, with a fresh `fbtrace_id`.
    pub fn envelope(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind));
        e.insert("code".into(), json!(self.code));
        if let Some(s) = self.subcode {
            e.insert("error_subcode".into(), json!(s));
        }
        if let Some(t) = self.is_transient {
            e.insert("is_transient".into(), json!(t));
        }
        if let Some(user) = &self.user {
            let (title, msg) = &**user;
            e.insert("error_user_title".into(), json!(title));
            e.insert("error_user_msg".into(), json!(msg));
        }
        e.insert("fbtrace_id".into(), json!(fbtrace_id()));
        json!({ "error": e })
    }

    /// Unknown, garbled or missing token (the recorded 190 envelope).
    pub fn invalid_token() -> Self {
        GraphError::new(190, "The access token could not be decrypted")
    }

    /// A token past its expiry (190 / 463).
    pub fn token_expired(expired_at: &str, now: &str) -> Self {
        GraphError {
            subcode: Some(463),
            ..GraphError::new(
                190,
                format!(
                    "Error validating access token: Session has expired on {expired_at}. The current time is {now}."
                ),
            )
        }
    }

    /// A bad or missing parameter (100).
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        GraphError::new(100, format!("(#100) {}", message.into()))
    }

    /// An object that does not exist or belongs to someone else (100 / 33).
    pub fn unsupported(method: &str, id: &str) -> Self {
        GraphError {
            kind: "GraphMethodException",
            subcode: Some(33),
            ..GraphError::new(
                100,
                format!(
                    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
                ),
            )
        }
    }

    /// A path the sandbox does not serve.
    pub fn unknown_path(path: &str) -> Self {
        GraphError::new(2500, format!("Unknown path components: {path}"))
    }

    /// A field the node does not have.
    pub fn nonexisting_field(field: &str, node: &str) -> Self {
        GraphError::new(
            100,
            format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
        )
    }

    /// Missing permission, or an account that cannot use the API (10).
    pub fn permission(why: &str) -> Self {
        GraphError {
            is_transient: Some(false),
            user: Some(Box::new(("Permission denied".into(), why.into()))),
            ..GraphError::new(
                10,
                "(#10) Application does not have permission for this action",
            )
        }
    }

    /// A transient server error (2), answered with HTTP 500.
    pub fn transient() -> Self {
        GraphError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            is_transient: Some(true),
            ..GraphError::new(
                2,
                "An unexpected error has occurred. Please retry your request later.",
            )
        }
    }

    /// Per app + user call rate exceeded (17).
    pub fn rate_limited(regain_minutes: u64) -> Self {
        GraphError {
            is_transient: Some(true),
            regain_minutes: Some(regain_minutes),
            ..GraphError::new(17, "(#17) User request limit reached")
        }
    }

    /// The media URL could not be fetched (9004 / 2207052), synchronous.
    pub fn media_fetch_failed(url: &str) -> Self {
        GraphError::publishing(
            9004,
            2207052,
            "Only photo or video can be accepted as media type.",
            "Media download has failed",
            format!("The media could not be fetched from this uri: {url}"),
        )
    }

    /// Not a JPEG (36001 / 2207005).
    pub fn image_format(found: &str) -> Self {
        GraphError::publishing(
            36001,
            2207005,
            "The image format is not supported.",
            "Unsupported format",
            format!("The image format is not supported ({found}). Supported formats are: JPEG"),
        )
    }

    /// Over 8 MiB (36000 / 2207004).
    pub fn image_too_large(bytes: u64) -> Self {
        GraphError::publishing(
            36000,
            2207004,
            "The image size is too large.",
            "Image size too large",
            format!(
                "The image is too large to download ({bytes} bytes). It should be less than 8 MiB."
            ),
        )
    }

    /// Aspect ratio outside the sandbox's accepted range (36003 / 2207009).
    pub fn aspect_ratio(width: u32, height: u32) -> Self {
        GraphError::publishing(
            36003,
            2207009,
            "The aspect ratio is not supported.",
            "Invalid Aspect Ratio",
            format!(
                "The submitted image with aspect ratio ('{width}/{height}',) cannot be published. Please submit an image with a valid aspect ratio."
            ),
        )
    }

    /// Container not finished (9007 / 2207027).
    pub fn not_ready() -> Self {
        GraphError::publishing(
            9007,
            2207027,
            "Media ID is not available",
            "Media Not Ready For Publishing",
            "The media is not ready for publishing, please wait for a moment".into(),
        )
    }

    /// Unknown container id (24 / 2207006).
    pub fn container_not_found(id: &str) -> Self {
        GraphError::publishing(
            24,
            2207006,
            "The requested resource does not exist",
            "Media not found",
            format!("The media with id {id} cannot be found"),
        )
    }

    /// Container past its 24 h (24 / 2207008).
    pub fn container_expired() -> Self {
        GraphError::publishing(
            24,
            2207008,
            "The requested resource does not exist",
            "Media builder expired",
            "The media builder does not exist or has expired. Please create a new media container."
                .into(),
        )
    }

    /// The publishing cap is used up (9 / 2207042).
    pub fn quota_reached() -> Self {
        GraphError::publishing(
            9,
            2207042,
            "Application request limit reached",
            "Reached maximum number of posts",
            "You reached maximum number of posts that is allowed to be published by Content Publishing API.".into(),
        )
    }

    /// Too many containers in the rolling 24 h (400 per account). Meta
    /// documents the cap but not its error; the sandbox answers the shape
    /// of the closest documented one, the publishing cap (code 9, subcode
    /// 2207042, every content-publishing key present: "wait for the
    /// window"), with a message that names containers, not posts.
    pub fn too_many_containers(limit: u32) -> Self {
        GraphError::publishing(
            9,
            2207042,
            "Application request limit reached",
            "Too many containers",
            format!("You created the maximum of {limit} media containers allowed in 24 hours. Wait before creating more."),
        )
    }

    /// Story insights under the viewer threshold (code 10), as Meta
    /// answers: `(#10) Not enough viewers for the media to show insights`.
    pub fn not_enough_viewers() -> Self {
        GraphError {
            is_transient: Some(false),
            ..GraphError::new(
                10,
                "(#10) Not enough viewers for the media to show insights",
            )
        }
    }

    /// The container already made a Story (100 / [`SUBCODE_ALREADY_PUBLISHED`]).
    pub fn already_published(media_id: &str) -> Self {
        GraphError::publishing(
            100,
            SUBCODE_ALREADY_PUBLISHED,
            "(#100) This media container has already been published",
            "Media already published",
            format!("This container was already published as media {media_id}; publishing it again would not create a second Story."),
        )
    }

    /// `creation_id` belongs to another account (100).
    pub fn foreign_container(id: &str) -> Self {
        GraphError::invalid_parameter(format!(
            "The media container {id} does not belong to this Instagram account"
        ))
    }
}

/// The error shape of `api.instagram.com/oauth/access_token`, which is not
/// the Graph envelope: `{"error_type","code","error_message"}`.
pub fn oauth_error(message: &str) -> Value {
    json!({ "error_type": "OAuthException", "code": 400, "error_message": message })
}

/// A Graph-style trace id: 23 characters of `[A-Za-z0-9_-]` after an `A`.
pub fn fbtrace_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut s = String::from("A");
    for _ in 0..22 {
        s.push(char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_error_has_only_the_recorded_keys() {
        let v = GraphError::invalid_token().envelope();
        let keys: Vec<_> = v["error"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert!(v["error"]["fbtrace_id"].as_str().unwrap().starts_with('A'));
    }

    #[test]
    fn transient_is_500() {
        let e = GraphError::transient();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.envelope()["error"]["is_transient"], json!(true));
    }
}
