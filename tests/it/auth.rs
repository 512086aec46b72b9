//! Business Login end to end against the sandbox: the authorisation URL is
//! fetched without following redirects, the redirect is fed to the
//! loopback listener or pasted; code → short-lived → long-lived token →
//! `/me`; PERSONAL accounts and forged states are refused; the token is
//! stored 0600 with its expiry in the ledger, and never shows up in errors.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use storyforge::auth::{self, AppSettings, AuthError, AuthRequest, RedirectSource};
use storyforge::ledger::{parse_time, Ledger};
use storyforge::publish::graph::GraphClient;
use storyforge::publish::{GraphSettings, Secret};
use storyforge::sandbox::{Sandbox, SandboxAccount, SandboxConfig};

const APP_ID: &str = "990000000000001";
const APP_SECRET: &str = "sandbox-app-secret";
use crate::common::PERSONAL_ID;

fn sandbox(personal_login: bool) -> Sandbox {
    Sandbox::start(SandboxConfig {
        accounts: vec![SandboxAccount::default(), common::personal_account()],
        oauth_account: personal_login.then(|| PERSONAL_ID.to_string()),
        ..SandboxConfig::default()
    })
    .expect("test set-up")
}

/// A sandbox, a loopback listener for the redirect, and settings whose
/// redirect URI points at it.
async fn loopback_login(
    personal_login: bool,
) -> (Sandbox, tokio::net::TcpListener, AppSettings, GraphSettings) {
    let sb = sandbox(personal_login);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let (app, graph) = settings(&sb, &format!("http://127.0.0.1:{port}/callback"));
    (sb, listener, app, graph)
}

fn settings(sb: &Sandbox, redirect_uri: &str) -> (AppSettings, GraphSettings) {
    let base = sb.base_url();
    (
        AppSettings {
            app_id: APP_ID.into(),
            app_secret_env: None,
            app_secret_file: None,
            redirect_uri: redirect_uri.into(),
            authorize_url: format!("{base}/oauth/authorize"),
            token_url: format!("{base}/oauth/access_token"),
        },
        GraphSettings {
            base_url: base,
            timeout: 10.0,
            ..GraphSettings::default()
        },
    )
}

/// What the login window redirects to (the browser's job in real life).
async fn location(url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("test set-up");
    let resp = client.get(url).send().await.expect("test set-up");
    assert_eq!(resp.status().as_u16(), 302, "{url}");
    resp.headers()["location"]
        .to_str()
        .expect("test set-up")
        .to_string()
}

fn secret() -> Secret {
    Secret::new(APP_SECRET)
}

#[tokio::test]
async fn loopback_login_exchanges_the_code_twice_and_stores_the_token() {
    let (_sb, listener, app, graph) = loopback_login(false).await;
    let request = auth::authorize_request(&app).unwrap();
    assert!(request
        .url
        .contains("scope=instagram_business_basic%2Cinstagram_business_content_publish&state="));
    let browser = async {
        let to = location(&request.url).await;
        assert!(
            to.starts_with(&format!("{}?code=", app.redirect_uri)),
            "{to}"
        );
        assert!(to.ends_with("#_"), "{to}");
        // A browser asks for the favicon too; the listener must keep waiting.
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let fav = reqwest::get(format!("{base}/favicon.ico")).await.unwrap();
        assert_eq!(fav.status().as_u16(), 404);
        reqwest::get(&to).await.unwrap().text().await.unwrap()
    };
    let app_secret = secret();
    let flow = auth::login(
        &app,
        &graph,
        &app_secret,
        &request,
        RedirectSource::Loopback(&listener, Duration::from_secs(10)),
    );
    let (page, login) = tokio::join!(browser, flow);
    let login = login.unwrap();
    assert!(page.contains("Logged in"), "{page}");
    assert_eq!(login.user_id, "17841400000000001");
    assert_eq!(login.username, "storyforge_demo");
    assert_eq!(login.account_type, "BUSINESS");
    assert_eq!(
        login.expires_in, 5_183_944,
        "the long-lived exchange's expires_in"
    );
    assert_eq!(
        login.permissions,
        [
            "instagram_business_basic",
            "instagram_business_content_publish"
        ]
    );
    assert!(!format!("{login:?}").contains(login.token.expose()));
    // The stored token is the long-lived one and works.
    let client = GraphClient::new(&graph.base_url, &graph.version, Duration::from_secs(5)).unwrap();
    let me = auth::me(&client, &login.token).await.unwrap();
    assert_eq!(me.username, "storyforge_demo");

    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
    let file = dir.path().join("demo.token");
    let now = chrono::Utc::now();
    auth::store_login(&ledger, "demo", Some(&file), &login, now).unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        login.token.expose()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let rec = ledger.token("demo").unwrap();
    let expires = parse_time(rec.expires_at.as_deref().unwrap()).unwrap();
    assert_eq!((expires - now).num_seconds(), 5_183_944);
    assert_eq!(rec.refreshed_at, None);
}

