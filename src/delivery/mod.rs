//! The one delivery step, used by `publish`, `run`, `daily` and `tick`
//! alike: a Story (a file or a URL, with its identity) → claim in the
//! ledger → validate → upload → URL check → publish → ledger, reported as
//! one [`Item`]. The [`Context`] is built once from the settings: the
//! store, the URL check, the Graph publisher, the ledger, the accounts
//! (chosen here and only here, tokens refreshed when due) and this
//! process's owner id.

pub mod identity;
mod item;
pub mod lanes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::Digest;

pub use item::{Item, ItemStatus};

use crate::config::Settings;
use crate::fonts::FontBook;
use crate::ledger::{self, Asset, Claim, ClaimOutcome, Ledger, LedgerError, State, StoryRequest};
use crate::media::MediaKind;
use crate::publish::{self, tokens, Account, ErrorClass, Outcome, Publisher, StoryMedia, Turn};
use crate::storage::{self, AnyStore, UrlCheck};
use crate::validate;

/// Why the context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    /// The Graph client could not be made.
    #[error(transparent)]
    Graph(#[from] publish::graph::CallError),
    /// `graph.base_url: sandbox` reached the library without the
    /// `storyforge` command having started the built-in sandbox.
    #[error("graph.base_url is `sandbox`, but no sandbox was started in this process; use the storyforge command (it starts the built-in sandbox), or run `storyforge sandbox` and set graph.base_url to its URL")]
    NoSandbox,
    /// No such account, or its token cannot be read.
    #[error("{0}")]
    Account(String),
}

/// One Story to deliver.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The account name [default: the first, or the sandbox's demo account].
    pub account: Option<String>,
    /// What the Story is (see [`identity`]).
    pub identity: identity::Identity,
    /// The identity an earlier release gave it (adopted when found).
    pub legacy: Option<ledger::Legacy>,
    /// sha256 of what it was made from, when known.
    pub input_hash: Option<String>,
    /// What it was made from, field by field, when known.
    pub fields: Option<crate::pipeline::Fields>,
    /// Where it came from, for people.
    pub source: String,
    /// The Story file, or its public URL.
    pub media: Media,
    /// Publish even if this identity (or these bytes) already went out.
    pub republish: bool,
    /// Usernames to tag (`user_tags`), already checked. Default: none.
    pub mentions: Vec<String>,
    /// Publish a new version when its inputs changed since it was published.
    pub publish_changed: bool,
    /// What asks for it (`schedule:7`) [default: this run]: one request
    /// makes at most one generation of a Story.
    pub asked_by: Option<String>,
}

impl Delivery {
    /// A Story `identity` from `media`, with nothing else known yet.
    pub fn new(identity: identity::Identity, source: String, media: Media) -> Delivery {
        Delivery {
            account: None,
            identity,
            legacy: None,
            input_hash: None,
            fields: None,
            source,
            media,
            republish: false,
            publish_changed: false,
            asked_by: None,
            mentions: Vec::new(),
        }
    }
}

/// A Story's media.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// A local file, validated and uploaded first.
    File(PathBuf),
    /// Already at a public HTTPS URL.
    Url(String),
}

/// How the step runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryOptions {
    /// Validate and upload only.
    pub dry_run: bool,
}

/// Everything the delivery step needs, built once from the settings.
pub struct Context {
    settings: Settings,
    ledger: Ledger,
    store: Option<AnyStore>,
    check: UrlCheck,
    publisher: Publisher,
    fonts: FontBook,
    owner: String,
    lease: chrono::Duration,
    /// Loaded accounts (held while one is loaded, so a token is refreshed
    /// once however many Stories of the account start at once).
    accounts: tokio::sync::Mutex<HashMap<String, Account>>,
    stopped: Mutex<HashMap<String, String>>,
    opts: DeliveryOptions,
    /// Accounts whose unknown media ids this run has tried to fill in.
    ids_filled: Mutex<std::collections::HashSet<String>>,
}

impl Drop for Context {
    /// The run has ended: this process's other runs may take over what it
    /// still holds.
    fn drop(&mut self) {
        ledger::owner_done(&self.owner);
    }
}

