//! What the image does on the connection: set it up, run a pipeline with the blocking driver and
//! one with the async driver, and check every result.
//!
//! The keys are cleared first, so the image passes again on a server it already ran against.
//! What it leaves behind, in db 1 (the harness checks it with `redis-cli`):
//! `fw:counter` = 44, `fw:greeting` = [`BOARD`], `fw:sensor` = {temp: 2125, unit: cC}.

use redpipe_core::io::Driver;
use redpipe_core::prelude::*;
use redpipe_core::session::Setup;
use redpipe_core::{CapacityError, HeaplessPipeline, ReadBuffer, Storage};
use semihosting::println;

use redpipe_firmware_qemu::board::{BOARD, RESP3};
use redpipe_firmware_qemu::executor::block_on;
use redpipe_firmware_qemu::report::Report;
use redpipe_firmware_qemu::serial::{Port, Serial};

/// Room for the commands of the first pipeline (514 bytes), their replies, and 24 commands
/// counting the hidden MULTI/EXEC. Too small a store fails the queueing with the size needed.
type Pipeline = HeaplessPipeline<1024, 1024, 24>;

const COUNTER: &str = "fw:counter";
const GREETING: &str = "fw:greeting";
const SENSOR: &str = "fw:sensor";

/// The handshake: RESP3 or not (see [`RESP3`]), a client name to find the board by in
/// `CLIENT LIST`, and db 1, so that the keys in db 1 prove that `SELECT` ran.
const SETUP: Setup<'static> = Setup {
    resp3: RESP3,
    username: None,
    password: None,
    client_name: Some("redpipe-firmware"),
    db: 1,
};

/// Runs everything over `port`; the exit status (see [`Report::finish`]).
pub(crate) fn run<P: Port>(port: P) -> i32 {
    println!(
        "redpipe-qemu on {BOARD}: RESP{}, db {}",
        if RESP3 { 3 } else { 2 },
        SETUP.db
    );
    let mut space = [0u8; 256];
    let mut driver = Driver::new(Serial::new(port), ReadBuffer::fixed(&mut space));
    let mut p = Pipeline::new();
    let mut report = Report::new();

    match driver.setup(&SETUP, &mut p) {
        Ok(()) => report.record(
            if RESP3 {
                "setup: HELLO 3 SETNAME, SELECT 1"
            } else {
                "setup: CLIENT SETNAME, SELECT 1"
            },
            None,
        ),
        Err(e) => {
            report.record("setup", Some(&e));
            return report.finish();
        }
    }

    p.reset();
    first_blocking(&mut driver, &mut p, &mut report);
    p.reset();
    second_async(&mut driver, &mut p, &mut report);
    report.finish()
}

/// The first pipeline, run by the blocking driver: strings, a hash, a per-command server error,
/// and a transaction with an error of its own inside.
fn first_blocking<P: Port, B: Storage<u8>>(
    driver: &mut Driver<Serial<P>, B>,
    p: &mut Pipeline,
    report: &mut Report,
) {
    let h = match queue_first(p) {
        Ok(h) => h,
        Err(e) => return report.record("queue the first pipeline", Some(&e)),
    };
    if let Err(e) = driver.execute(p) {
        // The handles below read this failure too; say where it came from first.
        report.record("blocking execute", Some(&e));
    }
    report.value("DEL (clean slate)", h.cleared.read(p).map(|n| n <= 3), true);
    report.value("SET fw:greeting", h.set.read(p), ());
    report.value("INCR fw:counter", h.first.read(p), 1);
    report.value("INCRBY fw:counter 41", h.answer.read(p), 42);
    report.value("GET fw:greeting", h.greeting.read(p), Some(BOARD));
    report.value("HSET fw:sensor temp unit", h.fields.read(p), 2);
    report.value(
        "HGETALL fw:sensor",
        h.sensor.read(p),
        [("temp", "2150"), ("unit", "cC")],
    );
    report.server_error(
        "INCR fw:greeting (not a number)",
        h.not_a_number.read(p),
        "ERR",
        "not an integer",
    );
    report.value("MULTI: INCR fw:counter", h.tx_counter.read(p), 43);
    report.value("MULTI: HINCRBY fw:sensor temp -25", h.tx_temp.read(p), 2125);
    report.server_error(
        "MULTI: INCR fw:greeting (not a number)",
        h.tx_not_a_number.read(p),
        "ERR",
        "not an integer",
    );
    report.value("MULTI: GET fw:counter", h.tx_read_back.read(p), 43);
}

/// The handles of the first pipeline.
struct FirstHandles {
    cleared: Deferred<i64>,
    set: Deferred<()>,
    first: Deferred<i64>,
    answer: Deferred<i64>,
    greeting: Deferred<Option<&'static str>>,
    fields: Deferred<i64>,
    sensor: Deferred<heapless::Vec<(&'static str, &'static str), 4>>,
    not_a_number: Deferred<i64>,
    tx_counter: Deferred<i64>,
    tx_temp: Deferred<i64>,
    tx_not_a_number: Deferred<i64>,
    tx_read_back: Deferred<i64>,
}

fn queue_first(p: &mut Pipeline) -> Result<FirstHandles, CapacityError> {
    let cleared = p.del([COUNTER, GREETING, SENSOR])?;
    let set = p.set(GREETING, BOARD)?;
    let first = p.incr(COUNTER)?;
    let answer = p.incrby(COUNTER, 41)?;
    let greeting = p.get(GREETING)?;
    // Centi-degrees: no float formatting on a board.
    let fields = p.hset_multiple(SENSOR, [("temp", "2150"), ("unit", "cC")])?;
    let sensor = p.hgetall(SENSOR)?;
    let not_a_number = p.incr(GREETING)?;
    let (tx_counter, tx_temp, tx_not_a_number, tx_read_back) = p.transaction(|p| {
        Ok::<_, CapacityError>((
            p.incr(COUNTER)?,
            p.hincrby(SENSOR, "temp", -25)?,
            p.incr(GREETING)?,
            p.get(COUNTER)?,
        ))
    })?;
    Ok(FirstHandles {
        cleared,
        set,
        first,
        answer,
        greeting,
        fields,
        sensor,
        not_a_number,
        tx_counter,
        tx_temp,
        tx_not_a_number,
        tx_read_back,
    })
}

/// The second pipeline, on the same connection, run by the async driver under
/// [`block_on`]: it sees what the first one left.
fn second_async<P: Port, B: Storage<u8>>(
    driver: &mut Driver<Serial<P>, B>,
    p: &mut Pipeline,
    report: &mut Report,
) {
    let h = match queue_second(p) {
        Ok(h) => h,
        Err(e) => return report.record("queue the second pipeline", Some(&e)),
    };
    if let Err(e) = block_on(driver.execute_async(p)) {
        report.record("async execute", Some(&e));
    }
    report.value("async: INCR fw:counter", h.counter.read(p), 44);
    report.value("async: HGET fw:sensor temp", h.temp.read(p), 2125);
    report.value("async: EXISTS the three keys", h.existing.read(p), 3);
}

/// The handles of the second pipeline.
struct SecondHandles {
    counter: Deferred<i64>,
    temp: Deferred<i64>,
    existing: Deferred<i64>,
}

fn queue_second(p: &mut Pipeline) -> Result<SecondHandles, CapacityError> {
    Ok(SecondHandles {
        counter: p.incr(COUNTER)?,
        temp: p.hget(SENSOR, "temp")?,
        existing: p.exists([COUNTER, GREETING, SENSOR])?,
    })
}
