//! storyforge.yaml + environment → checked [`Settings`]. With no file at
//! all, the embedded defaults apply (the local store in `./storyforge-media`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::AppSettings;
use crate::publish::{Account, AccountSettings, GraphSettings};
use crate::storage::StorageConfig;
use crate::util::yaml::{located, yaml_problem, SourcePos};

/// The settings file read when no path is given.
pub const DEFAULT_CONFIG_FILE: &str = "storyforge.yaml";
/// The environment variable naming the settings file.
pub const CONFIG_ENV: &str = "STORYFORGE_CONFIG";
/// The `graph.base_url` that asks for the built-in sandbox. The
/// `storyforge` command starts it and fills in [`Settings::in_process`];
/// the library never starts it.
pub const BUILTIN_SANDBOX: &str = "sandbox";

/// A Graph API started inside this process (the built-in sandbox): the
/// account it knows, and that it forgets everything when the process ends
/// (so nothing is asked of it later, such as insights).
#[derive(Debug, Clone)]
pub struct InProcessGraph {
    /// Its demo account, used when the settings name none.
    pub account: Account,
}

impl PartialEq for InProcessGraph {
    fn eq(&self, other: &Self) -> bool {
        self.account.settings == other.account.settings
    }
}

/// Everything storyforge.yaml can set. `Default`: the embedded defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where uploads go. Default: the local store in `./storyforge-media`.
    pub storage: StorageConfig,
    /// The Graph API and how patiently to talk to it. Default: graph.instagram.com, v25.0.
    pub graph: GraphSettings,
    /// Instagram accounts (name, ig_user_id, token_env or token_file). Default: none.
    pub accounts: Vec<AccountSettings>,
    /// The SQLite ledger file, or a shared Postgres ledger
    /// (`postgres://USER@HOST:PORT/DB`, docs/scale.md). Default: `storyforge.db`.
    pub ledger: PathBuf,
    /// The Meta app `storyforge auth login` logs accounts in with. Default:
    /// no app id, secret from `$STORYFORGE_APP_SECRET`, loopback redirect.
    pub app: AppSettings,
    /// How long a run's claim on a Story holds without renewal, seconds
    /// (renewed every third of it while the run works; a claim whose
    /// owner stopped is taken over when it runs out, never before: owners
    /// are random ids, not host names or pids). Also how long a process's
    /// heartbeat lasts: a schedule entry or automation left running by a
    /// process silent for a lease is run again by the next tick, from any
    /// host. Default: 60.
    pub lease: f64,
    /// Webhooks told about failures, unsure and deferred Stories, expiring
    /// tokens and finished runs (`url`, `format`, `on`). Default: none.
    pub notify: Vec<crate::notify::Webhook>,
    /// The Graph API this process started for itself, if any (never read
    /// from the file).
    #[serde(skip)]
    pub in_process: Option<InProcessGraph>,
    /// The settings file's folder, when read from a file: Stories named
    /// on the command line are identified relative to it.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

impl Settings {
    /// [`Settings::lease`] as a duration (at least a second).
    pub fn lease(&self) -> chrono::Duration {
        chrono::Duration::milliseconds((self.lease.max(1.0) * 1000.0) as i64)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            storage: StorageConfig::default(),
            graph: GraphSettings::default(),
            accounts: Vec::new(),
            ledger: PathBuf::from(DEFAULT_LEDGER),
            app: AppSettings::default(),
            lease: 60.0,
            notify: Vec::new(),
            in_process: None,
            dir: None,
        }
    }
}

/// The ledger file used when the settings name none.
pub const DEFAULT_LEDGER: &str = "storyforge.db";

/// Settings that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read settings: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The YAML, a key or a value is wrong.
    #[error("{}", located(path, *pos, message))]
    Invalid {
        /// The file.
        path: String,
        /// Where (0:0 when the problem is not at one place).
        pos: SourcePos,
        /// What is wrong and what to do.
        message: String,
    },
}

impl ConfigError {
    /// Always the user's: the file is theirs to fix.
    pub fn is_user_fault(&self) -> bool {
        true
    }
}

