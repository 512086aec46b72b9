//! Data feeds → rows of variables. CSV (header row, streamed record by
//! record), a JSON array of objects, a YAML list of maps, or RSS/Atom (one
//! row per item, [`rss`]: id, title, summary, link, date, datetime, image,
//! author); the kind comes from the extension. A feed can be an HTTPS URL
//! ([`remote`]: cached, conditional requests, headers from a
//! [`FeedSource`], `#/pointer` into a JSON response, landing on a list or
//! on one object). Values become text, nested objects dotted columns
//! ([`flatten`]); a bad row is an error for that row only. [`FeedLimits`] bound what one feed may
//! hold (bytes, rows, characters per value), so a hostile or broken feed
//! cannot exhaust memory; a feed URL is shown redacted in every message.

mod flatten;
pub mod keys;
mod limits;
pub mod remote;
mod rss;
mod source;

pub use limits::{FeedLimits, MAX_BYTES_VAR, MAX_FIELD_VAR, MAX_ITEMS_VAR};
pub use source::FeedSource;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::template::Variables;

/// One feed row.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRow {
    /// 1-based row number (the header is not a row).
    pub index: usize,
    /// Line in the file where the row starts, when known.
    pub line: Option<u64>,
    /// Column → value.
    pub vars: Variables,
}

impl FeedRow {
    /// "row 3 (line 4)".
    pub fn describe(&self) -> String {
        match self.line {
            Some(l) => format!("row {} (line {l})", self.index),
            None => format!("row {}", self.index),
        }
    }
}

/// What is wrong with a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The file cannot be opened.
    #[error("{path}: cannot read feed: {source}")]
    Open {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An extension storyforge does not read.
    #[error("{path}: unknown feed type; use .csv, .json, .yaml, .yml, or .xml/.rss/.atom for RSS and Atom")]
    Kind {
        /// The file.
        path: String,
    },
    /// The whole file is malformed.
    #[error("{path}{at}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// ":line:column" or "".
        at: String,
        /// What is wrong.
        message: String,
    },
    /// One row is malformed; the others are fine.
    #[error("{path} {row}: {message}")]
    Row {
        /// The file.
        path: String,
        /// "row 3 (line 4)".
        row: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Json,
    Yaml,
    Rss,
}

/// A feed file.
#[derive(Debug, Clone)]
pub struct Feed {
    path: PathBuf,
    /// The local file read (the cached copy for a URL).
    file: PathBuf,
    dir: PathBuf,
    kind: Kind,
    limits: FeedLimits,
}

/// Rows of a feed, one at a time.
pub type Rows = Box<dyn Iterator<Item = Result<FeedRow, FeedError>> + Send>;

impl Feed {
    /// Checks the file exists and its kind is known, with the limits of
    /// [`FeedLimits::from_env`].
    pub fn open(path: &Path) -> Result<Feed, FeedError> {
        Feed::open_with(path, FeedLimits::from_env())
    }

    /// [`Feed::open`] with explicit limits.
    pub fn open_with(path: &Path, limits: FeedLimits) -> Result<Feed, FeedError> {
        Feed::open_source_with(&path.to_path_buf().into(), limits)
    }

    /// Opens a job's `feed:` (a path, a URL, or `{url, headers}`) with the
    /// limits of [`FeedLimits::from_env`].
    pub fn open_source(source: &FeedSource) -> Result<Feed, FeedError> {
        Feed::open_source_with(source, FeedLimits::from_env())
    }

