//! `-v`: bgctl's debug records (each D-Bus job, etcd transaction, reload)
//! as lines on stderr, next to the journal that gets them anyway.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

pub struct VerboseLayer;

impl<S: Subscriber> tracing_subscriber::Layer<S> for VerboseLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        // Info and above are the phase lines people already see.
        if *event.metadata().level() != Level::DEBUG {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        super::detail(&format!("  · {}", message.0));
    }
}

/// The event's `message`, then its other fields as `name=value`.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}
