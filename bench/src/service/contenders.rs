//! The contenders of figure (g): each sends one request (`HGETALL user:N`, `ZSCORE board uN`,
//! `GET session:N`, `INCR counter:N` in one pipeline), reads its four results as a program
//! would (`HashMap<String, String>`, `Option<f64>`, `Option<String>`, `i64`) and checks them.
//!
//! Async contenders are cloned into each task when it starts (as a service hands its client to
//! each request handler); blocking ones give each thread its own handle once.

use std::collections::HashMap;
use std::future::Future;

use redpipe::Connections;
use redpipe::prelude::*;

use super::{BOARD, Data, TaskResult};

/// A client that tasks share.
pub(crate) trait AsyncContender: Clone + Send + Sync + 'static {
    /// Runs request `n` (a key number) and checks its results.
    fn request(&mut self, data: &Data, n: usize) -> impl Future<Output = TaskResult<()>> + Send;
}

/// A client that threads share.
pub(crate) trait BlockingContender: Sync {
    /// What one thread holds for the whole run.
    type Conn;
    /// Called once in each thread, before the clock starts.
    fn conn(&self) -> TaskResult<Self::Conn>;
    /// Runs request `n` on the thread's `conn` and checks its results.
    fn request(&self, conn: &mut Self::Conn, data: &Data, n: usize) -> TaskResult<()>;
}

/// A registry with one name (the default), from `url`.
fn registry(url: &str) -> crate::Result<Connections> {
    let registry = Connections::new();
    registry.connect(url)?;
    Ok(registry)
}

/// redpipe: `Connections::autoexec_async(None, ..)` per request on one registry, the URL's
/// settings (`max_connections` 32 unless the URL says otherwise).
#[derive(Clone)]
pub(crate) struct RedpipeTasks {
    registry: Connections,
}

impl RedpipeTasks {
    pub(crate) fn open(url: &str) -> crate::Result<Self> {
        Ok(Self {
            registry: registry(url)?,
        })
    }
}

impl AsyncContender for RedpipeTasks {
    async fn request(&mut self, data: &Data, n: usize) -> TaskResult<()> {
        let e = &data.entries[n];
        let (user, score, session, visits) = self
            .registry
            .autoexec_async(None, |p| {
                Ok((
                    p.hgetall(&e.user).cast::<HashMap<String, String>>(),
                    p.zscore(BOARD, &e.member),
                    p.get(&e.session).cast::<Option<String>>(),
                    p.incr(&e.counter),
                ))
            })
            .await?;
        let session = session.result()?;
        data.check(
            n,
            &user.result()?,
            score.result()?,
            session.as_deref(),
            visits.result()?,
        )
    }
}

/// redpipe, blocking: every thread runs `Connections::autoexec(None, ..)` (its own `Pipe` per
/// request) on the one shared registry.
pub(crate) struct RedpipeThreads {
    registry: Connections,
}

impl RedpipeThreads {
    pub(crate) fn open(url: &str) -> crate::Result<Self> {
        Ok(Self {
            registry: registry(url)?,
        })
    }
}

impl BlockingContender for RedpipeThreads {
    type Conn = Connections;

    fn conn(&self) -> TaskResult<Connections> {
        Ok(self.registry.clone())
    }

    fn request(&self, registry: &mut Connections, data: &Data, n: usize) -> TaskResult<()> {
        let e = &data.entries[n];
        let (user, score, session, visits) = registry.autoexec(None, |p| {
            Ok((
                p.hgetall(&e.user).cast::<HashMap<String, String>>(),
                p.zscore(BOARD, &e.member),
                p.get(&e.session).cast::<Option<String>>(),
                p.incr(&e.counter),
            ))
        })?;
        let session = session.result()?;
        data.check(
            n,
            &user.result()?,
            score.result()?,
            session.as_deref(),
            visits.result()?,
        )
    }
}

/// The four results as every redis-rs contender reads them.
type RedisRsReply = (HashMap<String, String>, Option<f64>, Option<String>, i64);

/// The request as a redis-rs pipeline.
fn redis_rs_pipe(data: &Data, n: usize) -> redis::Pipeline {
    let e = &data.entries[n];
    let mut pipe = redis::pipe();
    pipe.cmd("HGETALL").arg(&e.user);
    pipe.cmd("ZSCORE").arg(BOARD).arg(&e.member);
    pipe.cmd("GET").arg(&e.session);
    pipe.cmd("INCR").arg(&e.counter);
    pipe
}

