//! `storyforge auth login | status` and `storyforge doctor`: settings →
//! the library's login flow, token status and set-up checks, printed
//! plainly or as JSON. The one place a token is printed on purpose is the
//! `export VAR=…` line of `auth login` for accounts whose token lives in
//! an environment variable.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use storyforge::auth::{self, RedirectSource};
use storyforge::doctor::{self, DoctorOptions};
use storyforge::ledger::Ledger;
use storyforge::publish::graph::GraphClient;
use storyforge::publish::{secs, tokens};

use super::publish::ConfigArg;

/// Log an account in, or show its token.
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    action: AuthAction,
}

#[derive(Debug, clap::Subcommand)]
enum AuthAction {
    /// Log in through Instagram (Business Login) and store a 60-day token.
    Login(LoginArgs),
    /// Per account: token validity, days to expiry, last refresh, scopes.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
struct LoginArgs {
    /// The account name to store the token for [default: the configured
    /// account with the logged-in id, else the username].
    #[arg(long)]
    account: Option<String>,
    /// Do not try to open a browser; just print the URL.
    #[arg(long)]
    no_browser: bool,
    /// Paste the redirect URL instead of listening on the loopback redirect URI.
    #[arg(long)]
    paste: bool,
    /// Seconds to wait for the redirect.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Check the whole set-up: FFmpeg, fonts, templates, storage, accounts, ledger, clock.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the checks as a JSON array of {name, ok, detail, fix}.
    #[arg(long)]
    json: bool,
    /// Template files or directories to load [default: ./templates when present].
    #[arg(long, value_name = "PATH")]
    templates: Vec<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `storyforge auth …`.
pub fn auth(args: AuthArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        AuthAction::Login(a) => login(a),
        AuthAction::Status(a) => status(a),
    }
}

/// Opens `url` in a browser when there is a display; never fails.
fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        "xdg-open"
    } else {
        return;
    };
    let _ = std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let settings = args.config.settings()?;
    let secret = settings.app.secret()?;
    let request = auth::authorize_request(&settings.app)?;
    let rt = runtime()?;
    let login = rt.block_on(async {
        let listener = if args.paste {
            None
        } else {
            Some(auth::bind_loopback(&settings.app.redirect_uri).await?)
        };
        eprintln!(
            "Open this URL in a browser and allow access:\n{}",
            request.url
        );
        if !args.no_browser {
            open_browser(&request.url);
        }
        let source = match &listener {
            Some(l) => {
                eprintln!(
                    "Waiting for the redirect to {} …",
                    settings.app.redirect_uri
                );
                RedirectSource::Loopback(l, std::time::Duration::from_secs(args.timeout))
            }
            None => {
                eprintln!("Paste the whole URL the browser was sent to:");
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the pasted URL")?;
                RedirectSource::Pasted(line)
            }
        };
        anyhow::Ok(auth::login(&settings.app, &settings.graph, &secret, &request, source).await?)
    })?;
    let configured = match &args.account {
        Some(name) => settings.accounts.iter().find(|a| &a.name == name),
        None => settings
            .accounts
            .iter()
            .find(|a| a.ig_user_id == login.user_id),
    };
    let name = args
        .account
        .clone()
        .or_else(|| configured.map(|a| a.name.clone()))
        .unwrap_or_else(|| login.username.clone());
    let ledger = Ledger::open(&settings.ledger)?;
    let now = chrono::Utc::now();
    eprintln!(
        "Logged in as @{} ({}), account id {}; permissions: {}",
        login.username,
        login.account_type,
        login.user_id,
        if login.permissions.is_empty() {
            "not reported".to_string()
        } else {
            login.permissions.join(", ")
        }
    );
    if let Some(a) = configured {
        if a.ig_user_id != login.user_id {
            eprintln!(
                "warning: account '{}' has ig_user_id {} but the login is for {}; update storyforge.yaml",
                a.name, a.ig_user_id, login.user_id
            );
        }
    }
    let rec = match configured {
        Some(a) if a.token_file.is_some() => {
            let path = a.token_file.clone().unwrap_or_default();
            let rec = auth::store_login(&ledger, &name, Some(&path), &login, now)?;
            eprintln!("Token written to {} (mode 0600).", path.display());
            rec
        }
        Some(a) => {
            let rec = auth::store_login(&ledger, &name, None, &login, now)?;
            let var = a.token_env.clone().unwrap_or_default();
            eprintln!(
                "Set the token in your environment (the line below is the only place it is shown):"
            );
            println!("export {var}={}", login.token.expose());
            rec
        }
        None => {
            let path = PathBuf::from(format!("{name}.token"));
            let rec = auth::store_login(&ledger, &name, Some(&path), &login, now)?;
            eprintln!(
                "Token written to {} (mode 0600). Add this account to storyforge.yaml:\n{}",
                path.display(),
                auth::account_snippet(&name, &login, &path)
            );
            rec
        }
    };
    eprintln!(
        "The token expires {} (in {} days); storyforge token refresh renews it.",
        rec.expires_at.as_deref().unwrap_or("?"),
        login.expires_in / 86_400
    );
    Ok(ExitCode::SUCCESS)
}

fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let settings = args.config.settings()?;
    if settings.accounts.is_empty() {
        anyhow::bail!("no accounts in the settings; run `storyforge auth login` to add one");
    }
    let ledger = Ledger::open(&settings.ledger)?;
    let g = &settings.graph;
    let client = GraphClient::new(&g.base_url, &g.version, secs(g.timeout))?;
    let rt = runtime()?;
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    let mut bad = false;
    for a in &settings.accounts {
        if args.account.as_deref().is_some_and(|n| n != a.name) {
            continue;
        }
        let mut row = serde_json::json!({ "account": a.name });
        match a.load() {
            Err(e) => {
                row["valid"] = false.into();
                row["problem"] = e.to_string().into();
            }
            Ok(acc) => {
                match rt.block_on(auth::me(&client, &acc.token)) {
                    Ok(me) => {
                        row["valid"] = true.into();
                        row["username"] = me.username.into();
                        row["account_type"] = me.account_type.into();
                    }
                    Err(e) => {
                        row["valid"] = false.into();
                        row["problem"] = e.to_string().into();
                    }
                }
                let st = tokens::status(&ledger, &acc, now)?;
                row["days_left"] = st.days_left.map(|d| (d * 10.0).round() / 10.0).into();
                row["expires_at"] = st.expires_at.into();
                row["refreshed_at"] = st.refreshed_at.into();
                row["refresh_due"] = st.refresh_due.into();
            }
        }
        // Instagram-login tokens have no introspection endpoint: the
        // scopes are known only at login (printed then).
        row["scopes"] = serde_json::Value::Null;
        bad |= row["valid"] != true;
        rows.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in &rows {
            let days = r["days_left"]
                .as_f64()
                .map_or("expiry unknown".to_string(), |d| {
                    format!("{d:.1} days left")
                });
            let refreshed = r["refreshed_at"].as_str().unwrap_or("never");
            if r["valid"] == true {
                println!(
                    "{}: valid (@{}, {}), {days}, last refresh {refreshed}, scopes not reported by the API",
                    r["account"].as_str().unwrap_or(""),
                    r["username"].as_str().unwrap_or(""),
                    r["account_type"].as_str().unwrap_or("")
                );
            } else {
                println!(
                    "{}: INVALID: {}",
                    r["account"].as_str().unwrap_or(""),
                    r["problem"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `storyforge doctor`.
pub fn doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let settings = args.config.settings()?;
    let mut opts = DoctorOptions::default();
    if !args.templates.is_empty() {
        opts.templates = args.templates.clone();
    }
    let checks = runtime()?.block_on(doctor::run(&settings, &opts));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            println!("{}", c.line());
        }
    }
    Ok(if doctor::all_ok(&checks) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
