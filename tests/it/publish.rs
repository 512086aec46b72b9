//! The publish stage against the sandbox over loopback HTTP: the image and
//! video flows, every error class, faults, quota, rate limits, tokens,
//! insights, redaction, and parsing of the recorded Graph API responses.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use storyforge::ledger::{ClaimOutcome, Ledger, State, StoryRequest};
use storyforge::media::MediaKind;
use storyforge::publish::errors::ErrorClass;
use storyforge::publish::flow::FlowError;
use storyforge::publish::graph::{parse_usage, GraphError};
use storyforge::publish::{
    insights, tokens, Account, AccountSettings, GraphSettings, Outcome, Publisher, Secret,
    StoryMedia, Turn,
};
use storyforge::sandbox::{Faults, Sandbox, SandboxConfig};

const ACCOUNT_ID: &str = "17841400000000001";
const TOKEN: &str = "sandbox-token-demo";

struct Rig {
    sandbox: Sandbox,
    media: tempfile::TempDir,
    db: tempfile::TempDir,
}

fn rig(tweak: impl FnOnce(&mut SandboxConfig)) -> Rig {
    let media = tempfile::tempdir().expect("media dir");
    let mut config = SandboxConfig {
        media_dir: Some(media.path().to_path_buf()),
        image_processing_ms: 100,
        video_processing_ms: 300,
        ..SandboxConfig::default()
    };
    tweak(&mut config);
    let sandbox = Sandbox::start(config).expect("sandbox starts");
    Rig {
        sandbox,
        media,
        db: tempfile::tempdir().expect("db dir"),
    }
}

fn fast(base: &str) -> GraphSettings {
    GraphSettings {
        base_url: base.to_string(),
        timeout: 5.0,
        publish_spacing: 0.0,
        image_poll: 0.05,
        video_poll: 0.1,
        image_deadline: 10.0,
        video_deadline: 20.0,
        retry_base: 0.05,
        rate_limit_base: 0.1,
        max_wait: 2.0,
        not_ready_wait: 0.05,
        slow_down_max: 0.0,
        ..GraphSettings::default()
    }
}

fn account(token: &str) -> Account {
    Account {
        settings: AccountSettings {
            name: "demo".into(),
            ig_user_id: ACCOUNT_ID.into(),
            token_env: None,
            token_file: None,
            timezone: None,
        },
        token: Secret::new(token),
    }
}

impl Rig {
    fn ledger(&self) -> Ledger {
        Ledger::open(&self.db.path().join("storyforge.db")).expect("ledger")
    }

    /// Serves `fixture` under `name` and describes it as a Story.
    fn story(&self, fixture: &Path, name: &str, kind: MediaKind) -> Story {
        let bytes = std::fs::read(fixture).expect("fixture");
        std::fs::write(self.media.path().join(name), &bytes).expect("serve");
        Story {
            media: StoryMedia {
                url: format!("{}/media/{name}", self.sandbox.base_url()),
                kind,
                user_tags: Vec::new(),
            },
            content_hash: format!("{name}-{}", bytes.len()),
            source: fixture.display().to_string(),
        }
    }
}

/// A Story for the flow: its media and what the ledger keys it by.
#[derive(Clone)]
struct Story {
    media: StoryMedia,
    content_hash: String,
    source: String,
}

/// The publisher with the claim the delivery step takes before it.
struct Flow<'a> {
    publisher: Publisher,
    ledger: &'a Ledger,
}

