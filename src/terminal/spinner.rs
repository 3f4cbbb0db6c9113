//! The one spinner, shown only on a TTY while a long step runs; every line
//! goes through it so it is never torn.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Verbosity, settings};

static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Spins with a message until dropped (nothing off a TTY or with `-q`).
pub struct Spinner(());

impl Spinner {
    pub fn start(message: &str) -> Spinner {
        let s = settings();
        if s.tty && s.verbosity >= Verbosity::Normal {
            let bar = ProgressBar::new_spinner().with_message(message.to_owned());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            if let Some(old) = lock().replace(bar) {
                old.finish_and_clear();
            }
        }
        Spinner(())
    }

    /// What the spinner says now.
    pub fn set(&self, message: &str) {
        if let Some(bar) = lock().as_ref() {
            bar.set_message(message.to_owned());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = lock().take() {
            bar.finish_and_clear();
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    CURRENT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A line on stderr, above the spinner when one spins.
pub(super) fn println(text: &str) {
    match lock().as_ref() {
        Some(bar) => bar.println(text),
        None => eprintln!("{text}"),
    }
}
