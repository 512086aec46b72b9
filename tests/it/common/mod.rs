//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod pg;
pub mod s3;

use std::path::{Path, PathBuf};

use image::RgbImage;
use storyforge::assets::AssetCache;
use storyforge::feed::{Feed, FeedRow};
use storyforge::fonts::FontBook;
use storyforge::render::{self, RenderError, Scene};
use storyforge::sandbox::{AccountType, Sandbox, SandboxAccount, SandboxConfig};
use storyforge::story;
use storyforge::template::{self, Template, TemplateError};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The date every test renders on.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
}

/// Writes `yaml` as `name` in `dir` and loads it with the bundled fonts.
pub fn load_yaml(dir: &Path, name: &str, yaml: &str) -> Result<Template, TemplateError> {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write template");
    template::load(&path, &FontBook::bundled())
}

/// The error text of loading `yaml`, which must fail.
pub fn load_error(dir: &Path, yaml: &str) -> String {
    match load_yaml(dir, "t.yaml", yaml) {
        Ok(_) => panic!("template loaded but should not have:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// The feed file shipped for a template, if any.
pub fn feed_for(template: &Path) -> Option<PathBuf> {
    let stem = template.file_stem()?.to_str()?;
    ["csv", "json", "yaml", "yml"]
        .iter()
        .map(|ext| root().join("fixtures/feeds").join(format!("{stem}.{ext}")))
        .find(|p| p.exists())
}

/// Prepares one Story of `t` with `row` (images from variables resolve in `feed_dir`).
pub fn scene(
    t: &Template,
    row: Option<&FeedRow>,
    feed_dir: Option<&Path>,
) -> Result<Scene, RenderError> {
    let vars = story::variables(t, row, today());
    story::prepare(t, &vars, feed_dir, &AssetCache::new())
}

/// Renders the first row of a shipped template's feed.
pub fn render_shipped(template_path: &Path) -> (Template, Scene, RgbImage) {
    let t = template::load(template_path, &FontBook::bundled()).expect("shipped template loads");
    let feed = feed_for(template_path).map(|p| Feed::open(&p).expect("feed opens"));
    let row = feed
        .as_ref()
        .and_then(|f| f.rows().expect("rows").next())
        .map(|r| r.expect("first row parses"));
    let s =
        scene(&t, row.as_ref(), feed.as_ref().map(|f| f.dir())).expect("shipped template renders");
    let img = render::draw(&s);
    (t, s, img)
}

/// Every shipped template file.
pub fn shipped_templates() -> Vec<PathBuf> {
    template::discover(&root().join("templates")).expect("templates dir")
}

/// Points `$STORYFORGE_CACHE` at one temporary folder for the whole test
/// binary (the variable is process-wide: every test that fetches uses this).
pub fn shared_cache() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("cache dir");
        std::env::set_var("STORYFORGE_CACHE", d.path());
        d
    });
    dir.path()
}

/// A template with one text layer reading `content` (placeholders allowed).
pub fn text_template(content: &str) -> String {
    format!("name: t\noutput: \"t-{{{{row}}}}.jpg\"\nbackground: {{color: \"#203040\"}}\nlayers:\n  - text:\n      name: text\n      content: \"{content}\"\n      size: 60\n      box: {{x: 100, y: 600, w: 880, h: 300}}\n")
}

/// Writes `dir/t.yaml` (`template`), `dir/feed.csv` (`csv`) and
/// `dir/job.yaml` (the template over the feed keyed by `id`, then the
/// entry's `extra` lines); returns the job file.
pub fn job_files(dir: &Path, template: &str, csv: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("t.yaml"), template).expect("template");
    std::fs::write(dir.join("feed.csv"), csv).expect("feed");
    let job = dir.join("job.yaml");
    let text =
        format!("out: out\njobs:\n  - template: t.yaml\n    feed: feed.csv\n    key: id\n{extra}");
    std::fs::write(&job, text).expect("job");
    job
}

/// Every row of `source`, which must open and parse.
pub fn feed_rows(source: &storyforge::feed::FeedSource) -> Vec<FeedRow> {
    Feed::open_source(source)
        .expect("feed opens")
        .rows()
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows parse")
}

/// Serves the router `build` makes (given its address) on a loopback port,
/// on a thread of its own for the rest of the test binary; returns
/// `http://127.0.0.1:PORT`.
pub fn serve_loopback(
    build: impl FnOnce(std::net::SocketAddr) -> axum::Router + Send + 'static,
) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(l, build(addr)).await.expect("serve");
        });
    });
    format!("http://{addr}")
}

/// The `storyforge` binary, run from the repository root.
pub fn command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_storyforge"));
    c.current_dir(root());
    c
}

/// Runs `storyforge args` from the repository root, output captured.
pub fn storyforge(args: &[&str]) -> std::process::Output {
    command().args(args).output().expect("run storyforge")
}

