//! Figure (b), the cost of redpipe's model: the same 1000 `INCR`s per pipeline, queued flat or
//! through the composition features, end to end on one blocking connection.
//!
//! Nesting is per command, the expensive case: every `INCR` is queued `depth` scopes deep (a
//! reusable function calling a reusable function ...), so a depth-10 pipeline of 1000 commands
//! opens 10 000 scopes. Callbacks: one `on_execute` per 100 commands
//! that sums those 100 results (the flat variants read every handle themselves instead).

use std::hint::black_box;

use redpipe::core::Computed;
use redpipe::core::{VecPipeline, View};
use redpipe::error::CapacityError;
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo, Derived, Handle, Pipe};
use tokio::runtime::Runtime;

use crate::Result;
use crate::clients::{Client, Command};

/// Commands summed by one callback.
const PER_CALLBACK: usize = 100;

/// How the `INCR`s are queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Variant {
    /// `VecPipeline`, `p.incr(key)` in a loop: the baseline.
    Flat,
    /// `VecPipeline`, each command inside `depth` nested `Pipeline::scope` closures.
    Scopes(usize),
    /// `VecPipeline` flat plus one `on_execute` per 100 commands.
    Callbacks,
    /// std `Pipe` through `autoexec(None, ..)`, `p.incr(key)` in a loop.
    PipeFlat,
    /// std `Pipe`, each command inside `depth` nested `autoexec(p.nested(), ..)` calls.
    PipeNested(usize),
    /// std `Pipe` flat plus one `on_execute` per 100 commands.
    PipeCallbacks,
}

impl Variant {
    pub(crate) const ALL: [Variant; 10] = [
        Self::Flat,
        Self::Scopes(1),
        Self::Scopes(3),
        Self::Scopes(10),
        Self::Callbacks,
        Self::PipeFlat,
        Self::PipeNested(1),
        Self::PipeNested(3),
        Self::PipeNested(10),
        Self::PipeCallbacks,
    ];

    pub(crate) fn label(self) -> String {
        match self {
            Self::Flat => "VecPipeline, flat".into(),
            Self::Scopes(d) => format!("VecPipeline, scope depth {d}"),
            Self::Callbacks => "VecPipeline + on_execute per 100".into(),
            Self::PipeFlat => "Pipe (autoexec), flat".into(),
            Self::PipeNested(d) => format!("Pipe, autoexec depth {d}"),
            Self::PipeCallbacks => "Pipe + on_execute per 100".into(),
        }
    }

    /// Whether this variant runs on the std `Pipe` (compared with `PipeFlat` too).
    pub(crate) fn is_pipe(self) -> bool {
        matches!(
            self,
            Self::PipeFlat | Self::PipeNested(_) | Self::PipeCallbacks
        )
    }
}

/// `$p.scope(|$p| $p.scope(|$p| ... $body))`: one scope per `+`, written out as nested
/// closures the way user code nests them (the compiler sees every level, as in one crate).
macro_rules! scopes {
    ($p:ident, $body:expr;) => { $body };
    ($p:ident, $body:expr; + $($more:tt)*) => { $p.scope(|$p| scopes!($p, $body; $($more)*)) };
}

/// `autoexec($p.nested(), |$p| ... $body)`: one nested `autoexec` per `+`.
macro_rules! autoexecs {
    ($p:ident, $body:expr;) => { $body };
    ($p:ident, $body:expr; + $($more:tt)*) => {
        redpipe::autoexec($p.nested(), |$p: &mut Pipe| autoexecs!($p, $body; $($more)*))
    };
}

/// Queues one `INCR` `depth` scopes deep.
fn scoped(
    p: &mut VecPipeline,
    depth: usize,
    key: &str,
) -> std::result::Result<Deferred<i64>, CapacityError> {
    match depth {
        0 => p.incr(key),
        1 => scopes!(p, p.incr(key); +),
        3 => scopes!(p, p.incr(key); + + +),
        10 => scopes!(p, p.incr(key); + + + + + + + + + +),
        _ => unreachable!("depths 0, 1, 3 and 10 are written out"),
    }
}

