//! The two tasks. Each builds its pipelines in its own fixed storage, submits them to the one
//! [`Mux`], waits until each is done, takes it back and checks every result.
//!
//! Task a counts (`INCR`, `INCRBY`, `GET` of its numbers: integer replies), task b stores
//! strings and a list (`SET`, `GET`, `RPUSH`, `LRANGE`, a server error: bulk, array and error
//! replies). Each submits two pipelines back to back (one submitter's pipelines keep program
//! order), then a third once those are done. The executor polls task a, then task b, then pumps
//! the link, so the first write carries a1, a2 and b1 back to back and b2 waits for a free slot
//! (the ring holds [`RING`] pipelines). A reply handed to the wrong pipeline or slot would
//! fail a check: the expected values differ from one slot to the next, and often in kind.
//!
//! The wire order is fixed by that schedule, not by timing: a3 is submitted only after a2's
//! replies came, so after b1 was written, and reads the key b1 set.
//!
//! What the tasks leave in db 1 (the harness checks it with `redis-cli`): `fw:mux:a:hits` = 3,
//! `fw:mux:a:total` = 123, `fw:mux:b:board` = [`BOARD`], `fw:mux:b:log` = [b1, b2, b3].

use core::cell::RefCell;
use core::future::poll_fn;
use core::task::Poll;

use redpipe_core::mux::{Mux, Slot, Ticket};
use redpipe_core::prelude::*;
use redpipe_core::{CapacityError, Entry, SlicePipeline};

use redpipe_firmware_qemu::board::BOARD;
use redpipe_firmware_qemu::executor::yield_now;
use redpipe_firmware_qemu::report::Report;

/// Pipelines queued or in flight at once: past it a task waits for a free slot.
pub(crate) const RING: usize = 3;

/// The pipelines the tasks submit: borrowed, so that only a pointer moves in and out of the
/// mux, and the storage stays where its owner put it.
pub(crate) type Sub<'p, 's> = &'p mut SlicePipeline<'s>;

/// The mux both tasks submit to, in a caller-provided ring; the link pumps it between their
/// turns. A `RefCell`: one core, and no borrow is held across an `.await`.
pub(crate) type Shared<'p, 's> = RefCell<Mux<Sub<'p, 's>, [Slot<Sub<'p, 's>>; RING]>>;

/// One pipeline's fixed storage: its encoded commands, its replies and its command table.
pub(crate) struct Space {
    out: [u8; 192],
    replies: [u8; 256],
    entries: [Entry; 4],
}

impl Space {
    pub(crate) const EMPTY: Self = Self {
        out: [0; 192],
        replies: [0; 256],
        entries: [Entry::EMPTY; 4],
    };

    /// A pipeline over this storage.
    pub(crate) fn pipeline(&mut self) -> SlicePipeline<'_> {
        SlicePipeline::from_slices(&mut self.out, &mut self.replies, &mut self.entries)
    }
}

const HITS: &str = "fw:mux:a:hits";
const TOTAL: &str = "fw:mux:a:total";
const BOARD_KEY: &str = "fw:mux:b:board";
const LOG: &str = "fw:mux:b:log";

