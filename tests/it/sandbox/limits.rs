//! Limits on the sandbox clock: the publishing quota, call usage, token
//! expiry, containers per rolling day, insights, pages of Stories, user tags.

use super::*;

#[tokio::test]
async fn quota_is_a_rolling_window_on_the_sandbox_clock() {
    let env = start_with(|c| c.quota_total = 2);
    let limit_path = format!("/{DEMO_ACCOUNT_ID}/content_publishing_limit");
    let limit = env
        .get(&limit_path, &[("fields", "config,quota_usage")])
        .await
        .body;
    assert_same_shape(&limit, &recorded("content_publishing_limit.json"), "limit");
    assert_eq!(
        limit,
        json!({"data": [{"quota_usage": 0, "config": {"quota_total": 2, "quota_duration": 86400}}]})
    );
    for n in ["1.jpg", "2.jpg"] {
        let cid = env.ready_image(n).await;
        assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    }
    let cid = env.ready_image("3.jpg").await;
    let over = env.publish(&cid).await;
    assert_same_shape(
        &over.body,
        &recorded("error_36003_aspect_ratio.json"),
        "quota error",
    );
    assert_eq!(error_code(&over), (9, Some(2207042)));
    assert_eq!(
        env.get(&limit_path, &[("fields", "quota_usage")])
            .await
            .body["data"][0]["quota_usage"],
        2
    );
    env.sb.advance_clock(Duration::from_secs(12 * 3600));
    assert_eq!(
        error_code(&env.publish(&cid).await).0,
        9,
        "still inside the window"
    );
    env.sb.advance_clock(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(
        env.get(&limit_path, &[("fields", "quota_usage")])
            .await
            .body["data"][0]["quota_usage"],
        0
    );
    let fresh = env.ready_image("4.jpg").await;
    assert_eq!(env.publish(&fresh).await.status, StatusCode::OK);
    let stories = env
        .get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[])
        .await
        .body;
    assert_eq!(
        stories["data"].as_array().unwrap().len(),
        1,
        "older Stories expired: {stories}"
    );
}

