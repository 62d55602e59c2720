//! Building the application from its settings, and serving it until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::deadlines::DeadlineLoop;
use crate::alerts::dispatch::{Dispatcher, Transports};
use crate::alerts::email::Mailer;
use crate::alerts::leases::Leases;
use crate::alerts::webhook::WebhookSender;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::retention::Pruner;
use crate::store::Store;

/// A running application's parts; [`App::serve`] runs it.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    tracker: TaskTracker,
    /// Stops the background loops.
    cancel: CancellationToken,
}

impl App {
    /// Connects to the database, migrates it and starts the ping writers, the deadline
    /// loop, the dispatcher and the pruner.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with(config, Arc::new(SystemClock), true).await
    }

    /// As [`App::build`], with a given clock; `background` false leaves the deadline loop
    /// and the dispatcher to be driven by hand (tests step them with a fake clock).
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        background: bool,
    ) -> anyhow::Result<App> {
        crate::metrics::init();
        let store = open_store(&config).await?;
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let ingest = Ingest::start(&store, &clock, &tracker);
        let site_root: Arc<str> = config.site_root().into();
        let secret: Arc<str> = store
            .site_secret(&crate::keys::random_token())
            .await
            .context("cannot read the site secret")?
            .into();
        if background {
            let deadlines = DeadlineLoop::new(store.clone(), Arc::clone(&clock), leases(&config));
            tracker.spawn(deadlines.run(cancel.clone(), Arc::new(Notify::new())));
            let dispatcher = Dispatcher::new(
                store.clone(),
                Arc::clone(&clock),
                Arc::new(transports(&config)?),
            );
            tracker.spawn(dispatcher.run(cancel.clone(), store.outbox_signal()));
            let pruner = Pruner::new(store.clone(), Arc::clone(&clock), config.ping_log_limit);
            tracker.spawn(pruner.run(cancel.clone()));
        }
        let config = Arc::new(config);
        let limits = http::Limits::new(&config);
        if background {
            tracker.spawn(forget_idle_callers(limits.clone(), cancel.clone()));
        }
        let ping_email_domain = config
            .smtp_listen
            .map(|_| Arc::from(config.ping_email_domain()));
        let state = AppState {
            store,
            clock,
            limits,
            config,
            ingest,
            site_root,
            ping_email_domain,
            secret,
        };
        Ok(App {
            state,
            tracker,
            cancel,
        })
    }

    /// Serves HTTP on `listener` (and email pings, when `OVERDUE_SMTP_LISTEN` is set) until
    /// `shutdown` resolves, then finishes in-flight requests, pings and deliveries, releases
    /// the leases and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            state,
            tracker,
            cancel,
        } = self;
        let store = state.store.clone();
        if let Some(address) = state.config.smtp_listen {
            let smtp = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen for email on {address}"))?;
            tracing::info!(%address, domain = %state.config.ping_email_domain(), "taking email pings");
            tracker.spawn(crate::smtp::serve(smtp, state.clone(), cancel.clone()));
        }
        let stop_loops = cancel.clone();
        let shutdown = async move {
            shutdown.await;
            stop_loops.cancel();
        };
        let service = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        // The router, and with it every ping queue sender, is gone: writers drain and stop.
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
        store.close().await;
        Ok(())
    }
}

/// Every minute, drops the rate-limit buckets of callers that have gone quiet.
async fn forget_idle_callers(limits: http::Limits, cancel: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every.tick() => limits.retain_recent(),
            () = cancel.cancelled() => return,
        }
    }
}

/// This process's leases: a fresh holder id per process, so a restarted process is a new
/// holder and its predecessor's leases expire or are released.
pub fn leases(config: &Config) -> Leases {
    let ttl = Duration::seconds(i64::try_from(config.lease_ttl).unwrap_or(30));
    Leases::new(uuid::Uuid::new_v4().to_string(), ttl)
}

/// The transports the settings describe.
pub fn transports(config: &Config) -> anyhow::Result<Transports> {
    let mailer = match &config.smtp_url {
        Some(url) => Some(
            Mailer::new(url.expose())
                .map_err(anyhow::Error::msg)
                .context("invalid OVERDUE_SMTP_URL")?,
        ),
        None => None,
    };
    Ok(Transports {
        webhooks: WebhookSender::new(config.webhook_allow_private),
        mailer,
        from: config
            .email_from
            .parse()
            .context("invalid OVERDUE_EMAIL_FROM")?,
        site_root: config.site_root(),
        ping_email_domain: config.smtp_listen.map(|_| config.ping_email_domain()),
        site_name: "Overdue".to_owned(),
    })
}

/// Opens the database named by the settings and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(config.database_url.expose())
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}
