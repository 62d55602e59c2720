//! Command-line interface: one clap parser for every subcommand and setting.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Parser, Subcommand};

use crate::domain::schedule::{Schedule, parse_timezone};

/// Overdue: cron-job and heartbeat monitoring, wire-compatible with healthchecks.io.
#[derive(Debug, Parser)]
#[command(name = "overdue", version, about, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with cron and OnCalendar schedules.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
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
pub fn run(cli: Cli, out: &mut impl Write) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Schedule(ScheduleCommand::Next(args))) => schedule_next(&args, out),
        None => bail!("no command given; see `overdue --help`"),
    }
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