impl Settings {
    /// The accounts this process publishes for, by name: those configured,
    /// then the demo account of a Graph API started in this process.
    pub fn account_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.accounts.iter().map(|a| a.name.clone()).collect();
        if let Some(g) = &self.in_process {
            if !names.contains(&g.account.settings.name) {
                names.push(g.account.settings.name.clone());
            }
        }
        names
    }

    /// The name of the account `name` picks (the first when `None`), or
    /// why there is none.
    pub fn account_name(&self, name: Option<&str>) -> Result<String, String> {
        let names = self.account_names();
        match name {
            Some(n) if names.iter().any(|a| a == n) => Ok(n.to_string()),
            Some(n) => Err(format!(
                "no account named '{n}' in the settings (accounts: {})",
                if names.is_empty() { "none".into() } else { names.join(", ") }
            )),
            None => names.into_iter().next().ok_or_else(|| {
                "no accounts in the settings; add `accounts:` (name, ig_user_id, token_env or token_file) to storyforge.yaml".into()
            }),
        }
    }

    /// The account called `name`, its token read from its source.
    pub fn load_account(&self, name: &str) -> Result<Account, String> {
        match self.accounts.iter().find(|a| a.name == name) {
            Some(a) => a.load().map_err(|e| e.to_string()),
            None => self
                .in_process
                .as_ref()
                .filter(|g| g.account.settings.name == name)
                .map(|g| g.account.clone())
                .ok_or_else(|| format!("no account named '{name}'")),
        }
    }

    /// The time zone of the account `name` (its `timezone:`), UTC when it
    /// sets none or there is no such account.
    pub fn account_zone(&self, name: &str) -> chrono_tz::Tz {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.timezone.as_deref())
            .and_then(|z| crate::util::zone::parse(z).ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// The zone a report over `account` (or over every account) reads
    /// hours and days in: that account's, else the one zone every account
    /// shares, else UTC.
    pub fn report_zone(&self, account: Option<&str>) -> chrono_tz::Tz {
        if let Some(a) = account {
            return self.account_zone(a);
        }
        let mut zones = self
            .account_names()
            .into_iter()
            .map(|n| self.account_zone(&n));
        match zones.next() {
            Some(first) if zones.all(|z| z == first) => first,
            _ => chrono_tz::UTC,
        }
    }

    /// Today's date for the account `name`, in its time zone.
    pub fn account_today(&self, name: &str) -> chrono::NaiveDate {
        crate::util::zone::today(self.account_zone(name), chrono::Utc::now())
    }

    /// Checks settings `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let shown = path.display().to_string();
        let settings: Settings = if text.trim().is_empty() {
            Settings::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| {
                let (pos, message) = yaml_problem(&e);
                ConfigError::Invalid {
                    path: shown.clone(),
                    pos,
                    message,
                }
            })?
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            pos: SourcePos::default(),
            message,
        };
        settings
            .storage
            .check()
            .map_err(|e| invalid(e.to_string()))?;
        for (i, a) in settings.accounts.iter().enumerate() {
            if settings.accounts[..i].iter().any(|b| b.name == a.name) {
                return Err(invalid(format!(
                    "accounts: the name '{}' is used twice",
                    a.name
                )));
            }
            if let Some(z) = &a.timezone {
                crate::util::zone::parse(z)
                    .map_err(|e| invalid(format!("accounts: '{}': timezone {e}", a.name)))?;
            }
            if a.token_env.is_none() && a.token_file.is_none() {
                return Err(invalid(format!(
                    "accounts: '{}' needs `token_env` or `token_file` (tokens never go on the command line)",
                    a.name
                )));
            }
        }
        Ok(settings)
    }

    /// Reads and checks the settings file at `path`; relative paths in it
    /// (ledger, storage dir, token and secret files) are relative to the
    /// file's folder, wherever storyforge runs from.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut settings = Settings::parse(&text, path)?;
        let dir = path.parent().unwrap_or(Path::new(""));
        settings.resolve_paths(dir);
        settings.dir = Some(if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        });
        Ok(settings)
    }

    /// Makes the relative paths of the settings relative to `dir`.
    pub fn resolve_paths(&mut self, dir: &Path) {
        let beside = |p: &mut PathBuf| {
            if p.is_relative() && !dir.as_os_str().is_empty() {
                *p = dir.join(&*p);
            }
        };
        if !crate::ledger::is_server_url(&self.ledger) {
            beside(&mut self.ledger);
        }
        beside(&mut self.storage.dir);
        for a in &mut self.accounts {
            if let Some(f) = a.token_file.as_mut() {
                beside(f);
            }
        }
        if let Some(f) = self.app.app_secret_file.as_mut() {
            beside(f);
        }
    }

    /// The settings in effect: `explicit` when given, else the file
    /// `$STORYFORGE_CONFIG` names, else `./storyforge.yaml` when it exists,
    /// else the embedded defaults. A named file must exist.
    pub fn discover(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
        let from_env = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty());
        match settings_path(explicit, from_env.map(PathBuf::from)) {
            Some(path) => Settings::load(&path),
            None => Ok(Settings::default()),
        }
    }
}

