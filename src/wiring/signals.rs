//! SIGINT and SIGTERM for the commands that change what is live: the first
//! asks the run to stop in order (it undoes what the phase did, frees the
//! lock and exits 130 or 143); a second is ignored for 10 s while that
//! undo runs, then bgctl exits and leaves the rest to `bgctl reconcile`.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::switch::{Interrupt, Signal};

/// How long an undo may still run after a second signal.
const SECOND_SIGNAL_GRACE: Duration = Duration::from_secs(10);

/// Starts listening; the deploy races its phases against what it returns.
/// Without signal handling (no runtime signal driver), it never fires.
pub fn listen() -> Interrupt {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return Interrupt::never();
    };
    let (interrupter, interrupt) = Interrupt::channel();
    tokio::spawn(async move {
        let next = async |int: &mut tokio::signal::unix::Signal, term: &mut tokio::signal::unix::Signal| {
            tokio::select! {
                _ = int.recv() => Signal::Int,
                _ = term.recv() => Signal::Term,
            }
        };
        let first = next(&mut int, &mut term).await;
        crate::say!("{first}: stopping in order, undoing what this phase did (a second signal waits 10 s more)");
        tracing::warn!("{first} received: stopping in order");
        interrupter.interrupt(first);
        let second = next(&mut int, &mut term).await;
        crate::say!(
            "{second} again: the undo may run {} s more, then bgctl exits and `bgctl reconcile` finishes it",
            SECOND_SIGNAL_GRACE.as_secs()
        );
        tokio::time::sleep(SECOND_SIGNAL_GRACE).await;
        tracing::error!("{first}: the undo did not finish in time; left to `bgctl reconcile`");
        crate::say!("{first}: the undo did not finish in time; run `bgctl reconcile`");
        std::process::exit(match first {
            Signal::Int => 130,
            Signal::Term => 143,
        });
    });
    interrupt
}
