//! Building the application from its settings, and serving it until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::ingest::Ingest;
use crate::store::Store;

/// A running application's parts; [`App::serve`] runs it.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    tracker: TaskTracker,
}

impl App {
    /// Connects to the database, migrates it and starts the background writers.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let tracker = TaskTracker::new();
        let ingest = Ingest::start(&store, &clock, &tracker);
        let site_root = config.site_root().into();
        let state = AppState {
            store,
            clock,
            config: Arc::new(config),
            ingest,
            site_root,
        };
        Ok(App { state, tracker })
    }

    /// Serves HTTP on `listener` until `shutdown` resolves, then finishes in-flight requests
    /// and pings and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App { state, tracker } = self;
        let store = state.store.clone();
        let service = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        // The router, and with it every ping queue sender, is gone: writers drain and stop.
        tracker.close();
        tracker.wait().await;
        store.close().await;
        Ok(())
    }
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
