//! `storyforge doctor`: settings → a list of [`Check`]s, each passed or
//! failed with a one-line fix: FFmpeg encoders, fonts and templates, the
//! store (write, fetch back, remove), the ledger, which Graph API it checks
//! and why ([`graph_target`]), every account's token, type, permission and
//! quota, and the clock. A check never stops the others; the caller decides
//! the exit code from [`all_ok`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::{self, AuthError, PERSONAL_EXPLANATION, PUBLISH_SCOPE};
use crate::config::Settings;
use crate::ledger::Ledger;
use crate::publish::graph::GraphClient;
use crate::publish::tokens::{self, REFRESH_WITHIN_DAYS};
use crate::publish::{secs, AccountSettings};
use crate::storage::{AnyStore, MediaFile, Store, UrlCheck};

/// Largest tolerated difference between the local clock and the servers'.
pub const MAX_SKEW_SECS: i64 = 300;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked (`storage`, `account demo: token`…).
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// `✓ name: detail` or `✗ name: detail — fix: …`.
    pub fn line(&self) -> String {
        match (&self.fix, self.ok) {
            (Some(fix), false) => format!("✗ {}: {} — fix: {fix}", self.name, self.detail),
            (_, false) => format!("✗ {}: {}", self.name, self.detail),
            _ => format!("✓ {}: {}", self.name, self.detail),
        }
    }
}

/// True when every check passed.
pub fn all_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok)
}

/// What to check besides the settings.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Template files or directories to load. Default: `./templates` when present.
    pub templates: Vec<PathBuf>,
    /// Accept plain-HTTP media URLs on loopback (a sandbox set-up). Default:
    /// when the local store is used or the Graph base URL is loopback.
    pub allow_http: Option<bool>,
    /// Seconds for each network check. Default: 15.
    pub timeout: Duration,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        let dir = PathBuf::from("templates");
        DoctorOptions {
            templates: if dir.is_dir() { vec![dir] } else { Vec::new() },
            allow_http: None,
            timeout: Duration::from_secs(15),
        }
    }
}

/// Runs every check for `settings`.
pub async fn run(settings: &Settings, opts: &DoctorOptions) -> Vec<Check> {
    let mut checks = vec![ffmpeg()];
    checks.extend(fonts_and_templates(&opts.templates));
    let loopback_graph = reqwest::Url::parse(&settings.graph.base_url)
        .ok()
        .and_then(|u| u.host_str().map(crate::storage::is_loopback_host))
        .unwrap_or(false);
    match AnyStore::open(&settings.storage).await {
        Ok(store) => {
            let allow_http = opts
                .allow_http
                .unwrap_or(store.is_local() || loopback_graph);
            checks.extend(storage(&store, allow_http, opts.timeout).await);
        }
        Err(e) => checks.push(Check::fail(
            "storage",
            e.to_string(),
            "check `storage:` in storyforge.yaml and the store's credentials",
        )),
    }
    checks.push(ledger(&settings.ledger));
    checks.push(graph_target(settings));
    if settings.graph.base_url == crate::config::BUILTIN_SANDBOX {
        // Nothing to reach: each run starts its own sandbox on loopback.
        return checks;
    }
    for account in &settings.accounts {
        checks.extend(account_checks(settings, account, Utc::now()).await);
    }
    checks.push(clock(&settings.graph.base_url, opts.timeout, Utc::now()).await);
    checks
}

