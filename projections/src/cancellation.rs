//! Abandoning a long job (a verification's replay) between batches, e.g. when the client
//! that asked for it hangs up: it stops at the next batch and releases what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by a job and whoever may call it off.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels when dropped (held by a request handler: a client hanging up
    /// drops it).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// Cancels its [`Cancellation`] when dropped; [`CancelOnDrop::disarm`] once done.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancellation>);

impl CancelOnDrop {
    /// The job finished: dropping the guard no longer cancels it.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancellation) = self.0.take() {
            cancellation.cancel();
        }
    }
}