fn redis_rs_check(data: &Data, n: usize, reply: RedisRsReply) -> TaskResult<()> {
    let (user, score, session, visits) = reply;
    data.check(n, &user, score, session.as_deref(), visits)
}

/// redis-rs 1.8: one `MultiplexedConnection`, cloned per task.
#[derive(Clone)]
pub(crate) struct RedisMultiplexed {
    con: redis::aio::MultiplexedConnection,
}

impl RedisMultiplexed {
    /// Connects; call inside the runtime that will run the tasks (its driver task lives there).
    pub(crate) async fn open(url: &str) -> crate::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            con: client.get_multiplexed_async_connection().await?,
        })
    }
}

impl AsyncContender for RedisMultiplexed {
    async fn request(&mut self, data: &Data, n: usize) -> TaskResult<()> {
        let reply: RedisRsReply = redis_rs_pipe(data, n).query_async(&mut self.con).await?;
        redis_rs_check(data, n, reply)
    }
}

/// redis-rs 1.8: one `ConnectionManager` (a multiplexed connection that reconnects), cloned
/// per task.
#[derive(Clone)]
pub(crate) struct RedisManager {
    con: redis::aio::ConnectionManager,
}

impl RedisManager {
    /// Connects; call inside the runtime that will run the tasks.
    pub(crate) async fn open(url: &str) -> crate::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            con: redis::aio::ConnectionManager::new(client).await?,
        })
    }
}

impl AsyncContender for RedisManager {
    async fn request(&mut self, data: &Data, n: usize) -> TaskResult<()> {
        let reply: RedisRsReply = redis_rs_pipe(data, n).query_async(&mut self.con).await?;
        redis_rs_check(data, n, reply)
    }
}

/// redis-rs 1.8, blocking: an r2d2 pool of as many connections as threads; each thread takes
/// one when it starts and keeps it (no checkout per request: redis-rs's fastest form here).
pub(crate) struct RedisPooled {
    pool: r2d2::Pool<redis::Client>,
}

impl RedisPooled {
    pub(crate) fn open(url: &str, threads: usize) -> crate::Result<Self> {
        let client = redis::Client::open(url)?;
        let size = u32::try_from(threads)?;
        Ok(Self {
            pool: r2d2::Pool::builder().max_size(size).build(client)?,
        })
    }
}

impl BlockingContender for RedisPooled {
    type Conn = r2d2::PooledConnection<redis::Client>;

    fn conn(&self) -> TaskResult<Self::Conn> {
        Ok(self.pool.get()?)
    }

    fn request(&self, con: &mut Self::Conn, data: &Data, n: usize) -> TaskResult<()> {
        let reply: RedisRsReply = redis_rs_pipe(data, n).query(&mut **con)?;
        redis_rs_check(data, n, reply)
    }
}

/// fred 10: one client (its default settings: one connection, automatic pipelining), shared
/// by every task; each request is a `Pipeline` of the four commands.
#[derive(Clone)]
pub(crate) struct Fred {
    client: fred::prelude::Client,
}

impl Fred {
    /// Connects; call inside the runtime that will run the tasks.
    pub(crate) async fn open(url: &str) -> crate::Result<Self> {
        use fred::prelude::*;
        let config = Config::from_url(url)?;
        let client = Builder::from_config(config).build()?;
        client.init().await?;
        Ok(Self { client })
    }
}

impl AsyncContender for Fred {
    async fn request(&mut self, data: &Data, n: usize) -> TaskResult<()> {
        use fred::prelude::*;
        let e = &data.entries[n];
        let pipe = self.client.pipeline();
        // Each call only queues the command in the pipeline.
        let () = pipe.hgetall(e.user.as_str()).await?;
        let () = pipe.zscore(BOARD, e.member.as_str()).await?;
        let () = pipe.get(e.session.as_str()).await?;
        let () = pipe.incr(e.counter.as_str()).await?;
        let (user, score, session, visits): RedisRsReply = pipe.all().await?;
        data.check(n, &user, score, session.as_deref(), visits)
    }
}