/// Queues one `INCR` `depth` `autoexec` calls deep.
fn pipe_nested(p: &mut Pipe, depth: usize, key: &str) -> redpipe::Result<Handle<i64>> {
    let incr = |p: &mut Pipe| Ok(p.incr(key));
    match depth {
        0 => incr(p),
        1 => autoexecs!(p, incr(p); +),
        3 => autoexecs!(p, incr(p); + + +),
        10 => autoexecs!(p, incr(p); + + + + + + + + + +),
        _ => unreachable!("depths 0, 1, 3 and 10 are written out"),
    }
}

/// One variant, with its reused state. The std `Pipe` variants use the global registry's
/// default connection (`redpipe::connect`).
pub(crate) struct ModelClient {
    variant: Variant,
    conn: Connection,
    p: VecPipeline,
    ints: Vec<Deferred<i64>>,
    computed: Vec<Computed<i64>>,
    handles: Vec<Handle<i64>>,
    derived: Vec<Derived<i64>>,
}

impl ModelClient {
    pub(crate) fn open(info: &ConnectionInfo, variant: Variant) -> Result<Self> {
        Ok(Self {
            variant,
            conn: Connection::open(info)?,
            p: VecPipeline::new(),
            ints: Vec::new(),
            computed: Vec::new(),
            handles: Vec::new(),
            derived: Vec::new(),
        })
    }

    fn vec_pipeline(&mut self, batch: usize, key: &str) -> Result<u64> {
        self.p.reset();
        self.ints.clear();
        self.computed.clear();
        for i in 0..batch {
            let h = match self.variant {
                Variant::Scopes(depth) => scoped(&mut self.p, depth, key)?,
                _ => self.p.incr(key)?,
            };
            self.ints.push(h);
            if self.variant == Variant::Callbacks && (i + 1) % PER_CALLBACK == 0 {
                let chunk: [Deferred<i64>; PER_CALLBACK] =
                    self.ints[i + 1 - PER_CALLBACK..=i].try_into()?;
                self.computed.push(self.p.on_execute(move |v: &View<'_>| {
                    chunk.iter().map(|h| h.read(v).unwrap_or(0)).sum::<i64>()
                }));
            }
        }
        self.conn.execute(&mut self.p)?;
        let mut sum = 0u64;
        let read_by_callbacks = self.computed.len() * PER_CALLBACK;
        for c in &self.computed {
            sum = sum.wrapping_add(*c.read(&self.p).map_err(|e| e.to_string())? as u64);
        }
        for h in &self.ints[read_by_callbacks..] {
            sum = sum.wrapping_add(h.read(&self.p).map_err(|e| e.to_string())? as u64);
        }
        Ok(sum)
    }

    fn pipe(&mut self, batch: usize, key: &str) -> Result<u64> {
        let variant = self.variant;
        let (handles, derived) = (&mut self.handles, &mut self.derived);
        redpipe::autoexec(None, |p: &mut Pipe| {
            for i in 0..batch {
                handles.push(match variant {
                    Variant::PipeNested(depth) => pipe_nested(p, depth, key)?,
                    _ => p.incr(key),
                });
                if variant == Variant::PipeCallbacks && (i + 1) % PER_CALLBACK == 0 {
                    let chunk = handles[i + 1 - PER_CALLBACK..=i].to_vec();
                    derived.push(p.on_execute(move |_| {
                        chunk.iter().map(|h| h.result().unwrap_or(0)).sum::<i64>()
                    }));
                }
            }
            Ok(())
        })?;
        let mut sum = 0u64;
        let read_by_callbacks = derived.len() * PER_CALLBACK;
        for d in derived.drain(..) {
            sum = sum.wrapping_add(*d.result()? as u64);
        }
        for h in &handles[read_by_callbacks..] {
            sum = sum.wrapping_add(h.result()? as u64);
        }
        handles.clear();
        Ok(sum)
    }
}

impl Client for ModelClient {
    fn run(&mut self, _: &Runtime, c: Command, batch: usize, batches: usize) -> Result<u64> {
        if c != Command::Incr {
            return Err("the model figure runs INCR only".into());
        }
        let key = black_box(c.key());
        let mut sum = 0u64;
        for _ in 0..batches {
            let s = if self.variant.is_pipe() {
                self.pipe(batch, key)?
            } else {
                self.vec_pipeline(batch, key)?
            };
            sum = sum.wrapping_add(s);
        }
        Ok(sum)
    }
}
