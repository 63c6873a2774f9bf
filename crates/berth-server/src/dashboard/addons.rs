//! An app's add-ons, where each is attached, and their credentials.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::apps::AppHeader;
use super::browser::{Chrome, SignedIn};
use super::error::DashboardError;
use super::render;
use crate::AppState;

use serde::Deserialize;

struct AddonRow {
    name: String,
    service: String,
    /// `app::AS` for each attachment.
    attached: String,
}

/// An add-on's credentials, shown after a deliberate click.
struct RevealedAddon {
    name: String,
    url: String,
}

#[derive(Template)]
#[template(path = "app_addons.html")]
struct AddonsPage {
    chrome: Chrome,
    app: AppHeader,
    addons: Vec<AddonRow>,
    revealed: Option<RevealedAddon>,
}

#[derive(Deserialize)]
pub(super) struct AddonsQuery {
    /// The add-on whose URL to show (needs the right to read config vars).
    reveal: Option<String>,
}

/// The app's add-ons and where each is attached; one add-on's URL on request.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<AddonsQuery>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let addons = state
        .platform
        .addons(actor, Some(&name))
        .await?
        .into_iter()
        .map(|addon| AddonRow {
            attached: if addon.attachments.is_empty() {
                "(not attached)".to_string()
            } else {
                addon
                    .attachments
                    .iter()
                    .map(|a| format!("{}::{}", a.app, a.as_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            service: format!("{}:{}", addon.service, addon.plan),
            name: addon.name,
        })
        .collect();
    let revealed = match query.reveal {
        Some(addon) => {
            let (_, credentials) = state
                .platform
                .addon_info(actor, &name, &addon, true)
                .await?;
            credentials.map(|c| RevealedAddon {
                name: addon,
                url: c.url,
            })
        }
        None => None,
    };
    let page = AddonsPage {
        chrome: signed_in.chrome,
        app: AppHeader::new(&state, &app, "Add-ons"),
        addons,
        revealed,
    };
    Ok(render(&page)?.into_response())
}
