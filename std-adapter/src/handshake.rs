//! Connection setup as one pipeline: `HELLO`/`AUTH`, `CLIENT SETNAME`, `SELECT`.
//!
//! Shared by the blocking and the tokio connection, which only run it.

use redpipe_core::{Deferred, Reply, SlotError, VecPipeline, cmd};

use crate::config::ConnectionInfo;
use crate::error::{Error, Result};

/// The setup commands for `info`, and what to check in their replies.
pub(crate) struct Handshake {
    pub(crate) pipeline: VecPipeline,
    steps: Vec<(&'static str, Deferred<Reply<'static>>)>,
}

impl Handshake {
    pub(crate) fn new(info: &ConnectionInfo) -> Result<Self> {
        let mut p = VecPipeline::new();
        p.set_limits(info.limits);
        let mut steps = Vec::new();
        let password = info.password.as_deref();
        let user = info.username.as_deref();
        if info.resp3 {
            // HELLO 3 [AUTH user pass] [SETNAME name]: protocol, auth and name in one command.
            let auth = password.map(|pw| ("AUTH", user.unwrap_or("default"), pw));
            let name = info.client_name.as_deref().map(|n| ("SETNAME", n));
            steps.push(("HELLO", p.query(cmd("HELLO").arg(3).arg(auth).arg(name))?));
        } else {
            if let Some(pw) = password {
                steps.push(("AUTH", p.query(cmd("AUTH").arg(user).arg(pw))?));
            }
            if let Some(name) = &info.client_name {
                steps.push((
                    "CLIENT SETNAME",
                    p.query(cmd("CLIENT").arg("SETNAME").arg(name.as_str()))?,
                ));
            }
        }
        if info.db != 0 {
            steps.push(("SELECT", p.query(cmd("SELECT").arg(info.db))?));
        }
        p.set_window(usize::MAX);
        Ok(Self { pipeline: p, steps })
    }

    /// Fails with the first refused step.
    pub(crate) fn check(&self) -> Result<()> {
        for (command, d) in &self.steps {
            match d.read(&self.pipeline) {
                Ok(_) => {}
                Err(SlotError::Server(e)) => {
                    return Err(Error::Handshake {
                        command,
                        error: e.into_owned(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
