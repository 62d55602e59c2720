//! A project's checks for Prometheus (reference §8.3): `GET /projects/<uuid>/metrics/<key>`,
//! its older alias `…/checks/metrics/<key>`, and `…/metrics/` with the key as a bearer token.
//! Only read-only keys are accepted; the project comes from the key, not the path.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::check::DisplayStatus;
use crate::error::AppError;
use crate::http::api::json::unique_key;
use crate::keys::{API_KEY_LEN, hash_secret};
use crate::store::KeyAccess;

/// With the key in the path.
pub async fn metrics_with_key(
    State(state): State<AppState>,
    Path((_project, key)): Path<(String, String)>,
) -> Result<Response, AppError> {
    render(&state, &key).await
}

/// With `Authorization: Bearer <key>`.
pub async fn metrics_with_header(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if !authorization.starts_with("Bearer ") {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    }
    // healthchecks.io strips with Python's `lstrip("Bearer ")`: any of those characters.
    let key = authorization.trim_start_matches(|c| "Bearer ".contains(c));
    render(&state, key).await
}

/// Prometheus label values: backslash, double quote and newline escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn render(state: &AppState, key: &str) -> Result<Response, AppError> {
    if key.chars().count() != API_KEY_LEN {
        return Ok(StatusCode::BAD_REQUEST.into_response());
    }
    let Some((project, KeyAccess::ReadOnly)) =
        state.store.project_by_key_hash(&hash_secret(key)).await?
    else {
        return Ok(StatusCode::FORBIDDEN.into_response());
    };
    let now = state.clock.now();
    let checks = state.store.checks_in_project(project.id).await?;
    let rows: Vec<(String, DisplayStatus, bool)> = checks
        .iter()
        .map(|c| {
            let labels = format!(
                "{{name=\"{}\", tags=\"{}\", unique_key=\"{}\"}}",
                esc(&c.name),
                esc(&c.tags),
                unique_key(c)
            );
            (
                labels,
                c.state.display_status(now, false),
                c.state.last_start.is_some(),
            )
        })
        .collect();
    let per_check = |name: &str, value: fn(DisplayStatus, bool) -> bool| -> Vec<String> {
        rows.iter()
            .map(|(labels, status, started)| {
                format!("{name}{labels} {}", u8::from(value(*status, *started)))
            })
            .collect()
    };
    let mut all_tags = BTreeSet::new();
    let mut down_tags = BTreeSet::new();
    let mut down = 0;
    for (check, (_, status, _)) in checks.iter().zip(&rows) {
        all_tags.extend(check.tags_list());
        if *status == DisplayStatus::Down {
            down += 1;
            down_tags.extend(check.tags_list());
        }
    }
    let tags: Vec<String> = all_tags
        .iter()
        .map(|tag| {
            let up = u8::from(!down_tags.contains(tag));
            format!("hc_tag_up{{tag=\"{}\"}} {up}", esc(tag))
        })
        .collect();
    let blocks = [
        (
            "hc_check_up",
            "Whether the check is currently up (1 for yes, 0 for no).",
            per_check("hc_check_up", |s, _| s != DisplayStatus::Down),
        ),
        (
            "hc_check_started",
            "Whether the check is currently started (1 for yes, 0 for no).",
            per_check("hc_check_started", |_, started| started),
        ),
        (
            "hc_check_grace",
            "Whether the check is currently in the grace period (1 for yes, 0 for no).",
            per_check("hc_check_grace", |s, _| s == DisplayStatus::Grace),
        ),
        (
            "hc_check_paused",
            "Whether the check is currently paused (1 for yes, 0 for no).",
            per_check("hc_check_paused", |s, _| s == DisplayStatus::Paused),
        ),
        (
            "hc_tag_up",
            "Whether all checks with this tag are up (1 for yes, 0 for no).",
            tags,
        ),
        (
            "hc_checks_total",
            "The total number of checks.",
            vec![format!("hc_checks_total {}", checks.len())],
        ),
        (
            "hc_checks_down_total",
            "The number of checks currently down.",
            vec![format!("hc_checks_down_total {down}")],
        ),
    ];
    // Blocks separated by a blank line, as healthchecks.io writes them.
    let out = blocks
        .iter()
        .map(|(name, help, samples)| {
            let mut block = format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
            for sample in samples {
                block.push_str(sample);
                block.push('\n');
            }
            block
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(([(header::CONTENT_TYPE, "text/plain")], out).into_response())
}
