//! What a Story *is*, as the ledger keys it: an [`Identity`] — a scope
//! (the day for `daily`, the schedule entry for `tick`, none for `run`
//! and `publish`) and a subject (a template with its feed and row key, a
//! video source and part, a file, a URL). The account is kept beside it.
//!
//! Paths are written relative to a [`Base`] (the job file's folder, or
//! the settings file's), with symlinks resolved on both sides, so moving
//! the project, deploying it as `current -> releases/N` or mounting it
//! elsewhere keeps every identity. A URL keeps its query and `#pointer`
//! (two feeds that differ only there are two feeds) but loses its
//! credentials and signature-like values ([`crate::util::redact::stable_url`]),
//! so none is stored and a new signature is not a new Story.
//!
//! [`Identity::encode`] is the one stable form the ledger stores;
//! `Display` is for people. [`legacy`] gives the form earlier releases
//! stored (absolute paths, `row:N` keys), so a run can adopt their rows.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::util::redact::stable_url;

/// The folder identities' paths are relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base(PathBuf);

impl Base {
    /// `dir`, symlinks resolved when it exists.
    pub fn new(dir: &Path) -> Base {
        Base(absolute(dir))
    }

    /// How `p` is named in an identity: a URL through [`stable_url`]; a
    /// path relative to the base (`templates/a.yaml`, `../feeds/x.csv`)
    /// when the two share a folder below the root, else absolute
    /// (symlinks resolved either way).
    pub fn locate(&self, p: &Path) -> String {
        use std::path::Component;
        let shown = p.to_string_lossy();
        if is_url(&shown) {
            return stable_url(&shown);
        }
        let full = absolute(p);
        let (a, b): (Vec<Component>, Vec<Component>) =
            (self.0.components().collect(), full.components().collect());
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let shares_a_folder = a
            .iter()
            .take(common)
            .any(|c| matches!(c, Component::Normal(_)));
        if !shares_a_folder {
            return full.to_string_lossy().into_owned();
        }
        let mut rel = PathBuf::new();
        for _ in common..a.len() {
            rel.push("..");
        }
        for c in &b[common..] {
            rel.push(c);
        }
        rel.to_string_lossy().into_owned()
    }
}

pub use crate::feed::keys::RowKey;

/// What a Story is made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A template, with its feed and the row's key.
    Template {
        /// The template file (as [`Base::locate`] names it).
        template: String,
        /// The feed, when there is one.
        feed: Option<String>,
        /// The row.
        key: RowKey,
    },
    /// Part `part` of `parts` of a video source.
    Video {
        /// The source video.
        source: String,
        /// 1-based part.
        part: u32,
        /// Parts in all.
        parts: u32,
    },
    /// A ready Story file.
    File {
        /// The file.
        path: String,
    },
    /// A Story already at a public URL.
    Url {
        /// The URL without credentials or signatures.
        url: String,
    },
}

/// One Story: a scope and a subject (the account is kept beside it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `day:2026-12-03` for `daily`, `schedule:7` for `tick`, none for `run`.
    pub scope: Option<String>,
    /// What it is made from.
    pub subject: Subject,
}

impl Identity {
    fn new(scope: Option<&str>, subject: Subject) -> Identity {
        Identity {
            scope: scope.filter(|s| !s.is_empty()).map(str::to_string),
            subject,
        }
    }

    /// A template's Story for one feed row (or [`RowKey::Once`]).
    pub fn template(
        scope: Option<&str>,
        base: &Base,
        template: &Path,
        feed: Option<&Path>,
        key: RowKey,
    ) -> Identity {
        Identity::new(
            scope,
            Subject::Template {
                template: base.locate(template),
                feed: feed.map(|f| base.locate(f)),
                key,
            },
        )
    }

    /// Part `part` of `parts` of a video source.
    pub fn video(
        scope: Option<&str>,
        base: &Base,
        source: &Path,
        part: u32,
        parts: u32,
    ) -> Identity {
        Identity::new(
            scope,
            Subject::Video {
                source: base.locate(source),
                part,
                parts,
            },
        )
    }

    /// What every part of a video source's encoded identity starts with.
    pub fn video_prefix(scope: Option<&str>, base: &Base, source: &Path) -> String {
        let whole = Identity::video(scope, base, source, 0, 0).encode();
        whole.trim_end_matches("0/0").to_string()
    }

    /// A ready Story file.
    pub fn file(scope: Option<&str>, base: &Base, path: &Path) -> Identity {
        Identity::new(
            scope,
            Subject::File {
                path: base.locate(path),
            },
        )
    }

    /// A Story already at a public URL.
    pub fn url(scope: Option<&str>, url: &str) -> Identity {
        Identity::new(
            scope,
            Subject::Url {
                url: stable_url(url),
            },
        )
    }