#[tokio::test]
async fn pasted_redirect_logs_in() {
    let sb = sandbox(false);
    let (app, graph) = settings(&sb, "http://127.0.0.1:8765/callback");
    let request = auth::authorize_request(&app).unwrap();
    let pasted = format!("  {}\n", location(&request.url).await);
    let login = auth::login(
        &app,
        &graph,
        &secret(),
        &request,
        RedirectSource::Pasted(pasted),
    )
    .await
    .unwrap();
    assert_eq!(login.account_type, "BUSINESS");
    assert!(!login.token.is_empty());
}

#[tokio::test]
async fn personal_accounts_are_refused_with_the_reason() {
    let sb = sandbox(true);
    let (app, graph) = settings(&sb, "http://127.0.0.1:8765/callback");
    let request = auth::authorize_request(&app).unwrap();
    let to = location(&request.url).await;
    let err = auth::login(
        &app,
        &graph,
        &secret(),
        &request,
        RedirectSource::Pasted(to),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::Personal { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "@personal_pat is a PERSONAL account. {}",
            auth::PERSONAL_EXPLANATION
        )
    );
    assert!(err.to_string().contains(
        "Personal accounts cannot use the Instagram Graph API. Switch to Business/Creator"
    ));
}

#[tokio::test]
async fn a_foreign_state_is_refused_before_any_exchange() {
    let (_sb, listener, app, graph) = loopback_login(false).await;
    let theirs = auth::authorize_request(&app).unwrap();
    let ours = auth::authorize_request(&app).unwrap();
    // Pasted.
    let to = location(&theirs.url).await;
    let err = auth::login(
        &app,
        &graph,
        &secret(),
        &ours,
        RedirectSource::Pasted(to.clone()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::StateMismatch), "{err}");
    // Through the listener: the browser sees an error page, and the
    // forged redirect does not end the wait (it times out instead).
    let browser = async { reqwest::get(&to).await.unwrap().text().await.unwrap() };
    let app_secret = secret();
    let flow = auth::login(
        &app,
        &graph,
        &app_secret,
        &ours,
        RedirectSource::Loopback(&listener, Duration::from_secs(2)),
    );
    let (page, result) = tokio::join!(browser, flow);
    assert!(page.contains("Not this login"), "{page}");
    assert!(matches!(result, Err(AuthError::Timeout(_))), "{result:?}");
    // The code was never presented, so it still works once.
    let honest = AuthRequest {
        url: theirs.url.clone(),
        state: theirs.state.clone(),
    };
    let ok = auth::login(&app, &graph, &secret(), &honest, RedirectSource::Pasted(to)).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[tokio::test]
async fn a_wrong_app_secret_is_explained_and_never_shown() {
    let sb = sandbox(false);
    let (app, graph) = settings(&sb, "http://127.0.0.1:8765/callback");
    let request = auth::authorize_request(&app).unwrap();
    let to = location(&request.url).await;
    let wrong = Secret::new("not-the-SECRET-42");
    let err = auth::login(
        &app,
        &graph,
        &wrong,
        &request,
        RedirectSource::Pasted(to.clone()),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("Error validating client secret."), "{msg}");
    assert!(!msg.contains("not-the-SECRET-42"), "{msg}");
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap();
    assert!(!msg.contains(code), "{msg}");
    assert!(!format!("{err:?}").contains("not-the-SECRET-42"));
}

#[tokio::test]
async fn timeout_suggests_pasting() {
    let (_sb, listener, app, graph) = loopback_login(false).await;
    let request = auth::authorize_request(&app).unwrap();
    let err = auth::login(
        &app,
        &graph,
        &secret(),
        &request,
        RedirectSource::Loopback(&listener, Duration::from_millis(200)),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("use --paste"), "{err}");
}

/// The command: loopback login, token file written, the token in no output;
/// then `auth status` sees it.
#[test]
fn the_command_logs_in_and_reports_status() {
    use std::io::BufRead;
    let sb = sandbox(false);
    let work = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let token_file = work.path().join("demo.token");
    let base = sb.base_url();
    let config = common::SettingsFile::new(work.path(), &base)
        .account("demo", common::DEMO_ID, None)
        .extra(&format!(
            "app:\n  app_id: \"{APP_ID}\"\n  app_secret_env: SF_TEST_APP_SECRET\n  redirect_uri: http://127.0.0.1:{port}/callback\n  authorize_url: {base}/oauth/authorize\n  token_url: {base}/oauth/access_token\n"
        ))
        .write();
    let mut child = common::command()
        .args([
            "auth",
            "login",
            "--no-browser",
            "--timeout",
            "20",
            "--config",
        ])
        .arg(&config)
        .env("SF_TEST_APP_SECRET", APP_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "no URL printed: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with(&format!("{base}/oauth/authorize?")) {
            break line.trim().to_string();
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = rt.block_on(async {
        let to = location(&url).await;
        // The listener may still be starting: retry the connect briefly.
        for _ in 0..50 {
            if let Ok(r) = reqwest::get(&to).await {
                return r.text().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the listener never answered");
    });
    assert!(page.contains("Logged in"));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = format!("{seen}{rest}{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{all}");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.starts_with("IGAA"), "a sandbox token");
    assert!(!all.contains(&token), "the token leaked: {all}");
    assert!(!all.contains(APP_SECRET), "the secret leaked: {all}");
    assert!(
        all.contains("Logged in as @storyforge_demo (BUSINESS), account id 17841400000000001"),
        "{all}"
    );
    assert!(all.contains(&format!(
        "Token written to {} (mode 0600).",
        token_file.display()
    )));

    let status = common::command()
        .args(["auth", "status", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["account_type"], "BUSINESS");
    let days = v[0]["days_left"].as_f64().unwrap();
    assert!((59.9..60.1).contains(&days), "{days}");
    assert!(!String::from_utf8_lossy(&status.stdout).contains(&token));
}

/// A local page hitting the callback with a wrong or missing `state` (an
/// `error=` included) gets an error page and does not end the wait; the real
/// redirect still completes the login. Real HTTP requests to the listener.
#[tokio::test]
async fn foreign_callbacks_neither_end_nor_abort_the_wait() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let wait = {
        let redirect = redirect.clone();
        tokio::spawn(async move {
            auth::await_redirect(&listener, &redirect, "good-state", Duration::from_secs(20)).await
        })
    };
    let http = reqwest::Client::new();
    for forged in [
        "?error=access_denied&error_description=forged",
        "?error=access_denied&state=other",
        "?code=AQBforged&state=other",
        "?code=AQBforged",
    ] {
        let resp = http
            .get(format!("{redirect}{forged}"))
            .send()
            .await
            .expect("the listener answers");
        assert_eq!(resp.status().as_u16(), 400, "{forged}");
        let page = resp.text().await.expect("page");
        assert!(page.contains("still waiting"), "{forged}: {page}");
        assert!(!wait.is_finished(), "{forged} ended the wait");
    }
    let ok = http
        .get(format!("{redirect}?code=AQBreal&state=good-state#_"))
        .send()
        .await
        .expect("the listener answers");
    assert_eq!(ok.status().as_u16(), 200);
    let code = wait
        .await
        .expect("the wait task")
        .expect("the real redirect logs in");
    assert_eq!(code.expose(), "AQBreal");
}
