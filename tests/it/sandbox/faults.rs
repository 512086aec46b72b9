//! Faults, the clock endpoint, the redacted call log, the media folder and
//! odd requests: errors and exactly one Story, never a crash.

use super::oauth::{code_for_token, login, redirect_params};
use super::*;

#[tokio::test]
async fn transient_fault_answers_500_code_2_then_recovers() {
    let env = start();
    env.sb.set_faults(Faults {
        transient_errors: 2,
        ..Faults::default()
    });
    for _ in 0..2 {
        let a = env.get("/me", &[]).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error_code(&a).0, 2);
        assert_eq!(a.body["error"]["is_transient"], true);
    }
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    assert_eq!(env.sb.faults(), Faults::default());
}

#[tokio::test]
async fn dropped_publish_reply_still_publishes_exactly_once() {
    let env = start();
    let cid = env.ready_image("d.jpg").await;
    let r: Value = env
        .http
        .post(format!("{}/_sandbox/faults", env.sb.base_url()))
        .json(&json!({"drop_publish_reply": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["drop_publish_reply"], 1);
    let url = format!("{}/{DEMO_ACCOUNT_ID}/media_publish", env.sb.graph_url());
    let sent = env
        .http
        .post(&url)
        .form(&[("creation_id", cid.as_str()), ("access_token", DEMO_TOKEN)])
        .send()
        .await;
    let failed = match sent {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the client must not see a reply");
    let record = env.sb.published();
    assert_eq!(record.len(), 1, "the publish took effect");
    // The retry a client makes after a lost reply does not make a second Story.
    let retry = env.publish(&cid).await;
    assert_eq!(
        error_code(&retry),
        (100, Some(SUBCODE_ALREADY_PUBLISHED as i64))
    );
    assert!(retry.body["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains(&record[0].media_id));
    assert_eq!(env.sb.published().len(), 1);
    let calls = env.sb.calls();
    assert!(calls
        .iter()
        .any(|c| c.path.ends_with("media_publish") && c.status == 0));
}

#[tokio::test]
async fn spurious_9007_hits_only_the_first_publish_of_a_container() {
    let env = start();
    env.sb.set_faults(Faults {
        spurious_9007: 1,
        ..Faults::default()
    });
    let cid = env.ready_image("s.jpg").await;
    let first = env.publish(&cid).await;
    assert_eq!(error_code(&first), (9007, Some(2207027)));
    assert_eq!(env.status_of(&cid).await["status_code"], "FINISHED");
    assert_eq!(env.publish(&cid).await.status, StatusCode::OK);
    let other = env.ready_image("t.jpg").await;
    assert_eq!(
        env.publish(&other).await.status,
        StatusCode::OK,
        "count used up"
    );
}

#[tokio::test]
async fn slow_replies_and_bad_fault_json() {
    let env = start();
    env.sb.set_faults(Faults {
        slow_reply_ms: 400,
        ..Faults::default()
    });
    let t = Instant::now();
    assert_eq!(env.get("/me", &[]).await.status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let r = env
        .http
        .post(format!("{}/_sandbox/faults", env.sb.base_url()))
        .json(&json!({"drop_everything": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        env.sb.faults().slow_reply_ms,
        400,
        "a bad request changes nothing"
    );
}

#[tokio::test]
async fn clock_endpoint_expires_containers() {
    let env = start();
    let cid = env.ready_image("c.jpg").await;
    let r = env
        .http
        .post(format!(
            "{}/_sandbox/clock?advance_seconds=86401",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.status_of(&cid).await["status_code"], "EXPIRED");
    let bad = env
        .http
        .post(format!(
            "{}/_sandbox/clock?advance_seconds=soon",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secrets_never_reach_the_call_log() {
    let env = start();
    let (code, _) = redirect_params(
        login(&env, "instagram_business_basic", "s").await.headers()["location"]
            .to_str()
            .unwrap(),
    );
    let (_, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    let token = short["access_token"].as_str().unwrap().to_string();
    env.call("GET", "/me", &[("note", DEMO_TOKEN)], Some(&token))
        .await;
    env.http
        .get(format!("{}/me", env.sb.graph_url()))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .await
        .unwrap();
    env.call(
        "GET",
        "/refresh_access_token",
        &[("grant_type", "ig_refresh_token")],
        Some(DEMO_TOKEN),
    )
    .await;
    let url = format!(
        "{}/media/x.jpg?access_token={DEMO_TOKEN}",
        env.sb.base_url()
    );
    let echoed = env.create_image(&url).await;
    assert!(
        !echoed.body.to_string().contains(DEMO_TOKEN),
        "{}",
        echoed.body
    );
    let log = env
        .http
        .get(format!("{}/_sandbox/calls", env.sb.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [DEMO_TOKEN, token.as_str(), code.as_str(), DEMO_APP_SECRET] {
        assert!(!log.contains(secret), "{secret} leaked into {log}");
    }
    assert!(log.contains("[redacted]"));
    let calls: Vec<Value> = serde_json::from_str(&log).unwrap();
    assert!(calls.len() >= 6, "{log}");
}

#[tokio::test]
async fn media_dir_is_served_with_type_and_length() {
    let env = start();
    let bytes = jpeg(108, 192);
    let url = env.put("m.jpg", &bytes);
    let r = env.http.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
    std::fs::create_dir(env.dir.path().join("sub")).unwrap();
    env.put("sub/v.mp4", b"....");
    let head = env
        .http
        .head(env.media_url("sub/v.mp4"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-type"], "video/mp4");
    assert_eq!(head.headers()["content-length"], "4");
    let escape = env
        .http
        .get(format!("{}/media/sub/../../etc/passwd", env.sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_ne!(escape.status(), StatusCode::OK);
    let encoded = env
        .http
        .get(format!(
            "{}/media/..%2F..%2Fetc%2Fpasswd",
            env.sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(encoded.status(), StatusCode::NOT_FOUND);
}

#[test]
fn start_banner_config_and_shutdown_work_without_a_runtime() {
    let sb = Sandbox::start(SandboxConfig::default()).expect("starts");
    let banner = sb.banner();
    for needle in [sb.base_url().as_str(), DEMO_ACCOUNT_ID, DEMO_TOKEN, "v25.0"] {
        assert!(banner.contains(needle), "{needle} missing from {banner}");
    }
    assert!(!banner.contains(DEMO_APP_SECRET));
    assert!(sb.graph_url().ends_with("/v25.0"));
    let addr = sb.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    sb.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "stopped");

    let parsed: SandboxConfig =
        serde_json::from_value(json!({"quota_total": 5, "faults": {"spurious_9007": 1}})).unwrap();
    assert_eq!(parsed.quota_total, 5);
    assert_eq!(parsed.faults.spurious_9007, 1);
    assert_eq!(parsed.accounts[0].id, DEMO_ACCOUNT_ID);
    assert!(serde_json::from_value::<SandboxConfig>(json!({"quota": 5})).is_err());
    let dup = SandboxConfig {
        accounts: vec![SandboxAccount::default(), SandboxAccount::default()],
        ..SandboxConfig::default()
    };
    assert!(Sandbox::start(dup).is_err());
}

#[tokio::test]
async fn racing_publishes_of_one_container_make_one_story() {
    let env = start();
    let cid = env.ready_image("race.jpg").await;
    let url = format!("{}/{DEMO_ACCOUNT_ID}/media_publish", env.sb.graph_url());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let http = env.http.clone();
            let url = url.clone();
            let cid = cid.clone();
            tokio::spawn(async move {
                let params = [("creation_id", cid.as_str()), ("access_token", DEMO_TOKEN)];
                http.post(&url)
                    .form(&params)
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task").expect("reply") == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(env.sb.published().len(), 1);
}

#[tokio::test]
async fn odd_requests_get_errors_not_crashes() {
    let env = start();
    let base = env.sb.base_url();
    let odd = [
        ("DELETE", format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media")),
        ("PUT", format!("{base}/v25.0/me")),
        ("GET", format!("{base}/")),
        ("GET", format!("{base}/v25.0/%FF%FE/insights?metric=%ZZ")),
        ("GET", format!("{base}/v25.0/{}/stories", "9".repeat(400))),
        (
            "POST",
            format!("{base}/v25.0/{DEMO_ACCOUNT_ID}/media_publish?creation_id="),
        ),
    ];
    for (method, url) in odd {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = env
            .http
            .request(m, &url)
            .bearer_auth(DEMO_TOKEN)
            .body(vec![0xFFu8, 0x00, b'&', b'='])
            .send()
            .await
            .expect("a reply");
        assert!(
            r.status().is_client_error(),
            "{method} {url}: {}",
            r.status()
        );
        let body: Value = r.json().await.expect("JSON error");
        assert!(body["error"]["code"].is_i64(), "{body}");
    }
    assert_eq!(
        env.get("/me", &[]).await.status,
        StatusCode::OK,
        "still serving"
    );
}
