//! Insights on the dashboard: a retired metric dropped and remembered, the
//! report page in a real browser.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_retired_metric_is_dropped_remembered_and_recent_shows_the_rest() {
    let rig = Rig::start(|c| {
        c.story_viewers = Some(40);
        c.retired_metrics = vec!["profile_activity".into()];
    });
    let good = common::root().join("fixtures/bad/ok-story.jpg");
    common::expect_exit(&rig.run(&["publish", good.to_str().expect("path")]), 0);
    let first = rig.run(&["insights", "--now", "--json"]);
    common::expect_exit(&first, 0);
    let v: Value = serde_json::from_slice(&first.stdout).expect("JSON");
    let got = &v["collected"][0];
    assert_eq!(got["refused"], json!(["profile_activity"]), "{v}");
    let metrics = &got["result"]["Ok"];
    let views = metrics["views"].as_u64().expect("views stored");
    for m in ["reach", "replies", "shares", "follows", "profile_visits"] {
        assert!(metrics[m].is_u64(), "{m} missing: {metrics}");
    }
    assert!(metrics.get("profile_activity").is_none(), "{metrics}");
    assert!(
        metrics["navigation_breakdown"]["tap_exit"].is_u64(),
        "{metrics}"
    );
    // The sandbox refused the call naming it once; the retry went without.
    let calls = insight_calls(&rig, 0);
    let refused: Vec<_> = calls.iter().filter(|c| c.1 == Some(100)).collect();
    assert_eq!(refused.len(), 1, "{calls:?}");
    assert!(refused[0].0.contains("profile_activity"), "{calls:?}");
    let seen = rig.sandbox.calls().last().expect("calls").seq;

    // The refusal is remembered: the next collection does not ask for it.
    common::expect_exit(&rig.run(&["insights", "--now"]), 0);
    let next = insight_calls(&rig, seen);
    assert_eq!(next.len(), 2, "the metrics and navigation: {next:?}");
    assert!(
        next.iter()
            .all(|(m, e)| !m.contains("profile_activity") && e.is_none()),
        "{next:?}"
    );

    // Recent shows the values collected.
    let s = serve(&rig);
    let cookie = session(&s).await;
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        recent.contains(&format!("<dt>views</dt><dd>{views}</dd>")),
        "{recent}"
    );
    assert!(!recent.contains("No insights collected yet"), "{recent}");

    // Another failure is stored with the Story and shown until a later
    // collection succeeds.
    rig.sandbox.set_faults(storyforge::sandbox::Faults {
        transient_errors: 1,
        ..Default::default()
    });
    let failed = rig.run(&["insights", "--now"]);
    let stderr = common::expect_exit(&failed, 1);
    assert!(stderr.contains("error: media"), "{stderr}");
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        recent.contains("Insights could not be collected"),
        "{recent}"
    );
    let later = rig.run(&["insights"]);
    let stderr = common::expect_exit(&later, 0);
    assert!(
        stderr.contains("insights not collected (last try"),
        "{stderr}"
    );
    common::expect_exit(&rig.run(&["insights", "--now"]), 0);
    let recent = page_html(&s, &cookie, "/recent").await;
    assert!(
        !recent.contains("Insights could not be collected"),
        "{recent}"
    );
    assert!(!common::text(&later).contains("sandbox-token-demo"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_insights_page_shows_the_report_in_a_real_browser() {
    let rig = Rig::start(|_| {});
    let set = crate::insights::seed_set();
    crate::insights::seed(&rig.work.path().join("l.db"), &set);
    let s = serve(&rig);
    let (_driver, client) = browser().await;
    client.goto(&s.url).await.expect("open the dashboard");
    client
        .goto(&format!("{}/insights", s.base))
        .await
        .expect("/insights");
    until(
        &client,
        "document.querySelector('table.report tbody tr') !== null",
        "the report table",
    )
    .await;
    let page = text(&client).await;
    assert!(
        page.contains(
            "variant B of product-card: exit rate 18 % vs 27 % for A over 40 Stories each"
        ),
        "{page}"
    );
    for variant in ["A", "B"] {
        let mine: Vec<_> = set.iter().filter(|x| x.variant == Some(variant)).collect();
        let reach = crate::insights::median(mine.iter().map(|x| x.reach).collect());
        let exit = mine.iter().map(|x| x.exits).sum::<i64>() as f64
            / mine.iter().map(|x| x.views).sum::<i64>() as f64;
        let cells = client
            .execute(
                &format!("return [...document.querySelectorAll('tr[data-template=\"product-card\"][data-variant=\"{variant}\"] td')].map(td => td.textContent);"),
                vec![],
            )
            .await
            .expect("the variant's row");
        let cells: Vec<String> = serde_json::from_value(cells).expect("cells");
        assert_eq!(cells[0], variant, "{cells:?}");
        assert_eq!(cells[1], "40", "{cells:?}");
        assert!(
            cells[2].starts_with(&format!("{reach:.1} (")),
            "{cells:?} vs {reach}"
        );
        assert!(
            cells[4].starts_with(&format!("{:.1} % (", exit * 100.0)),
            "{cells:?} vs {exit}"
        );
    }
    let menu = client
        .execute(
            "return document.querySelector('tr[data-template=\"menu\"]').textContent;",
            vec![],
        )
        .await
        .expect("the menu row");
    assert!(
        menu.as_str()
            .unwrap_or("")
            .contains("not enough data (5 of 10 Stories)"),
        "{menu}"
    );
    // The heat map has a cell for each weekday and hour that has Stories.
    let cells = client
        .execute(
            "return [...document.querySelectorAll('table.heat td[data-hour]')].reduce((n, td) => n + Number(td.title.match(/over (\\d+) Stories/)[1]), 0);",
            vec![],
        )
        .await
        .expect("heat map");
    assert_eq!(cells, json!(set.len()));
    keep(&client, "insights").await;
    client.close().await.expect("close the browser");
}
