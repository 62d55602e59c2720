//! Overdue's integration tests: one binary, one module per area.

mod support;

mod accounts;
mod alerts;
mod api_paths;
mod badges;
mod browser;
mod channels_api;
mod chaos;
mod check_page_web;
mod checks_api;
mod checks_web;
mod cli;
mod email;
mod email_ping_surfaces;
mod email_pings;
mod integrations_web;
mod invitations;
mod lifecycle_api;
mod openapi;
mod ping_api;
mod projects_web;
mod prometheus;
mod rate_limits;
mod retention;
mod schedule_oracle;
mod store;
mod web_client;
