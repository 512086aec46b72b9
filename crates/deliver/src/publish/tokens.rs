//! Token lifetimes: the expiry kept in the ledger → whether a refresh is
//! due → `refresh_access_token` → the new token written where the config
//! says (a 0600 token file) and its new expiry recorded. Tokens themselves
//! are never logged or stored in the ledger.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::graph::{CallError, GraphClient, Method};
use super::{Account, Secret};
use crate::ledger::{parse_time, Ledger, LedgerError, TokenRecord};

/// Refresh when fewer days than this are left.
pub const REFRESH_WITHIN_DAYS: i64 = 10;
/// A token must be at least this old (hours) to be refreshed.
pub const MIN_AGE_HOURS: i64 = 24;

/// What `storyforge token status` shows for one account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenStatus {
    /// The account.
    pub account: String,
    /// Days until expiry, when known.
    pub days_left: Option<f64>,
    /// When it expires, when known.
    pub expires_at: Option<String>,
    /// When storyforge last refreshed it.
    pub refreshed_at: Option<String>,
    /// True when a refresh is due now.
    pub refresh_due: bool,
    /// Where refreshed tokens go (`token_file`), or why they cannot be stored.
    pub storage: String,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The API refused or did not answer.
    #[error("account '{account}': token refresh failed: {source}")]
    Call {
        /// The account.
        account: String,
        /// The error underneath, kept as the source.
        #[source]
        source: CallError,
    },
    /// The new token could not be written.
    #[error("account '{account}': cannot write the new token to {path}: {reason}")]
    Store {
        /// The account.
        account: String,
        /// The token file.
        path: String,
        /// Why it failed, in words for the user.
        reason: String,
    },
    /// The token comes from an environment variable, which storyforge cannot update.
    #[error("account '{0}': the token comes from an environment variable; set `token_file` so refreshed tokens can be stored")]
    NoFile(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The status of `account`'s token at `now`, recording a first sighting.
pub fn status(
    ledger: &Ledger,
    account: &Account,
    now: DateTime<Utc>,
) -> Result<TokenStatus, LedgerError> {
    let name = &account.settings.name;
    let mut rec = ledger.token(name)?;
    if rec.issued_at.is_none() {
        rec.issued_at = Some(now.to_rfc3339());
        ledger.set_token(name, &rec)?;
    }
    let expires = rec.expires_at.as_deref().and_then(parse_time);
    let issued = rec.issued_at.as_deref().and_then(parse_time);
    let days_left = expires.map(|e| (e - now).num_seconds() as f64 / 86_400.0);
    let old_enough = issued.is_some_and(|i| now - i >= chrono::Duration::hours(MIN_AGE_HOURS));
    let near = days_left.is_none_or(|d| d < REFRESH_WITHIN_DAYS as f64);
    Ok(TokenStatus {
        account: name.clone(),
        days_left,
        expires_at: rec.expires_at.clone(),
        refreshed_at: rec.refreshed_at.clone(),
        refresh_due: old_enough && near && account.settings.token_file.is_some(),
        storage: match &account.settings.token_file {
            Some(p) => p.display().to_string(),
            None => "environment variable (not refreshable by storyforge)".into(),
        },
    })
}

/// Refreshes `account`'s token now; returns the new token.
pub async fn refresh(
    client: &GraphClient,
    ledger: &Ledger,
    account: &Account,
) -> Result<Secret, TokenError> {
    let name = account.settings.name.clone();
    let Some(path) = account.settings.token_file.clone() else {
        return Err(TokenError::NoFile(name));
    };
    let v = client
        .call_unversioned(
            Method::Get,
            "refresh_access_token",
            Some(&account.token),
            &[("grant_type", "ig_refresh_token")],
        )
        .await
        .map_err(|source| TokenError::Call {
            account: name.clone(),
            source,
        })?;
    let token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .map(Secret::new)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Call {
            account: name.clone(),
            source: CallError::BadReply {
                url: format!("{}/refresh_access_token", client.base()),
                status: 200,
                snippet: "no access_token in the reply".into(),
            },
        })?;
    write_token_file(&path, &token).map_err(|e| TokenError::Store {
        account: name.clone(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let now = Utc::now();
    let expires_in = v
        .get("expires_in")
        .and_then(|e| e.as_i64())
        .unwrap_or(5_184_000);
    ledger.set_token(
        &name,
        &TokenRecord {
            issued_at: Some(now.to_rfc3339()),
            expires_at: Some((now + chrono::Duration::seconds(expires_in)).to_rfc3339()),
            refreshed_at: Some(now.to_rfc3339()),
        },
    )?;
    Ok(token)
}

/// Writes a token file atomically with mode 0600 (the temporary file is
/// created 0600, fsynced, renamed, and the directory fsynced).
pub fn write_token_file(path: &std::path::Path, token: &Secret) -> std::io::Result<()> {
    let mut bytes = token.expose().as_bytes().to_vec();
    bytes.push(b'\n');
    storyforge_base::util::atomic::write_atomic_mode(path, &bytes, 0o600)
}
