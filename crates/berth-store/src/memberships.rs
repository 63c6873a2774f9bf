//! Who holds which role on an app. Every change keeps at least one owner
//! per app, checked inside the change's own transaction.

use berth_core::AppRole;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub role: AppRole,
    /// When the user got access to the app.
    pub created_at: DateTime<Utc>,
}

/// What a change to someone's role came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    Done,
    /// The user holds no role on the app.
    NotAMember,
    /// The change would leave the app without an owner; nothing changed.
    LastOwner,
}

impl Store {
    /// The app's members, in the order they got access.
    pub async fn members(&self, app_id: i64) -> Result<Vec<Member>> {
        let _timer = timed("members");
        let rows = sqlx::query(
            "SELECT u.email, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.app_id = $1 ORDER BY m.created_at, u.id",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("list members")?;
        rows.iter()
            .map(|row| {
                let read = || -> std::result::Result<_, sqlx::Error> {
                    Ok((
                        row.try_get::<String, _>("email")?,
                        row.try_get::<String, _>("role")?,
                        row.try_get::<i64, _>("created_at")?,
                    ))
                };
                let (email, role, created_at) = read().context("read member")?;
                Ok(Member {
                    email,
                    role: role.parse().map_err(StoreError::Corrupt)?,
                    created_at: from_millis(created_at)?,
                })
            })
            .collect()
    }

    /// Gives `user_id` a role on the app, with the audit entry. A user who
    /// already holds one is a conflict.
    pub async fn add_member(
        &self,
        app_id: i64,
        user_id: i64,
        role: AppRole,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("add_member");
        let mut tx = self.pool.begin().await.context("begin add member")?;
        sqlx::query(
            "INSERT INTO memberships (app_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(app_id)
        .bind(user_id)
        .bind(role.to_string())
        .bind(to_millis(Utc::now()))
        .execute(&mut *tx)
        .await
        .conflict_as("add member", || "this user's access to the app".into())?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit add member")
    }

    /// Changes `user_id`'s role on the app (`Some`) or takes it away (`None`),
    /// with the audit entry, unless that leaves the app without an owner.
    pub async fn change_member(
        &self,
        app_id: i64,
        user_id: i64,
        role: Option<AppRole>,
        audit: &AuditEntry,
    ) -> Result<MembershipChange> {
        let _timer = timed("change_member");
        let mut tx = self.pool.begin().await.context("begin change member")?;
        // The write comes first so SQLite takes its write lock at once.
        let changed = match role {
            Some(role) => {
                sqlx::query("UPDATE memberships SET role = $1 WHERE app_id = $2 AND user_id = $3")
                    .bind(role.to_string())
                    .bind(app_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
            }
            None => {
                sqlx::query("DELETE FROM memberships WHERE app_id = $1 AND user_id = $2")
                    .bind(app_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
            }
        }
        .context("change member")?;
        if changed.rows_affected() == 0 {
            return Ok(MembershipChange::NotAMember);
        }
        if owners(&mut tx, app_id).await? == 0 {
            tx.rollback().await.context("undo change member")?;
            return Ok(MembershipChange::LastOwner);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit change member")?;
        Ok(MembershipChange::Done)
    }
}

async fn owners(conn: &mut AnyConnection, app_id: i64) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE app_id = $1 AND role = $2")
        .bind(app_id)
        .bind(AppRole::Owner.to_string())
        .fetch_one(conn)
        .await
        .context("count owners")
}