impl<'a> Flow<'a> {
    fn new(settings: GraphSettings, ledger: &'a Ledger) -> Flow<'a> {
        Flow {
            publisher: Publisher::new(settings).expect("publisher"),
            ledger,
        }
    }

    fn client(&self) -> &storyforge::publish::graph::GraphClient {
        self.publisher.client()
    }

    /// Claims `story` (identity = its content hash) and publishes it.
    async fn publish(&mut self, account: &Account, story: &Story) -> Result<Outcome, FlowError> {
        let req = StoryRequest::new(
            &account.settings.name,
            &story.content_hash,
            &story.content_hash,
            story.media.kind,
            &story.source,
        );
        let lease = chrono::Duration::seconds(60);
        match self.ledger.claim(&req, "test-owner/1/x", lease)? {
            ClaimOutcome::Claimed { row, claim, .. } => {
                let o = self
                    .publisher
                    .publish(
                        self.ledger,
                        &claim,
                        &row,
                        account,
                        &story.media,
                        Turn::free(),
                    )
                    .await;
                self.ledger.release(&claim)?;
                o
            }
            ClaimOutcome::Published { row, .. } => Ok(Outcome::Published {
                media_id: row.media_id,
                already: true,
            }),
            other => panic!("not claimed: {other:?}"),
        }
    }
}

fn find(ledger: &Ledger, identity: &str) -> storyforge::ledger::Asset {
    ledger
        .latest("demo", identity)
        .expect("ledger read")
        .expect("row exists")
}

fn bad(name: &str) -> PathBuf {
    common::root().join("fixtures/bad").join(name)
}

fn published_id(o: &Outcome) -> String {
    match o {
        Outcome::Published {
            media_id: Some(id), ..
        } => id.clone(),
        other => panic!("not published: {other:?}"),
    }
}

#[tokio::test]
async fn image_flow_publishes_once_and_records_the_media_id() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-story.jpg"), "a.jpg", MediaKind::Image);
    let first = p.publish(&account(TOKEN), &story).await.unwrap();
    let id = published_id(&first);
    let again = p.publish(&account(TOKEN), &story).await.unwrap();
    assert_eq!(
        again,
        Outcome::Published {
            media_id: Some(id.clone()),
            already: true
        }
    );
    let record = r.sandbox.published();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].media_id, id);
    let row = find(&ledger, &story.content_hash);
    assert_eq!(row.state, State::Published);
    assert_eq!(row.media_id.as_deref(), Some(id.as_str()));
    assert!(row.container_id.is_some());
}

#[tokio::test]
async fn video_flow_polls_until_finished() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-video.mp4"), "v.mp4", MediaKind::Video);
    let id = published_id(&p.publish(&account(TOKEN), &story).await.unwrap());
    let record = r.sandbox.published();
    assert_eq!(record.len(), 1);
    assert_eq!(
        (record[0].media_id.as_str(), record[0].media_type.as_str()),
        (id.as_str(), "VIDEO")
    );
}

