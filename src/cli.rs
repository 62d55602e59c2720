//! Command-line interface: one clap parser for every subcommand and setting.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Parser, Subcommand};

use crate::app::{App, open_store};
use crate::config::Config;
use crate::domain::schedule::{Schedule, parse_timezone};
use crate::keys::new_project;

/// Overdue: cron-job and heartbeat monitoring, wire-compatible with healthchecks.io.
#[derive(Debug, Parser)]
#[command(name = "overdue", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    /// What to do; with none, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Work with cron and OnCalendar schedules.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its keys as JSON (shown only this once).
    Create {
        /// The project's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Print the next fire times of a cron or OnCalendar expression, one per line, in UTC.
    Next(NextArgs),
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// A cron expression (5 fields) or OnCalendar expression(s), one per line.
    pub expr: String,
    /// IANA time zone the schedule runs in.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Start after this instant (RFC 3339); defaults to now.
    #[arg(long)]
    pub after: Option<DateTime<chrono::FixedOffset>>,
    /// How many fire times to print (fewer when the schedule ends).
    #[arg(short = 'n', default_value_t = 5)]
    pub count: usize,
}

/// Runs the parsed command line, writing results to `out`.
pub async fn run(cli: Cli, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    match cli.command {
        None | Some(Command::Serve) => serve(cli.config).await,
        Some(Command::Migrate) => {
            let store = open_store(&cli.config).await?;
            store.close().await;
            Ok(())
        }
        Some(Command::Project(ProjectCommand::Create { name })) => {
            create_project(&cli.config, &name, out).await
        }
        Some(Command::Schedule(ScheduleCommand::Next(args))) => schedule_next(&args, out),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listen, "serving");
    app.serve(listener, shutdown_signal()).await
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn create_project(config: &Config, name: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let (project, keys) = new_project(name);
    let created = store.create_project(&project, Utc::now()).await?;
    store.close().await;
    let json = serde_json::json!({
        "uuid": created.code,
        "name": created.name,
        "api_key": keys.api_key,
        "api_key_ro": keys.api_key_ro,
        "ping_key": keys.ping_key,
    });
    writeln!(out, "{json}")?;
    Ok(())
}

fn schedule_next(args: &NextArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let tz =
        parse_timezone(&args.tz).with_context(|| format!("unknown time zone {:?}", args.tz))?;
    let schedule =
        Schedule::parse(&args.expr).with_context(|| format!("invalid schedule {:?}", args.expr))?;
    let after = args.after.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
    for fire in schedule.iter_after(after, tz).take(args.count) {
        writeln!(out, "{}", fire.to_rfc3339_opts(SecondsFormat::Secs, true))?;
    }
    Ok(())
}
