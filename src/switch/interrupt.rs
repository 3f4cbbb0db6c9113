//! A signal to stop (SIGINT, SIGTERM), as the core sees it: a flag any
//! phase can race against. Who sets it is the wiring's business
//! (`commands::signals`); the core only undoes what the cut-off phase did.

use std::future::Future;

use tokio::sync::watch;

/// The signals that stop a deploy in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The receiving side: cloned into every request.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<Signal>>);

/// The sending side, held by whatever listens for signals.
#[derive(Debug)]
pub struct Interrupter(watch::Sender<Option<Signal>>);

impl Interrupt {
    pub fn channel() -> (Interrupter, Interrupt) {
        let (tx, rx) = watch::channel(None);
        (Interrupter(tx), Interrupt(rx))
    }

    /// One that never fires (its sender is gone).
    pub fn never() -> Interrupt {
        Interrupt::channel().1
    }

    /// The signal, once one came; pending for ever otherwise.
    pub async fn signalled(&self) -> Signal {
        let mut rx = self.0.clone();
        loop {
            if let Some(signal) = *rx.borrow_and_update() {
                return signal;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl Interrupter {
    /// The first signal counts; later ones change nothing here.
    pub fn interrupt(&self, signal: Signal) {
        self.0.send_if_modified(|seen| match seen {
            Some(_) => false,
            None => {
                *seen = Some(signal);
                true
            }
        });
    }
}

/// How a raced phase ended.
pub enum Raced<T> {
    Done(T),
    /// A signal came first; the phase was dropped where it stood.
    Signalled(Signal),
}

/// Runs `phase` unless `interrupt` fires first. The phase is polled first,
/// so one already done wins over a signal that came meanwhile.
pub async fn race<T>(interrupt: &Interrupt, phase: impl Future<Output = T>) -> Raced<T> {
    tokio::select! {
        biased;
        done = phase => Raced::Done(done),
        signal = interrupt.signalled() => Raced::Signalled(signal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_cuts_a_phase_off_and_the_first_one_counts() {
        let (tx, interrupt) = Interrupt::channel();
        assert!(matches!(race(&interrupt, async { 1 }).await, Raced::Done(1)));
        tx.interrupt(Signal::Term);
        tx.interrupt(Signal::Int);
        let cut = race(&interrupt, std::future::pending::<()>()).await;
        assert!(matches!(cut, Raced::Signalled(Signal::Term)));
        // Polled first: a phase that is ready wins over the signal.
        assert!(matches!(race(&interrupt, async { 2 }).await, Raced::Done(2)));
    }

    #[tokio::test]
    async fn one_that_never_fires_lets_every_phase_finish() {
        let never = Interrupt::never();
        let slow = tokio::time::sleep(std::time::Duration::from_millis(20));
        assert!(matches!(race(&never, slow).await, Raced::Done(())));
    }
}
