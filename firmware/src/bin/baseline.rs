//! The same runtime with no Redis code at all: subtract it to get what the job itself costs.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use panic_halt as _;

#[entry]
fn main() -> ! {
    core::hint::black_box(0u32);
    loop {
        cortex_m::asm::wfi();
    }
}
