//! [`block_on`]: the smallest executor that runs the core's async driver.

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
