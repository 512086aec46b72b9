//! The dashboard in headless Chromium: a Story made and scheduled from the
//! browser, the queue in each account's zone, a video template's preview clip.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_in_a_real_browser() {
    let rig = Rig::start(|c| c.story_viewers = Some(40));
    let s = serve(&rig);
    let (_driver, client) = browser().await;

    // The key is traded for the cookie and leaves the address bar.
    client.goto(&s.url).await.expect("open the dashboard");
    let here = client.current_url().await.expect("url");
    assert!(!here.as_str().contains("key="), "{here}");
    assert!(text(&client).await.contains("Nothing scheduled"));

    // Upload an image: it is fitted, previewed with the safe zone, checked.
    client.goto(&format!("{}/new", s.base)).await.expect("/new");
    upload_photo(&client, rig.work.path()).await;
    until(
        &client,
        "document.querySelector('#preview-img') && document.querySelector('#preview-img').naturalWidth === 1080 && document.querySelectorAll('#findings li').length > 0",
        "the fitted preview and its findings",
    )
    .await;
    let page = text(&client).await;
    assert!(page.contains("No findings: ready for Instagram."), "{page}");
    assert!(
        page.contains("Ready: landscape.png (image, 1 Story)"),
        "{page}"
    );
    let natural = client
        .execute("const i = document.querySelector('#preview-img'); return [i.naturalWidth, i.naturalHeight];", vec![])
        .await
        .expect("preview size");
    assert_eq!(natural, json!([1080, 1920]));
    assert!(client.find(Locator::Css("#frame .safe")).await.is_ok());
    keep(&client, "new-from-file").await;

    // Schedule it a minute ago, so the next tick finds it due.
    schedule_at(
        &client,
        "const d = new Date(Date.now() - 60000); const p = n => String(n).padStart(2, '0');\
         document.querySelector('#at').value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;",
    )
    .await;
    // A second click schedules nothing twice: it says where the first went.
    click(&client, "#schedule-btn").await;
    until(
        &client,
        "document.querySelector('#status').textContent.includes('already scheduled as #')",
        "the refusal of a second schedule",
    )
    .await;

    // It is in the queue, with its thumbnail.
    client.goto(&format!("{}/", s.base)).await.expect("queue");
    until(
        &client,
        "document.querySelectorAll('.queue .item').length === 1 && document.querySelector('.queue .thumb').naturalWidth > 0",
        "the queued Story with its thumbnail",
    )
    .await;
    let queue = text(&client).await;
    assert!(
        queue.contains("landscape") || queue.contains(".jpg"),
        "{queue}"
    );
    assert!(queue.contains("pending"), "{queue}");
    assert!(queue.contains("0 of 50"), "the quota widget: {queue}");
    keep(&client, "queue").await;
    click(&client, "button[data-view=week]").await;
    until(
        &client,
        "!document.querySelector('#week').hidden && document.querySelectorAll('#week .day li').length === 1",
        "the Story in the week view",
    )
    .await;
    keep(&client, "queue-week").await;

    // `tick`, a separate process, publishes it: once, by the sandbox's record.
    let tick = common::cli(
        &[
            "tick",
            "--out",
            &rig.work.path().join("out").display().to_string(),
        ],
        &rig.config,
    );
    common::expect_exit(&tick, 0);
    assert_eq!(rig.sandbox.published().len(), 1);
    let media = rig.sandbox.published()[0].media_id.clone();

    // Recent shows it; "collect now" brings the sandbox's insights.
    client
        .goto(&format!("{}/recent", s.base))
        .await
        .expect("recent");
    assert!(text(&client).await.contains(&media));
    click(&client, "#collect").await;
    until(
        &client,
        "document.querySelector('.metrics') !== null",
        "the collected insights",
    )
    .await;
    let recent = text(&client).await;
    for label in ["views", "reach", "replies", "shares", "left", "Permalink"] {
        assert!(recent.contains(label), "{label} missing from:\n{recent}");
    }
    assert!(client.find(Locator::Css("svg.chart")).await.is_ok());
    keep(&client, "recent").await;

    // The quota view reads the sandbox's numbers.
    client
        .goto(&format!("{}/quota", s.base))
        .await
        .expect("quota");
    let quota = text(&client).await;
    assert!(quota.contains("1 of 50"), "{quota}");
    assert!(quota.contains("1 of 400"), "{quota}");
    keep(&client, "quota").await;

    // A template form: the preview renders at once, with the findings of
    // `validate --data`, and re-renders as you type.
    client
        .goto(&format!("{}/template?t=daily-update.yaml", s.base))
        .await
        .expect("template");
    until(
        &client,
        "document.querySelector('#preview-img').dataset.preview && document.querySelector('#preview-img').naturalWidth === 1080 && document.querySelector('#findings').textContent.includes('No findings')",
        "the first preview",
    )
    .await;
    let title = client
        .find(Locator::Css("textarea[data-var=title]"))
        .await
        .expect("the title field");
    let first = client
        .execute(
            "return document.querySelector('#preview-img').dataset.preview;",
            vec![],
        )
        .await
        .expect("preview id");
    title
        .send_keys("Winter menu 🎉 قائمة الشتاء")
        .await
        .expect("type");
    until(
        &client,
        &format!(
            "document.querySelector('#preview-img').dataset.preview !== {first} && document.querySelector('#preview-img').naturalWidth === 1080"
        ),
        "a new preview",
    )
    .await;
    keep(&client, "new-from-template").await;
    // A character no bundled font has is named, as `validate --data` does.
    title
        .send_keys(" \u{13000}")
        .await
        .expect("type a hieroglyph");
    until(
        &client,
        "document.querySelector('#findings').textContent.includes('SF309') && document.querySelector('#findings').textContent.includes('U+13000')",
        "the missing-glyph finding",
    )
    .await;
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_shows_automations_and_the_form_reads_the_account_zone() {
    let (rig, job, _) = crate::automations_every::berlin_rig();
    let add = crate::automations_every::add_every(&rig, &job, "daily 09:00", &[]);
    assert!(add.status.success(), "{}", common::text(&add));
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    until(
        &client,
        "document.querySelector('[data-automation=A1] .next time')",
        "the automation in the queue",
    )
    .await;
    let queue = text(&client).await;
    assert!(
        queue.contains("every daily 09:00 (Europe/Berlin)"),
        "{queue}"
    );
    // The next occurrences, in Berlin with the offset: 09:00 there.
    let next = client
        .execute(
            "return [...document.querySelectorAll('[data-automation=A1] .next time')].map(t => t.textContent);",
            vec![],
        )
        .await
        .expect("next");
    let next: Vec<String> = serde_json::from_value(next).expect("strings");
    assert_eq!(next.len(), 3, "{queue}");
    assert!(next.iter().all(|t| t.contains(" 09:00 CE")), "{next:?}");
    // The preview of the next occurrence names the day's row and title.
    assert!(queue.contains("would publish"), "{queue}");
    assert!(queue.contains("“Dish "), "{queue}");
    assert!(!queue.contains("Nothing scheduled"), "{queue}");
    keep(&client, "queue-automations").await;

    // The schedule form reads its time in the account's zone and says which.
    client.goto(&format!("{}/new", s.base)).await.expect("/new");
    until(
        &client,
        "document.querySelector('#at-zone').textContent === 'Europe/Berlin'",
        "the zone beside the time",
    )
    .await;
    upload_photo(&client, rig.work.path()).await;
    until(
        &client,
        "document.querySelector('#preview-img') && document.querySelector('#preview-img').naturalWidth === 1080",
        "the fitted preview",
    )
    .await;
    schedule_at(
        &client,
        "document.querySelector('#at').value = '2031-02-03T04:05';",
    )
    .await;
    let status = text(&client).await;
    assert!(
        status.contains("2031-02-03 04:05 Europe/Berlin"),
        "{status}"
    );
    let ledger = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db")).expect("ledger");
    let at: Vec<String> = ledger
        .schedule()
        .expect("schedule")
        .into_iter()
        .map(|e| e.at)
        .collect();
    // 04:05 in Berlin in February (CET, +01:00) is 03:05 UTC.
    assert_eq!(at, ["2031-02-03T03:05:00Z"]);

    // The queue shows the entry in the account's zone, and its
    // Reschedule box reads the new time there too.
    client.goto(&s.url).await.expect("the queue");
    until(
        &client,
        "document.querySelector('.queue .item[data-zone=\"Europe/Berlin\"] form.actions')",
        "the entry in the queue",
    )
    .await;
    let label = client
        .execute(
            "return document.querySelector('.queue form.actions .zone').textContent;",
            vec![],
        )
        .await
        .expect("the Reschedule box's zone");
    assert_eq!(label.as_str(), Some("Europe/Berlin"));
    let shown = client
        .execute(
            "return document.querySelector('.queue .item time').textContent;",
            vec![],
        )
        .await
        .expect("the entry's time");
    let shown = shown.as_str().unwrap_or_default().to_string();
    assert!(
        shown.contains("4:05") && shown.ends_with("Europe/Berlin"),
        "{shown}"
    );
    client
        .execute(
            "const f = document.querySelector('.queue form.actions'); f.elements.at.value = '2031-07-04T05:06'; f.requestSubmit();",
            vec![],
        )
        .await
        .expect("reschedule");
    let mut moved = Vec::new();
    for _ in 0..100 {
        moved = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db"))
            .expect("ledger")
            .schedule()
            .expect("schedule")
            .into_iter()
            .map(|e| e.at)
            .collect();
        if moved != at {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // 05:06 in Berlin in July (CEST, +02:00) is 03:06 UTC.
    assert_eq!(moved, ["2031-07-04T03:06:00Z"]);

    // The week view puts an entry on its day in the account's zone: 00:30
    // in Berlin on the browser's tomorrow is still today in UTC, where
    // Chromium runs.
    use chrono::TimeZone;
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let berlin = chrono_tz::Europe::Berlin
        .from_local_datetime(&tomorrow.and_hms_opt(0, 30, 0).expect("a time"))
        .single()
        .expect("00:30 exists in Berlin")
        .with_timezone(&chrono::Utc);
    let ledger = storyforge::ledger::Ledger::open(&rig.work.path().join("l.db")).expect("ledger");
    let id = ledger.schedule().expect("schedule")[0].id;
    assert!(ledger
        .reschedule(
            id,
            &berlin.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .expect("reschedule"));
    client.goto(&s.url).await.expect("the queue");
    click(&client, "button[data-view=week]").await;
    let want = tomorrow.format("%Y-%m-%d").to_string();
    until(
        &client,
        &format!("document.querySelector('#week .day[data-day=\"{want}\"] li')"),
        "the entry on its Berlin day in the week view",
    )
    .await;
    let on = client
        .execute(
            "return [...document.querySelectorAll('#week .day')].filter(d => d.querySelector('li')).map(d => d.dataset.day + ' ' + d.querySelector('li').textContent);",
            vec![],
        )
        .await
        .expect("the week");
    let on: Vec<String> = serde_json::from_value(on).expect("strings");
    assert_eq!(on.len(), 1, "{on:?}");
    assert!(
        on[0].starts_with(&want) && on[0].contains("12:30") && on[0].contains("Europe/Berlin"),
        "{on:?}"
    );
    keep(&client, "queue-week-zones").await;
}

/// A video template's page also previews the whole Story as a small clip:
/// made on request through the Story's own compositor and encoders, shown
/// in a `<video>`, served as `video/mp4` at 360×640 for the Story's
/// length, with its sound. A still template or values that fail the
/// checks get no clip, and say why by name.
#[cfg(feature = "video")]
#[tokio::test(flavor = "multi_thread")]
async fn a_video_template_previews_as_a_low_resolution_clip() {
    let rig = Rig::start(|_| {});
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    client
        .goto(&format!("{}/template?t=product-video.yaml", s.base))
        .await
        .expect("template");
    for (var, value) in [("name", "Cold Brew Tonic"), ("price", "4.50")] {
        client
            .find(Locator::Css(&format!("textarea[data-var={var}]")))
            .await
            .expect("a field")
            .send_keys(value)
            .await
            .expect("type");
    }
    until(
        &client,
        "document.querySelector('#preview-img').naturalWidth === 1080",
        "the poster frame",
    )
    .await;
    click(&client, "#make-clip").await;
    until(
        &client,
        "(() => { const v = document.querySelector('#preview-clip'); return !v.hidden && v.readyState >= 1 && v.videoWidth === 360 && v.videoHeight === 640 && Math.abs(v.duration - 8) < 0.25; })()",
        "the preview clip playing in the page",
    )
    .await;
    keep(&client, "video-template-clip").await;
    let id = client
        .execute(
            "return document.querySelector('#preview-clip').dataset.clip;",
            vec![],
        )
        .await
        .expect("clip id");
    let id = id.as_str().expect("a clip id").to_string();

    // The served bytes are a small H.264/AAC MP4 of the Story's length.
    let cookie = session(&s).await;
    let res = http()
        .get(format!("{}/preview-clip/{id}", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the clip");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "video/mp4");
    let bytes = res.bytes().await.expect("clip bytes");
    assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    let file = rig.work.path().join("clip.mp4");
    std::fs::write(&file, &bytes).expect("write the clip");
    let facts = storyforge::video::probe(&file).expect("the clip probes");
    let v = facts.video.as_ref().expect("a picture");
    assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 360, 640));
    assert!(v.fps.is_some_and(|f| (f - 10.0).abs() < 0.01), "{v:?}");
    let d = facts.duration.expect("a duration");
    assert!((d - 8.0).abs() < 0.25, "{d} s, not the template's 8 s");
    assert!(facts.audio.is_some(), "the music is in the clip");
    // Its last second decodes, at the preview's size.
    let last = storyforge::video::frames::frame_at(&file, 7.5).expect("a frame at 7.5 s");
    assert_eq!(last.dimensions(), (360, 640));

    // No clip for a still template, nor for values that fail the checks.
    let csrf = csrf_of(&s, &cookie).await;
    let ask = |template: &str, name: &str| {
        http()
            .post(format!("{}/api/preview-clip", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"template": template, "vars": {"name": name, "price": "4.50", "title": "x"}}))
            .send()
    };
    let still = ask("daily-update.yaml", "x").await.expect("POST");
    assert_eq!(still.status(), 422);
    let said = still.text().await.expect("body");
    assert!(said.contains("not a video template"), "{said}");
    let bad = ask("product-video.yaml", "Tonic \u{13000}")
        .await
        .expect("POST");
    assert_eq!(bad.status(), 422);
    let said = bad.text().await.expect("body");
    assert!(said.contains("SF309") && said.contains("U+13000"), "{said}");
    client.close().await.expect("close the browser");
}