    /// The one form the ledger stores (never parsed back).
    pub fn encode(&self) -> String {
        let subject = match &self.subject {
            Subject::Template {
                template,
                feed,
                key,
            } => {
                let feed = feed
                    .as_ref()
                    .map(|f| format!("|feed:{f}"))
                    .unwrap_or_default();
                format!("template:{template}{feed}|key:{}", key.encode())
            }
            Subject::Video {
                source,
                part,
                parts,
            } => format!("video:{source}|part:{part}/{parts}"),
            Subject::File { path } => format!("file:{path}"),
            Subject::Url { url } => format!("url:{url}"),
        };
        match &self.scope {
            Some(s) => format!("{s}|{subject}"),
            None => subject,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::Template {
                template,
                feed: Some(feed),
                key,
            } => write!(
                f,
                "{template} × {} ({key})",
                crate::util::redact::redact_url(feed)
            )?,
            Subject::Template {
                template,
                feed: None,
                ..
            } => f.write_str(template)?,
            Subject::Video {
                source,
                part,
                parts,
            } => write!(f, "{source} part {part}/{parts}")?,
            Subject::File { path } => f.write_str(path)?,
            Subject::Url { url } => f.write_str(&crate::util::redact::redact_url(url))?,
        }
        match &self.scope {
            Some(s) => write!(f, " [{s}]"),
            None => Ok(()),
        }
    }
}

/// The absolute form of `p` (symlinks resolved when it exists).
pub fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// True for an `http(s)://` address (feeds may be remote).
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The identities earlier releases stored: absolute paths, URLs without
/// query, feed rows by position (`row:N`) unless a `key:` column was set.
/// Only used to find and adopt such rows (see `docs/exactly-once.md`).
pub mod legacy {
    use std::path::Path;

    use super::{absolute, is_url, RowKey};

    fn scoped(scope: Option<&str>, rest: String) -> String {
        match scope {
            Some(s) if !s.is_empty() => format!("{s}|{rest}"),
            _ => rest,
        }
    }

    fn without_query(u: &str) -> String {
        let base = u.split(['?', '#']).next().unwrap_or(u);
        match base.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                let host = host.rsplit('@').next().unwrap_or(host);
                format!("{scheme}://{host}/{path}")
            }
            None => base.to_string(),
        }
    }

    /// The old key of a row: its `key:` column when the job set one, else
    /// `row:N` (`position`), `once` without a feed.
    pub fn row_key(key: &RowKey, job_key: bool, position: Option<usize>) -> String {
        match (key, position) {
            (RowKey::Column { name, value }, _) if job_key => format!("{name}={value}"),
            (_, Some(n)) if n > 0 => format!("row:{n}"),
            _ => "once".into(),
        }
    }

    /// A template's Story as earlier releases named it.
    pub fn template(
        scope: Option<&str>,
        template: &Path,
        feed: Option<&Path>,
        key: &str,
    ) -> String {
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

    /// A video part as earlier releases named it.
    pub fn video(scope: Option<&str>, source: &Path, part: u32, parts: u32) -> String {
        scoped(
            scope,
            format!("video:{}|part:{part}/{parts}", absolute(source).display()),
        )
    }

    /// A file as earlier releases named it.
    pub fn file(scope: Option<&str>, path: &Path) -> String {
        scoped(scope, format!("file:{}", absolute(path).display()))
    }

    /// A URL as earlier releases named it.
    pub fn url(scope: Option<&str>, url: &str) -> String {
        scoped(scope, format!("url:{}", without_query(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_name_what_a_story_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = Base::new(dir.path());
        let t = Identity::template(
            Some("day:2026-12-03"),
            &base,
            &dir.path().join("t/a.yaml"),
            Some(&dir.path().join("f/x.csv")),
            RowKey::Column {
                name: "sku".into(),
                value: "A1".into(),
            },
        );
        assert_eq!(
            t.encode(),
            "day:2026-12-03|template:t/a.yaml|feed:f/x.csv|key:sku=A1"
        );
        let outside = Identity::file(None, &base, Path::new("/elsewhere/x.jpg"));
        assert_eq!(outside.encode(), "file:/elsewhere/x.jpg");
        let beside = Identity::file(
            None,
            &Base::new(&dir.path().join("demo")),
            &dir.path().join("t/a.yaml"),
        );
        assert_eq!(beside.encode(), "file:../t/a.yaml");
        let v = Identity::video(None, &base, &dir.path().join("c.mp4"), 1, 2);
        assert_eq!(v.encode(), "video:c.mp4|part:1/2");
        let u = Identity::url(
            Some("schedule:4"),
            "https://u:p@cdn.example/a.jpg?sku=A1&X-Amz-Signature=s#/x",
        );
        assert_eq!(
            u.encode(),
            "schedule:4|url:https://cdn.example/a.jpg?sku=A1#/x"
        );
        assert_ne!(
            Identity::url(None, "https://h/p?store=berlin").encode(),
            Identity::url(None, "https://h/p?store=paris").encode()
        );
        assert_eq!(
            legacy::url(Some("schedule:4"), "https://u:p@cdn.example/a.jpg?x=1"),
            "schedule:4|url:https://cdn.example/a.jpg"
        );
    }

    #[test]
    fn a_moved_folder_keeps_its_identities() {
        let a = tempfile::tempdir().expect("tempdir");
        std::fs::write(a.path().join("s.jpg"), b"x").expect("write");
        let before = Identity::file(None, &Base::new(a.path()), &a.path().join("s.jpg"));
        let b = tempfile::tempdir().expect("tempdir");
        let moved = b.path().join("moved");
        std::fs::rename(a.path(), &moved).expect("move");
        let after = Identity::file(None, &Base::new(&moved), &moved.join("s.jpg"));
        assert_eq!(before, after);
        assert_eq!(after.encode(), "file:s.jpg");
    }
}
