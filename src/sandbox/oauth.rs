//! Tokens and logins: a request's access token → the account it speaks for
//! (or 190 / 463, or a rate-limit error), Business Login (authorize →
//! code → short-lived token → long-lived token), refresh, and `/me`.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::config::AccountType;
use super::errors::GraphError;
use super::graph::requested_fields;
use super::server::{minutes_until, Auth, Failure, Reply, Req};
use super::state::{random_secret, AuthCode, Shared, TokenKind, TokenRecord};

/// Scopes the login window knows (Business Login for Instagram).
const KNOWN_SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
    "instagram_business_manage_comments",
    "instagram_business_manage_messages",
];

fn expiry_text(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%A, %d-%b-%y %H:%M:%S UTC")
        .to_string()
}

/// Checks the request's token and counts the call against the account's
/// hourly limit.
pub fn authenticate(shared: &Shared, req: &Req) -> Result<Auth, GraphError> {
    let (_, rec) = valid_token(shared, req)?;
    let mut world = shared.lock();
    let now = world.now();
    let (count, oldest_leaves) = world.calls_in_hour(&rec.account_id, now);
    if count >= shared.config.calls_per_hour {
        let minutes = oldest_leaves
            .map(|t| minutes_until(now, t))
            .unwrap_or(60)
            .max(1);
        return Err(GraphError::rate_limited(minutes));
    }
    world.count_call(&rec.account_id, now);
    Ok(Auth {
        account_id: rec.account_id,
        scopes: rec.scopes,
    })
}

/// `GET /oauth/authorize`: approves at once and redirects to
/// `redirect_uri?code=…&state=…#_`.
pub fn authorize(shared: &Shared, req: &Req) -> Result<Reply, Failure> {
    let cfg = &shared.config;
    if req.param("client_id") != Some(cfg.app_id.as_str()) {
        return Err(Failure::OAuth("Invalid platform app".into()));
    }
    let redirect = req.param("redirect_uri").unwrap_or("");
    if !(redirect.starts_with("https://") || redirect.starts_with("http://")) {
        return Err(Failure::OAuth(
            "Invalid redirect_uri: an absolute http(s) URL is required".into(),
        ));
    }
    if req.param("response_type") != Some("code") {
        return Err(Failure::OAuth(
            "Invalid response_type: only 'code' is supported".into(),
        ));
    }
    let scopes: Vec<String> = req
        .param("scope")
        .unwrap_or("")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(Failure::OAuth(format!("Invalid scope: {bad}")));
    }
    if !scopes.iter().any(|s| s == "instagram_business_basic") {
        return Err(Failure::OAuth(
            "Invalid scope: instagram_business_basic is required".into(),
        ));
    }
    let account = cfg
        .oauth_login_account()
        .ok_or_else(|| Failure::OAuth("No account to log in with".into()))?;
    let code = random_secret("AQ");
    let mut world = shared.lock();
    let expires = world.now() + Duration::from_secs(cfg.tokens.code_secs);
    world.codes.insert(
        code.clone(),
        AuthCode {
            account_id: account.id.clone(),
            redirect_uri: redirect.to_string(),
            scopes,
            expires,
        },
    );
    let mut to = format!(
        "{redirect}{}code={code}",
        if redirect.contains('?') { '&' } else { '?' }
    );
    if let Some(state) = req.param("state") {
        to.push_str("&state=");
        to.push_str(&encode_component(state));
    }
    to.push_str("#_");
    Ok(Reply::Redirect(to))
}

/// `POST /oauth/access_token`: a single-use code → a short-lived token.
pub fn code_for_token(shared: &Shared, req: &Req) -> Result<Reply, Failure> {
    let cfg = &shared.config;
    let fail = |m: &str| Err(Failure::OAuth(m.into()));
    if req.param("client_id") != Some(cfg.app_id.as_str()) {
        return fail("Invalid platform app");
    }
    if req.param("client_secret") != Some(cfg.app_secret.as_str()) {
        return fail("Error validating client secret.");
    }
    if req.param("grant_type") != Some("authorization_code") {
        return fail("Invalid grant_type: authorization_code expected");
    }
    let mut world = shared.lock();
    let now = world.now();
    // Single use: a code is gone once presented, right or wrong.
    let Some(grant) = req.param("code").and_then(|c| world.codes.remove(c)) else {
        return fail("Invalid authorization code");
    };
    if now >= grant.expires {
        return fail("This authorization code has expired");
    }
    if req.param("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return fail("Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request");
    }
    let token = random_secret("IGAA");
    world.tokens.insert(
        token.clone(),
        TokenRecord {
            account_id: grant.account_id.clone(),
            kind: TokenKind::Short,
            issued: now,
            expires: now + Duration::from_secs(cfg.tokens.short_lived_secs),
            scopes: grant.scopes.clone(),
        },
    );
    // The live API sends user_id as a JSON number.
    let user_id: Value = grant
        .account_id
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or(json!(grant.account_id));
    Ok(Reply::Json(json!({
        "access_token": token,
        "user_id": user_id,
        "permissions": grant.scopes.join(","),
    })))
}

