//! The operations of every [`Struct`], queued on any pipeline: RedPipe's `Struct` methods with
//! typed records. Writes return [`Written`], loads [`Loaded`]; both read once their pipe ran.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::marker::PhantomData;

use crate::codec::encode::{Joined, cmd};
use crate::engine::queue::{Compose, Queue};
use crate::keyspace::{Decoded, Field};

use super::{Load, Struct, StructError};

/// The record's key argument, `KEYSPACE{key}`.
fn key_arg<S: Struct>(key: &str) -> Joined<(&'static str, &'static str, &str, &'static str)> {
    Joined((S::KEYSPACE, "{", key, "}"))
}

/// Queues `name KEYSPACE{key} args...` on the struct's connection.
fn send<S: Struct, Q: Compose, T: crate::FromReply + ?Sized>(
    q: &mut Q,
    name: &'static str,
    key: &str,
    args: impl crate::Args,
) -> Q::Handle<T> {
    let Ok(handle) = q.on(S::CONNECTION, |q| {
        Ok::<_, Infallible>(q.query(cmd(name).arg(key_arg::<S>(key)).arg(args)))
    });
    handle
}

/// The commands a write queued; [`read`](Self::read) says whether they all succeeded.
#[must_use = "read it once the pipe has run to know whether the write succeeded"]
pub struct Written<Q: Queue> {
    handles: Vec<Q::Handle<i64>>,
}

impl<Q: Queue> core::fmt::Debug for Written<Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Written")
            .field("commands", &self.handles.len())
            .finish()
    }
}

impl<Q: Queue> Written<Q> {
    /// `Ok` when every command of the write succeeded; else the first error (a server error,
    /// or why the pipe failed).
    pub fn read(&self, from: &Q::Results<'_>) -> Result<(), StructError> {
        for h in &self.handles {
            Q::read(h, from).map_err(|e| StructError::Read(e.into()))?;
        }
        Ok(())
    }

    /// How many commands the write queued (none for an update that changes nothing).
    pub fn commands(&self) -> usize {
        self.handles.len()
    }
}

impl<B> Written<crate::Pipe<B>> {
    /// `Ok` when every command of the write succeeded, once the pipe has run; a failure is
    /// the crate's [`Error`](crate::Error) (`Error::Record`), as every handle's.
    pub fn result(&self) -> crate::Result<()> {
        self.read(&crate::Executed::RAN).map_err(crate::Error::from)
    }
}

/// What a load queued.
enum Raw<Q: Queue> {
    All(Q::Handle<Vec<(&'static str, &'static [u8])>>),
    Fields(Vec<String>, Q::Handle<Vec<Option<&'static [u8]>>>),
}

/// A record being loaded: [`read`](Self::read) gives it once the pipe has run, `None` when
/// there is no such record.
#[must_use = "a loaded handle is the only way to read the record"]
pub struct Loaded<Q: Queue, S> {
    key: String,
    raw: Raw<Q>,
    _s: PhantomData<fn() -> S>,
}

impl<Q: Queue, S> core::fmt::Debug for Loaded<Q, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Loaded").field("key", &self.key).finish()
    }
}

impl<Q: Queue, S: Struct> Loaded<Q, S> {
    /// The record; `None` when its hash does not exist (or, for a load of some fields, none of
    /// them is there). A required field that is missing, or a member that its codec cannot
    /// read, is an error naming the key and the field.
    pub fn read(&self, from: &Q::Results<'_>) -> Result<Option<S>, StructError> {
        let read_error = |e: crate::SlotError<'_>| StructError::Read(e.into());
        let mut members = BTreeMap::new();
        match &self.raw {
            Raw::All(h) => {
                for (member, bytes) in Q::read(h, from).map_err(read_error)? {
                    members.insert(String::from(member), bytes.to_vec());
                }
            }
            Raw::Fields(names, h) => {
                let values = Q::read(h, from).map_err(read_error)?;
                for (member, bytes) in names.iter().zip(values) {
                    if let Some(bytes) = bytes {
                        members.insert(member.clone(), bytes.to_vec());
                    }
                }
            }
        }
        if members.is_empty() {
            return Ok(None);
        }
        members.remove(S::KEY_NAME);
        S::decode_fields(&self.key, members).map(Some)
    }

    /// The key being loaded.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<B, S: Struct> Loaded<crate::Pipe<B>, S> {
    /// The record once the pipe has run; see [`read`](Self::read). A failure is the crate's
    /// [`Error`](crate::Error) (`Error::Record`, whose [`StructError`] names the key and the
    /// field), as every handle's.
    pub fn result(&self) -> crate::Result<Option<S>> {
        self.read(&crate::Executed::RAN).map_err(crate::Error::from)
    }
}

