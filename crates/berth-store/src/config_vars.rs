//! An app's config vars, values sealed by the caller.

use sqlx::Row;

use crate::{QueryContext, Result, Store};

impl Store {
    /// `(name, sealed value)` pairs, by name.
    pub async fn config_vars(&self, app_id: i64) -> Result<Vec<(String, String)>> {
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
        let mut tx = self.pool.begin().await.context("begin config change")?;
        sqlx::query("DELETE FROM config_vars WHERE app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await
            .context("clear config vars")?;
        for (name, sealed) in vars {
            sqlx::query("INSERT INTO config_vars (app_id, name, value_sealed) VALUES ($1, $2, $3)")
                .bind(app_id)
                .bind(name)
                .bind(sealed)
                .execute(&mut *tx)
                .await
                .context("write config var")?;
        }
        tx.commit().await.context("commit config change")
    }
}