/// Task a: numbers. a1 and a2 go back to back, a3 once both are done.
pub(crate) async fn counter<'p, 's>(
    mux: &Shared<'p, 's>,
    first: Sub<'p, 's>,
    second: Sub<'p, 's>,
) -> Report {
    let mut report = Report::new();
    let (h1, h2) = match (queue_a1(first), queue_a2(second)) {
        (Ok(h1), Ok(h2)) => (h1, h2),
        (Err(e), _) | (_, Err(e)) => {
            report.record("a: queue a1 and a2", Some(&e));
            return report;
        }
    };
    // a2 right behind a1, before a1 is answered: one submitter's pipelines keep their order.
    let t1 = submit(mux, first, &mut 0).await;
    let t2 = submit(mux, second, &mut 0).await;
    let (Some(t1), Some(t2)) = (t1, t2) else {
        report.record("a: submit a1 and a2", Some(&mux.borrow().failure()));
        return report;
    };

    let Some(first) = done(mux, t1).await else {
        report.record("a1: taken back", Some(&t1));
        return report;
    };
    report.value(
        "a1: DEL (clean slate)",
        h1.cleared.read(first).map(|n| n <= 2),
        true,
    );
    report.value("a1: INCR fw:mux:a:hits", h1.hits.read(first), 1);
    report.value("a1: INCRBY fw:mux:a:total 100", h1.total.read(first), 100);

    let Some(second) = done(mux, t2).await else {
        report.record("a2: taken back", Some(&t2));
        return report;
    };
    report.value("a2: INCR fw:mux:a:hits", h2.hits.read(second), 2);
    report.value("a2: INCRBY fw:mux:a:total 23", h2.total.read(second), 123);
    report.value("a2: GET fw:mux:a:hits", h2.read_back.read(second), 2);

    // a1's storage again, for a3.
    first.reset();
    let h3 = match queue_a3(first) {
        Ok(h3) => h3,
        Err(e) => {
            report.record("a: queue a3", Some(&e));
            return report;
        }
    };
    let Some(t3) = submit(mux, first, &mut 0).await else {
        report.record("a: submit a3", Some(&mux.borrow().failure()));
        return report;
    };
    let Some(first) = done(mux, t3).await else {
        report.record("a3: taken back", Some(&t3));
        return report;
    };
    report.value("a3: INCR fw:mux:a:hits", h3.hits.read(first), 3);
    report.value("a3: GET fw:mux:a:total", h3.total.read(first), 123);
    report.value(
        "a3: GET fw:mux:b:board (b1 set it)",
        h3.board.read(first),
        Some(BOARD),
    );
    report
}

/// Task b: strings, a list and a server error. b1 and b2 go back to back (b2 waits for a free
/// slot first), b3 once both are done.
pub(crate) async fn strings<'p, 's>(
    mux: &Shared<'p, 's>,
    first: Sub<'p, 's>,
    second: Sub<'p, 's>,
) -> Report {
    let mut report = Report::new();
    let (h1, h2) = match (queue_b1(first), queue_b2(second)) {
        (Ok(h1), Ok(h2)) => (h1, h2),
        (Err(e), _) | (_, Err(e)) => {
            report.record("b: queue b1 and b2", Some(&e));
            return report;
        }
    };
    let mut waits = 0;
    let t1 = submit(mux, first, &mut waits).await;
    let t2 = submit(mux, second, &mut waits).await;
    let (Some(t1), Some(t2)) = (t1, t2) else {
        report.record("b: submit b1 and b2", Some(&mux.borrow().failure()));
        return report;
    };
    match waits {
        0 => report.record(
            "b2: waited for a free slot",
            Some(&"the ring took it at once"),
        ),
        _ => report.record("b2: waited for a free slot (ring of 3: a1, a2, b1)", None),
    }

    let Some(first) = done(mux, t1).await else {
        report.record("b1: taken back", Some(&t1));
        return report;
    };
    report.value(
        "b1: DEL (clean slate)",
        h1.cleared.read(first).map(|n| n <= 2),
        true,
    );
    report.value("b1: SET fw:mux:b:board", h1.set.read(first), ());
    report.value("b1: GET fw:mux:b:board", h1.board.read(first), Some(BOARD));

    let Some(second) = done(mux, t2).await else {
        report.record("b2: taken back", Some(&t2));
        return report;
    };
    report.value("b2: RPUSH fw:mux:b:log b1 b2", h2.pushed.read(second), 2);
    report.server_error(
        "b2: INCR fw:mux:b:board (not a number)",
        h2.not_a_number.read(second),
        "ERR",
        "not an integer",
    );
    report.value("b2: LRANGE fw:mux:b:log", h2.log.read(second), ["b1", "b2"]);

    first.reset();
    let h3 = match queue_b3(first) {
        Ok(h3) => h3,
        Err(e) => {
            report.record("b: queue b3", Some(&e));
            return report;
        }
    };
    let Some(t3) = submit(mux, first, &mut 0).await else {
        report.record("b: submit b3", Some(&mux.borrow().failure()));
        return report;
    };
    let Some(first) = done(mux, t3).await else {
        report.record("b3: taken back", Some(&t3));
        return report;
    };
    report.value("b3: RPUSH fw:mux:b:log b3", h3.pushed.read(first), 3);
    report.value(
        "b3: LINDEX fw:mux:b:log -1",
        h3.last.read(first),
        Some("b3"),
    );
    report.value(
        "b3: STRLEN fw:mux:b:board",
        h3.len.read(first),
        BOARD.len() as i64,
    );
    report
}

