//! Publishing from the dashboard: uploaded videos transcoded or refused by
//! name, "publish now" beside a tick publishing each Story once.

use super::*;

#[cfg(feature = "video")]
#[tokio::test(flavor = "multi_thread")]
async fn uploaded_videos_are_transcoded_or_refused_by_name() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let cookie = session(&s).await;
    let csrf = csrf_of(&s, &cookie).await;

    let ok = upload_video(&s, &cookie, &csrf, "silent.webm").await;
    assert_eq!(ok["status"], "ready", "{ok}");
    assert_eq!(ok["kind"], "video");
    assert_eq!(ok["parts"], 1);
    assert_eq!(
        ok["findings"],
        json!([]),
        "a transcoded upload passes the validator"
    );
    let mp4 = http()
        .get(format!(
            "{}/draft/{}/0",
            s.base,
            ok["id"].as_str().expect("id")
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the Story");
    assert_eq!(mp4.headers()["content-type"], "video/mp4");

    let short = upload_video(&s, &cookie, &csrf, "short.mp4").await;
    assert_eq!(short["status"], "failed", "{short}");
    let error = short["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("short.mp4: "), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_now_beside_a_tick_publishes_each_story_once() {
    let rig = Rig::start(|c| c.image_processing_ms = 300);
    let s = serve(&rig);
    let cookie = session(&s).await;
    let csrf = csrf_of(&s, &cookie).await;
    let post = |path: String, body: Value| {
        http()
            .post(format!("{}{path}", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r: Value = post(
            "/api/schedule".into(),
            json!({"template": "daily-update.yaml", "vars": {"title": format!("Story {i}"), "body": "race"}, "at": past}),
        )
        .await
        .expect("schedule")
        .json()
        .await
        .expect("JSON");
        ids.push(r["ids"][0].as_i64().expect("an entry id"));
    }
    // A tick process and "publish now" of every entry, at the same time.
    let out = rig.work.path().join("out").display().to_string();
    let tick = rig.spawn(&["tick", "--out", &out]);
    let mut clicks = Vec::new();
    for id in &ids {
        clicks.push(post(format!("/api/schedule/{id}/publish"), json!({})));
    }
    for click in clicks {
        let status = click.await.expect("publish now").status();
        // Published here, or taken by the tick first (409: running or done).
        assert!(status == 200 || status == 409, "{status}");
    }
    let tick = tick.wait_with_output().expect("tick");
    assert!(
        tick.status.code().is_some_and(|c| c <= 1),
        "{}",
        common::text(&tick)
    );
    // Anything left waiting goes out on the next tick; nothing twice.
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    let record = rig.sandbox.published();
    assert_eq!(record.len(), ids.len(), "exactly once: {record:?}");
    let listed = common::text(&common::cli(&["schedule", "list"], &rig.config));
    for id in &ids {
        assert!(listed.contains(&format!("#{id} ")), "{listed}");
    }
    assert_eq!(listed.matches(" done").count(), ids.len(), "{listed}");
}