/// Which Graph API the checks below talk to, and why. With the embedded
/// defaults that is `https://graph.instagram.com` with no accounts: nothing
/// can publish, and the built-in sandbox is used only when
/// `graph.base_url: sandbox` says so (as `demo/storyforge.yaml` does).
pub fn graph_target(settings: &Settings) -> Check {
    let base = &settings.graph.base_url;
    let shown = crate::util::redact::redact_url(base);
    if base == crate::config::BUILTIN_SANDBOX {
        return Check::pass(
            "graph",
            "the built-in sandbox (`graph.base_url: sandbox`): each run starts it on loopback with its demo account, so no live Graph API, account or clock is checked",
        );
    }
    let n = settings.accounts.len();
    if n == 0 {
        return Check::fail(
            "graph",
            format!("{shown} (`graph.base_url`), with no accounts: nothing can publish, so only the clock is checked against it"),
            "add an account (`storyforge auth login`, then `accounts:` in storyforge.yaml), or set `graph.base_url: sandbox` to publish to the built-in sandbox",
        );
    }
    Check::pass(
        "graph",
        format!(
            "{shown} (`graph.base_url`), for {n} account{}",
            if n == 1 { "" } else { "s" }
        ),
    )
}

/// FFmpeg's libraries with the H.264 (libx264) and AAC encoders.
pub fn ffmpeg() -> Check {
    #[cfg(feature = "video")]
    {
        use ffmpeg_next::{codec, encoder};
        if let Err(e) = ffmpeg_next::init() {
            return Check::fail(
                "ffmpeg",
                format!("the libraries do not initialise: {e}"),
                "install FFmpeg's libraries (libavcodec, libavformat…) 6 or newer",
            );
        }
        let h264 = encoder::find_by_name("libx264").is_some();
        let aac = encoder::find(codec::Id::AAC).is_some();
        match (h264, aac) {
            (true, true) => Check::pass("ffmpeg", "H.264 (libx264) and AAC encoders present"),
            _ => Check::fail(
                "ffmpeg",
                format!(
                    "missing encoder(s):{}{}",
                    if h264 { "" } else { " H.264 (libx264)" },
                    if aac { "" } else { " AAC" }
                ),
                "install an FFmpeg build with libx264 and AAC (e.g. `apt install libavcodec-extra`)",
            ),
        }
    }
    #[cfg(not(feature = "video"))]
    Check::fail(
        "ffmpeg",
        "this storyforge was built without the `video` feature",
        "rebuild with default features (`cargo install storyforge`) to transcode videos",
    )
}