/// A valid token's record, or 190 / 463.
fn valid_token(shared: &Shared, req: &Req) -> Result<(String, TokenRecord), GraphError> {
    let token = req.token().ok_or_else(GraphError::invalid_token)?;
    let world = shared.lock();
    let now = world.now();
    let rec = world
        .tokens
        .get(token)
        .cloned()
        .ok_or_else(GraphError::invalid_token)?;
    if now >= rec.expires {
        return Err(GraphError::token_expired(
            &expiry_text(rec.expires),
            &expiry_text(now),
        ));
    }
    Ok((token.to_string(), rec))
}

/// `GET /access_token?grant_type=ig_exchange_token`: short → long-lived.
pub fn exchange(shared: &Shared, req: &Req) -> Result<Reply, GraphError> {
    let cfg = &shared.config;
    if req.param("grant_type") != Some("ig_exchange_token") {
        return Err(GraphError::invalid_parameter(
            "grant_type must be ig_exchange_token",
        ));
    }
    if req.param("client_secret") != Some(cfg.app_secret.as_str()) {
        return Err(GraphError::invalid_parameter(
            "Error validating client secret.",
        ));
    }
    let (_, rec) = valid_token(shared, req)?;
    if rec.kind == TokenKind::Long {
        return Err(GraphError::invalid_parameter(
            "The access token is already long-lived; refresh it with refresh_access_token",
        ));
    }
    let lifetime = cfg.tokens.exchanged_secs;
    let token = issue_long(shared, &rec, lifetime);
    Ok(Reply::Json(
        json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime }),
    ))
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token`: a long-lived
/// token at least 24 h old → a new one; the old one works for
/// `refresh_grace_secs` more.
pub fn refresh(shared: &Shared, req: &Req) -> Result<Reply, GraphError> {
    let cfg = &shared.config;
    if req.param("grant_type") != Some("ig_refresh_token") {
        return Err(GraphError::invalid_parameter(
            "grant_type must be ig_refresh_token",
        ));
    }
    let (old, rec) = valid_token(shared, req)?;
    if rec.kind == TokenKind::Short {
        return Err(GraphError::invalid_parameter(
            "Short-lived tokens cannot be refreshed: exchange them for a long-lived token first",
        ));
    }
    let now = shared.now();
    let age = now.duration_since(rec.issued).unwrap_or_default();
    if age < Duration::from_secs(cfg.tokens.refresh_min_age_secs) {
        return Err(GraphError::invalid_parameter(format!(
            "The access token is too young to be refreshed: it is {} s old and must be at least {} s old",
            age.as_secs(),
            cfg.tokens.refresh_min_age_secs
        )));
    }
    let lifetime = cfg.tokens.long_lived_secs;
    let token = issue_long(shared, &rec, lifetime);
    let mut world = shared.lock();
    let grace_end = world.now() + Duration::from_secs(cfg.tokens.refresh_grace_secs);
    if let Some(r) = world.tokens.get_mut(&old) {
        r.expires = r.expires.min(grace_end);
    }
    Ok(Reply::Json(
        json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime }),
    ))
}

fn issue_long(shared: &Shared, from: &TokenRecord, lifetime: u64) -> String {
    let token = random_secret("IGAA");
    let mut world = shared.lock();
    let now = world.now();
    world.tokens.insert(
        token.clone(),
        TokenRecord {
            account_id: from.account_id.clone(),
            kind: TokenKind::Long,
            issued: now,
            expires: now + Duration::from_secs(lifetime),
            scopes: from.scopes.clone(),
        },
    );
    token
}

/// `GET /me?fields=user_id,username,account_type` (plus `id`, `name`).
pub fn me(shared: &Shared, req: &Req, auth: &Auth) -> Result<Reply, GraphError> {
    let account = shared
        .account(&auth.account_id)
        .ok_or_else(GraphError::invalid_token)?;
    let fields = requested_fields(
        req,
        &["id", "user_id", "username", "account_type", "name"],
        "User",
    )?;
    let mut out = Map::new();
    out.insert("id".into(), json!(account.id));
    for f in fields {
        let v = match f.as_str() {
            "user_id" => json!(account.id),
            "username" | "name" => json!(account.username),
            "account_type" => json!(account.account_type.as_str()),
            _ => continue,
        };
        out.insert(f, v);
    }
    Ok(Reply::Json(Value::Object(out)))
}

/// Fails with error 10 when the account is PERSONAL.
pub fn require_professional(shared: &Shared, auth: &Auth) -> Result<(), GraphError> {
    match shared.account(&auth.account_id) {
        Some(a) if a.account_type != AccountType::Personal => Ok(()),
        _ => Err(GraphError::permission(
            "The user is not an Instagram Business or Creator account: PERSONAL accounts cannot publish",
        )),
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
