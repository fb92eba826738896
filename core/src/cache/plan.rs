//! Splitting a pipeline into the reads the cache answers and the batch the server answers
//! ([`Cache::plan`]), and putting the batch's replies back ([`Cache::finish`]).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::Cache;
use crate::cluster::{KeySpec, read_words};
use crate::codec::error::Failure;
use crate::engine::VecPipeline;

/// A pipeline's run through the cache: made by [`Cache::plan`], ended by [`Cache::finish`].
///
/// The transport runs [`batch`](Self::batch) when there is one (its misses; empty when every
/// command was answered from the cache: send nothing), else the pipeline itself, unchanged.
#[derive(Debug)]
#[must_use = "a plan must be ended with Cache::finish"]
pub struct Plan {
    /// The cache's epoch when the plan was made (before anything was sent).
    epoch: u64,
    /// The commands sent, in the order sent: their rows in the caller's pipeline and whether
    /// their replies may fill the cache.
    sent: Vec<(u32, bool)>,
    /// The commands to send instead of the pipeline, when some were answered from the cache.
    batch: Option<VecPipeline>,
    hits: usize,
}

impl Plan {
    /// The pipeline to send instead of the caller's, when the cache answered some of its
    /// commands (empty when it answered all); `None`: send the caller's pipeline as it is.
    pub fn batch(&mut self) -> Option<&mut VecPipeline> {
        self.batch.as_mut()
    }

    /// Commands answered from the cache.
    pub fn hits(&self) -> usize {
        self.hits
    }

    /// Whether there is nothing to send: every command was answered from the cache.
    pub fn is_answered(&self) -> bool {
        self.batch.as_ref().is_some_and(VecPipeline::is_empty)
    }

    fn bypass(epoch: u64) -> Self {
        Self {
            epoch,
            sent: Vec::new(),
            batch: None,
            hits: 0,
        }
    }
}

/// The reads the cache holds: `GET k`, `HGET k f`, `HGETALL k`, `HMGET k f...`.
const READS: &[(&[u8], usize, usize)] = &[
    // (name, fewest words, most words; 0: no most)
    (b"GET", 2, 2),
    (b"HGET", 3, 3),
    (b"HGETALL", 2, 2),
    (b"HMGET", 3, 0),
];

/// The key of `command` if it is a read the cache holds, under the configured prefixes.
fn read_key<'c>(command: &'c [u8], cache: &Cache) -> Option<&'c [u8]> {
    let (mut name, mut key, mut n) = (&[][..], None, 0usize);
    read_words(command, |w| {
        match n {
            0 => name = w,
            1 => key = Some(w),
            _ => {}
        }
        n += 1;
    })?;
    let key = key?;
    let fits = READS.iter().any(|&(read, least, most)| {
        name.eq_ignore_ascii_case(read) && n >= least && (most == 0 || n <= most)
    });
    (fits && cache.config.covers(key)).then_some(key)
}

/// What an earlier command of the pipeline means for the reads after it.
enum Effect<'c> {
    /// It may change these keys (and no other).
    Keys(Vec<&'c [u8]>),
    /// It may change any key: a script, a command without keys (`FLUSHALL`, `SWAPDB`), one
    /// that cannot be read.
    Any,
}

fn effect(command: &[u8]) -> Effect<'_> {
    let mut words = Vec::new();
    if read_words(command, |w| words.push(w)).is_none() {
        return Effect::Any;
    }
    let Some(&name) = words.first() else {
        return Effect::Any;
    };
    let script = [
        &b"EVAL"[..],
        b"EVALSHA",
        b"EVAL_RO",
        b"EVALSHA_RO",
        b"FCALL",
        b"FCALL_RO",
    ]
    .iter()
    .any(|s| name.eq_ignore_ascii_case(s));
    let keys: Vec<&[u8]> = KeySpec::of(name)
        .positions(&words)
        .map(|i| words[i])
        .collect();
    if script || keys.is_empty() {
        Effect::Any
    } else {
        Effect::Keys(keys)
    }
}

