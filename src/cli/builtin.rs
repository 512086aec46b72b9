//! `graph.base_url: sandbox` in the settings → the built-in sandbox started
//! in this process (serving the local store), the settings pointed at it and
//! its demo account given to them. Only the command starts it; the library
//! never does.

use anyhow::Context as _;
use storyforge::config::{InProcessGraph, Settings, BUILTIN_SANDBOX};
use storyforge::publish::{Account, AccountSettings, Secret};
use storyforge::sandbox::{Sandbox, SandboxConfig, DEMO_ACCOUNT_ID, DEMO_TOKEN};

/// Starts the built-in sandbox when the settings ask for it; it stops when
/// the returned handle is dropped, so keep it for the command's lifetime.
pub fn start_if_asked(settings: &mut Settings) -> anyhow::Result<Option<Sandbox>> {
    if settings.graph.base_url != BUILTIN_SANDBOX {
        return Ok(None);
    }
    let dir = &settings.storage.dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the local store", dir.display()))?;
    let sandbox = Sandbox::start(SandboxConfig {
        media_dir: Some(dir.clone()),
        image_processing_ms: 200,
        video_processing_ms: 1000,
        ..SandboxConfig::default()
    })
    .context("the built-in sandbox")?;
    settings.graph.base_url = sandbox.base_url();
    settings.storage.base_url = format!("{}/media/", sandbox.base_url());
    settings.in_process = Some(InProcessGraph {
        account: Account {
            settings: AccountSettings {
                name: "demo".into(),
                ig_user_id: DEMO_ACCOUNT_ID.into(),
                token_env: None,
                token_file: None,
                timezone: None,
            },
            token: Secret::new(DEMO_TOKEN),
        },
    });
    Ok(Some(sandbox))
}
