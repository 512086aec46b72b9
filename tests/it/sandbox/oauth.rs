//! Business Login: the code, short- and long-lived tokens, refused apps
//! and old scopes, a personal account.

use super::*;

/// The `code` and `state` in a Location header.
pub(super) fn redirect_params(location: &str) -> (String, Option<String>) {
    assert!(location.ends_with("#_"), "{location}");
    let query = location
        .trim_end_matches("#_")
        .split_once('?')
        .expect("test helper")
        .1;
    let mut code = String::new();
    let mut state = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').expect("test helper");
        match k {
            "code" => code = v.to_string(),
            "state" => state = Some(v.replace("%20", " ")),
            _ => {}
        }
    }
    (code, state)
}

pub(super) async fn login(env: &Env, scope: &str, state: &str) -> reqwest::Response {
    env.http
        .get(format!("{}/oauth/authorize", env.sb.base_url()))
        .query(&[
            ("client_id", DEMO_APP_ID),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
        ])
        .send()
        .await
        .expect("test helper")
}

pub(super) async fn code_for_token(env: &Env, code: &str, secret: &str) -> (StatusCode, Value) {
    let r = env
        .http
        .post(format!("{}/oauth/access_token", env.sb.base_url()))
        .form(&[
            ("client_id", DEMO_APP_ID),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", "https://app.example/cb"),
            ("code", code),
        ])
        .send()
        .await
        .expect("test helper");
    (r.status(), r.json().await.expect("test helper"))
}

#[tokio::test]
async fn oauth_code_short_and_long_lived_tokens() {
    let env = start();
    let r = login(
        &env,
        "instagram_business_basic,instagram_business_content_publish",
        "xyz 42",
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://app.example/cb?code="),
        "{location}"
    );
    let (code, state) = redirect_params(&location);
    assert_eq!(state.as_deref(), Some("xyz 42"));

    let (status, wrong) = code_for_token(&env, &code, "not-the-secret").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong["error_type"], "OAuthException");

    // A fresh code for the real exchange.
    let (code, _) = redirect_params(
        login(
            &env,
            "instagram_business_basic,instagram_business_content_publish",
            "s",
        )
        .await
        .headers()["location"]
            .to_str()
            .unwrap(),
    );
    let (status, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{short}");
    assert_eq!(
        short["user_id"].as_u64(),
        Some(DEMO_ACCOUNT_ID.parse().unwrap())
    );
    assert_eq!(
        short["permissions"],
        "instagram_business_basic,instagram_business_content_publish"
    );
    let short_token = short["access_token"].as_str().unwrap().to_string();
    let (status, reuse) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "codes are single-use: {reuse}"
    );

    let ex = |secret: &'static str, token: String| {
        let http = env.http.clone();
        let url = format!("{}/access_token", env.sb.base_url());
        async move {
            let r = http
                .get(url)
                .query(&[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", secret),
                    ("access_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, bad) = ex("wrong", short_token.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, long) = ex(DEMO_APP_SECRET, short_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{long}");
    assert_eq!(long["token_type"], "bearer");
    assert_eq!(long["expires_in"], 5_183_944);
    let long_token = long["access_token"].as_str().unwrap().to_string();
    let me = env.me(&long_token).await;
    assert_eq!(me.body["account_type"], "BUSINESS");
    // The short-lived token dies after an hour; the long one does not.
    env.sb.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        error_code(&env.call("GET", "/me", &[], Some(&short_token)).await),
        (190, Some(463))
    );
    assert_eq!(
        env.call("GET", "/me", &[], Some(&long_token)).await.status,
        StatusCode::OK
    );
    // Granted scopes are enforced: no insights permission was asked for.
    let cid = env.ready_image("o.jpg").await;
    let media = env
        .call(
            "POST",
            &format!("/{DEMO_ACCOUNT_ID}/media_publish"),
            &[("creation_id", cid.as_str())],
            Some(&long_token),
        )
        .await;
    assert_eq!(media.status, StatusCode::OK, "{}", media.body);
    let media_id = media.body["id"].as_str().unwrap();
    let ins = env
        .call(
            "GET",
            &format!("/{media_id}/insights"),
            &[("metric", "views")],
            Some(&long_token),
        )
        .await;
    assert_eq!(error_code(&ins).0, 10);
}

#[tokio::test]
async fn oauth_rejects_bad_apps_and_old_scopes() {
    let env = start();
    let r = login(&env, "business_basic,business_content_publish", "s").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(body["error_message"]
        .as_str()
        .unwrap()
        .contains("business_basic"));
    let r = env
        .http
        .get(format!("{}/oauth/authorize", env.sb.base_url()))
        .query(&[
            ("client_id", "123"),
            ("redirect_uri", "https://a/cb"),
            ("response_type", "code"),
            ("scope", "instagram_business_basic"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oauth_can_log_in_as_a_personal_account() {
    let env = start_with(|c| c.oauth_account = Some(PERSONAL_ID.into()));
    let r = login(
        &env,
        "instagram_business_basic,instagram_business_content_publish",
        "p",
    )
    .await;
    let (code, _) = redirect_params(r.headers()["location"].to_str().unwrap());
    let (_, short) = code_for_token(&env, &code, DEMO_APP_SECRET).await;
    let token = short["access_token"].as_str().unwrap().to_string();
    let me = env.me(&token).await;
    assert_eq!(me.body["account_type"], "PERSONAL");
    assert_eq!(me.body["user_id"], PERSONAL_ID);
    let url = env.put("p.jpg", &jpeg(108, 192));
    let create = env
        .call(
            "POST",
            &format!("/{PERSONAL_ID}/media"),
            &[("media_type", "STORIES"), ("image_url", url.as_str())],
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&create).0, 10, "{}", create.body);
}
