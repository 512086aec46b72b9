//! Story flows against the recorded shapes: images and videos from container
//! to published Story, what the API refuses at create and publish time.

use super::*;

#[tokio::test]
async fn image_story_flow_matches_the_recorded_shapes() {
    let env = start_with(|c| c.image_processing_ms = 700);
    let bytes = jpeg(1080, 1920);
    let url = env.put("story.jpg", &bytes);
    let created = env.create_image(&url).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_same_shape(&created.body, &recorded("create_container.json"), "create");
    let cid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(cid.len(), 17);

    let early = env.status_of(&cid).await;
    assert_eq!(early["status_code"], "IN_PROGRESS", "{early}");
    let early_publish = env.publish(&cid).await;
    assert_eq!(error_code(&early_publish), (9007, Some(2207027)));
    assert_eq!(
        env.wait_status(&cid, "IN_PROGRESS").await["status_code"],
        "FINISHED"
    );

    let published = env.publish(&cid).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_same_shape(&published.body, &recorded("media_publish.json"), "publish");
    let media_id = published.body["id"].as_str().unwrap().to_string();
    assert_ne!(media_id, cid);

    let status = env.status_of(&cid).await;
    assert_same_shape(
        &status,
        &recorded("container_status_published.json"),
        "status",
    );
    assert_eq!(
        status,
        json!({"id": cid, "status_code": "PUBLISHED", "status": recorded("container_status_published.json")["status"]})
    );

    let stories = env.get(&format!("/{DEMO_ACCOUNT_ID}/stories"), &[]).await;
    assert_eq!(stories.body, json!({"data": [{"id": media_id}]}));

    let fields = "id,media_type,media_product_type,timestamp,permalink,media_url";
    let media = env
        .get(&format!("/{media_id}"), &[("fields", fields)])
        .await
        .body;
    assert_eq!(media["media_type"], "IMAGE");
    assert_eq!(media["media_product_type"], "STORY");
    assert_eq!(media["media_url"], url.as_str());
    assert!(
        media["timestamp"].as_str().unwrap().ends_with("+0000"),
        "{media}"
    );
    assert!(media["permalink"].as_str().unwrap().contains(&media_id));

    let insights = env
        .get(&format!("/{media_id}/insights"), &[("metric", "views,reach,replies,shares,total_interactions,follows,profile_visits,profile_activity,navigation")])
        .await;
    assert_eq!(insights.status, StatusCode::OK, "{}", insights.body);
    let data = insights.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 9);
    for m in data {
        let name = m["name"].as_str().unwrap();
        assert_eq!(m["period"], "lifetime");
        assert!(m["values"][0]["value"].is_u64(), "{m}");
        assert!(m["title"].is_string() && m["description"].is_string());
        assert_eq!(m["id"], format!("{media_id}/insights/{name}/lifetime"));
    }
    let nav = env
        .get(
            &format!("/{media_id}/insights"),
            &[
                ("metric", "navigation"),
                ("breakdown", "story_navigation_action_type"),
            ],
        )
        .await
        .body;
    let total = nav["data"][0]["total_value"]["value"].as_u64().unwrap();
    let results = nav["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .unwrap();
    let sum: u64 = results.iter().map(|r| r["value"].as_u64().unwrap()).sum();
    assert_eq!(sum, total);
    assert!(results
        .iter()
        .any(|r| r["dimension_values"][0] == "tap_forward"));

    let record = env.sb.published();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].container_id, cid);
    assert_eq!(record[0].media_id, media_id);
    assert_eq!(record[0].account_id, DEMO_ACCOUNT_ID);
    assert_eq!(record[0].media_url, url);
    assert_eq!(record[0].media_sha256, hex::encode(Sha256::digest(&bytes)));
    let remote: Value = env
        .http
        .get(format!("{}/_sandbox/published", env.sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(remote, serde_json::to_value(&record).unwrap());
}

#[tokio::test]
async fn versions_token_places_and_post_params_are_all_accepted() {
    let env = start();
    let base = env.sb.base_url();
    for prefix in ["", "/v25.0", "/v19.0", "/v3.2"] {
        let r = env
            .http
            .get(format!("{base}{prefix}/me"))
            .query(&[
                ("fields", "user_id,username,account_type"),
                ("access_token", DEMO_TOKEN),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "prefix {prefix:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"id": DEMO_ACCOUNT_ID, "user_id": DEMO_ACCOUNT_ID, "username": "storyforge_demo", "account_type": "BUSINESS"})
        );
    }
    let bearer: Value = env
        .http
        .get(format!("{base}/v25.0/me"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bearer["id"], DEMO_ACCOUNT_ID);
    // A POST with everything in the query string, as the live API allows.
    let url = env.put("q.jpg", &jpeg(108, 192));
    let r = env
        .http
        .post(format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media"))
        .query(&[
            ("media_type", "STORIES"),
            ("image_url", url.as_str()),
            ("access_token", DEMO_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let unknown_field = env
        .get("/me", &[("fields", "user_id,followers_count")])
        .await;
    assert_eq!(error_code(&unknown_field).0, 100);
    assert!(unknown_field.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("followers_count"));
}

#[tokio::test]
async fn video_goes_in_progress_then_finished_and_bad_videos_end_in_error() {
    let env = start_with(|c| c.video_processing_ms = 800);
    let good = env.put("good.mp4", &faststart(&video_fixture("landscape.mp4")));
    let created = env.create_video(&good).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let cid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.status_of(&cid).await["status_code"], "IN_PROGRESS");
    let done = env.wait_status(&cid, "IN_PROGRESS").await;
    assert_eq!(done["status_code"], "FINISHED", "{done}");
    let published = env.publish(&cid).await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    let media_id = published.body["id"].as_str().unwrap();
    let media = env
        .get(&format!("/{media_id}"), &[("fields", "media_type")])
        .await
        .body;
    assert_eq!(media["media_type"], "VIDEO");
    assert_eq!(
        env.sb.published()[0].media_sha256,
        hex::encode(Sha256::digest(faststart(&video_fixture("landscape.mp4"))))
    );

    let cases = [
        ("moov-last.mp4", video_fixture("landscape.mp4"), "2207026"),
        (
            "short.mp4",
            faststart(&video_fixture("short.mp4")),
            "2207082",
        ),
        ("uhd.mp4", faststart(&video_fixture("uhd60.mp4")), "2207085"),
        ("text.mp4", video_fixture("not-a-video.mp4"), "2207026"),
    ];
    for (name, bytes, subcode) in cases {
        let url = env.put(name, &bytes);
        let created = env.create_video(&url).await;
        assert_eq!(
            created.status,
            StatusCode::OK,
            "{name}: video errors are asynchronous"
        );
        let cid = created.body["id"].as_str().unwrap().to_string();
        let s = env.wait_status(&cid, "IN_PROGRESS").await;
        assert_eq!(s["status_code"], "ERROR", "{name}: {s}");
        assert!(
            s["status"].as_str().unwrap().contains(subcode),
            "{name}: {s}"
        );
        assert_eq!(error_code(&env.publish(&cid).await).0, 9007, "{name}");
    }
    let missing = env.create_video(&env.media_url("nope.mp4")).await;
    let cid = missing.body["id"].as_str().unwrap().to_string();
    assert!(env.wait_status(&cid, "IN_PROGRESS").await["status"]
        .as_str()
        .unwrap()
        .contains("2207052"));
}

#[tokio::test]
async fn media_fetch_failures_answer_9004_synchronously() {
    let env = start();
    let expected = recorded("error_9004_media_fetch_failed.json");
    let jpg = jpeg(108, 192);
    std::fs::write(env.dir.path().join("wrong-type.txt"), &jpg).unwrap();
    let urls = [
        env.media_url("missing.jpg"),
        env.media_url("wrong-type.txt"),
        "http://127.0.0.1:9/unreachable.jpg".to_string(),
        "ftp://example.com/x.jpg".to_string(),
    ];
    for url in &urls {
        let a = env.create_image(url).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{url}");
        assert_same_shape(&a.body, &expected, "9004");
        assert_eq!(error_code(&a), (9004, Some(2207052)));
        assert!(a.body["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .ends_with(url.as_str()));
    }
    let good = env.put("fine.jpg", &jpg);
    env.sb.set_faults(Faults {
        fail_fetch: 1,
        ..Faults::default()
    });
    assert_eq!(
        error_code(&env.create_image(&good).await),
        (9004, Some(2207052))
    );
    assert_eq!(
        env.create_image(&good).await.status,
        StatusCode::OK,
        "fail_fetch is used up"
    );
}

#[tokio::test]
async fn images_are_checked_like_instagram() {
    let env = start();
    let expected = recorded("error_36003_aspect_ratio.json");
    let wide = env.put("wide.jpg", &jpeg(720, 360));
    let a = env.create_image(&wide).await;
    assert_same_shape(&a.body, &expected, "36003");
    assert_eq!(error_code(&a), (36003, Some(2207009)));
    assert_eq!(
        a.body["error"]["error_user_msg"],
        expected["error"]["error_user_msg"]
    );

    let img = image::RgbImage::new(108, 192);
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png_url = env.put("story.png", png.get_ref());
    let a = env.create_image(&png_url).await;
    assert_same_shape(&a.body, &expected, "36001");
    assert_eq!(error_code(&a), (36001, Some(2207005)));

    let mut big = jpeg(108, 192);
    big.resize(8 * 1024 * 1024 + 1, 0);
    let a = env.create_image(&env.put("big.jpg", &big)).await;
    assert_same_shape(&a.body, &expected, "36000");
    assert_eq!(error_code(&a), (36000, Some(2207004)));

    let mut exact = jpeg(108, 192);
    exact.resize(8 * 1024 * 1024, 0);
    assert_eq!(
        env.create_image(&env.put("exact.jpg", &exact)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_create_parameters_answer_100() {
    let env = start();
    let url = env.put("p.jpg", &jpeg(108, 192));
    let path = format!("/{DEMO_ACCOUNT_ID}/media");
    let cases: [&[(&str, &str)]; 4] = [
        &[
            ("media_type", "STORIES"),
            ("image_url", url.as_str()),
            ("video_url", url.as_str()),
        ],
        &[("media_type", "STORIES")],
        &[("image_url", url.as_str())],
        &[("media_type", "REELS"), ("video_url", url.as_str())],
    ];
    for params in cases {
        let a = env.post(&path, params).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(error_code(&a).0, 100, "{params:?}: {}", a.body);
        assert!(
            a.body["error"]["fbtrace_id"].is_string()
                && a.body["error"]["type"] == "OAuthException"
        );
    }
    let other = env
        .post(
            &format!("/{PERSONAL_ID}/media"),
            &[("media_type", "STORIES"), ("image_url", url.as_str())],
        )
        .await;
    assert_eq!(
        error_code(&other),
        (100, Some(33)),
        "another account's edge"
    );
}

#[tokio::test]
async fn publish_errors_never_make_a_second_story() {
    let env = start();
    let cid = env.ready_image("a.jpg").await;
    let first = env.publish(&cid).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = env.publish(&cid).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&again),
        (100, Some(SUBCODE_ALREADY_PUBLISHED as i64))
    );
    assert!(again.body["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains(first.body["id"].as_str().unwrap()));
    assert_eq!(env.sb.published().len(), 1);

    assert_eq!(
        error_code(&env.publish("17899999999999999").await),
        (24, Some(2207006))
    );
    let missing = env
        .post(&format!("/{DEMO_ACCOUNT_ID}/media_publish"), &[])
        .await;
    assert_eq!(error_code(&missing).0, 100);

    // A PERSONAL account cannot publish at all.
    let cid2 = env.ready_image("b.jpg").await;
    let foreign = env
        .call(
            "POST",
            &format!("/{PERSONAL_ID}/media_publish"),
            &[("creation_id", cid2.as_str())],
            Some(PERSONAL_TOKEN),
        )
        .await;
    assert_eq!(
        error_code(&foreign).0,
        10,
        "PERSONAL accounts cannot publish: {}",
        foreign.body
    );

    // Containers expire after 24 h unpublished.
    env.sb.advance_clock(DAY + Duration::from_secs(1));
    assert_eq!(env.status_of(&cid2).await["status_code"], "EXPIRED");
    assert_eq!(error_code(&env.publish(&cid2).await), (24, Some(2207008)));
    assert_eq!(
        env.status_of(&cid).await["status_code"],
        "PUBLISHED",
        "published stays published"
    );
    assert_eq!(env.sb.published().len(), 1);
}

#[tokio::test]
async fn a_container_of_another_business_account_is_refused() {
    let env = start_with(|c| {
        c.accounts.push(SandboxAccount {
            id: "17841400000000003".into(),
            username: "other_biz".into(),
            account_type: AccountType::Business,
            token: "sandbox-token-other".into(),
        })
    });
    let cid = env.ready_image("x.jpg").await;
    let a = env
        .call(
            "POST",
            "/17841400000000003/media_publish",
            &[("creation_id", cid.as_str())],
            Some("sandbox-token-other"),
        )
        .await;
    assert_eq!(error_code(&a).0, 100, "{}", a.body);
    assert!(a.body["error"]["message"].as_str().unwrap().contains(&cid));
    let peek = env
        .call(
            "GET",
            &format!("/{cid}"),
            &[("fields", "status_code")],
            Some("sandbox-token-other"),
        )
        .await;
    assert_eq!(error_code(&peek), (100, Some(33)));
    assert!(env.sb.published().is_empty());
}