/// Runs `storyforge args --config config`, output captured.
pub fn cli(args: &[&str], config: &Path) -> std::process::Output {
    command()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run storyforge")
}

/// Starts `storyforge args --config config`, output captured.
pub fn spawn(args: &[&str], config: &Path) -> std::process::Child {
    command()
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start storyforge")
}

/// Asserts a finished command exited with `code` (showing its stderr
/// otherwise); returns its stderr.
pub fn expect_exit(o: &std::process::Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{stderr}");
    stderr
}

/// stdout and stderr of a finished command, as text.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A valid JPEG Story made distinct by a comment segment after SOI.
pub fn jpeg_variant(i: usize) -> Vec<u8> {
    let base = std::fs::read(root().join("fixtures/bad/ok-story.jpg")).expect("ok-story.jpg");
    let text = format!("story {i}");
    let mut seg = vec![0xFF, 0xFE];
    seg.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(text.as_bytes());
    [&base[..2], &seg, &base[2..]].concat()
}

/// The sandbox's first demo account's id (`SandboxAccount::default()`).
pub const DEMO_ID: &str = "17841400000000001";

/// storyforge.yaml for a test, written into `work` by [`SettingsFile::write`]:
/// ledger `work/l.db`; one account (`demo`, token `sandbox-token-demo` in
/// `work/demo.token`); the Graph API at `graph` with waits of milliseconds;
/// a local store in `work/media` served at `{graph}/media/` unless another
/// store is chosen; and any extra top-level YAML.
pub struct SettingsFile {
    work: PathBuf,
    graph: Vec<(String, String)>,
    storage: Vec<(String, String)>,
    account: Option<(String, String, Option<String>)>,
    extra: String,
    ledger: Option<String>,
}

impl SettingsFile {
    /// The defaults above, for the Graph API at `graph`.
    pub fn new(work: &Path, graph: &str) -> SettingsFile {
        let pairs = |kv: &[(&str, &str)]| -> Vec<(String, String)> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        SettingsFile {
            work: work.to_path_buf(),
            graph: pairs(&[
                ("base_url", graph),
                ("publish_spacing", "0"),
                ("image_poll", "0.05"),
                ("retry_base", "0.02"),
                ("not_ready_wait", "0.02"),
                ("gone_wait", "0.02"),
                ("slow_down_max", "0"),
                ("rate_limit_base", "0.05"),
            ]),
            storage: pairs(&[
                ("kind", "local"),
                ("dir", &work.join("media").display().to_string()),
                ("base_url", &format!("{graph}/media/")),
            ]),
            account: Some((
                DEMO_ID.into(),
                "demo".into(),
                Some("sandbox-token-demo".into()),
            )),
            extra: String::new(),
            ledger: None,
        }
    }

    /// The `ledger:` setting (a file or a `postgres://` URL) instead of `work/l.db`.
    pub fn ledger(mut self, ledger: &str) -> SettingsFile {
        self.ledger = Some(ledger.to_string());
        self
    }

    fn set(list: &mut Vec<(String, String)>, key: &str, value: &str) {
        match list.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value.to_string(),
            None => list.push((key.to_string(), value.to_string())),
        }
    }

    /// Sets a `graph:` key.
    pub fn graph(mut self, key: &str, value: &str) -> SettingsFile {
        Self::set(&mut self.graph, key, value);
        self
    }

    /// Sets a `storage:` key.
    pub fn storage(mut self, key: &str, value: &str) -> SettingsFile {
        Self::set(&mut self.storage, key, value);
        self
    }

    /// The local store in `dir` (still served at `{graph}/media/`).
    pub fn local(self, dir: &Path) -> SettingsFile {
        self.storage("dir", &dir.display().to_string())
    }

    /// An S3 bucket at `endpoint` (path style) under `prefix`; its
    /// credentials come from the environment.
    pub fn s3(mut self, bucket: &str, endpoint: &str, prefix: &str) -> SettingsFile {
        self.storage.clear();
        for (k, v) in [
            ("kind", "s3"),
            ("bucket", bucket),
            ("region", "us-east-1"),
            ("endpoint", endpoint),
            ("path_style", "true"),
            ("prefix", prefix),
        ] {
            Self::set(&mut self.storage, k, v);
        }
        self
    }

    /// The one account: `name` with Instagram id `id`, its token file
    /// `work/NAME.token` holding `token` (`None`: left for the test to write).
    pub fn account(mut self, name: &str, id: &str, token: Option<&str>) -> SettingsFile {
        self.account = Some((id.into(), name.into(), token.map(str::to_string)));
        self
    }

    /// No accounts at all.
    pub fn no_account(mut self) -> SettingsFile {
        self.account = None;
        self
    }

    /// Appends top-level YAML.
    pub fn extra(mut self, yaml: &str) -> SettingsFile {
        self.extra.push_str(yaml);
        self
    }

    /// Writes `work/storyforge.yaml` (and the token file); returns its path.
    pub fn write(self) -> PathBuf {
        let block = |name: &str, kv: &[(String, String)]| -> String {
            let body: String = kv.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
            format!("{name}:\n{body}")
        };
        let ledger =
            (self.ledger.clone()).unwrap_or_else(|| self.work.join("l.db").display().to_string());
        let mut yaml = format!("ledger: \"{ledger}\"\n");
        yaml += &block("storage", &self.storage);
        yaml += &block("graph", &self.graph);
        if let Some((id, name, token)) = &self.account {
            let file = self.work.join(format!("{name}.token"));
            if let Some(t) = token {
                std::fs::write(&file, t).expect("write token");
            }
            yaml += &format!(
                "accounts:\n  - name: {name}\n    ig_user_id: \"{id}\"\n    token_file: {}\n",
                file.display()
            );
        }
        yaml += &self.extra;
        let config = self.work.join("storyforge.yaml");
        std::fs::write(&config, yaml).expect("write settings");
        config
    }
}

