//! The automations people set up (issue 22): feeds shaped like the real
//! services (an Airtable export behind `Authorization`, a weather API's
//! object, RSS 2.0, Atom and a YouTube channel feed) served over loopback
//! HTTP and read into the documented columns; a job's `feed: {url,
//! headers}` run end to end against the sandbox with the key never shown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use storyforge::feed::{Feed, FeedRow, FeedSource};

use crate::common;

/// The Airtable key the loopback "API" wants (set in the environment of
/// this process and of the storyforge child).
const KEY_VAR: &str = "SF_TEST_AIRTABLE_KEY";
const KEY: &str = "patAbC123.s3cr3t-value";

fn cache() {
    common::shared_cache();
    std::env::set_var(KEY_VAR, KEY);
}

const AIRTABLE: &str = r#"{"records":[
 {"id":"recA1","createdTime":"2026-11-30T08:00:00.000Z","fields":{"Name":"Flat white","Price":3.2,"Tags":["hot","milk"],"Photo":[{"id":"att1","url":"https://dl.airtable.com/a.jpg","filename":"a.jpg"}]}},
 {"id":"recB2","createdTime":"2026-11-30T08:01:00.000Z","fields":{"Name":"Cold brew","Price":3.8,"Tags":["iced"],"Notes":null}}
],"offset":null}"#;

const WEATHER: &str = r#"{"location":{"name":"Lisbon","localtime":"2026-12-07 09:00"},
 "current":{"temp_c":16.5,"is_day":1,"condition":{"text":"Partly cloudy","code":1003}}}"#;

const RSS2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>The Roastery Blog</title><link>https://roastery.example/</link><description>News</description>
<item>
  <title>Our new Ethiopian roast</title>
  <link>https://roastery.example/blog/ethiopian</link>
  <guid isPermaLink="false">roastery-post-41</guid>
  <description><![CDATA[<p>A washed Yirgacheffe with <b>jasmine</b> &amp; lemon.</p>]]></description>
  <author>anna@roastery.example (Anna)</author>
  <pubDate>Mon, 30 Nov 2026 08:00:00 +0000</pubDate>
  <enclosure url="https://roastery.example/img/ethiopian.jpg" length="123456" type="image/jpeg"/>
</item>
<item>
  <title>Podcast: brewing at home</title>
  <link>https://roastery.example/podcast/7</link>
  <guid>https://roastery.example/podcast/7</guid>
  <description>Episode seven.</description>
  <pubDate>Tue, 01 Dec 2026 08:00:00 +0000</pubDate>
  <enclosure url="https://roastery.example/ep7.mp3" length="9999" type="audio/mpeg"/>
  <media:thumbnail url="https://roastery.example/img/ep7.png"/>
</item>
</channel></rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Menu changes</title><id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-12-02T18:30:02Z</updated>
  <entry>
    <title type="html">Winter &lt;em&gt;menu&lt;/em&gt;</title>
    <link rel="alternate" href="https://cafe.example/winter"/>
    <link rel="enclosure" type="image/png" href="https://cafe.example/winter.png"/>
    <id>tag:cafe.example,2026:winter</id>
    <updated>2026-12-02T18:30:02Z</updated>
    <published>2026-12-01T09:00:00+01:00</published>
    <author><name>Chef Ola</name></author>
    <summary>Soups are back.</summary>
  </entry>
</feed>"#;

const YOUTUBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id=UCabc"/>
 <id>yt:channel:UCabc</id>
 <yt:channelId>UCabc</yt:channelId>
 <title>Roastery TV</title>
 <author><name>Roastery TV</name><uri>https://www.youtube.com/channel/UCabc</uri></author>
 <published>2020-01-01T00:00:00+00:00</published>
 <entry>
  <id>yt:video:dQw4w9WgXcQ</id>
  <yt:videoId>dQw4w9WgXcQ</yt:videoId>
  <yt:channelId>UCabc</yt:channelId>
  <title>Latte art in 60 seconds</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
  <author><name>Roastery TV</name><uri>https://www.youtube.com/channel/UCabc</uri></author>
  <published>2026-12-03T17:00:06+00:00</published>
  <updated>2026-12-04T02:11:40+00:00</updated>
  <media:group>
   <media:title>Latte art in 60 seconds</media:title>
   <media:content url="https://www.youtube.com/v/dQw4w9WgXcQ?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i3.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg" width="480" height="360"/>
   <media:description>A heart, a tulip and a rosetta, step by step.</media:description>
   <media:community><media:starRating count="12" average="5.00" min="1" max="5"/><media:statistics views="345"/></media:community>
  </media:group>
 </entry>
</feed>"#;

/// Serves the shapes above; `/airtable` answers 401 without the key.
fn serve(airtable_hits: Arc<AtomicUsize>) -> String {
    let base = common::serve_loopback(move |_| {
        let xml = |body: &'static str, ct: &'static str| {
            get(move || async move { ([(header::CONTENT_TYPE, ct)], body) })
        };
        let airtable = move |headers: HeaderMap| {
            let hits = airtable_hits.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if auth != Some(&format!("Bearer {KEY}")) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        r#"{"error":"AUTHENTICATION_REQUIRED"}"#,
                    )
                        .into_response();
                }
                ([(header::CONTENT_TYPE, "application/json")], AIRTABLE).into_response()
            }
        };
        axum::Router::new()
            .route("/v0/base/Menu", get(airtable))
            .route("/weather.json", xml(WEATHER, "application/json"))
            .route("/blog.rss", xml(RSS2, "application/rss+xml"))
            .route("/menu.atom", xml(ATOM, "application/atom+xml"))
            .route("/feeds/videos.xml", xml(YOUTUBE, "text/xml; charset=UTF-8"))
    });
    base
}

