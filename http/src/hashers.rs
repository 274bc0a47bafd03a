//! A small fixed pool of threads for argon2. Each hash takes 19 MiB and a
//! core for tens of milliseconds; run on the general blocking pool, every
//! thread that ever hashed kept its own malloc arena holding that memory,
//! and a burst of sign-ins left the process hundreds of MiB larger. A few
//! long-lived threads reuse their arenas, so memory stays bounded, and a
//! bounded queue turns a flood into quick 503s instead of a backlog.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The pool's handle.
pub struct Hashers {
    tx: SyncSender<Job>,
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

impl Hashers {
    /// Starts `threads` workers behind a queue of `queue` jobs. The workers
    /// end when the handle is dropped.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("parley-argon2-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(Self { tx })
    }

    /// Runs `f` on a worker; `None` when the queue is full or the pool is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.tx
            .try_send(Box::new(move || {
                let _ = done.send(f());
            }))
            .ok()?;
        result.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_beyond_the_queue() {
        let pool = Arc::new(Hashers::start(1, 1).unwrap());
        assert_eq!(pool.run(|| 2 + 2).await, Some(4));
        // Block the only worker, fill the queue, and the next job is refused.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let p = pool.clone();
        let blocked = tokio::spawn(async move { p.run(move || wait.recv().ok()).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let p = pool.clone();
        let queued = tokio::spawn(async move { p.run(|| 1).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(pool.run(|| 3).await, None, "queue full");
        release.send(()).unwrap();
        assert_eq!(blocked.await.unwrap(), Some(Some(())));
        assert_eq!(queued.await.unwrap(), Some(1));
    }
}
