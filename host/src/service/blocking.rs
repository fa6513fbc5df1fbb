//! Running engine calls where blocking on the disk cannot stall other tenants.

use super::error::Error;
use std::future::Future;

/// Runs `work` on a blocking thread: engine calls that sync or read whole files must
/// not stall the async workers that serve every other tenant.
pub(crate) async fn off_workers<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, Error> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work))
        .await
        .map_err(|e| Error::Host(format!("a workspace call panicked: {e}")))
}