    /// [`Feed::open_source`] with explicit limits.
    pub fn open_source_with(source: &FeedSource, limits: FeedLimits) -> Result<Feed, FeedError> {
        let path = source.path();
        let given = path.display().to_string();
        let is_url = is_url(&given);
        let shown = shown_name(path);
        if !is_url && !source.headers.is_empty() {
            return Err(FeedError::Parse {
                path: shown,
                at: String::new(),
                message: "`headers:` are sent only to a feed URL (http:// or https://); remove them for a file".into(),
            });
        }
        let file = if is_url {
            remote::fetch_with(&given, &source.headers, &limits)?
        } else {
            path.to_path_buf()
        };
        let ext = file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let kind = match ext.as_deref() {
            Some("csv") => Kind::Csv,
            Some("json") => Kind::Json,
            Some("yaml" | "yml") => Kind::Yaml,
            Some("xml" | "rss" | "atom") => Kind::Rss,
            _ => return Err(FeedError::Kind { path: shown }),
        };
        let real = file.canonicalize().map_err(|source| FeedError::Open {
            path: shown.clone(),
            source,
        })?;
        let dir = real.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Feed {
            path: path.to_path_buf(),
            file,
            dir,
            kind,
            limits,
        })
    }

    /// The feed file as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory asset paths from feed values resolve in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The feed as it may be shown: a URL redacted (userinfo and query
    /// values masked), a file path as given.
    pub fn shown(&self) -> String {
        shown_name(&self.path)
    }

    /// Reads a whole (non-CSV) feed file, within [`FeedLimits::max_bytes`].
    fn read_whole(&self) -> Result<Vec<u8>, FeedError> {
        let path = self.shown();
        let open_err = |source| FeedError::Open {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&self.file).map_err(open_err)?;
        let mut bytes = Vec::new();
        use std::io::Read;
        file.take(self.limits.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(open_err)?;
        if bytes.len() as u64 > self.limits.max_bytes {
            return Err(self.limits.too_large(&path));
        }
        Ok(bytes)
    }

    /// The rows, streamed for CSV.
    pub fn rows(&self) -> Result<Rows, FeedError> {
        let path = self.shown();
        let open_err = |source| FeedError::Open {
            path: path.clone(),
            source,
        };
        match self.kind {
            Kind::Csv => {
                let file = std::fs::File::open(&self.file).map_err(open_err)?;
                csv_rows(path, std::io::BufReader::new(file), self.limits)
            }
            Kind::Rss => {
                let bytes = self.read_whole()?;
                let items = rss::items(&path, &bytes)?;
                self.object_rows(items)
            }
            Kind::Json | Kind::Yaml => {
                let bytes = self.read_whole()?;
                let text = String::from_utf8(bytes).map_err(|e| FeedError::Parse {
                    path: path.clone(),
                    at: String::new(),
                    message: format!("not UTF-8 text: {e}"),
                })?;
                let items = self.parse_list(&text)?;
                self.object_rows(items)
            }
        }
    }

    fn object_rows(&self, items: Vec<Value>) -> Result<Rows, FeedError> {
        let path = self.shown();
        if items.len() > self.limits.max_items {
            return Err(self.limits.too_many(&path));
        }
        let limits = self.limits;
        let rows = items.into_iter().enumerate().map(move |(i, v)| {
            object_row(&path, i + 1, v).and_then(|r| limits.check_fields(&path, &r).map(|()| r))
        });
        Ok(Box::new(rows))
    }

    fn parse_list(&self, text: &str) -> Result<Vec<Value>, FeedError> {
        let path = self.shown();
        let value: Value = match self.kind {
            Kind::Json => serde_json::from_str(text).map_err(|e| FeedError::Parse {
                path: path.clone(),
                at: format!(":{}:{}", e.line(), e.column()),
                message: e.to_string(),
            })?,
            _ => serde_saphyr::from_str(text).map_err(|e| FeedError::Parse {
                path: path.clone(),
                at: e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default(),
                message: e
                    .without_snippet()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("invalid YAML")
                    .to_string(),
            })?,
        };
        match value {
            Value::Array(items) => Ok(items),
            _ => Err(FeedError::Parse {
                path,
                at: String::new(),
                message: "a feed must be a list of objects (one per Story)".into(),
            }),
        }
    }
}

fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// A feed path as it may be shown: URLs through the one redactor.
fn shown_name(path: &Path) -> String {
    let given = path.display().to_string();
    if is_url(&given) {
        storyforge_base::util::redact::redact_url(&given)
    } else {
        given
    }
}

/// Parses feed bytes of the kind `ext` names (`csv`, `json`, `yaml`, `xml`)
/// into rows, within `limits`, with no file: what the fuzz targets and the
/// mutation test drive. Never panics.
pub fn parse_bytes(
    ext: &str,
    bytes: &[u8],
    limits: FeedLimits,
) -> Result<Vec<Result<FeedRow, FeedError>>, FeedError> {
    let path = format!("<bytes>.{ext}");
    if bytes.len() as u64 > limits.max_bytes {
        return Err(limits.too_large(&path));
    }
    let kind = match ext {
        "csv" => Kind::Csv,
        "json" => Kind::Json,
        "yaml" | "yml" => Kind::Yaml,
        "xml" | "rss" | "atom" => Kind::Rss,
        _ => return Err(FeedError::Kind { path }),
    };
    let feed = Feed {
        path: PathBuf::from(&path),
        file: PathBuf::new(),
        dir: PathBuf::new(),
        kind,
        limits,
    };
    match kind {
        Kind::Csv => Ok(csv_rows(path, std::io::Cursor::new(bytes.to_vec()), limits)?.collect()),
        Kind::Rss => {
            let items = rss::items(&path, bytes)?;
            Ok(feed.object_rows(items)?.collect())
        }
        Kind::Json | Kind::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|e| FeedError::Parse {
                path: path.clone(),
                at: String::new(),
                message: format!("not UTF-8 text: {e}"),
            })?;
            let items = feed.parse_list(text)?;
            Ok(feed.object_rows(items)?.collect())
        }
    }
}

