//! Observability (feature `tracing`): a span per connection's pipeline and connection events,
//! at debug level; nothing at all without the feature, and nothing logged unless the program
//! installs a subscriber.

/// A connection event at debug level: `event!("connect", name)`.
macro_rules! event {
    ($what:literal, $name:expr $(, $key:ident = $value:expr)*) => {
        #[cfg(feature = "tracing")]
        tracing::debug!(connection = %$name $(, $key = $value)*, $what);
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (&$name $(, &$value)*);
        }
    };
}
pub(crate) use event;

/// A pipeline run on one connection, recorded when it ends.
pub(crate) struct Run {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    started: std::time::Instant,
}

impl Run {
    /// Opens the span of `commands` (`bytes` encoded) on the connection `name`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn start(name: &str, commands: usize, bytes: usize) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                "redpipe.execute",
                connection = %if name.is_empty() { "default" } else { name },
                commands,
                bytes,
            ),
            #[cfg(feature = "tracing")]
            started: std::time::Instant::now(),
        }
    }

    /// Records how the run ended, with its duration.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn end(self, outcome: &redpipe_core::Result<()>) {
        #[cfg(feature = "tracing")]
        self.span.in_scope(|| {
            let micros = self.started.elapsed().as_micros() as u64;
            match outcome {
                Ok(()) => tracing::debug!(micros, "pipeline ran"),
                Err(e) => tracing::debug!(micros, error = %e, "pipeline failed"),
            }
        });
    }
}