#[tokio::test]
async fn usage_headers_count_calls_and_the_limit_answers_17() {
    let env = start_with(|c| c.calls_per_hour = 4);
    let expected = recorded("header_business_use_case_usage.json");
    for n in 1..=4u64 {
        let a = env.get("/me", &[]).await;
        assert_eq!(a.status, StatusCode::OK);
        let app: Value = serde_json::from_str(a.headers["x-app-usage"].to_str().unwrap()).unwrap();
        assert_eq!(app["call_count"], n * 25);
        assert!(app["total_cputime"].is_u64() && app["total_time"].is_u64());
        let buc: Value =
            serde_json::from_str(a.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
        assert_same_shape(&buc, &expected["x-business-use-case-usage"], "buc");
        assert_eq!(buc[DEMO_ACCOUNT_ID][0]["call_count"], n * 25);
    }
    let over = env.get("/me", &[]).await;
    assert_eq!(error_code(&over).0, 17, "{}", over.body);
    assert_eq!(over.body["error"]["is_transient"], true);
    let buc: Value =
        serde_json::from_str(over.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    let regain = buc[DEMO_ACCOUNT_ID][0]["estimated_time_to_regain_access"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&regain), "{buc}");
    assert_eq!(buc[DEMO_ACCOUNT_ID][0]["call_count"], 100);
    env.sb.advance_clock(Duration::from_secs(3601));
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    // Bad tokens carry the headers too.
    let bad = env.call("GET", "/me", &[], Some("nope")).await;
    assert!(bad.headers.contains_key("x-app-usage"));
}

#[tokio::test]
async fn tokens_expire_and_refresh_only_when_old_enough() {
    let env = start();
    let expected = recorded("error_190_token.json");
    for token in [Some("garbled!!"), Some(""), None] {
        let a = env.call("GET", "/me", &[], token).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_same_shape(&a.body, &expected, "190");
        assert_eq!(a.body["error"]["message"], expected["error"]["message"]);
    }
    let young = env
        .call(
            "GET",
            "/refresh_access_token",
            &[("grant_type", "ig_refresh_token")],
            Some(DEMO_TOKEN),
        )
        .await;
    assert_eq!(young.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&young).0, 100, "{}", young.body);

    env.sb.advance_clock(DAY + Duration::from_secs(60));
    let fresh = env
        .call(
            "GET",
            "/refresh_access_token",
            &[("grant_type", "ig_refresh_token")],
            Some(DEMO_TOKEN),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["token_type"], "bearer");
    assert_eq!(fresh.body["expires_in"], 5_184_000);
    let new_token = fresh.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_token, DEMO_TOKEN);
    assert_eq!(
        env.call("GET", "/me", &[], Some(&new_token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.call("GET", "/me", &[], Some(DEMO_TOKEN)).await.status,
        StatusCode::OK,
        "grace period"
    );
    env.sb.advance_clock(Duration::from_secs(61));
    let old = env.call("GET", "/me", &[], Some(DEMO_TOKEN)).await;
    assert_eq!(error_code(&old), (190, Some(463)));
    assert_eq!(
        env.call("GET", "/me", &[], Some(&new_token)).await.status,
        StatusCode::OK
    );

    env.sb.advance_clock(Duration::from_secs(5_184_000));
    let expired = env.call("GET", "/me", &[], Some(&new_token)).await;
    assert_eq!(error_code(&expired), (190, Some(463)));
    assert_eq!(expired.body["error"]["type"], "OAuthException");
    assert!(expired.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn deprecated_metrics_and_expired_story_insights_are_refused() {
    let env = start();
    let media_id = env.published_story("i.jpg").await;
    for m in ["impressions", "exits", "taps_forward", "taps_back"] {
        let metric = format!("reach,{m}");
        let a = env.insights(&media_id, &metric, None).await;
        assert_eq!(error_code(&a).0, 100, "{m}");
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(m),
            "{}",
            a.body
        );
    }
    let wrong_breakdown = env
        .insights(&media_id, "reach", Some("story_navigation_action_type"))
        .await;
    assert_eq!(error_code(&wrong_breakdown).0, 100);
    assert_eq!(
        env.insights(&media_id, "views", None).await.status,
        StatusCode::OK
    );
    env.sb.advance_clock(DAY);
    let late = env.insights(&media_id, "views", None).await;
    assert_eq!(error_code(&late), (10, Some(2108006)));
    assert_eq!(
        env.get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[])
            .await
            .body,
        json!({"data": []})
    );
}

/// At most `containers_per_day` containers per account per rolling 24 h:
/// the next create answers code 9 / 2207042 naming containers, and the
/// rolling window frees them again.
#[tokio::test]
async fn containers_are_capped_per_rolling_day() {
    let env = start_with(|c| {
        c.containers_per_day = 3;
        c.image_processing_ms = 0;
    });
    let url = env.put("c.jpg", &jpeg(108, 192));
    for _ in 0..3 {
        assert_eq!(env.create_image(&url).await.status, StatusCode::OK);
    }
    let refused = env.create_image(&url).await;
    assert_eq!(error_code(&refused), (9, Some(2207042)));
    let msg = refused.body["error"]["error_user_msg"]
        .as_str()
        .unwrap_or("");
    assert!(
        msg.contains("maximum of 3 media containers"),
        "{}",
        refused.body
    );
    env.sb.advance_clock(DAY);
    assert_eq!(env.create_image(&url).await.status, StatusCode::OK);
    assert_eq!(SandboxConfig::default().containers_per_day, 400);
    assert_eq!(SandboxConfig::default().quota_total, 50);
}

/// The Story metrics Meta documents (follows, profile visits, profile
/// activity beside views…) and no others (`link_clicks`, `reposts` answer
/// 100 naming their index), navigation broken down by action in its own
/// call, and error 10 under 5 viewers.
#[tokio::test]
async fn insights_answer_every_story_metric_and_10_under_five_viewers() {
    let env = start_with(|c| c.image_processing_ms = 0);
    let media_id = env.published_story("i.jpg").await;
    let metrics =
        "views,reach,replies,shares,total_interactions,follows,profile_visits,profile_activity";
    for (list, index) in [
        (format!("{metrics},link_clicks"), 8),
        (format!("views,reposts,{metrics}"), 1),
    ] {
        let refused = env.insights(&media_id, &list, None).await;
        assert_eq!(error_code(&refused).0, 100, "{}", refused.body);
        let text = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "(#100) metric[{index}] must be one of the following values: views, reach, replies, shares, total_interactions, follows, profile_visits, profile_activity, navigation"
            )),
            "{text}"
        );
    }
    let all = env.insights(&media_id, metrics, None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let names: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, metrics.split(',').collect::<Vec<_>>());
    let nav = env
        .insights(
            &media_id,
            "navigation",
            Some("story_navigation_action_type"),
        )
        .await;
    let results = nav.body["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .expect("breakdown results")
        .iter()
        .map(|r| r["dimension_values"][0].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        results,
        ["tap_forward", "tap_back", "tap_exit", "swipe_forward"]
    );
    let mixed = env
        .insights(
            &media_id,
            "views,navigation",
            Some("story_navigation_action_type"),
        )
        .await;
    assert_eq!(error_code(&mixed).0, 100);

    let few = start_with(|c| {
        c.image_processing_ms = 0;
        c.story_viewers = Some(4);
    });
    let media_id = few.published_story("f.jpg").await;
    let a = few.insights(&media_id, "views", None).await;
    assert_eq!(error_code(&a), (10, None));
    assert_eq!(
        a.body["error"]["message"],
        "(#10) Not enough viewers for the media to show insights"
    );
}