/// Which file [`Settings::discover`] reads, if any.
fn settings_path(explicit: Option<&Path>, from_env: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = from_env {
        return Some(p);
    }
    let default = PathBuf::from(DEFAULT_CONFIG_FILE);
    default.is_file().then_some(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StoreKind;

    #[test]
    fn empty_is_default() -> Result<(), ConfigError> {
        let s = Settings::parse("", Path::new("storyforge.yaml"))?;
        assert_eq!(s, Settings::default());
        assert_eq!(s.storage.kind, StoreKind::Local);
        Ok(())
    }

    #[test]
    fn reads_an_s3_section() -> Result<(), ConfigError> {
        let text = "storage:\n  kind: s3\n  bucket: stories\n  endpoint: http://127.0.0.1:9000\n  path_style: true\n  prefix: ig/\n  presign_seconds: 3600\n";
        let s = Settings::parse(text, Path::new("storyforge.yaml"))?;
        assert_eq!(s.storage.kind, StoreKind::S3);
        assert_eq!(s.storage.bucket.as_deref(), Some("stories"));
        assert!(s.storage.path_style);
        assert_eq!(s.storage.presign_seconds, Some(3600));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_located() {
        let text = "storage:\n  kind: s3\n  bucket: stories\n  bukket: x\n";
        let msg = match Settings::parse(text, Path::new("storyforge.yaml")) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        };
        assert!(msg.starts_with("storyforge.yaml:4:"), "{msg}");
        assert!(msg.contains("bukket"), "{msg}");
        assert!(msg.contains("did you mean `bucket`"), "{msg}");
    }

    #[test]
    fn checks_values() {
        let text = "storage:\n  kind: s3\n";
        let msg = Settings::parse(text, Path::new("s.yaml")).map_err(|e| e.to_string());
        assert_eq!(
            msg,
            Err("s.yaml: storage settings: `kind: s3` needs a `bucket`".to_string())
        );
    }

    #[test]
    fn reads_an_app_section() -> Result<(), ConfigError> {
        let text = "app:\n  app_id: \"123\"\n  app_secret_file: secret.txt\n";
        let s = Settings::parse(text, Path::new("s.yaml"))?;
        assert_eq!(s.app.app_id, "123");
        assert_eq!(s.app.redirect_uri, "http://127.0.0.1:8765/callback");
        assert_eq!(
            s.app.app_secret_env.as_deref(),
            Some("STORYFORGE_APP_SECRET")
        );
        let bad = Settings::parse("app:\n  app_secret: x\n", Path::new("s.yaml"));
        assert!(bad
            .map_err(|e| e.to_string())
            .unwrap_err()
            .contains("app_secret"));
        Ok(())
    }

    #[test]
    fn account_time_zones() -> Result<(), ConfigError> {
        let text = "accounts:\n  - name: cafe\n    ig_user_id: \"1\"\n    token_env: T\n    timezone: America/New_York\n  - name: shop\n    ig_user_id: \"2\"\n    token_env: T\n";
        let s = Settings::parse(text, Path::new("s.yaml"))?;
        assert_eq!(s.account_zone("cafe"), chrono_tz::America::New_York);
        assert_eq!(s.account_zone("shop"), chrono_tz::UTC);
        assert_eq!(s.account_zone("nobody"), chrono_tz::UTC);
        let bad = text.replace("America/New_York", "America/New_Yrok");
        let msg = Settings::parse(&bad, Path::new("s.yaml"))
            .map_err(|e| e.to_string())
            .unwrap_err();
        assert!(
            msg.contains("'cafe': timezone") && msg.contains("America/New_York"),
            "{msg}"
        );
        Ok(())
    }

    #[test]
    fn path_precedence() {
        let x = Path::new("x.yaml");
        assert_eq!(
            settings_path(Some(x), Some("env.yaml".into())),
            Some(x.to_path_buf())
        );
        assert_eq!(
            settings_path(None, Some("env.yaml".into())),
            Some(PathBuf::from("env.yaml"))
        );
    }
}
