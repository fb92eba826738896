//! Scripting commands.

use crate::codec::encode::{Args, cmd};
use crate::codec::from_reply::FromReply;
use crate::engine::queue::Queue;
use crate::engine::script::Script;

/// `EVALSHA` with fallback, and `SCRIPT` management.
pub trait ScriptCommands: Queue {
    /// Runs `script` on `keys` and `args`: `EVALSHA`, or `EVAL` when the server does not have
    /// the script yet (see [`Pipeline::eval`](crate::Pipeline::eval)).
    fn eval<T: FromReply + ?Sized>(
        &mut self,
        script: &Script<'_>,
        keys: impl Args,
        args: impl Args,
    ) -> Self::Handle<T> {
        self.eval_script(script, keys, args)
    }
    /// `SCRIPT LOAD body`: the SHA1.
    fn script_load(&mut self, script: &Script<'_>) -> Self::Handle<&'static str> {
        self.query(cmd("SCRIPT").arg("LOAD").arg(script.body()))
    }
    /// `SCRIPT EXISTS sha...`: one flag per script.
    fn script_exists<T: FromReply + ?Sized>(&mut self, scripts: &[&Script<'_>]) -> Self::Handle<T> {
        let shas = crate::codec::encode::Iter(scripts.iter().map(|s| s.sha1()));
        self.query(cmd("SCRIPT").arg("EXISTS").arg(shas))
    }
    /// `SCRIPT FLUSH`.
    fn script_flush(&mut self) -> Self::Handle<()> {
        self.query(cmd("SCRIPT").arg("FLUSH"))
    }
}

impl<Q: Queue + ?Sized> ScriptCommands for Q {}
