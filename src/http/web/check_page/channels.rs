//! The check page's notification toggles: each of the project's integrations, on or off for
//! this check.

use uuid::Uuid;

use crate::error::AppError;
use crate::http::AppState;
use crate::store::CheckRecord;

/// One integration of the project, and whether it is on for the check.
#[derive(Debug)]
pub(super) struct Toggle {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub on: bool,
    pub disabled: bool,
}

/// The project's integrations, oldest first, with the check's choice for each.
pub(super) async fn toggles(
    state: &AppState,
    check: &CheckRecord,
) -> Result<Vec<Toggle>, AppError> {
    let on = state.store.channels_of_check(check.id).await?;
    Ok(state
        .store
        .channels_in_project(check.project_id)
        .await?
        .into_iter()
        .map(|c| Toggle {
            code: c.code.to_string(),
            on: on.contains(&c.code),
            name: c.name,
            kind: c.kind,
            disabled: c.disabled,
        })
        .collect())
}

/// Turns the integration `code` on or off for the check; its name, or `None` if the project
/// has no such integration.
pub(super) async fn set(
    state: &AppState,
    check: &CheckRecord,
    code: &str,
    on: bool,
) -> Result<Option<String>, AppError> {
    let Ok(code) = Uuid::parse_str(code.trim()) else {
        return Ok(None);
    };
    let channels = state.store.channels_in_project(check.project_id).await?;
    let Some(channel) = channels.into_iter().find(|c| c.code == code) else {
        return Ok(None);
    };
    state
        .store
        .set_check_channel(check.id, channel.id, on)
        .await?;
    Ok(Some(if channel.name.is_empty() {
        channel.kind
    } else {
        channel.name
    }))
}