/// The operations of a [`Struct`], for every one (`use redpipe_core::record::StructOps`).
///
/// Writes refresh the record's TTL (`EXPIRE`) when the struct has one, in the same pipe.
/// Misuse — changing or removing the key field, removing a required field — is an error
/// before anything is queued.
pub trait StructOps: Struct {
    /// Writes the record: `HSET` of every present field, `HDEL` of the `Option` fields that are
    /// `None` (so the stored hash is this record), then `EXPIRE`. RedPipe's `Struct(data)`.
    fn create<Q: Compose>(&self, q: &mut Q) -> Result<Written<Q>, StructError> {
        write::<Self, Q>(self, q, false)
    }

    /// Writes only the fields the stored record does not have yet (`HSETNX` each): RedPipe's
    /// `Struct(data, nx=True)`. `None` fields are left alone.
    fn create_nx<Q: Compose>(&self, q: &mut Q) -> Result<Written<Q>, StructError> {
        write::<Self, Q>(self, q, true)
    }

    /// Writes the fields the stored record does not have yet, then loads the record as Redis
    /// has it afterwards, in the same pipe: RedPipe's `Struct(data, nx=True)`, whose instance
    /// holds the stored values (the fields that were already there win over `self`'s).
    fn create_nx_load<Q: Compose>(
        &self,
        q: &mut Q,
    ) -> Result<(Written<Q>, Loaded<Q, Self>), StructError> {
        let written = self.create_nx(q)?;
        Ok((written, Self::load(q, self.key())))
    }

    /// Writes what changed from `self` to `new`: `HSET` of the changed fields, `HDEL` of those
    /// that became `None` (or extra members that went away), then `EXPIRE`; nothing at all when
    /// nothing changed. RedPipe's `update`.
    fn update<Q: Compose>(&self, new: &Self, q: &mut Q) -> Result<Written<Q>, StructError> {
        let key = self.key();
        if new.key() != key {
            return Err(StructError::OtherRecord { key: key.into() });
        }
        let old: BTreeMap<String, Option<Vec<u8>>> = self.encode_fields()?.into_iter().collect();
        let mut set: Vec<(String, Vec<u8>)> = Vec::new();
        let mut del: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for (member, bytes) in new.encode_fields()? {
            let before = old.get(&member).cloned().flatten();
            match bytes {
                Some(b) if before.as_ref() != Some(&b) => set.push((member.clone(), b)),
                None if before.is_some() => del.push(member.clone()),
                _ => {}
            }
            seen.push(member);
        }
        for (member, bytes) in &old {
            if bytes.is_some() && !seen.contains(member) {
                del.push(member.clone());
            }
        }
        let mut handles = Vec::new();
        if !set.is_empty() {
            let args: Vec<&[u8]> = set
                .iter()
                .flat_map(|(m, b)| [m.as_bytes(), b.as_slice()])
                .collect();
            handles.push(send::<Self, Q, i64>(q, "HSET", key, args.as_slice()));
        }
        if !del.is_empty() {
            handles.push(send::<Self, Q, i64>(q, "HDEL", key, del.as_slice()));
        }
        if !handles.is_empty() {
            expire::<Self, Q>(q, key, &mut handles);
        }
        Ok(Written { handles })
    }

    /// Loads record `key`: every member (`HGETALL`) or the declared fields (`HMGET`), as the
    /// struct's `LOAD` says. RedPipe's `Struct(key)`.
    fn load<Q: Compose>(q: &mut Q, key: &str) -> Loaded<Q, Self> {
        match Self::LOAD {
            Load::All => Loaded {
                key: key.into(),
                raw: Raw::All(send::<Self, Q, _>(q, "HGETALL", key, ())),
                _s: PhantomData,
            },
            Load::Defined => Self::load_fields(q, key, Self::FIELDS),
        }
    }

    /// Loads some fields of record `key` (`HMGET`): RedPipe's `load(fields)`. The record read
    /// needs its required fields among them.
    fn load_fields<Q: Compose>(q: &mut Q, key: &str, fields: &[&str]) -> Loaded<Q, Self> {
        let names: Vec<String> = fields.iter().map(|&f| f.into()).collect();
        let handle = send::<Self, Q, _>(q, "HMGET", key, fields);
        Loaded {
            key: key.into(),
            raw: Raw::Fields(names, handle),
            _s: PhantomData,
        }
    }

    /// `HINCRBY` of one field, then `EXPIRE`: the new value. RedPipe's `incr`.
    fn incr<Q: Compose>(
        q: &mut Q,
        key: &str,
        field: &str,
        amount: i64,
    ) -> Result<Q::Handle<i64>, StructError> {
        not_key::<Self>(field)?;
        let n = send::<Self, Q, i64>(q, "HINCRBY", key, (field, amount));
        expire::<Self, Q>(q, key, &mut Vec::new());
        Ok(n)
    }