#[tokio::test]
async fn broken_media_is_fix_the_input_and_never_retried() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let png = r.story(&bad("SF101-png-named.jpg"), "p.jpg", MediaKind::Image);
    match p.publish(&account(TOKEN), &png).await.unwrap() {
        Outcome::Failed { class, message } => {
            assert_eq!(class, ErrorClass::FixInput, "{message}");
            assert!(message.contains("2207005"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A video Instagram cannot process fails asynchronously, with the subcode's meaning.
    let mkv = r.story(&bad("SF203-mpeg4.mp4"), "m.mp4", MediaKind::Video);
    match p.publish(&account(TOKEN), &mkv).await.unwrap() {
        Outcome::Failed { class, message } => {
            assert_eq!(class, ErrorClass::FixInput, "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A URL Instagram cannot fetch: 9004 on creation.
    let mut missing = png.clone();
    missing.media.url = format!("{}/media/nothing-here.jpg", r.sandbox.base_url());
    missing.content_hash = "missing".into();
    match p.publish(&account(TOKEN), &missing).await.unwrap() {
        Outcome::Failed { class, message } => {
            assert_eq!(class, ErrorClass::FixInput);
            assert!(message.contains("9004"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(r.sandbox.published().is_empty());
    assert_eq!(find(&ledger, "missing").state, State::Failed);
}

#[tokio::test]
async fn faults_are_survived_without_a_duplicate() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let faults = [
        Faults {
            transient_errors: 3,
            ..Faults::default()
        },
        Faults {
            drop_publish_reply: 1,
            ..Faults::default()
        },
        Faults {
            spurious_9007: 1,
            ..Faults::default()
        },
        Faults {
            slow_reply_ms: 200,
            ..Faults::default()
        },
    ];
    for (i, f) in faults.into_iter().enumerate() {
        r.sandbox.set_faults(f.clone());
        let story = r.story(&bad("ok-story.jpg"), &format!("f{i}.jpg"), MediaKind::Image);
        let id = published_id(&p.publish(&account(TOKEN), &story).await.unwrap());
        let record = r.sandbox.published();
        assert_eq!(record.len(), i + 1, "fault {f:?}");
        assert_eq!(
            record[i].media_id, id,
            "fault {f:?}: the ledger's id is the Story's"
        );
    }
    r.sandbox.set_faults(Faults::default());
}

#[tokio::test]
async fn quota_used_up_defers_with_when_it_frees() {
    let r = rig(|c| c.quota_total = 1);
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let a = r.story(&bad("ok-story.jpg"), "q1.jpg", MediaKind::Image);
    published_id(&p.publish(&account(TOKEN), &a).await.unwrap());
    let b = r.story(&bad("SF109-exif-rotated.jpg"), "q2.jpg", MediaKind::Image);
    match p.publish(&account(TOKEN), &b).await.unwrap() {
        Outcome::Deferred { reason } => {
            assert!(reason.contains("quota used up (1 of 1"), "{reason}");
            assert!(reason.contains("frees at"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.sandbox.published().len(), 1);
    // No container was created for the deferred Story.
    assert!(find(&ledger, &b.content_hash).container_id.is_none());
}

#[tokio::test]
async fn rate_limit_defers_and_usage_is_read() {
    let r = rig(|c| c.calls_per_hour = 4);
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let a = r.story(&bad("ok-story.jpg"), "r1.jpg", MediaKind::Image);
    let outcome = p.publish(&account(TOKEN), &a).await.unwrap();
    match outcome {
        Outcome::Deferred { reason } => assert!(
            reason.contains("code 4") || reason.contains("code 17"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        p.client().usage().percent >= 75.0,
        "{:?}",
        p.client().usage()
    );
    assert!(r.sandbox.published().is_empty());
}

#[tokio::test]
async fn expired_and_invalid_tokens_are_auth_errors_and_never_leak() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-story.jpg"), "t.jpg", MediaKind::Image);
    let secret = "IGQVJ-super-secret-token-value";
    match p.publish(&account(secret), &story).await.unwrap() {
        Outcome::Failed { class, message } => {
            assert_eq!(class, ErrorClass::Auth);
            assert!(message.contains("190"), "{message}");
            assert!(!message.contains(secret));
        }
        other => panic!("{other:?}"),
    }
    let row = find(&ledger, &story.content_hash);
    assert!(!format!("{row:?}").contains(secret));
    let dump = std::fs::read(r.db.path().join("storyforge.db")).unwrap();
    assert!(!String::from_utf8_lossy(&dump).contains(secret));
    // The configured token expires after 60 days of sandbox clock.
    r.sandbox.advance_clock(Duration::from_secs(61 * 86_400));
    let other = r.story(&bad("SF109-exif-rotated.jpg"), "t2.jpg", MediaKind::Image);
    match p.publish(&account(TOKEN), &other).await.unwrap() {
        Outcome::Failed { class, message } => {
            assert_eq!(class, ErrorClass::Auth, "{message}");
            assert!(!message.contains(TOKEN));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tokens_refresh_into_the_token_file() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let file = r.db.path().join("demo.token");
    std::fs::write(&file, TOKEN).unwrap();
    let settings = AccountSettings {
        name: "demo".into(),
        ig_user_id: ACCOUNT_ID.into(),
        token_env: None,
        token_file: Some(file.clone()),
        timezone: None,
    };
    let acct = settings.load().unwrap();
    // Too young: the API refuses, the file keeps the old token.
    assert!(tokens::refresh(p.client(), &ledger, &acct).await.is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TOKEN);
    r.sandbox.advance_clock(Duration::from_secs(25 * 3600));
    let fresh = tokens::refresh(p.client(), &ledger, &acct).await.unwrap();
    assert_ne!(fresh.expose(), TOKEN);
    let stored = settings.load().unwrap();
    assert_eq!(stored.token.expose(), fresh.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let st = tokens::status(&ledger, &stored, chrono::Utc::now()).unwrap();
    assert!(st.days_left.unwrap() > 59.0);
    assert!(!st.refresh_due);
    // The new token publishes.
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-story.jpg"), "after.jpg", MediaKind::Image);
    published_id(&p.publish(&stored, &story).await.unwrap());
}

/// Collects the demo account's insights now (`any_age`: also Stories not due yet).
async fn collect_now(p: &Flow<'_>, ledger: &Ledger, any_age: bool) -> Vec<insights::Collected> {
    insights::collect(
        p.client(),
        ledger,
        &account(TOKEN),
        chrono::Utc::now(),
        any_age,
    )
    .await
    .expect("insights collected")
}

#[tokio::test]
async fn insights_are_collected_for_live_stories() {
    let r = rig(|_| {});
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-story.jpg"), "i.jpg", MediaKind::Image);
    let id = published_id(&p.publish(&account(TOKEN), &story).await.unwrap());
    let got = collect_now(&p, &ledger, true).await;
    assert_eq!(got.len(), 1);
    let metrics = got[0].result.clone().unwrap();
    for m in [
        "views",
        "reach",
        "replies",
        "shares",
        "total_interactions",
        "follows",
        "profile_visits",
        "profile_activity",
        "navigation",
    ] {
        assert!(metrics.get(m).is_some(), "{m} missing in {metrics}");
    }
    assert!(
        metrics["navigation_breakdown"]["tap_forward"].is_u64(),
        "{metrics}"
    );
    for gone in ["link_clicks", "reposts", "impressions"] {
        assert!(metrics.get(gone).is_none(), "{gone} in {metrics}");
    }
    assert!(!got[0].no_data_yet);
    assert!(got[0].refused.is_empty(), "{:?}", got[0].refused);
    assert!(ledger.insights(&id).unwrap().is_some());
    // Not due yet without `any_age` (the Story is minutes old).
    let none = collect_now(&p, &ledger, false).await;
    assert!(none.is_empty());
}

#[test]
fn recorded_responses_parse_and_classify() {
    let dir = common::root().join("fixtures/graph-api");
    let error = |name: &str| -> GraphError {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        serde_json::from_value(v["error"].clone()).unwrap()
    };
    let fetch = error("error_9004_media_fetch_failed.json");
    assert_eq!((fetch.code, fetch.error_subcode), (9004, Some(2207052)));
    assert_eq!(fetch.class(), ErrorClass::FixInput);
    assert_eq!(
        error("error_36003_aspect_ratio.json").class(),
        ErrorClass::FixInput
    );
    let token = error("error_190_token.json");
    assert_eq!(token.class(), ErrorClass::Auth);
    assert!(token
        .describe()
        .starts_with("code 190: The access token could not be decrypted"));
    let header: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("header_business_use_case_usage.json")).unwrap(),
    )
    .unwrap();
    let usage = parse_usage(None, Some(&header["x-business-use-case-usage"].to_string()));
    assert_eq!(usage.percent, 29.0);
    let limit: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("content_publishing_limit.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(limit["data"][0]["config"]["quota_total"], 25);
}

/// A request that carries a token never follows a redirect: a 3xx is an
/// error that says so, and the redirect's target never sees the token.
#[tokio::test]
async fn redirects_are_never_followed_with_a_token() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let hits = Arc::new(AtomicUsize::new(0));
    let target = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target_url = format!("http://{}/stolen", target.local_addr().expect("addr"));
    let counter = hits.clone();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                "{}"
            }
        });
        let _ = axum::serve(target, app).await;
    });
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", redirector.local_addr().expect("addr"));
    let to = target_url.clone();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(move || {
            let to = to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        });
        let _ = axum::serve(redirector, app).await;
    });
    let client =
        storyforge::publish::graph::GraphClient::new(&base, "v25.0", Duration::from_secs(5))
            .expect("loopback http is allowed");
    let err = client
        .call(
            storyforge::publish::graph::Method::Get,
            "me",
            &Secret::new("IGQVJ-secret-token"),
            &[("fields", "id")],
        )
        .await
        .expect_err("a redirect is an error");
    let msg = err.to_string();
    assert!(msg.contains("answered HTTP 307"), "{msg}");
    assert!(msg.contains("follows no redirect"), "{msg}");
    assert!(!msg.contains("IGQVJ-secret-token"), "{msg}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the token went to the redirect target"
    );
    let insecure = storyforge::publish::graph::GraphClient::new(
        "http://graph.example.com",
        "v25.0",
        Duration::from_secs(5),
    )
    .err()
    .expect("plain http to a remote host is refused")
    .to_string();
    assert!(
        insecure.contains("graph.base_url") && insecure.contains("https://"),
        "{insecure}"
    );
}

/// Under 5 viewers the API answers error 10: "no data yet", not a failure,
/// nothing stored; the new metrics and the navigation breakdown otherwise.
#[tokio::test]
async fn insights_without_enough_viewers_are_no_data_yet() {
    let r = rig(|c| c.story_viewers = Some(3));
    let ledger = r.ledger();
    let mut p = Flow::new(fast(&r.sandbox.base_url()), &ledger);
    let story = r.story(&bad("ok-story.jpg"), "few.jpg", MediaKind::Image);
    let id = published_id(&p.publish(&account(TOKEN), &story).await.unwrap());
    let got = collect_now(&p, &ledger, true).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].no_data_yet);
    let note = got[0].result.clone().expect("not a failure");
    assert_eq!(note["status"], "no data yet");
    assert!(
        ledger.insights(&id).unwrap().is_none(),
        "asked again next time"
    );
}
