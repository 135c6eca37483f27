//! The real-time safety net of a run: a thread that waits out the run's
//! wall-time bound, unless the run ends first, and then tells the run's
//! [`Limits`] so. It only sets a flag: the run notices it at its next
//! message, span or scrape and stops there (see `limits.rs`), so nothing of
//! the simulation runs on this thread.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::limits::Limits;

/// Stops and joins its thread when dropped, as the run ends.
pub(super) struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; an error when the thread cannot be started (the
    /// process is out of threads), which fails the run rather than run it
    /// with no bound on its real time.
    pub(super) fn start(limits: Arc<Limits>, wall: Duration) -> std::io::Result<Watchdog> {
        let (done, ended) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("obsim-watchdog".into())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = ended.recv_timeout(wall) {
                    limits.reach_wall();
                }
            })?;
        Ok(Watchdog {
            done: Some(done),
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender ends the wait at once.
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