/// Hands `p` to the mux; while the ring is full, gives the other task its turn and tries
/// again (back-pressure), counting the waits. `None` when the connection failed.
async fn submit<'p, 's>(
    mux: &Shared<'p, 's>,
    mut p: Sub<'p, 's>,
    waits: &mut u32,
) -> Option<Ticket> {
    loop {
        // Borrowed for the attempt only, never across the `.await`.
        let refused = match mux.borrow_mut().try_submit(p) {
            Ok(ticket) => return Some(ticket),
            Err(refused) => refused,
        };
        if mux.borrow().failure().is_some() {
            return None;
        }
        p = refused;
        *waits += 1;
        yield_now().await;
    }
}

/// Waits until `ticket`'s pipeline is done (answered, or failed with the connection) and takes
/// it back. An executor that sleeps would keep the task's waker in the submission and wake it
/// from [`Submitted::on_done`](redpipe_core::mux::Submitted::on_done); this one polls.
async fn done<'p, 's>(mux: &Shared<'p, 's>, ticket: Ticket) -> Option<Sub<'p, 's>> {
    poll_fn(|cx| {
        let mut mux = mux.borrow_mut();
        if mux.is_done(ticket) {
            Poll::Ready(mux.take(ticket))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

struct A1 {
    cleared: Deferred<i64>,
    hits: Deferred<i64>,
    total: Deferred<i64>,
}

fn queue_a1(p: &mut SlicePipeline<'_>) -> Result<A1, CapacityError> {
    Ok(A1 {
        cleared: p.del([HITS, TOTAL])?,
        hits: p.incr(HITS)?,
        total: p.incrby(TOTAL, 100)?,
    })
}

struct A2 {
    hits: Deferred<i64>,
    total: Deferred<i64>,
    read_back: Deferred<i64>,
}

fn queue_a2(p: &mut SlicePipeline<'_>) -> Result<A2, CapacityError> {
    Ok(A2 {
        hits: p.incr(HITS)?,
        total: p.incrby(TOTAL, 23)?,
        read_back: p.get(HITS)?,
    })
}

struct A3 {
    hits: Deferred<i64>,
    total: Deferred<i64>,
    board: Deferred<Option<&'static str>>,
}

fn queue_a3(p: &mut SlicePipeline<'_>) -> Result<A3, CapacityError> {
    Ok(A3 {
        hits: p.incr(HITS)?,
        total: p.get(TOTAL)?,
        board: p.get(BOARD_KEY)?,
    })
}

struct B1 {
    cleared: Deferred<i64>,
    set: Deferred<()>,
    board: Deferred<Option<&'static str>>,
}

fn queue_b1(p: &mut SlicePipeline<'_>) -> Result<B1, CapacityError> {
    Ok(B1 {
        cleared: p.del([BOARD_KEY, LOG])?,
        set: p.set(BOARD_KEY, BOARD)?,
        board: p.get(BOARD_KEY)?,
    })
}

struct B2 {
    pushed: Deferred<i64>,
    not_a_number: Deferred<i64>,
    log: Deferred<heapless::Vec<&'static str, 4>>,
}

fn queue_b2(p: &mut SlicePipeline<'_>) -> Result<B2, CapacityError> {
    Ok(B2 {
        pushed: p.rpush(LOG, ["b1", "b2"])?,
        not_a_number: p.incr(BOARD_KEY)?,
        log: p.lrange(LOG, 0, -1)?,
    })
}

struct B3 {
    pushed: Deferred<i64>,
    last: Deferred<Option<&'static str>>,
    len: Deferred<i64>,
}

fn queue_b3(p: &mut SlicePipeline<'_>) -> Result<B3, CapacityError> {
    Ok(B3 {
        pushed: p.rpush(LOG, ["b3"])?,
        last: p.lindex(LOG, -1)?,
        len: p.strlen(BOARD_KEY)?,
    })
}
