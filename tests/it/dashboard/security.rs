//! What the dashboard refuses and never shows: requests without its key,
//! session or CSRF token; signatures and feed keys on every page.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_the_key_or_token_are_refused() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let c = http();
    let no_key = c.get(format!("{}/", s.base)).send().await.expect("GET /");
    assert_eq!(no_key.status(), 401);
    let text = no_key.text().await.expect("body");
    assert!(text.contains("access key"), "{text}");
    let wrong = c
        .get(format!("{}/?key=0123", s.base))
        .send()
        .await
        .expect("GET wrong key");
    assert_eq!(wrong.status(), 401);
    for path in ["/quota", "/recent", "/api/draft/x", "/static/app.js"] {
        let r = c
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 401, "{path} without the cookie");
    }

    let cookie = session(&s).await;
    let page = c
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET / with the cookie");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(html.contains("<h1>Queue</h1>"), "{html}");
    assert!(
        !html.contains("sandbox-token-demo"),
        "a token reached the page"
    );
    let csrf = csrf_in(&html);

    // DNS rebinding: the right cookie under another name is refused.
    let port = s.base.rsplit(':').next().expect("a port");
    let rebound = c
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .header("host", format!("attacker.example:{port}"))
        .send()
        .await
        .expect("GET with a foreign Host");
    assert_eq!(rebound.status(), 421);

    // State changes need the token, from our own origin.
    let schedule = |token: Option<&str>, origin: Option<&str>| {
        let mut r = c
            .post(format!("{}/api/schedule", s.base))
            .header("cookie", &cookie)
            .json(&json!({"template": "daily-update.yaml", "vars": {"title": "x", "body": "y"}, "at": "2030-01-01T00:00:00Z"}));
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(schedule(None, None).await.expect("POST").status(), 403);
    assert_eq!(
        schedule(Some("not-the-token"), None)
            .await
            .expect("POST")
            .status(),
        403
    );
    assert_eq!(
        schedule(Some(&csrf), Some("http://attacker.example"))
            .await
            .expect("POST")
            .status(),
        403
    );
    let ok = schedule(Some(&csrf), Some(&s.base)).await.expect("POST");
    assert_eq!(ok.status(), 200);
    let v: Value = ok.json().await.expect("JSON");
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(1), "{v}");
    let id = v["ids"][0].as_i64().expect("an entry id");

    // Reschedule, then cancel; a cancelled entry neither moves nor cancels again.
    let act = |path: String, body: Value| {
        c.post(format!("{}{path}", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let moved = act(
        format!("/api/schedule/{id}/reschedule"),
        json!({"at": "2031-02-03T04:05:00+01:00"}),
    )
    .await
    .expect("reschedule");
    assert_eq!(moved.status(), 200);
    let listed = common::cli(&["schedule", "list"], &rig.config);
    let listed = common::text(&listed);
    assert!(
        listed.contains(&format!("#{id} 2031-02-03T03:05:00Z pending")),
        "{listed}"
    );
    let cancel = act(format!("/api/schedule/{id}/cancel"), json!({}));
    assert_eq!(cancel.await.expect("cancel").status(), 200);
    let again = act(format!("/api/schedule/{id}/cancel"), json!({}));
    assert_eq!(again.await.expect("cancel again").status(), 409);
    let moved = act(
        format!("/api/schedule/{id}/reschedule"),
        json!({"at": "2031-02-03T04:05:00Z"}),
    );
    assert_eq!(moved.await.expect("reschedule").status(), 409);
    let listed = common::text(&common::cli(&["schedule", "list"], &rig.config));
    assert!(
        listed.contains(&format!("#{id} 2031-02-03T03:05:00Z cancelled")),
        "{listed}"
    );
    // A tick leaves a cancelled entry alone.
    let out = rig.work.path().join("out").display().to_string();
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    assert!(rig.sandbox.published().is_empty());

    // Publish now: once, by the sandbox's record; a second "publish now" of
    // the same entry is refused, and a tick after it publishes nothing.
    let now = act(
        "/api/schedule".into(),
        json!({"template": "daily-update.yaml", "vars": {"title": "Now", "body": "at once"}, "now": true}),
    )
    .await
    .expect("publish now");
    assert_eq!(now.status(), 200);
    let v: Value = now.json().await.expect("JSON");
    assert_eq!(v["results"][0]["state"], "done", "{v}");
    assert_eq!(rig.sandbox.published().len(), 1);
    let id = v["ids"][0].as_i64().expect("an entry id");
    let again = act(format!("/api/schedule/{id}/publish"), json!({}));
    assert_eq!(again.await.expect("publish again").status(), 409);
    common::expect_exit(&common::cli(&["tick", "--out", &out], &rig.config), 0);
    assert_eq!(rig.sandbox.published().len(), 1, "exactly once");

    // Uploads are judged by content: text named like a picture is refused.
    let up = c
        .post(format!("{}/api/upload?name=photo.jpg", s.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .body("just some text, not a picture")
        .send()
        .await
        .expect("POST upload");
    assert_eq!(up.status(), 415);
    let e: Value = up.json().await.expect("JSON");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|m| m.contains("photo.jpg") && m.contains("not an image or a video")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_feed_keys_are_masked_on_every_page() {
    let rig = Rig::start(|_| {});
    std::fs::write(
        rig.media.path().join("signed.jpg"),
        common::jpeg_variant(31),
    )
    .expect("media");
    let url = format!(
        "{}/media/signed.jpg?X-Amz-Credential=AKIAPAGESECRET&X-Amz-Signature=PAGESIG123",
        rig.sandbox.base_url()
    );
    let published = rig.run(&["publish", &url]);
    assert!(published.status.success(), "{}", common::text(&published));
    let feed = "https://feeds.example/quotes.csv?api_key=FEEDKEY123";
    let scheduled = rig.run(&[
        "schedule",
        "add",
        "--template",
        "templates/quote-card.yaml",
        "--feed",
        feed,
        "--row",
        "1",
        "--at",
        "2099-01-01T09:00:00Z",
    ]);
    assert!(scheduled.status.success(), "{}", common::text(&scheduled));
    let listed = common::text(&rig.run(&["schedule", "list"]));
    assert!(listed.contains("api_key=***"), "{listed}");
    let s = serve(&rig);
    let cookie = session(&s).await;
    let mut seen = String::new();
    for path in ["/", "/recent", "/quota"] {
        seen.push_str(&page_html(&s, &cookie, path).await);
    }
    assert!(seen.contains("signed.jpg"), "the Story is listed: {seen}");
    for secret in ["AKIAPAGESECRET", "PAGESIG123", "FEEDKEY123"] {
        assert!(!seen.contains(secret), "{secret} on a page");
        assert!(!listed.contains(secret), "{secret} in schedule list");
    }
}