/// The bundled fonts, and every template under `templates`.
pub fn fonts_and_templates(templates: &[PathBuf]) -> Vec<Check> {
    let fonts = crate::fonts::FontBook::bundled();
    let families = fonts.families();
    let mut out = vec![if families.is_empty() {
        Check::fail(
            "fonts",
            "no bundled font loaded",
            "reinstall storyforge (the fonts are compiled in)",
        )
    } else {
        Check::pass(
            "fonts",
            format!("{} bundled famil{}", families.len(), plural(families.len())),
        )
    }];
    if templates.is_empty() {
        return out;
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for t in templates {
        match crate::template::discover(t) {
            Ok(found) => files.extend(found),
            Err(e) => problems.push(format!("{}: {e}", t.display())),
        }
    }
    for f in &files {
        if let Err(e) = crate::template::load(f, &fonts) {
            problems.push(e.to_string());
        }
    }
    out.push(if problems.is_empty() {
        Check::pass("templates", format!("{} loaded", files.len()))
    } else {
        Check::fail(
            "templates",
            problems.join("; "),
            "run `storyforge validate` on the templates and fix what it reports",
        )
    });
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

/// Writes a small test JPEG to `store`, fetches its URL the way Instagram
/// does, then removes it.
pub async fn storage(store: &AnyStore, allow_http: bool, timeout: Duration) -> Vec<Check> {
    let where_ = store.describe();
    let path = std::env::temp_dir().join(format!(
        "storyforge-doctor-{}-{:08x}.jpg",
        std::process::id(),
        fastrand::u32(..)
    ));
    let media =
        test_jpeg(&path).and_then(|()| MediaFile::read_blocking(&path).map_err(|e| e.to_string()));
    let media = match media {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return vec![Check::fail(
                "storage",
                format!("cannot make the test image: {e}"),
                "make the temporary directory writable",
            )];
        }
    };
    let put = store.put(&media).await;
    let _ = std::fs::remove_file(&path);
    let up = match put {
        Ok(up) => up,
        Err(e) => {
            let fix = match &e {
                crate::storage::StoreError::NoBucket { bucket, .. } => format!(
                    "create the bucket `{bucket}` (or fix `storage.bucket`/`storage.endpoint`)"
                ),
                _ => "check `storage:` in storyforge.yaml, the credentials and that the store is running".into(),
            };
            return vec![Check::fail("storage", e.to_string(), fix)];
        }
    };
    let mut out = vec![Check::pass(
        "storage",
        format!("{where_}: test object written"),
    )];
    let url_check = match UrlCheck::new(allow_http, timeout) {
        Ok(c) => c.verify(&up).await,
        Err(e) => Err(e),
    };
    out.push(match url_check {
        Ok(()) => Check::pass(
            "media URL",
            format!("fetched with Content-Type {}", up.content_type),
        ),
        Err(e) => Check::fail(
            "media URL",
            e.to_string(),
            if store.is_local() {
                "run `storyforge sandbox` (it serves the local store) or fix `storage.base_url`"
            } else {
                "make objects readable: presigned URLs (`presign_seconds`) or a `public_base_url` that serves the bucket over HTTPS"
            },
        ),
    });
    out.push(match store.delete(&up.key).await {
        Ok(()) => Check::pass("storage cleanup", "test object removed"),
        Err(e) => Check::fail(
            "storage cleanup",
            e.to_string(),
            format!("allow deleting objects, or remove `{}` by hand", up.key),
        ),
    });
    out
}

/// A 16×16 JPEG of random colour, so its key is new to the store.
fn test_jpeg(path: &Path) -> Result<(), String> {
    let px = image::Rgb([fastrand::u8(..), fastrand::u8(..), fastrand::u8(..)]);
    let img = image::RgbImage::from_pixel(16, 16, px);
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .map_err(|e| e.to_string())
}

/// The ledger opens, reads, and is not locked by another program.
pub fn ledger(path: &Path) -> Check {
    let fix =
        "stop the other storyforge (or program) using it, or point `ledger:` at a writable file";
    let shown = crate::ledger::shown(path);
    let locked = if crate::ledger::is_server_url(path) {
        Ok(())
    } else {
        rusqlite::Connection::open(path).and_then(|c| {
            c.busy_timeout(Duration::from_millis(500))?;
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        })
    };
    if let Err(e) = locked {
        return Check::fail(
            "ledger",
            format!("{shown}: locked or unwritable ({e})"),
            fix,
        );
    }
    match Ledger::open(path).and_then(|l| l.assets()) {
        Ok(rows) => {
            let unsure = rows
                .iter()
                .filter(|r| r.state == crate::ledger::State::Unsure)
                .count();
            if unsure > 0 {
                return Check::fail(
                    "ledger",
                    format!(
                        "{shown}: {unsure} of {} Stories unsure (a publish may have gone out)",
                        rows.len()
                    ),
                    "look at the account, then settle each one as `storyforge ledger` shows",
                );
            }
            Check::pass(
                "ledger",
                format!("{shown}: {} Stories, not locked", rows.len()),
            )
        }
        Err(e) => Check::fail("ledger", e.to_string(), fix),
    }
}

/// Token, type, expiry, permission and quota of one account.
pub async fn account_checks(
    settings: &Settings,
    account: &AccountSettings,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let name = |what: &str| format!("account {}: {what}", account.name);
    let relogin = format!("run `storyforge auth login --account {}`", account.name);
    let loaded = match account.load() {
        Ok(a) => a,
        Err(e) => return vec![Check::fail(name("token"), e.to_string(), relogin)],
    };
    let g = &settings.graph;
    let client = match GraphClient::new(&g.base_url, &g.version, secs(g.timeout)) {
        Ok(c) => c,
        Err(e) => return vec![Check::fail(name("token"), e.to_string(), relogin)],
    };
    let me = match auth::me(&client, &loaded.token).await {
        Ok(me) => me,
        Err(AuthError::Graph { source, .. }) => {
            return vec![Check::fail(name("token"), source.to_string(), relogin)]
        }
        Err(e) => return vec![Check::fail(name("token"), e.to_string(), relogin)],
    };
    let mut out = vec![Check::pass(
        name("token"),
        format!("valid for @{}", me.username),
    )];
    if me.account_type == "PERSONAL" {
        out.push(Check::fail(
            name("type"),
            format!("@{} is PERSONAL", me.username),
            PERSONAL_EXPLANATION,
        ));
    } else {
        out.push(Check::pass(name("type"), me.account_type.clone()));
    }
    out.push(
        match Ledger::open(&settings.ledger).and_then(|l| tokens::status(&l, &loaded, now)) {
            Ok(st) => match st.days_left {
                Some(d) if d < REFRESH_WITHIN_DAYS as f64 => Check::fail(
                    name("expiry"),
                    format!("{d:.1} days left"),
                    format!(
                        "run `storyforge token refresh --account {}` (or {relogin})",
                        account.name
                    ),
                ),
                Some(d) => Check::pass(name("expiry"), format!("{d:.0} days left")),
                None => Check::pass(
                    name("expiry"),
                    "unknown (not logged in through storyforge); tokens last 60 days",
                ),
            },
            Err(e) => Check::fail(name("expiry"), e.to_string(), "see the ledger check"),
        },
    );
    out.push(match crate::publish::quota::read(&client, &loaded).await {
        Ok(quota) => match quota {
            Some(q) if q.used_up() => Check::fail(
                name("publishing"),
                format!(
                    "quota used up: {} of {} in {} h",
                    q.used,
                    q.total,
                    q.window_secs / 3600
                ),
                "wait for the rolling window to free a slot",
            ),
            Some(q) => Check::pass(
                name("publishing"),
                format!(
                    "permitted; quota {} of {} used in {} h",
                    q.used,
                    q.total,
                    q.window_secs / 3600
                ),
            ),
            None => Check::pass(name("publishing"), "permitted; the quota was not reported"),
        },
        Err(e) => {
            let permission = e.api().is_some_and(|g| matches!(g.code, 10 | 200..=299));
            Check::fail(
                name("publishing"),
                e.to_string(),
                if permission {
                    format!("{relogin} and grant {PUBLISH_SCOPE}")
                } else {
                    format!("check `ig_user_id` ({}) and the token", account.ig_user_id)
                },
            )
        }
    });
    out
}

/// The local clock against the `Date` header of `base_url`'s server.
pub async fn clock(base_url: &str, timeout: Duration, now: DateTime<Utc>) -> Check {
    let fix = "synchronise the clock (NTP: `timedatectl set-ntp true`); signatures and schedules depend on it";
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return Check::fail("clock", e.to_string(), fix),
    };
    let resp = match client.get(base_url).send().await {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "clock",
                format!(
                    "cannot reach {} to compare clocks: {}",
                    crate::publish::redact::redact(base_url),
                    e.without_url()
                ),
                "check `graph.base_url` and the network",
            )
        }
    };
    let date = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| DateTime::parse_from_rfc2822(d).ok());
    match date {
        None => Check::fail(
            "clock",
            "the server sent no Date header to compare with",
            "check `graph.base_url`",
        ),
        Some(d) => {
            let skew = (now - d.with_timezone(&Utc)).num_seconds();
            if skew.abs() > MAX_SKEW_SECS {
                Check::fail("clock", format!("{skew:+} s off the server's"), fix)
            } else {
                Check::pass(
                    "clock",
                    format!("within {} s of the server's", skew.abs().max(1)),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(Check::pass("a", "fine").line(), "✓ a: fine");
        assert_eq!(
            Check::fail("b", "broken", "mend it").line(),
            "✗ b: broken — fix: mend it"
        );
        assert!(!all_ok(&[Check::pass("a", ""), Check::fail("b", "", "")]));
    }
}
