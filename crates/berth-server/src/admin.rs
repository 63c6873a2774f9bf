//! `berthd admin …`: changes made directly in the store, for first setup and
//! scripts. They work beside a running server (the store takes one writer at
//! a time), and what they create is valid at once.

use berth_platform::{IssuedToken, Platform};

use crate::Settings;

const ORIGIN: &str = "berthd admin";

pub async fn create_user(
    settings: &Settings,
    email: &str,
    is_admin: bool,
    password: Option<&str>,
) -> anyhow::Result<IssuedToken> {
    let platform = Platform::open(&settings.platform_config()).await?;
    let issued = platform
        .create_user(email, is_admin, password, ORIGIN)
        .await;
    platform.close().await;
    Ok(issued?)
}

/// Re-seals every secret with a new key; returns the new key's id.
pub async fn rotate_key(settings: &Settings) -> anyhow::Result<String> {
    let platform = Platform::open(&settings.platform_config()).await?;
    let rotated = platform.rotate_key().await;
    platform.close().await;
    Ok(rotated?)
}

pub async fn set_password(settings: &Settings, email: &str, password: &str) -> anyhow::Result<()> {
    let platform = Platform::open(&settings.platform_config()).await?;
    let result = platform.set_password(email, password, ORIGIN).await;
    platform.close().await;
    Ok(result?)
}

/// Deprovisions every add-on of this Berth (databases, logins, keys) and
/// deletes its record; returns how many went. For tearing a Berth down.
pub async fn remove_every_addon(settings: &Settings) -> anyhow::Result<usize> {
    // Dedicated add-on containers go through the engine.
    let engine = berth_docker::Engine::connect(&settings.engine_target()?).await?;
    let platform = Platform::open(&settings.platform_config())
        .await?
        .with_engine(engine);
    let removed = platform.remove_every_addon().await;
    platform.close().await;
    Ok(removed?)
}
