//! Iterating a keyspace's keys on a registry, without naming the backend: `Followers::scan("*")`.

use redpipe_core::keyspace::{Keyspace, Scan};

use crate::Connections;

/// Key iteration for every keyspace, on the process-wide registry or one of your own (in the
/// [prelude](crate::prelude)). Each page is one round trip, outside any pipeline; on a cluster
/// name it walks every primary.
///
/// ```no_run
/// use redpipe::prelude::*;
/// use redpipe::keyspace;
///
/// keyspace! {
///     pub struct Followers: SortedSet { prefix: "F" }
/// }
/// redpipe::connect("redis://127.0.0.1")?;
/// for key in Followers::scan("*") {
///     println!("{}", String::from_utf8_lossy(&key?));
/// }
/// # Ok::<(), redpipe::Error>(())
/// ```
pub trait ScanKeys: Keyspace {
    /// Every key of this keyspace matching `pattern` (`*`: all) on the process-wide registry,
    /// as the stored bytes inside the braces.
    fn scan(pattern: &str) -> Scan<Self, Connections> {
        Self::scan_on(Connections::global(), pattern)
    }

    /// [`scan`](Self::scan) on `registry`.
    fn scan_on(registry: &Connections, pattern: &str) -> Scan<Self, Connections> {
        Scan::new(registry.clone(), pattern, None)
    }
}

impl<K: Keyspace> ScanKeys for K {}
