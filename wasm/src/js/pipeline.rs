//! [`Pipeline`]: the JavaScript face of a core `Pipe` — commands return handles, `execute`
//! returns a promise, scopes roll back, callbacks run after the pipeline.
//!
//! The scope and nesting rules are the core's (`Pipe::enter`/`leave`, an `execute` inside a
//! scope joins the enclosing pipeline). Only the callbacks are kept here: a JavaScript function
//! is not `Send`, which the core asks of its callbacks, and they must run after the promise's
//! pipeline, in JavaScript's turn. They follow the core's rules all the same: run in
//! registration order after every connection ran, not at all when `execute` failed, and
//! removed with a scope that fails.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use js_sys::{Function, Promise};
use redpipe_core::{Queue, Reply, Scope, cmd};
use wasm_bindgen::prelude::*;

use super::commands;
use super::error::{plain_error, to_js_error};
use super::handle::{Conv, Handle, Outcome, Run};
use super::promise;
use crate::Pipe;

struct State {
    /// `None` while it executes.
    pipe: Option<Pipe>,
    /// Open scopes, innermost last, with the number of callbacks before each.
    scopes: Vec<(Scope, usize)>,
    callbacks: Vec<(Function, Rc<RefCell<Outcome>>)>,
    /// Shared by the handles queued since the last `execute`.
    run: Rc<Run>,
}

/// Commands queued on one or more named connections; each command method returns a
/// [`Handle`], filled when `await p.execute()` resolves. Pass it to reusable functions (see
/// `Client.autoexec`) so that all their commands share one round trip.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Pipeline {
    state: Rc<RefCell<State>>,
}

fn busy() -> JsValue {
    plain_error("the pipeline is executing: wait for execute() before queueing more")
}

/// The words of a command's arguments, as `index.js` packs them (each a 4-byte little-endian
/// length, then its bytes): JavaScript turns text, numbers, booleans, bigints and bytes into
/// bytes with its own encoder and formatting, one copy into the `.wasm` for the whole command
/// instead of a call across per argument.
fn unpack(mut packed: &[u8]) -> Result<Vec<&[u8]>, JsValue> {
    let mut words = Vec::new();
    while let Some((len, rest)) = packed.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let (word, rest) = rest
            .split_at_checked(len)
            .ok_or_else(|| plain_error("malformed command arguments"))?;
        words.push(word);
        packed = rest;
    }
    if packed.is_empty() {
        Ok(words)
    } else {
        Err(plain_error("malformed command arguments"))
    }
}

impl Pipeline {
    pub(crate) fn new(pipe: Pipe) -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                pipe: Some(pipe),
                scopes: Vec::new(),
                callbacks: Vec::new(),
                run: Rc::default(),
            })),
        }
    }

    fn queue_words(&self, conv: Conv, name: &[u8], words: &[&[u8]]) -> Result<Handle, JsValue> {
        let mut st = self.state.borrow_mut();
        let run = st.run.clone();
        let pipe = st.pipe.as_mut().ok_or_else(busy)?;
        let handle = pipe.query::<Reply<'static>>(cmd(name).arg(words));
        Ok(Handle::reply(handle, conv, run))
    }

    /// Runs the pipeline: the core's `execute_async`, then the callbacks.
    async fn run(state: Rc<RefCell<State>>) -> Result<JsValue, JsValue> {
        let (mut pipe, callbacks, run) = {
            let mut st = state.borrow_mut();
            if !st.scopes.is_empty() {
                // Inside a scope: the commands run with the enclosing pipeline.
                return Ok(JsValue::UNDEFINED);
            }
            let pipe = st.pipe.take().ok_or_else(busy)?;
            let callbacks = core::mem::take(&mut st.callbacks);
            let run = core::mem::take(&mut st.run);
            (pipe, callbacks, run)
        };
        let result = pipe.execute_async().await;
        state.borrow_mut().pipe = Some(pipe);
        match result {
            Ok(()) => {
                let mut first_throw = None;
                for (f, cell) in callbacks {
                    let outcome = match f.call0(&JsValue::UNDEFINED) {
                        Ok(v) => Outcome::Value(v),
                        Err(e) => {
                            first_throw.get_or_insert_with(|| e.clone());
                            Outcome::Threw(e)
                        }
                    };
                    *cell.borrow_mut() = outcome;
                }
                first_throw.map_or(Ok(JsValue::UNDEFINED), Err)
            }
            Err(e) => {
                let error = to_js_error(&e);
                *run.error.borrow_mut() = Some(error.clone());
                for (_, cell) in callbacks {
                    *cell.borrow_mut() = Outcome::Failed(run.clone());
                }
                Err(error)
            }
        }
    }
}