/// Settings for the local store in `media` served by the sandbox at `base`,
/// the demo account, fast waits, and `extra` appended (top-level YAML).
pub fn fast_settings(work: &Path, media: &Path, base: &str, extra: &str) -> PathBuf {
    SettingsFile::new(work, base)
        .local(media)
        .extra(extra)
        .write()
}

/// [`fast_settings`] with the ledger on `backend`.
pub fn fast_settings_on(
    backend: pg::Backend,
    work: &Path,
    media: &Path,
    base: &str,
    extra: &str,
) -> PathBuf {
    SettingsFile::new(work, base)
        .local(media)
        .extra(extra)
        .ledger(&backend.ledger(work))
        .write()
}

/// The ledger the settings file `config` names (a file or a server).
pub fn open_ledger(config: &Path) -> storyforge::ledger::Ledger {
    let text = std::fs::read_to_string(config).expect("read settings");
    let ledger = text
        .lines()
        .find_map(|l| l.strip_prefix("ledger: "))
        .expect("a ledger line")
        .trim_matches('"');
    storyforge::ledger::Ledger::open(Path::new(ledger)).expect("open the ledger")
}

/// Waits until no Story row holds a claim whose lease is still running
/// (a killed process's claims are free once their leases run out).
pub fn wait_for_leases(config: &Path) {
    let until = open_ledger(config)
        .assets()
        .expect("rows")
        .iter()
        .filter(|r| r.owner.is_some())
        .filter_map(|r| {
            r.lease_until
                .as_deref()
                .and_then(storyforge::ledger::parse_time)
        })
        .max();
    if let Some(until) = until {
        if let Ok(left) = (until - chrono::Utc::now()).to_std() {
            std::thread::sleep(left + std::time::Duration::from_millis(50));
        }
    }
}

/// A sandbox serving a local store, a work folder with [`fast_settings`]
/// for it, and the CLI run against them.
pub struct Rig {
    /// The Graph API sandbox.
    pub sandbox: Sandbox,
    /// Holds the settings, ledger and token.
    pub work: tempfile::TempDir,
    /// The local store the sandbox serves.
    pub media: tempfile::TempDir,
    /// `work/storyforge.yaml`.
    pub config: PathBuf,
}

impl Rig {
    /// Starts the sandbox (images processed in 50 ms, the local store
    /// served) after `tune` has changed its configuration.
    pub fn start(tune: impl FnOnce(&mut SandboxConfig)) -> Rig {
        let media = tempfile::tempdir().expect("test set-up");
        let work = tempfile::tempdir().expect("test set-up");
        let mut config = SandboxConfig {
            media_dir: Some(media.path().to_path_buf()),
            image_processing_ms: 50,
            ..SandboxConfig::default()
        };
        tune(&mut config);
        let sandbox = Sandbox::start(config).expect("test set-up");
        let config = fast_settings(work.path(), media.path(), &sandbox.base_url(), "");
        Rig {
            sandbox,
            work,
            media,
            config,
        }
    }

    /// Rewrites the settings from [`SettingsFile`] defaults changed by `f`.
    pub fn settings(&mut self, f: impl FnOnce(SettingsFile) -> SettingsFile) {
        let base =
            SettingsFile::new(self.work.path(), &self.sandbox.base_url()).local(self.media.path());
        self.config = f(base).write();
    }

    /// Runs `storyforge args` with these settings.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        cli(args, &self.config)
    }

    /// Starts `storyforge args` with these settings.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        spawn(args, &self.config)
    }
}

/// A sandbox account of type PERSONAL, which the API refuses to publish for.
pub fn personal_account() -> SandboxAccount {
    SandboxAccount {
        id: PERSONAL_ID.into(),
        username: "personal_pat".into(),
        account_type: AccountType::Personal,
        token: "tok-personal".into(),
    }
}

/// The id of [`personal_account`].
pub const PERSONAL_ID: &str = "17841400000000002";
