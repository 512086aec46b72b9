//! RSS 2.0 and Atom (YouTube channel feeds too) → one object per item, with
//! the columns documented in docs/automations.md: `id` (guid / Atom id),
//! `title`, `summary` (else `media:description`), `link`, `date`
//! (YYYY-MM-DD), `datetime` (RFC 3339), `image` and `author`. `image` is
//! the first enclosure or `media:content` that is an image, else the first
//! `media:thumbnail` (so a YouTube item's image is its thumbnail, never
//! the video player's URL), else the first `<img src>` in the item's HTML.

use feed_rs::model::{Entry, MediaContent, Text};
use serde_json::Value;

use super::FeedError;

/// Longest summary kept, in characters (a Story shows a few lines).
const SUMMARY_CHARS: usize = 2000;

/// Parses RSS or Atom `bytes` into one object per item.
pub(super) fn items(path: &str, bytes: &[u8]) -> Result<Vec<Value>, FeedError> {
    // No made-up ids: an item without a guid has no `id` column (feed-rs
    // would otherwise invent a random UUID, a new "item" on every read).
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(bytes).map_err(|e| FeedError::Parse {
        path: path.to_string(),
        at: String::new(),
        message: format!("not a readable RSS or Atom feed: {e}"),
    })?;
    // feed-rs keeps a `media:thumbnail` only beside a `media:content`;
    // many feeds have the thumbnail alone: read those from the text.
    let thumbs = lone_thumbnails(bytes);
    let aligned = thumbs.len() == feed.entries.len();
    Ok(feed
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let thumb = if aligned { thumbs[i].clone() } else { None };
            item(e, thumb)
        })
        .collect())
}

/// For each `<item>` / `<entry>` in order, the `url` of its first
/// `media:thumbnail`, if any.
fn lone_thumbnails(bytes: &[u8]) -> Vec<Option<String>> {
    let text = String::from_utf8_lossy(bytes);
    let starts: Vec<usize> = text
        .match_indices('<')
        .map(|(i, _)| i)
        .filter(|&i| {
            let rest = &text[i + 1..];
            ["item", "entry"].iter().any(|t| {
                rest.starts_with(t)
                    && rest[t.len()..].starts_with(|c: char| c == '>' || c.is_whitespace())
            })
        })
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            let chunk = &text[start..end];
            let at = chunk.find("<media:thumbnail")?;
            let tag = &chunk[at..chunk[at..].find('>').map_or(chunk.len(), |e| at + e)];
            attr(tag, "url").map(|u| decode_entities(&u))
        })
        .collect()
}

/// The value of `name="…"` (or `'…'`) in a start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before_ok = rest[..i].ends_with(char::is_whitespace);
        let after = rest[i + name.len()..].trim_start();
        if let (true, Some(v)) = (before_ok, after.strip_prefix('=')) {
            let v = v.trim_start();
            let q = v.chars().next()?;
            if q == '"' || q == '\'' {
                return v[1..].split(q).next().map(str::to_string);
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

fn item(e: Entry, lone_thumbnail: Option<String>) -> Value {
    let when = e.published.or(e.updated);
    let image = image(&e, lone_thumbnail);
    let summary = e
        .summary
        .as_ref()
        .map(plain)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            e.media
                .iter()
                .find_map(|m| m.description.as_ref().map(plain))
                .filter(|s| !s.is_empty())
        })
        .or_else(|| {
            e.content
                .as_ref()
                .and_then(|c| c.body.as_deref())
                .map(strip_html)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    let author = e
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().map(str::trim).filter(|n| !n.is_empty()))
        .collect::<Vec<_>>()
        .join(", ");
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(e.links.first())
        .map(|l| l.href.clone())
        .unwrap_or_default();
    let mut row = serde_json::Map::new();
    if !e.id.trim().is_empty() {
        row.insert("id".into(), e.id.trim().into());
    }
    let mut put = |k: &str, v: String| {
        row.insert(k.into(), Value::String(v));
    };
    put("title", e.title.as_ref().map(plain).unwrap_or_default());
    put("summary", summary.chars().take(SUMMARY_CHARS).collect());
    put("link", link);
    put(
        "date",
        when.map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
    );
    put("datetime", when.map(|t| t.to_rfc3339()).unwrap_or_default());
    put("image", image);
    put("author", author);
    Value::Object(row)
}

/// The item's picture (see the module comment for the order).
fn image(e: &Entry, lone_thumbnail: Option<String>) -> String {
    let contents = e.media.iter().flat_map(|m| m.content.iter());
    if let Some(url) = contents
        .filter(|c| is_image(c))
        .find_map(|c| c.url.as_ref())
    {
        return url.to_string();
    }
    if let Some(t) = e.media.iter().flat_map(|m| m.thumbnails.iter()).next() {
        return t.image.uri.clone();
    }
    if let Some(t) = lone_thumbnail {
        return t;
    }
    let html = e
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .into_iter()
        .chain(e.summary.as_ref().map(|s| s.content.clone()));
    html.filter_map(|h| first_img_src(&h))
        .next()
        .unwrap_or_default()
}

/// An image by its MIME type, else (no type given) by its file extension.
fn is_image(c: &MediaContent) -> bool {
    match &c.content_type {
        Some(t) => t.ty().as_str().eq_ignore_ascii_case("image"),
        None => c.url.as_ref().is_some_and(|u| {
            let p = u.path().to_ascii_lowercase();
            [".jpg", ".jpeg", ".png", ".webp", ".gif"]
                .iter()
                .any(|x| p.ends_with(x))
        }),
    }
}

/// `src` of the first `<img>` in some HTML, when it is an http(s) URL.
fn first_img_src(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let at = lower.find("<img")?;
    let tag_end = lower[at..].find('>').map_or(lower.len(), |e| at + e);
    let tag = &html[at..tag_end];
    let s = tag.to_ascii_lowercase().find("src=")? + 4;
    let rest = &tag[s..];
    let (q, body) = match rest.chars().next()? {
        q @ ('"' | '\'') => (q, &rest[1..]),
        _ => (' ', rest),
    };
    let url = body.split(q).next()?.trim();
    (url.starts_with("https://") || url.starts_with("http://")).then(|| decode_entities(url))
}

/// A feed text as plain text: HTML tags removed when it is HTML.
fn plain(t: &Text) -> String {
    if t.content_type.subty().as_str().contains("html") || t.content.contains('<') {
        strip_html(&t.content)
    } else {
        decode_entities(t.content.trim())
    }
}

/// HTML → its text: tags dropped, the common entities decoded, runs of
/// whitespace made one space.
fn strip_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            strip_html("<p>Fish &amp; chips<br/>today</p>"),
            "Fish & chips today"
        );
        assert_eq!(
            first_img_src(r#"<p>x</p><IMG alt="a" SRC="https://e.x/a.jpg?w=1&amp;h=2">"#)
                .as_deref(),
            Some("https://e.x/a.jpg?w=1&h=2")
        );
        assert_eq!(first_img_src("<img src=\"/rel.png\">"), None);
        let xml = b"<rss><channel><item><title>a</title></item><item>\n<media:thumbnail width=\"1\" url='https://e.x/t.png?a=1&amp;b=2'/></item></channel></rss>";
        assert_eq!(
            lone_thumbnails(xml),
            vec![None, Some("https://e.x/t.png?a=1&b=2".to_string())]
        );
    }
}