fn source(url: &str, headers: &[(&str, &str)]) -> FeedSource {
    FeedSource {
        location: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn rows_of(src: &FeedSource) -> Vec<FeedRow> {
    common::feed_rows(src)
}

#[test]
fn feeds_read_objects_headers_and_rss_columns() {
    cache();
    let hits = Arc::new(AtomicUsize::new(0));
    let base = serve(hits.clone());

    // Airtable: `records[].fields` flatten to dotted columns, with the key
    // sent from the environment.
    let auth = [("Authorization", "Bearer ${SF_TEST_AIRTABLE_KEY}")];
    let menu = rows_of(&source(&format!("{base}/v0/base/Menu#/records"), &auth));
    assert_eq!(menu.len(), 2);
    assert_eq!(menu[0].vars["id"], "recA1");
    assert_eq!(menu[0].vars["fields.Name"], "Flat white");
    assert_eq!(menu[0].vars["fields.Price"], "3.2");
    assert_eq!(menu[0].vars["fields.Tags"], "hot, milk");
    assert_eq!(
        menu[0].vars["fields.Photo.0.url"],
        "https://dl.airtable.com/a.jpg"
    );
    assert!(!menu[1].vars.contains_key("fields.Notes"));
    // Without the key: the server's 401, and no secret in the message.
    let e = Feed::open_source(&source(&format!("{base}/v0/base/Menu#/records"), &[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");
    // A variable that is not set is named; nothing is fetched.
    let before = hits.load(Ordering::SeqCst);
    let unset = [("Authorization", "Bearer ${SF_TEST_NOT_SET_ANYWHERE}")];
    let e = Feed::open_source(&source(&format!("{base}/v0/base/Menu#/records"), &unset))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SF_TEST_NOT_SET_ANYWHERE") && e.contains("Authorization"),
        "{e}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), before);
    // Headers are for URLs only.
    let e = Feed::open_source(&source("menu.csv", &auth))
        .unwrap_err()
        .to_string();
    assert!(e.contains("only to a feed URL"), "{e}");
    for text in [&e, &format!("{:?}", source("x", &[("X-Key", KEY)]))] {
        assert!(!text.contains(KEY), "{text}");
    }

    // A weather API: a pointer onto one object is one row; the whole
    // document (`#`) flattens `current.temp_c`.
    let now = rows_of(&source(&format!("{base}/weather.json#/current"), &[]));
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].vars["temp_c"], "16.5");
    assert_eq!(now[0].vars["condition.text"], "Partly cloudy");
    let whole = rows_of(&source(&format!("{base}/weather.json#"), &[]));
    assert_eq!(whole[0].vars["current.temp_c"], "16.5");
    assert_eq!(whole[0].vars["location.name"], "Lisbon");
    let e = Feed::open_source(&source(
        &format!("{base}/weather.json#/current/temp_c"),
        &[],
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("single value"), "{e}");

    // RSS 2.0: guid, HTML summary as text, an image enclosure; a podcast
    // item's audio enclosure is not an image, its thumbnail is.
    let blog = rows_of(&source(&format!("{base}/blog.rss"), &[]));
    assert_eq!(blog.len(), 2);
    let post = &blog[0].vars;
    assert_eq!(post["id"], "roastery-post-41");
    assert_eq!(post["title"], "Our new Ethiopian roast");
    assert_eq!(
        post["summary"],
        "A washed Yirgacheffe with jasmine & lemon."
    );
    assert_eq!(post["link"], "https://roastery.example/blog/ethiopian");
    assert_eq!(post["date"], "2026-11-30");
    assert_eq!(post["datetime"], "2026-11-30T08:00:00+00:00");
    assert_eq!(post["image"], "https://roastery.example/img/ethiopian.jpg");
    assert!(post["author"].contains("Anna"), "{post:?}");
    assert_eq!(
        blog[1].vars["image"],
        "https://roastery.example/img/ep7.png"
    );

    // Atom: id, HTML title as text, the alternate link, author, the date
    // it was published.
    let atom = rows_of(&source(&format!("{base}/menu.atom"), &[]));
    let entry = &atom[0].vars;
    assert_eq!(entry["id"], "tag:cafe.example,2026:winter");
    assert_eq!(entry["title"], "Winter menu");
    assert_eq!(entry["link"], "https://cafe.example/winter");
    assert_eq!(entry["author"], "Chef Ola");
    assert_eq!(entry["summary"], "Soups are back.");
    assert_eq!(entry["date"], "2026-12-01");

    // YouTube: the image is the thumbnail, never the player URL; the
    // summary is media:description.
    let yt = rows_of(&source(&format!("{base}/feeds/videos.xml"), &[]));
    let video = &yt[0].vars;
    assert_eq!(video["id"], "yt:video:dQw4w9WgXcQ");
    assert_eq!(
        video["image"],
        "https://i3.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg"
    );
    assert_eq!(
        video["summary"],
        "A heart, a tulip and a rosetta, step by step."
    );
    assert_eq!(video["link"], "https://www.youtube.com/watch?v=dQw4w9WgXcQ");
    assert_eq!(video["author"], "Roastery TV");
    assert_eq!(video["date"], "2026-12-03");
}

#[test]
fn a_job_feed_with_headers_publishes_and_never_shows_the_key() {
    cache();
    let hits = Arc::new(AtomicUsize::new(0));
    let base = serve(hits.clone());
    let rig = common::Rig::start(|_| {});
    let work = rig.work.path();
    std::fs::write(
        work.join("t.yaml"),
        common::text_template("{{fields.Name}}: {{fields.Tags}}"),
    )
    .expect("template");
    let job = work.join("menu-job.yaml");
    let feed = format!("feed:\n      url: {base}/v0/base/Menu#/records\n      headers:\n        Authorization: \"Bearer ${{{KEY_VAR}}}\"");
    std::fs::write(
        &job,
        format!("out: out\njobs:\n  - template: t.yaml\n    {feed}\n    key: id\n"),
    )
    .expect("job");
    let out = common::command()
        .args(["run", &job.display().to_string(), "--config"])
        .arg(&rig.config)
        .env(KEY_VAR, KEY)
        .output()
        .expect("run storyforge");
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(rig.sandbox.published().len(), 2, "{text}");
    // The key is in no output, report or ledger.
    let report = std::fs::read_to_string(work.join("out/report.json")).expect("report");
    let ledger = std::fs::read(work.join("l.db")).expect("ledger");
    assert!(!text.contains(KEY), "{text}");
    assert!(!report.contains(KEY));
    assert!(!String::from_utf8_lossy(&ledger).contains(KEY));
    // Without the variable: the Stories fail by name, nothing is published.
    let out = common::command()
        .args(["run", &job.display().to_string(), "--config"])
        .arg(&rig.config)
        .env_remove(KEY_VAR)
        .output()
        .expect("run storyforge");
    let text = common::text(&out);
    assert!(text.contains(KEY_VAR), "{text}");
    assert_eq!(rig.sandbox.published().len(), 2);
}

/// POST bodies by path, as a receiver got them.
type Received = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// A webhook receiver on loopback: records every POST body by path; the
/// first POST to `/hook` answers 500 (the sender must retry).
fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let seen = got.clone();
    let base = common::serve_loopback(move |_| {
        let record = move |path: axum::extract::Path<String>,
                           body: axum::Json<serde_json::Value>| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().expect("lock");
                let first_hook = path.0 == "hook" && !all.iter().any(|(p, _)| p == "hook");
                all.push((path.0, body.0));
                if first_hook {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        };
        axum::Router::new().route("/{path}", axum::routing::post(record))
    });
    (base, got)
}

/// A rig whose settings end with `notify` and a job over a feed with a
/// good row and a row that fails (`someday` is not a date).
fn hooked_rig(notify: &str) -> (common::Rig, std::path::PathBuf) {
    let mut rig = common::Rig::start(|_| {});
    rig.settings(|s| s.extra(notify));
    let job = common::job_files(
        rig.work.path(),
        &common::text_template("{{day | date: '%d %B'}}"),
        "id,day\nok,2026-12-24\nbad,someday\n",
        "",
    );
    (rig, job)
}

#[test]
fn webhooks_hear_each_failure_once_and_never_fail_the_run() {
    let (hooks, got) = receiver();
    let dead = common::s3::free_port();
    let (rig, job) = hooked_rig(&format!(
        "notify:\n  - url: {hooks}/hook\n    on: [failed, run_finished]\n  - url: ${{SF_TEST_SLACK_HOOK}}\n    format: slack\n    on: [failed]\n  - url: http://127.0.0.1:{dead}/down\n    on: [failed]\n"
    ));
    let run = || {
        common::command()
            .args(["run", &job.display().to_string(), "--config"])
            .arg(&rig.config)
            .env(
                "SF_TEST_SLACK_HOOK",
                format!("{hooks}/slack?token=hook-secret"),
            )
            .output()
            .expect("run storyforge")
    };
    let first = run();
    // The failed row decides the exit status; the dead webhook does not.
    assert_eq!(first.status.code(), Some(1), "{}", common::text(&first));
    assert!(!common::text(&first).contains("hook-secret"));
    assert_eq!(rig.sandbox.published().len(), 1);
    let bodies = |path: &str| -> Vec<serde_json::Value> {
        got.lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    };
    // /hook: the failure (its first POST answered 500, then retried) and
    // the run's summary.
    let hook = bodies("hook");
    let failed: Vec<_> = hook.iter().filter(|b| b["event"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{hook:?}");
    assert_eq!(failed[0], failed[1], "the retry sends the same message");
    let events = failed[0]["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{hook:?}");
    assert!(
        events[0]["source"]
            .as_str()
            .is_some_and(|s| s.contains("row 2")),
        "{hook:?}"
    );
    assert!(
        events[0]["message"]
            .as_str()
            .is_some_and(|s| s.contains("someday")),
        "{hook:?}"
    );
    assert_eq!(events[0]["account"], "demo");
    let finished: Vec<_> = hook
        .iter()
        .filter(|b| b["event"] == "run_finished")
        .collect();
    assert_eq!(finished.len(), 1, "{hook:?}");
    assert!(finished[0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("1 published") && t.contains("1 failed")));
    // Slack: its own shape, the same failure.
    let slack = bodies("slack");
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(
        slack[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("row 2")),
        "{slack:?}"
    );

    // Again: the same row fails the same way: not told again; the run's
    // summary is.
    let second = run();
    assert_eq!(second.status.code(), Some(1), "{}", common::text(&second));
    let hook = bodies("hook");
    assert_eq!(
        hook.iter().filter(|b| b["event"] == "failed").count(),
        2,
        "{hook:?}"
    );
    assert_eq!(
        hook.iter().filter(|b| b["event"] == "run_finished").count(),
        2,
        "{hook:?}"
    );
    assert_eq!(bodies("slack").len(), 1);
}

#[test]
fn daily_and_schedule_use_the_accounts_time_zone() {
    let mut rig = common::Rig::start(|_| {});
    rig.settings(|s| s);
    // The account lives on the Line Islands (UTC+14).
    let settings = std::fs::read_to_string(&rig.config).expect("settings");
    let with_zone = settings.replace(
        "    token_file:",
        "    timezone: Pacific/Kiritimati\n    token_file:",
    );
    assert_ne!(with_zone, settings);
    std::fs::write(&rig.config, with_zone).expect("settings");
    let zone: chrono_tz::Tz = "Pacific/Kiritimati".parse().expect("zone");
    let today = || chrono::Utc::now().with_timezone(&zone).date_naive();
    let before = today();
    let feed = rig.work.path().join("days.csv");
    let days: Vec<String> = (-2..=2)
        .map(|d| (before + chrono::Duration::days(d)).to_string())
        .collect();
    std::fs::write(
        &feed,
        format!(
            "date,title,body\n{}\n",
            days.iter()
                .map(|d| format!("{d},On {d},x"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .expect("feed");
    let out = rig.run(&[
        "daily",
        "--feed",
        feed.to_str().expect("utf-8"),
        "--template",
        "templates/daily-update.yaml",
        "--out",
        rig.work.path().join("out").to_str().expect("utf-8"),
    ]);
    let after = today();
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // The day is the account's (14 h ahead of UTC), and says its zone.
    assert!(
        [before, after]
            .iter()
            .any(|d| text.contains(&format!("{d} (Pacific/Kiritimati)"))),
        "{text}"
    );
    assert_eq!(rig.sandbox.published().len(), 1, "{text}");

    // A wall-clock time is in the account's zone: 09:00 there is 19:00 UTC
    // the day before.
    let added = rig.run(&[
        "schedule",
        "add",
        "fixtures/bad/ok-story.jpg",
        "--at",
        "2030-06-01 09:00",
    ]);
    assert_eq!(added.status.code(), Some(0), "{}", common::text(&added));
    let list = common::text(&rig.run(&["schedule", "list"]));
    assert!(list.contains("2030-05-31T19:00:00+00:00"), "{list}");
}

/// The `user_tags` of every Story the sandbox published, sorted.
fn published_tags(rig: &common::Rig) -> Vec<Vec<String>> {
    let mut tags: Vec<Vec<String>> = rig
        .sandbox
        .published()
        .into_iter()
        .map(|r| r.user_tags)
        .collect();
    tags.sort();
    tags
}

#[test]
fn mentions_are_sent_as_user_tags_and_bad_ones_fail_their_story() {
    let rig = common::Rig::start(|_| {});
    let work = rig.work.path();
    let job = common::job_files(
        work,
        &common::text_template("Tonight: {{name}}"),
        "id,name,handle\ng1,Ana,@ana.b\ng2,Bo,bo nope\ng3,Cy,\n",
        "    mentions: [\"{{handle}}\", \"@roastery_tv\"]\n",
    );
    let out = rig.run(&["run", &job.display().to_string()]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("row 2") && text.contains("bo nope"), "{text}");
    let tags = published_tags(&rig);
    // Row 3's empty handle is skipped; the fixed mention stays.
    assert_eq!(
        tags,
        vec![
            vec!["ana.b".to_string(), "roastery_tv".into()],
            vec!["roastery_tv".to_string()]
        ]
    );
    // A mention on a file entry, or a broken placeholder, is a job error.
    std::fs::write(
        work.join("bad.yaml"),
        "jobs:\n  - file: x.jpg\n    mentions: [\"a\"]\n",
    )
    .expect("job");
    let bad = rig.run(&["run", &work.join("bad.yaml").display().to_string()]);
    assert_eq!(bad.status.code(), Some(2), "{}", common::text(&bad));
    assert!(common::text(&bad).contains("`mentions` go with a `template` entry"));
}

#[test]
fn template_mentions_merge_with_the_entrys() {
    let rig = common::Rig::start(|_| {});
    let work = rig.work.path();
    let template = format!(
        "{}mentions: [\"@roastery\", \"{{{{handle}}}}\"]\n",
        common::text_template("Tonight: {{name}}")
    );
    let job = common::job_files(
        work,
        &template,
        "id,name,handle\ng1,Ana,ana.b\ng2,Bo,\n",
        "    mentions: [\"{{handle}}\", \"@roastery_tv\"]\n",
    );
    let out = rig.run(&["run", &job.display().to_string()]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let tags = published_tags(&rig);
    // The entry's first, then the template's; `ana.b` once.
    assert_eq!(
        tags,
        vec![
            vec!["ana.b".to_string(), "roastery_tv".into(), "roastery".into()],
            vec!["roastery_tv".to_string(), "roastery".into()],
        ]
    );
    // A broken placeholder in a template's mentions names the file.
    std::fs::write(
        work.join("t.yaml"),
        format!("{}mentions: [\"{{{{handle\"]\n", common::text_template("x")),
    )
    .expect("template");
    let bad = rig.run(&["run", &job.display().to_string()]);
    let text = common::text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("t.yaml") && text.contains("mentions"),
        "{text}"
    );
}

#[test]
fn an_automations_failure_and_its_ticks_summary_are_each_told_once() {
    let (hooks, got) = receiver();
    let (rig, job) = hooked_rig(&format!(
        "notify:\n  - url: {hooks}/hook\n    on: [failed, run_finished]\n"
    ));
    let now = chrono::Utc::now() + chrono::Duration::days(1);
    let at = now.format("%H:%M").to_string();
    let add = rig.run(&[
        "schedule",
        "add",
        "--job",
        job.to_str().expect("utf-8"),
        "--every",
        &format!("daily {at}"),
        "--now",
        &(now - chrono::Duration::hours(2)).to_rfc3339(),
    ]);
    assert_eq!(add.status.code(), Some(0), "{}", common::text(&add));
    let tick = rig.run(&[
        "tick",
        "--now",
        &(now + chrono::Duration::minutes(1)).to_rfc3339(),
    ]);
    let t = common::text(&tick);
    assert_eq!(rig.sandbox.published().len(), 1, "{t}");
    let hook: Vec<serde_json::Value> = got
        .lock()
        .expect("lock")
        .iter()
        .filter(|(p, _)| p == "hook")
        .map(|(_, b)| b.clone())
        .collect();
    // The bad row's failure once, with its row (a first POST answered 500
    // is retried with the same body), not again as the automation's; and
    // one summary: the tick's, not the automation run's as well.
    let failed: Vec<_> = hook.iter().filter(|b| b["event"] == "failed").collect();
    assert!(!failed.is_empty(), "{hook:?}");
    assert!(failed.iter().all(|b| *b == failed[0]), "{hook:?}");
    assert!(
        failed[0]["events"][0]["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("row 2")),
        "{hook:?}"
    );
    let finished = hook.iter().filter(|b| b["event"] == "run_finished").count();
    assert_eq!(finished, 1, "{t}\n{hook:?}");
}
