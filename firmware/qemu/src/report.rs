//! [`Report`]: each result against the value it must have, printed through semihosting, and the
//! exit status that sums them up.

use core::fmt::Debug;

use redpipe_core::SlotError;
use semihosting::println;

/// Counts checks and failures; every check prints one line.
#[derive(Default)]
pub struct Report {
    checks: u32,
    failed: u32,
}

impl Report {
    pub fn new() -> Self {
        Self {
            checks: 0,
            failed: 0,
        }
    }

    /// Records a check that passed or failed with its reason.
    pub fn record(&mut self, what: &str, failure: Option<&dyn Debug>) {
        self.checks += 1;
        match failure {
            None => println!("ok    {what}"),
            Some(why) => {
                self.failed += 1;
                println!("FAIL  {what}: {why:?}");
            }
        }
    }

    /// `got` must be `Ok(want)`.
    pub fn value<T, W>(&mut self, what: &str, got: Result<T, SlotError<'_>>, want: W)
    where
        T: PartialEq<W> + Debug,
        W: Debug,
    {
        match &got {
            Ok(v) if *v == want => self.record(what, None),
            _ => self.record(what, Some(&Mismatch { got, want })),
        }
    }

    /// `got` must be the server's error reply with `code`, whose message contains `words`.
    pub fn server_error<T: Debug>(
        &mut self,
        what: &str,
        got: Result<T, SlotError<'_>>,
        code: &str,
        words: &str,
    ) {
        match &got {
            Err(SlotError::Server(e))
                if e.code() == code && contains(e.message(), words.as_bytes()) =>
            {
                self.record(what, None);
            }
            _ => {
                let want = Expected { code, words };
                self.record(what, Some(&Mismatch { got, want }));
            }
        }
    }

    /// Adds the checks of `other` (another task's report) to these.
    pub fn add(&mut self, other: Self) {
        self.checks += other.checks;
        self.failed += other.failed;
    }

    /// Prints the summary; the exit status: 0 when every check passed, 1 otherwise.
    pub fn finish(self) -> i32 {
        let verdict = if self.failed == 0 { "PASS" } else { "FAIL" };
        println!("{verdict}: {} checks, {} failed", self.checks, self.failed);
        i32::from(self.failed != 0)
    }
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Mismatch<G, W> {
    got: G,
    want: W,
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Expected<'a> {
    code: &'a str,
    words: &'a str,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