impl Cache {
    /// Answers from the cache what it can of `p` (a pipeline about to be sent, nothing of it
    /// sent yet): those slots are filled now; the rest is in the plan's
    /// [`batch`](Plan::batch), to send instead of `p`. `p` itself is sent unchanged (the plan
    /// has no batch) when the cache answers none of it, when tracking is down, and when `p`
    /// is not plain commands (a transaction, `WATCH`, a script): see the module's rules.
    ///
    /// The caller MUST end the run with [`finish`](Self::finish), after the batch (or `p`) ran,
    /// or failed.
    pub fn plan(&mut self, p: &mut VecPipeline) -> Plan {
        if !self.tracking || !p.is_plain() || p.is_empty() {
            return Plan::bypass(self.epoch);
        }
        // What comes after the last cacheable read matters to no read: a pipeline of writes
        // costs one look at each command's name and first key.
        let Some(last_read) = (0..p.len())
            .rev()
            .find(|&row| p.command(row).is_some_and(|c| read_key(c, self).is_some()))
        else {
            return Plan::bypass(self.epoch);
        };
        let mut sent = Vec::with_capacity(p.len());
        // The hits' rows and where their replies are in `replies`, copied there because `p` is
        // borrowed (its commands) until every row is classified.
        let mut hits: Vec<(u32, usize, usize)> = Vec::new();
        let mut replies: Vec<u8> = Vec::new();
        {
            // Keys earlier commands may change; `None` once one may change any key.
            let mut written: Option<BTreeSet<&[u8]>> = Some(BTreeSet::new());
            for row in 0..p.len() {
                let Some(command) = p.command(row) else {
                    continue;
                };
                let row32 = row as u32;
                match (read_key(command, self), written.as_mut()) {
                    (Some(key), Some(w)) if !w.contains(key) => {
                        match self.store.get(key, command) {
                            Some(reply) => {
                                hits.push((row32, replies.len(), reply.len()));
                                replies.extend_from_slice(reply);
                            }
                            None => sent.push((row32, true)),
                        }
                    }
                    // A read after a command that may change its key: the server's answer.
                    (Some(_), _) => sent.push((row32, false)),
                    (None, w) => {
                        sent.push((row32, false));
                        if let Some(w) = w.filter(|_| row < last_read) {
                            match effect(command) {
                                Effect::Keys(keys) => w.extend(keys),
                                Effect::Any => written = None,
                            }
                        }
                    }
                }
            }
        }
        self.stats.hits += hits.len() as u64;
        self.stats.misses += sent.iter().filter(|(_, fill)| *fill).count() as u64;
        if hits.is_empty() {
            if !sent.iter().any(|(_, fill)| *fill) {
                return Plan::bypass(self.epoch);
            }
            return Plan {
                epoch: self.epoch,
                sent,
                batch: None,
                hits: 0,
            };
        }
        let mut batch = VecPipeline::new();
        batch.copy_settings(p);
        batch.set_sharing(p.sharing());
        for &(row, _) in &sent {
            if let Some(command) = p.command(row as usize)
                && batch.push_encoded(command).is_err()
            {
                // Vec storage refuses only past u32 offsets: send the pipeline as it is.
                return Plan::bypass(self.epoch);
            }
        }
        for &(row, at, len) in &hits {
            let _ = p.resolve_trusted(row as usize, &replies[at..at + len]);
        }
        Plan {
            epoch: self.epoch,
            sent,
            hits: hits.len(),
            batch: Some(batch),
        }
    }

    /// Ends a run made by [`plan`](Self::plan): the batch's replies (or failures) go to their
    /// commands' slots in `p`, and the replies of the reads that missed fill the cache where
    /// the race rule allows (see the module docs).
    pub fn finish(&mut self, plan: Plan, p: &mut VecPipeline) {
        let Plan {
            epoch, sent, batch, ..
        } = plan;
        match batch {
            Some(batch) => {
                for (at, &(row, fill)) in sent.iter().enumerate() {
                    let row = row as usize;
                    match batch.reply_frame(at) {
                        Some(frame) => {
                            let _ = p.resolve_trusted(row, frame);
                            if fill {
                                self.fill_row(epoch, p, row, frame);
                            }
                        }
                        None => {
                            let why = batch.failure().unwrap_or(Failure::Closed);
                            let _ = p.fail_command(row, why);
                        }
                    }
                }
            }
            None => {
                for &(row, fill) in &sent {
                    if fill && let Some(frame) = p.reply_frame(row as usize) {
                        self.fill_row(epoch, p, row as usize, frame);
                    }
                }
            }
        }
    }

    fn fill_row(&mut self, epoch: u64, p: &VecPipeline, row: usize, frame: &[u8]) {
        if let Some(command) = p.command(row)
            && let Some(key) = read_key(command, self)
        {
            self.fill(epoch, key, command, frame);
        }
    }
}
