//! What a Story *is*, as the ledger keys it: the account's job entry —
//! a template with its feed and row key, a video source and part, a file
//! or a URL — with the day (`daily`) or the schedule entry (`tick`) in
//! front. Paths are made absolute so a run from another directory names
//! the same Story; URLs lose their query, so a new signature does not
//! make a new Story (and none is stored).

use std::path::{Path, PathBuf};

/// The absolute form of `p` (symlinks resolved when it exists).
pub fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// `scope|rest`, or `rest` alone.
fn scoped(scope: Option<&str>, rest: String) -> String {
    match scope {
        Some(s) if !s.is_empty() => format!("{s}|{rest}"),
        _ => rest,
    }
}

/// A template's Story for one feed row key (`row:3`, `sku=A1`) or `once`.
pub fn template(scope: Option<&str>, template: &Path, feed: Option<&Path>, key: &str) -> String {
    let feed = match feed {
        Some(f) if is_url(&f.to_string_lossy()) => {
            format!("|feed:{}", without_query(&f.to_string_lossy()))
        }
        Some(f) => format!("|feed:{}", absolute(f).display()),
        None => String::new(),
    };
    scoped(
        scope,
        format!("template:{}{feed}|key:{key}", absolute(template).display()),
    )
}

/// The prefix every part of a video source's identity starts with.
pub fn video_prefix(scope: Option<&str>, source: &Path) -> String {
    scoped(scope, format!("video:{}|part:", absolute(source).display()))
}

/// Part `part` of `parts` of a video source.
pub fn video(scope: Option<&str>, source: &Path, part: u32, parts: u32) -> String {
    format!("{}{part}/{parts}", video_prefix(scope, source))
}

/// A ready Story file.
pub fn file(scope: Option<&str>, path: &Path) -> String {
    scoped(scope, format!("file:{}", absolute(path).display()))
}

/// A Story already at a public URL.
pub fn url(scope: Option<&str>, url: &str) -> String {
    scoped(scope, format!("url:{}", without_query(url)))
}

/// True for an `http(s)://` address (feeds may be remote).
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

fn without_query(u: &str) -> String {
    let base = u.split(['?', '#']).next().unwrap_or(u);
    // Drop any user:pass@ too.
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/{path}")
        }
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_name_what_a_story_is() {
        let t = template(
            Some("day:2026-12-03"),
            Path::new("/t/a.yaml"),
            Some(Path::new("/f/x.csv")),
            "sku=A1",
        );
        assert_eq!(
            t,
            "day:2026-12-03|template:/t/a.yaml|feed:/f/x.csv|key:sku=A1"
        );
        assert_eq!(
            video(None, Path::new("/v/c.mp4"), 1, 2),
            "video:/v/c.mp4|part:1/2"
        );
        assert!(video(None, Path::new("/v/c.mp4"), 1, 2)
            .starts_with(&video_prefix(None, Path::new("/v/c.mp4"))));
        assert_eq!(
            url(
                Some("schedule:4"),
                "https://u:p@cdn.example/a.jpg?X-Amz-Signature=s"
            ),
            "schedule:4|url:https://cdn.example/a.jpg"
        );
        let rel = file(None, Path::new("x.jpg"));
        assert!(rel.starts_with("file:/"), "{rel}");
    }
}
