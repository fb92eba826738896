//! [`block_on`]: the smallest executor that runs the core's async driver; [`join`]: two tasks
//! on one core, with the link's I/O between their turns.

use core::future::poll_fn;
use core::hint::spin_loop;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

/// Polls `future` until it is ready. No interrupt is wired to the UART, so nothing would ever
/// wake a sleeping task: the future is polled again at once and the waker does nothing. An
/// executor with interrupts (embassy's, say) would sleep (`WFI`) until the UART's woke it.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        spin_loop();
    }
}

/// Runs two tasks on one core until both are done: polls `a`, then `b`, then calls `between`
/// (the I/O that moves them on: a link's transmit and receive), and again. As in
/// [`block_on`], nothing wakes a task, so every round polls each task that is not done yet.
pub fn join<A: Future, B: Future>(a: A, b: B, mut between: impl FnMut()) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        // A finished future must not be polled again: each is polled until it is ready, once.
        if done_a.is_none() {
            done_a = match a.as_mut().poll(&mut cx) {
                Poll::Ready(output) => Some(output),
                Poll::Pending => None,
            };
        }
        if done_b.is_none() {
            done_b = match b.as_mut().poll(&mut cx) {
                Poll::Ready(output) => Some(output),
                Poll::Pending => None,
            };
        }
        match (done_a.take(), done_b.take()) {
            (Some(a), Some(b)) => return (a, b),
            (a, b) => (done_a, done_b) = (a, b),
        }
        between();
    }
}

/// Gives the other task its turn: pending once, then ready.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