#[wasm_bindgen]
impl Pipeline {
    /// Runs every queued command (one round trip per connection, connections in parallel),
    /// then the `onExecute` callbacks. Resolves when every handle holds its result; rejects
    /// with a `ConnectionError` when a connection failed (the handles it cut off throw it
    /// too). Server errors do not reject: they stay in their handles.
    ///
    /// Inside `scope`, `on` or `autoexec` on this pipeline it sends nothing: the commands run
    /// with the enclosing pipeline.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn execute(&self) -> Promise {
        promise(Self::run(self.state.clone()))
    }

    /// Queues a command with its arguments, packed by `index.js`: `command` is an index in the
    /// command table (what the installed command methods, `p.get(key)`..., pass) or a command
    /// name (`p.command(name, args)`, `p.eval`).
    #[wasm_bindgen(skip_typescript)]
    pub fn queue(&self, command: JsValue, args: &[u8]) -> Result<Handle, JsValue> {
        let words = unpack(args)?;
        match command.as_f64() {
            Some(i) => {
                let mut buf = [0; 16];
                let (name, conv) = commands::command(i as usize, &mut buf)
                    .ok_or_else(|| plain_error("no such command"))?;
                self.queue_words(conv, name, &words)
            }
            None => {
                let name = command.as_string().unwrap_or_default();
                self.queue_words(Conv::Auto, name.as_bytes(), &words)
            }
        }
    }

    /// Registers `f` to run after the pipeline has executed; its return value is the
    /// handle's result (what it throws, the handle throws, and `execute` rejects with).
    #[wasm_bindgen(js_name = onExecute, skip_typescript)]
    pub fn on_execute(&self, f: Function) -> Result<Handle, JsValue> {
        let mut st = self.state.borrow_mut();
        if st.pipe.is_none() {
            return Err(busy());
        }
        let cell = Rc::new(RefCell::new(Outcome::Pending));
        st.callbacks.push((f, cell.clone()));
        Ok(Handle::callback(cell))
    }

    /// Opens a scope (on the connection `name` if given): what `scope`, `on`, `scopeAsync`
    /// and `autoexec` (in `index.js`) call before running their function.
    #[wasm_bindgen(skip_typescript)]
    pub fn enter(&self, name: Option<String>) -> Result<(), JsValue> {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let pipe = st.pipe.as_mut().ok_or_else(busy)?;
        let scope = match name {
            Some(n) => pipe.enter_on(&n),
            None => pipe.enter(),
        };
        st.scopes.push((scope, st.callbacks.len()));
        Ok(())
    }

    /// Closes the innermost scope, rolling its commands and callbacks back unless `keep`.
    #[wasm_bindgen(skip_typescript)]
    pub fn leave(&self, keep: bool) {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if let (Some((scope, callbacks)), Some(pipe)) = (st.scopes.pop(), st.pipe.as_mut()) {
            pipe.leave(scope, keep);
            if !keep {
                st.callbacks.truncate(callbacks);
            }
        }
    }

    /// Whether a scope is open (an `execute` then joins the enclosing pipeline).
    #[wasm_bindgen(getter = inScope, skip_typescript)]
    pub fn in_scope(&self) -> bool {
        !self.state.borrow().scopes.is_empty()
    }

    /// Commands queued, on every connection.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.state.borrow().pipe.as_ref().map_or(0, Pipe::len)
    }
}
