//! An app's config vars, values sealed by the caller.

use sqlx::Row;

use crate::query_durations::timed;
use crate::{QueryContext, Result, Store};

impl Store {
    /// `(name, sealed value)` pairs, by name.
    pub async fn config_vars(&self, app_id: i64) -> Result<Vec<(String, String)>> {
        let _timer = timed("config_vars");
        let rows = sqlx::query(
            "SELECT name, value_sealed FROM config_vars WHERE app_id = $1 ORDER BY name",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("read config vars")?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, row.try_get("value_sealed")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("read config var")
    }

    /// Replaces the app's config vars with `vars` in one transaction.
    pub async fn replace_config_vars(&self, app_id: i64, vars: &[(String, String)]) -> Result<()> {
        let _timer = timed("replace_config_vars");
        let mut tx = self.pool.begin().await.context("begin config change")?;
        replace_config_vars_in(&mut tx, app_id, vars).await?;
        tx.commit().await.context("commit config change")
    }
}

/// Every sealed value in the store, for re-sealing under a new key.
#[derive(Debug, Default)]
pub struct SealedValues {
    /// `(app id, name, sealed value)`
    pub config_vars: Vec<(i64, String, String)>,
    /// `(release id, app id, sealed config)`
    pub release_configs: Vec<(i64, i64, String)>,
    /// `(drain id, app id, sealed URL)`
    pub drain_urls: Vec<(i64, i64, String)>,
    /// `(certificate id, domain id, sealed private key)`
    pub certificate_keys: Vec<(i64, i64, String)>,
    /// `(account id, directory, sealed credentials)`
    pub acme_accounts: Vec<(i64, String, String)>,
    /// `(add-on id, add-on name, sealed credentials)`
    pub addon_credentials: Vec<(i64, String, String)>,
}

impl Store {
    pub async fn sealed_values(&self) -> Result<SealedValues> {
        let _timer = timed("sealed_values");
        let vars = sqlx::query("SELECT app_id, name, value_sealed FROM config_vars")
            .fetch_all(&self.pool)
            .await
            .context("read sealed config vars")?;
        let releases = sqlx::query("SELECT id, app_id, config_sealed FROM releases")
            .fetch_all(&self.pool)
            .await
            .context("read sealed release configs")?;
        let drains = sqlx::query("SELECT id, app_id, url_sealed FROM log_drains")
            .fetch_all(&self.pool)
            .await
            .context("read sealed drain URLs")?;
        let keys = sqlx::query("SELECT id, domain_id, key_sealed FROM certificates")
            .fetch_all(&self.pool)
            .await
            .context("read sealed certificate keys")?;
        let accounts = sqlx::query("SELECT id, directory, credentials_sealed FROM acme_accounts")
            .fetch_all(&self.pool)
            .await
            .context("read sealed ACME accounts")?;
        let addons = sqlx::query("SELECT id, name, credentials_sealed FROM addons")
            .fetch_all(&self.pool)
            .await
            .context("read sealed add-on credentials")?;
        let read = || -> std::result::Result<SealedValues, sqlx::Error> {
            Ok(SealedValues {
                config_vars: vars
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("app_id")?,
                            r.try_get("name")?,
                            r.try_get("value_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                release_configs: releases
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("app_id")?,
                            r.try_get("config_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                drain_urls: drains
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("app_id")?,
                            r.try_get("url_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                certificate_keys: keys
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("domain_id")?,
                            r.try_get("key_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                acme_accounts: accounts
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("directory")?,
                            r.try_get("credentials_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
                addon_credentials: addons
                    .iter()
                    .map(|r| {
                        Ok((
                            r.try_get("id")?,
                            r.try_get("name")?,
                            r.try_get("credentials_sealed")?,
                        ))
                    })
                    .collect::<std::result::Result<_, sqlx::Error>>()?,
            })
        };
        read().context("read sealed value")
    }

    /// Writes re-sealed values back, all in one transaction.
    pub async fn replace_sealed_values(&self, values: &SealedValues) -> Result<()> {
        let _timer = timed("replace_sealed_values");
        let mut tx = self.pool.begin().await.context("begin re-seal")?;
        for (app_id, name, sealed) in &values.config_vars {
            sqlx::query("UPDATE config_vars SET value_sealed = $1 WHERE app_id = $2 AND name = $3")
                .bind(sealed)
                .bind(app_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .context("re-seal config var")?;
        }
        for (release_id, _, sealed) in &values.release_configs {
            sqlx::query("UPDATE releases SET config_sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(release_id)
                .execute(&mut *tx)
                .await
                .context("re-seal release config")?;
        }
        for (drain_id, _, sealed) in &values.drain_urls {
            sqlx::query("UPDATE log_drains SET url_sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(drain_id)
                .execute(&mut *tx)
                .await
                .context("re-seal drain URL")?;
        }
        for (certificate_id, _, sealed) in &values.certificate_keys {
            sqlx::query("UPDATE certificates SET key_sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(certificate_id)
                .execute(&mut *tx)
                .await
                .context("re-seal certificate key")?;
        }
        for (account_id, _, sealed) in &values.acme_accounts {
            sqlx::query("UPDATE acme_accounts SET credentials_sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(account_id)
                .execute(&mut *tx)
                .await
                .context("re-seal ACME account")?;
        }
        for (addon_id, _, sealed) in &values.addon_credentials {
            sqlx::query("UPDATE addons SET credentials_sealed = $1 WHERE id = $2")
                .bind(sealed)
                .bind(addon_id)
                .execute(&mut *tx)
                .await
                .context("re-seal add-on credentials")?;
        }
        tx.commit().await.context("commit re-seal")
    }
}

/// Replaces the app's config vars inside the caller's transaction.
pub(crate) async fn replace_config_vars_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_id: i64,
    vars: &[(String, String)],
) -> Result<()> {
    sqlx::query("DELETE FROM config_vars WHERE app_id = $1")
        .bind(app_id)
        .execute(&mut **tx)
        .await
        .context("clear config vars")?;
    for (name, sealed) in vars {
        sqlx::query("INSERT INTO config_vars (app_id, name, value_sealed) VALUES ($1, $2, $3)")
            .bind(app_id)
            .bind(name)
            .bind(sealed)
            .execute(&mut **tx)
            .await
            .context("write config var")?;
    }
    Ok(())
}