/// `/stories` pages like Meta: 25 by default, `limit`, cursors and `next`.
#[tokio::test]
async fn stories_come_in_pages_with_cursors() {
    let env = start_with(|c| c.image_processing_ms = 0);
    for i in 0..30 {
        let cid = env.ready_image(&format!("s{i}.jpg")).await;
        assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    }
    let path = format!("/{DEMO_ACCOUNT_ID}/stories");
    let first = env.get(&path, &[]).await.body;
    assert_eq!(first["data"].as_array().unwrap().len(), 25);
    let next = first["paging"]["next"].as_str().expect("a next page");
    assert!(next.starts_with(&env.sb.graph_url()), "{next}");
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second = env.get(&path, &[("after", after)]).await.body;
    assert_eq!(second["data"].as_array().unwrap().len(), 5);
    assert!(second["paging"].get("next").is_none(), "{second}");
    let resp = env
        .http
        .get(format!("{next}&access_token={DEMO_TOKEN}"))
        .send()
        .await
        .unwrap();
    let by_next: Value = resp.json().await.unwrap();
    assert_eq!(by_next["data"], second["data"]);
    let small = env.get(&path, &[("limit", "10")]).await.body;
    assert_eq!(small["data"].as_array().unwrap().len(), 10);
    assert_eq!(error_code(&env.get(&path, &[("limit", "0")]).await).0, 100);
    assert_eq!(error_code(&env.get(&path, &[("after", "zz")]).await).0, 100);

    // The client follows every page, bounded.
    let client = storyforge::publish::graph::GraphClient::new(
        &env.sb.base_url(),
        "v25.0",
        Duration::from_secs(5),
    )
    .unwrap();
    let token = storyforge::publish::Secret::new(DEMO_TOKEN);
    let pages = client
        .get_all_pages(&path, &token, &[("limit", "7")], 50)
        .await
        .unwrap();
    assert_eq!(
        (pages.items.len(), pages.pages, pages.truncated),
        (30, 5, false)
    );
    let mut ids: Vec<&str> = pages
        .items
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no Story twice");
    let bounded = client
        .get_all_pages(&path, &token, &[("limit", "7")], 2)
        .await
        .unwrap();
    assert_eq!((bounded.items.len(), bounded.truncated), (14, true));
}

#[tokio::test]
async fn story_user_tags_are_accepted_recorded_and_checked() {
    let env = start();
    let url = env.put("tagged.jpg", &jpeg(108, 192));
    let path = format!("/{DEMO_ACCOUNT_ID}/media");
    // Position is optional for Stories.
    let tags = r#"[{"username":"ana.b"},{"username":"roastery_tv","x":0.5,"y":0.9}]"#;
    let created = env
        .post(
            &path,
            &[
                ("media_type", "STORIES"),
                ("image_url", url.as_str()),
                ("user_tags", tags),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let cid = created.body["id"].as_str().expect("id").to_string();
    env.wait_status(&cid, "IN_PROGRESS").await;
    assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    let record = env.sb.published();
    assert_eq!(
        record.last().expect("published").user_tags,
        vec!["ana.b", "roastery_tv"]
    );
    // What the API refuses: not JSON, no username, a name that is not one,
    // a position outside 0–1, more than 20 tags.
    let many = format!(
        "[{}]",
        (0..21)
            .map(|i| format!(r#"{{"username":"u{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    for bad in [
        "ana.b",
        r#"[{"x":0.5}]"#,
        r#"[{"username":"no spaces"}]"#,
        r#"[{"username":"a","x":1.5}]"#,
        many.as_str(),
    ] {
        let a = env
            .post(
                &path,
                &[
                    ("media_type", "STORIES"),
                    ("image_url", url.as_str()),
                    ("user_tags", bad),
                ],
            )
            .await;
        assert_eq!(error_code(&a).0, 100, "{bad}: {}", a.body);
    }
}
