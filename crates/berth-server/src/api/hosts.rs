//! The hosts dynos run on, for platform admins.

use axum::extract::State;
use axum::Json;
use berth_api_types::Host;

use super::extract::Authenticated;
use super::ApiError;
use crate::AppState;

pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Host>>, ApiError> {
    let hosts = state.platform.hosts(&session.actor).await?;
    Ok(Json(
        hosts
            .into_iter()
            .map(|host| Host {
                name: host.name,
                address: host.address,
                role: host.role.to_string(),
                state: host.state.to_string(),
                availability: host.availability.to_string(),
                labels: host.labels,
                dynos: host.dynos,
            })
            .collect(),
    ))
}