/// CSV from `input` → rows, streamed: the first line names the columns,
/// at most `limits.max_items` rows (one error past it, then the end), every
/// field within `limits`.
fn csv_rows<R: std::io::Read + Send + 'static>(
    path: String,
    input: R,
    limits: FeedLimits,
) -> Result<Rows, FeedError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| FeedError::Parse {
            path: path.clone(),
            at: String::new(),
            message: format!("cannot read the header row: {e}"),
        })?
        .clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(FeedError::Parse {
            path,
            at: String::new(),
            message: "the first line must name the columns".into(),
        });
    }
    let mut over = false;
    let rows = reader
        .into_records()
        .enumerate()
        // One error past the row limit, then the stream ends.
        .map_while(move |(i, rec)| {
            if over {
                return None;
            }
            if i >= limits.max_items {
                over = true;
                return Some(Err(limits.too_many(&path)));
            }
            Some(
                csv_row(&path, &headers, i + 1, rec)
                    .and_then(|r| limits.check_fields(&path, &r).map(|()| r)),
            )
        });
    Ok(Box::new(rows))
}

fn csv_row(
    path: &str,
    headers: &csv::StringRecord,
    index: usize,
    rec: Result<csv::StringRecord, csv::Error>,
) -> Result<FeedRow, FeedError> {
    let rec = rec.map_err(|e| FeedError::Row {
        path: path.to_string(),
        row: format!(
            "row {index}{}",
            e.position()
                .map(|p| format!(" (line {})", p.line()))
                .unwrap_or_default()
        ),
        message: e.to_string(),
    })?;
    let line = rec.position().map(|p| p.line());
    if rec.len() > headers.len() {
        return Err(FeedError::Row {
            path: path.to_string(),
            row: format!(
                "row {index}{}",
                line.map(|l| format!(" (line {l})")).unwrap_or_default()
            ),
            message: format!(
                "{} values for {} columns; quote values that contain commas",
                rec.len(),
                headers.len()
            ),
        });
    }
    let vars = headers
        .iter()
        .zip(rec.iter())
        .filter(|(h, _)| !h.is_empty())
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect();
    Ok(FeedRow { index, line, vars })
}

fn object_row(path: &str, index: usize, v: Value) -> Result<FeedRow, FeedError> {
    let Value::Object(map) = v else {
        return Err(FeedError::Row {
            path: path.to_string(),
            row: format!("row {index}"),
            message: "not an object: each row must map names to values".into(),
        });
    };
    let vars = flatten::flatten(map);
    Ok(FeedRow {
        index,
        line: None,
        vars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_rows_stream_with_line_numbers() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "f.csv",
            "title,price\n\"Latte, large\",3.5\nTea,2\nbad,1,extra\n",
        );
        let rows: Vec<_> = Feed::open(&p).unwrap().rows().unwrap().collect();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.vars["title"], "Latte, large");
        assert_eq!(first.line, Some(2));
        let err = rows[2].as_ref().unwrap_err().to_string();
        assert!(err.contains("row 3 (line 4)"), "{err}");
    }

    #[test]
    fn json_and_yaml_lists() {
        let d = tempfile::tempdir().unwrap();
        let j = write(d.path(), "f.json", r#"[{"a": 1, "b": "x", "c": null}, 5]"#);
        let rows: Vec<_> = Feed::open(&j).unwrap().rows().unwrap().collect();
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.vars["a"], "1");
        assert!(!r.vars.contains_key("c"));
        assert!(rows[1].is_err());
        let y = write(d.path(), "f.yaml", "- a: hello\n  n: 2.5\n- a: bye\n");
        let rows: Vec<_> = Feed::open(&y).unwrap().rows().unwrap().collect();
        assert_eq!(rows[1].as_ref().unwrap().vars["a"], "bye");
        assert_eq!(rows[0].as_ref().unwrap().vars["n"], "2.5");
    }

    #[test]
    fn malformed_files_name_the_place() {
        let d = tempfile::tempdir().unwrap();
        let j = write(d.path(), "f.json", "[{\"a\": }]");
        let e = Feed::open(&j).unwrap().rows().err().unwrap().to_string();
        assert!(e.contains("f.json:1:"), "{e}");
        let o = write(d.path(), "f.json", "{\"a\": 1}");
        assert!(Feed::open(&o).unwrap().rows().is_err());
        assert!(matches!(
            Feed::open(&d.path().join("x.txt")),
            Err(FeedError::Kind { .. })
        ));
    }
}