impl Context {
    /// Builds the context from the settings (with the in-process Graph
    /// API's demo account, when the caller started one).
    pub async fn open(settings: Settings, opts: DeliveryOptions) -> Result<Context, SetupError> {
        if settings.graph.base_url == crate::config::BUILTIN_SANDBOX {
            return Err(SetupError::NoSandbox);
        }
        let ledger = Ledger::open(&settings.ledger)?;
        let store = Some(AnyStore::open(&settings.storage).await?);
        let host = reqwest::Url::parse(&settings.graph.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let local = store.as_ref().is_some_and(AnyStore::is_local);
        let check = UrlCheck::new(
            storage::is_loopback_host(&host) || local,
            publish::secs(settings.graph.timeout),
        )?;
        let publisher = Publisher::new(settings.graph.clone())?;
        let lease = settings.lease();
        Ok(Context {
            settings,
            ledger,
            store,
            check,
            publisher,
            fonts: FontBook::bundled(),
            owner: ledger::owner_id(),
            lease,
            accounts: Default::default(),
            stopped: Default::default(),
            opts,
            ids_filled: Default::default(),
        })
    }

    /// The settings in effect (the built-in sandbox's URLs filled in).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Containers of one account in flight at once (`graph.pipeline`).
    pub fn pipeline(&self) -> usize {
        self.publisher.pipeline()
    }

    /// The Graph client.
    pub fn client(&self) -> &publish::graph::GraphClient {
        self.publisher.client()
    }

    /// The name of the account `name` picks (the first when `None`, or the
    /// built-in sandbox's demo account when there are none).
    pub fn account_name(&self, name: Option<&str>) -> Result<String, SetupError> {
        self.settings
            .account_name(name)
            .map_err(SetupError::Account)
    }

    /// The account `name` picks, its token loaded and refreshed first when
    /// due (once per process).
    pub async fn account(&self, name: Option<&str>) -> Result<Account, SetupError> {
        let name = self.account_name(name)?;
        let mut accounts = self.accounts.lock().await;
        if let Some(a) = accounts.get(&name) {
            return Ok(a.clone());
        }
        let mut account = self
            .settings
            .load_account(&name)
            .map_err(SetupError::Account)?;
        if tokens::status(&self.ledger, &account, chrono::Utc::now())?.refresh_due {
            match tokens::refresh(self.publisher.client(), &self.ledger, &account).await {
                Ok(fresh) => {
                    tracing::info!("{name}: token refreshed");
                    account.token = fresh;
                }
                Err(e) => tracing::warn!("{e}; publishing with the current token"),
            }
        }
        accounts.insert(name, account.clone());
        Ok(account)
    }

    /// The newest row of every identity of `account` starting with `prefix`,
    /// by identity (a run asks once, to skip work already published).
    pub fn known(&self, account: &str, prefix: &str) -> HashMap<String, Asset> {
        self.ledger
            .identities(account, prefix)
            .map(|rows| rows.into_iter().map(|r| (r.identity.clone(), r)).collect())
            .unwrap_or_default()
    }

    /// Fills in `account`'s media ids that have become certain (once per
    /// run), and returns `row` as it is then.
    async fn fill_media_ids(&self, account: &Account, row: Box<Asset>) -> Box<Asset> {
        let first = self
            .ids_filled
            .lock()
            .map(|mut f| f.insert(account.settings.name.clone()))
            .unwrap_or(false);
        if !first {
            return row;
        }
        let client = self.publisher.client();
        match publish::media_ids::fill(client, &self.ledger, account).await {
            Ok(0) => row,
            Ok(_) => self.ledger.get(row.id).map(Box::new).unwrap_or(row),
            Err(e) => {
                tracing::warn!("{e}");
                row
            }
        }
    }

    /// Delivers one Story: claim → validate → upload → publish → ledger.
    /// Never fails as a whole: the item says what happened.
    pub async fn deliver(&self, d: &Delivery) -> Item {
        self.deliver_in_turn(d, Turn::free()).await
    }

    /// [`Context::deliver`], publishing only in `turn` (see [`lanes`]).
    pub async fn deliver_in_turn(&self, d: &Delivery, turn: Turn) -> Item {
        let mut item = Item::new(&d.source, &d.media);
        let account = match self.account(d.account.as_deref()).await {
            Ok(a) => a,
            Err(e) => return item.failed(e.to_string(), false),
        };
        let name = account.settings.name.clone();
        let stopped = self.stopped.lock().ok().and_then(|s| s.get(&name).cloned());
        if let Some(why) = stopped {
            return item.failed(format!("skipped: account '{name}' stopped: {why}"), false);
        }
        // A file's kind is its content's (the validator refuses what is
        // neither); a URL's is its name's.
        let (hash, kind) = match &d.media {
            Media::File(p) => match std::fs::read(p) {
                Ok(bytes) => (
                    hex::encode(sha2::Sha256::digest(&bytes)),
                    MediaKind::sniff(&bytes)
                        .unwrap_or_else(|| MediaKind::from_name(&p.to_string_lossy())),
                ),
                Err(e) => return item.failed(format!("{}: cannot read: {e}", p.display()), false),
            },
            Media::Url(u) => (
                hex::encode(sha2::Sha256::digest(u.as_bytes())),
                MediaKind::from_name(u),
            ),
        };
        item.kind = Some(kind);
        let encoded = d.identity.encode();
        let req = StoryRequest {
            account: name.clone(),
            identity: encoded.clone(),
            content_hash: hash,
            input_hash: d.input_hash.clone(),
            kind,
            source: d.source.clone(),
            output_path: match &d.media {
                Media::File(p) => Some(p.display().to_string()),
                Media::Url(_) => None,
            },
            republish: d.republish,
            publish_changed: d.publish_changed,
            asked_by: Some(d.asked_by.clone().unwrap_or_else(|| self.owner.clone())),
            fields: d
                .fields
                .as_ref()
                .and_then(|f| serde_json::to_string(f).ok()),
            legacy: d.legacy.clone(),
        };
        if self.opts.dry_run {
            if let Ok(Some(row)) = self.ledger.latest(&name, &encoded) {
                if row.state == State::Published && !d.republish {
                    return item.already(&row, &[]);
                }
            }
            return match self.prepare(&mut item, &d.media).await {
                Ok(_) => item.with(ItemStatus::DryRun),
                Err(e) => item.failed(e.to_string(), false),
            };
        }
        let (row, claim, taken_over) = match self.ledger.claim(&req, &self.owner, self.lease) {
            Err(e) => return item.failed(e.to_string(), true),
            Ok(ClaimOutcome::Published {
                row,
                changed,
                changed_fields,
            }) => {
                // A lost reply's id, once the other Stories are known.
                let row = match row.media_id {
                    None => self.fill_media_ids(&account, row).await,
                    Some(_) => row,
                };
                let fields = if changed && changed_fields.is_empty() {
                    vec!["content".to_string()]
                } else {
                    changed_fields
                };
                return item.already(&row, &fields);
            }
            Ok(ClaimOutcome::Busy { row }) => {
                item.error = Some(format!(
                    "in progress in another run (Story {}, {})",
                    row.id, row.state
                ));
                return item.with(ItemStatus::Busy);
            }
            Ok(ClaimOutcome::SameContent { row }) => {
                item.media_id = row.media_id.clone();
                let when = if row.state == State::Published {
                    "were published"
                } else {
                    "are being published"
                };
                item.error = Some(format!(
                    "the same bytes {when} as {} (Story {}{}) within 24 h; not published again (use --republish to publish them again)",
                    row.source,
                    row.id,
                    row.media_id.as_deref().map(|m| format!(", media {m}")).unwrap_or_default()
                ));
                return item.with(ItemStatus::SameContent);
            }
            Ok(ClaimOutcome::Claimed {
                row,
                claim,
                taken_over,
            }) => (row, claim, taken_over),
        };
        if taken_over {
            tracing::info!(
                "{}: taken over from a run that stopped ({}); resuming",
                d.source,
                row.state
            );
        }
        item.story = Some(row.id);
        let mentions = self.ledger.claimed_mentions(&row, &d.mentions);
        let item = self
            .publish_claimed(item, (&d.media, &mentions), &row, &claim, &account, turn)
            .await;
        let _ = self.ledger.release(&claim);
        item
    }

    /// Validates and uploads a file (a URL is used as it is): the URL to
    /// publish, and the store key.
    async fn prepare(
        &self,
        item: &mut Item,
        media: &Media,
    ) -> Result<(String, Option<String>), PrepareError> {
        let path = match media {
            Media::Url(u) => return Ok((u.clone(), None)),
            Media::File(p) => p,
        };
        // Validation reads the file and the upload holds a socket: both
        // count against the bound shared with Graph calls.
        let in_flight = self.publisher.in_flight();
        let _permit = in_flight.acquire().await;
        let report = validate::check_file(path, &self.fonts, None, &validate::Options::default());
        item.findings = report.findings.iter().map(item::finding_line).collect();
        if report.fails(false) {
            let first = report
                .findings
                .iter()
                .find(|f| validate::fails(f.rule.severity, false))
                .map(|f| {
                    format!(
                        "{} {}: {}; {}",
                        f.rule.id, f.rule.name, f.message, f.rule.hint
                    )
                })
                .unwrap_or_default();
            return Err(PrepareError::Invalid(format!(
                "{}: not published: {first}",
                path.display()
            )));
        }
        let store = self
            .store
            .as_ref()
            .ok_or_else(|| PrepareError::Store("no store is configured".into()))?;
        let up = storage::upload_file(store, path, &self.check)
            .await
            .map_err(|e| PrepareError::Store(e.to_string()))?;
        item.url = Some(crate::util::redact::redact_url(&up.url));
        Ok((up.url, Some(up.key)))
    }

    async fn publish_claimed(
        &self,
        mut item: Item,
        (media, mentions): (&Media, &[String]),
        row: &Asset,
        claim: &Claim,
        account: &Account,
        turn: Turn,
    ) -> Item {
        let (url, key) = match self.prepare(&mut item, media).await {
            Ok(u) => u,
            Err(e) => {
                // Bad media is the user's to fix; a store error passes.
                let bad = matches!(e, PrepareError::Invalid(_));
                let e = e.to_string();
                let state = if bad && !row.state.in_flight() {
                    State::Failed
                } else {
                    row.state
                };
                let _ = self.ledger.set_error(claim, state, &e);
                return item.failed(e, !bad);
            }
        };
        if let Err(e) = self.ledger.set_uploaded(claim, key.as_deref(), &url) {
            return item.failed(e.to_string(), true);
        }
        let story = StoryMedia {
            url,
            kind: row.kind,
            user_tags: mentions.to_vec(),
        };
        let ledger = &self.ledger;
        let lease = self.lease;
        let renew_every = (lease / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(20));
        let renew = async {
            loop {
                tokio::time::sleep(renew_every).await;
                if let Err(e) = ledger.renew(claim, lease) {
                    return e;
                }
            }
        };
        let outcome = tokio::select! {
            o = self.publisher.publish(ledger, claim, row, account, &story, turn) => o,
            e = renew => Err(e.into()),
        };
        match outcome {
            Ok(Outcome::Published { media_id, .. }) => {
                item.media_id = media_id;
                item.with(ItemStatus::Published)
            }
            Ok(Outcome::Deferred { reason }) => {
                item.error = Some(reason);
                item.with(ItemStatus::Deferred)
            }
            Ok(Outcome::Failed { class, message }) => {
                self.stop_on(&account.settings.name, class, &message);
                item.failed(message, class.retryable())
            }
            Ok(Outcome::Unsure { class, message }) => {
                self.stop_on(&account.settings.name, class, &message);
                item.error = Some(message);
                item.with(ItemStatus::Unsure)
            }
            Err(publish::flow::FlowError::Ledger(LedgerError::ClaimLost { .. })) => {
                item.error = Some(
                    "taken over by another run while this one was stalled; it finishes there"
                        .into(),
                );
                item.with(ItemStatus::Busy)
            }
            Err(e) => item.failed(e.to_string(), true),
        }
    }

    /// An auth or blocked error stops the account for the rest of the run.
    fn stop_on(&self, account: &str, class: ErrorClass, message: &str) {
        if matches!(class, ErrorClass::Auth | ErrorClass::Blocked) {
            if let Ok(mut stopped) = self.stopped.lock() {
                stopped.insert(account.to_string(), message.to_string());
            }
        }
    }
}

/// Why a Story's media could not be made ready to publish.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    /// The validator refused the file: the user's to fix, never retried.
    #[error("{0}")]
    Invalid(String),
    /// The store failed (or there is none): may pass on a later run.
    #[error("{0}")]
    Store(String),
}

/// The sha256 (hex) of `parts`, each length-prefixed.
pub fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// True for a path that names media in a store or on the web, not on disk.
pub fn is_url(s: &str) -> bool {
    identity::is_url(s)
}
