//! Task plumbing the transfer verbs share: blocking work off the async threads, and a bounded
//! set of layer transfers where the first failure stops the rest, and how many run at once.

use oci_model::{Error, ErrorKind, Result};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs `f` on the blocking pool; a panicked worker becomes an internal error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::new(
            ErrorKind::Internal,
            format!("worker thread failed: {e}"),
        ))
    })
}

/// Layer transfers running at most `max` at once (`--max-concurrent-uploads`/`-downloads`).
pub(crate) struct LayerTasks<T> {
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<T>>,
    /// The error of a transfer whose permit can no longer be had ("push cancelled").
    cancelled: &'static str,
}

impl<T: Send + 'static> LayerTasks<T> {
    pub(crate) fn new(max: usize, cancelled: &'static str) -> Self {
        LayerTasks {
            permits: Arc::new(Semaphore::new(max.max(1))),
            tasks: JoinSet::new(),
            cancelled,
        }
    }

    /// Starts `job` now; it runs once a permit is free.
    pub(crate) fn spawn(&mut self, job: impl Future<Output = Result<T>> + Send + 'static) {
        let permits = self.permits.clone();
        let cancelled = self.cancelled;
        self.tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| Error::new(ErrorKind::Internal, cancelled))?;
            job.await
        });
    }

    /// Waits for every transfer, in completion order. The first failure aborts the others
    /// (their partial ingests stay resumable) and is returned.
    pub(crate) async fn join(mut self) -> Result<Vec<T>> {
        let mut done = Vec::new();
        let mut first_err = None;
        while let Some(res) = self.tasks.join_next().await {
            let res = res.unwrap_or_else(|e| {
                Err(Error::new(
                    ErrorKind::Internal,
                    format!("layer task failed: {e}"),
                ))
            });
            match res {
                Ok(v) => done.push(v),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                        self.tasks.abort_all();
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

/// Transfers at once for push and pull: the `flag` value (named `flag_name`), else the config's;
/// at least 1.
pub fn max_concurrent(
    flag_name: &str,
    flag: Option<usize>,
    config: usize,
) -> oci_model::Result<usize> {
    let max = flag.unwrap_or(config);
    if max == 0 {
        return Err(Error::invalid(format!("{flag_name} must be at least 1")));
    }
    Ok(max)
}