    /// `HINCRBY` by `-amount`: RedPipe's `decr`.
    fn decr<Q: Compose>(
        q: &mut Q,
        key: &str,
        field: &str,
        amount: i64,
    ) -> Result<Q::Handle<i64>, StructError> {
        Self::incr(q, key, field, amount.wrapping_neg())
    }

    /// `HDEL` of some optional fields (or extra members), then `EXPIRE`. RedPipe's `remove`.
    fn remove<Q: Compose>(
        q: &mut Q,
        key: &str,
        fields: &[&str],
    ) -> Result<Written<Q>, StructError> {
        for field in fields {
            removable::<Self>(field)?;
        }
        let mut handles = Vec::new();
        if !fields.is_empty() {
            handles.push(send::<Self, Q, i64>(q, "HDEL", key, fields));
            expire::<Self, Q>(q, key, &mut handles);
        }
        Ok(Written { handles })
    }

    /// Reads one optional field with codec `F` and removes it (`HGET`, `HDEL`, `EXPIRE`):
    /// RedPipe's `pop`. The handle reads `None` when it was not there.
    fn pop<F: Field + ?Sized, Q: Compose>(
        q: &mut Q,
        key: &str,
        field: &str,
    ) -> Result<Q::OwnedHandle<Option<Decoded<F>>>, StructError> {
        removable::<Self>(field)?;
        let value = send::<Self, Q, _>(q, "HGET", key, field);
        send::<Self, Q, i64>(q, "HDEL", key, field);
        expire::<Self, Q>(q, key, &mut Vec::new());
        Ok(Q::owned(value))
    }

    /// Deletes whole records (`DEL`): how many existed. RedPipe's `Struct.delete`.
    fn delete<Q: Compose>(q: &mut Q, keys: &[&str]) -> Q::Handle<i64> {
        let keys: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| [Self::KEYSPACE, "{", k, "}"].concat().into_bytes())
            .collect();
        let Ok(handle) = q.on(Self::CONNECTION, |q| {
            Ok::<_, Infallible>(q.query(cmd("DEL").arg(keys.as_slice())))
        });
        handle
    }

    /// Whether record `key` exists (`EXISTS`).
    fn exists<Q: Compose>(q: &mut Q, key: &str) -> Q::Handle<bool> {
        send::<Self, Q, bool>(q, "EXISTS", key, ())
    }
}

impl<S: Struct> StructOps for S {}

/// `HSET` (or `HSETNX` each) of the present fields, `HDEL` of the absent ones, `EXPIRE`.
fn write<S: Struct, Q: Compose>(
    record: &S,
    q: &mut Q,
    nx: bool,
) -> Result<Written<Q>, StructError> {
    let key = record.key();
    let members = record.encode_fields()?;
    let mut handles = Vec::new();
    if nx {
        for (member, bytes) in &members {
            if let Some(b) = bytes {
                let args = (member.as_str(), b.as_slice());
                handles.push(send::<S, Q, i64>(q, "HSETNX", key, args));
            }
        }
    } else {
        let set: Vec<&[u8]> = members
            .iter()
            .filter_map(|(m, b)| Some([m.as_bytes(), b.as_deref()?]))
            .flatten()
            .collect();
        if !set.is_empty() {
            handles.push(send::<S, Q, i64>(q, "HSET", key, set.as_slice()));
        }
        let absent: Vec<&str> = members
            .iter()
            .filter(|(_, b)| b.is_none())
            .map(|(m, _)| m.as_str())
            .collect();
        if !absent.is_empty() {
            handles.push(send::<S, Q, i64>(q, "HDEL", key, absent.as_slice()));
        }
    }
    if !handles.is_empty() {
        expire::<S, Q>(q, key, &mut handles);
    }
    Ok(Written { handles })
}

/// `EXPIRE key ttl` when the struct has a TTL.
fn expire<S: Struct, Q: Compose>(q: &mut Q, key: &str, handles: &mut Vec<Q::Handle<i64>>) {
    if let Some(ttl) = S::TTL {
        handles.push(send::<S, Q, i64>(q, "EXPIRE", key, ttl));
    }
}

fn not_key<S: Struct>(field: &str) -> Result<(), StructError> {
    if field == S::KEY_NAME {
        return Err(StructError::KeyField { field: S::KEY_NAME });
    }
    Ok(())
}

fn removable<S: Struct>(field: &str) -> Result<(), StructError> {
    not_key::<S>(field)?;
    if S::REQUIRED.contains(&field) {
        return Err(StructError::Required {
            field: field.into(),
        });
    }
    Ok(())
}
