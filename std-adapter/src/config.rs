//! Where and how to connect: parsed from `redis://`, `rediss://` and `unix://` URLs.

use std::path::PathBuf;
use std::time::Duration;

use redpipe_core::Limits;
use redpipe_core::cache::CacheConfig;
use redpipe_core::{DEFAULT_WINDOW, DEFAULT_WINDOW_BYTES};

use redpipe_core::session::Setup;
use redpipe_core::{Error, Result};

/// The server's address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Addr {
    /// TCP `host:port`.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// TLS over TCP (`rediss://`).
    Tls {
        /// Host name (also the TLS server name) or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket.
    Unix(PathBuf),
}

/// Everything needed to open a connection.
///
/// ```
/// use redpipe::ConnectionInfo;
/// let info: ConnectionInfo = "redis://alice:secret@127.0.0.1:6380/2?protocol=3&client_name=app"
///     .parse()
///     .unwrap();
/// assert_eq!(info.db, 2);
/// assert!(info.resp3);
/// assert_eq!(info.username.as_deref(), Some("alice"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Where the server is.
    pub addr: Addr,
    /// Database selected after connecting (`SELECT`), unless 0.
    pub db: u32,
    /// ACL user name (`AUTH user pass`).
    pub username: Option<String>,
    /// Password (`AUTH [user] pass`).
    pub password: Option<String>,
    /// Speak RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// `CLIENT SETNAME`.
    pub client_name: Option<String>,
    /// Limit for establishing the connection.
    pub connect_timeout: Option<Duration>,
    /// Limit for each read (30 s by default); a pipeline whose replies stop arriving fails
    /// after it.
    ///
    /// Blocking commands lengthen it for their pipeline by their own timeout: a pipeline with
    /// `BLPOP k 60` reads with a limit of `read_timeout` + 60 s (the read timeout is the slack
    /// for the network and the server), and `pipeline_timeout` grows by the same 60 s; a timeout
    /// of 0 (`BLPOP k 0`, block forever) lifts both limits for that pipeline. The pipeline's
    /// waits add up (`BLPOP a 5` then `BLPOP b 5`: 10 s). The commands recognised are `BLPOP`,
    /// `BRPOP`, `BRPOPLPUSH`, `BLMOVE`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`, `BZMPOP`, `XREAD` and
    /// `XREADGROUP` with `BLOCK`, `WAIT` and `WAITAOF`, from the builders or queued by hand (see
    /// [`Pipeline::blocking`](redpipe_core::Pipeline::blocking)). After the pipeline the normal
    /// limits apply again. On a shared connection (see [`multiplexed`](Self::multiplexed)) a
    /// blocking command runs on a connection of its own unless its pipeline is set to
    /// [`Sharing::Shared`](redpipe_core::mux::Sharing::Shared); there the stall timeout is
    /// lengthened the same way while its reply is awaited, and the pipelines behind it wait
    /// for it.
    pub read_timeout: Option<Duration>,
    /// Limit for each write.
    pub write_timeout: Option<Duration>,
    /// Limit for a whole pipeline, from its first write to its last reply (60 s by default):
    /// a server that keeps each read in time by trickling bytes still cannot hold a pipeline
    /// longer. `None` for pipelines that legitimately run longer. Blocking commands lengthen it
    /// by their own timeouts (see [`read_timeout`](Self::read_timeout)).
    pub pipeline_timeout: Option<Duration>,
    /// Commands in flight at once (see [`Pipeline::set_window`](redpipe_core::Pipeline::set_window)).
    pub window: usize,
    /// Bytes of commands and expected replies in flight at once (1 MiB by default; 0: only the
    /// command window), so that a pipeline of large replies neither overflows the server's
    /// output buffer nor deadlocks on a server that stops reading while it cannot write (see
    /// [`Pipeline::set_window_bytes`](redpipe_core::Pipeline::set_window_bytes)).
    pub window_bytes: usize,
    /// Bounds on replies.
    pub limits: Limits,
    /// Shared connections of this name (1 by default): every pipeline that may share a
    /// connection (see [`Sharing`](redpipe_core::mux::Sharing)) goes on one of them, among
    /// every other task's and thread's pipelines, so that a thousand concurrent requests make
    /// one stream of writes and reads. 0: none, every pipeline takes a connection of its own
    /// from the pool. Counted apart from `max_connections`, once for blocking threads and once
    /// for tokio tasks.
    pub multiplexed: usize,
    /// Connections of their own open at once at most (32 by default), for the pipelines that
    /// need one (`WATCH`, blocking commands, `SELECT`...; see
    /// [`Sharing`](redpipe_core::mux::Sharing)), and for every pipeline with
    /// `multiplexed=0`; when all are in use, a pipeline waits up to `connect_timeout` for one
    /// to come back.
    pub max_connections: usize,
    /// PEM file of CA certificates to trust for `rediss://`, instead of the public roots.
    pub tls_ca: Option<PathBuf>,
    /// Every pipeline on this name runs as one transaction, `MULTI` ... `EXEC` around its
    /// commands (`?transaction=true`; RedPipe's `connect_redis(..., transaction=True)`): all or
    /// nothing, and no other client's command in between. Each handle still reads its own
    /// command's result. A pipeline that holds a transaction, a `WATCH` or a script of its own
    /// runs as it is (see [`Pipeline::wrap_in_transaction`](redpipe_core::Pipeline::wrap_in_transaction)).
    /// On a Redis Cluster the whole pipeline is one transaction, which goes to its slot's node;
    /// one whose keys hash to different slots fails with `CROSSSLOT` in every handle and is not
    /// sent: keep the keys of such a name under one hash tag, as RedPipe's keyspaces do
    /// (`PREFIX{key}`).
    pub transaction: bool,
    /// Client-side caching (`?cache=N`, with `cache_bytes` and `cache_prefix` as needed):
    /// the replies of `GET`, `HGET`, `HGETALL` and `HMGET` (struct loads) kept in a bounded
    /// local cache, which tracking connections of the name (one per node on a cluster) keep
    /// coherent; a pipeline sends
    /// only the reads the cache does not hold. See [`ConnectionInfo::cache`] and the
    /// [core's rules](redpipe_core::cache). Off (`None`) by default; ignored on a name whose
    /// pipelines are [`transaction`](Self::transaction)s.
    pub cache: Option<CacheConfig>,
}

impl ConnectionInfo {
    /// A TCP connection to `host:port` with default settings.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Self {
            addr: Addr::Tcp {
                host: host.into(),
                port,
            },
            db: 0,
            username: None,
            password: None,
            resp3: false,
            client_name: None,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            pipeline_timeout: Some(Duration::from_secs(60)),
            window: DEFAULT_WINDOW,
            window_bytes: DEFAULT_WINDOW_BYTES,
            multiplexed: 1,
            max_connections: 32,
            limits: Limits::default(),
            tls_ca: None,
            transaction: false,
            cache: None,
        }
    }

    /// Sets how many shared connections the name has (see
    /// [`multiplexed`](Self::multiplexed)); 0 gives every pipeline a connection of its own.
    pub fn multiplexed(mut self, connections: usize) -> Self {
        self.multiplexed = connections;
        self
    }

    /// Runs every pipeline on this name as one transaction (see
    /// [`transaction`](Self::transaction)).
    pub fn transaction(mut self, on: bool) -> Self {
        self.transaction = on;
        self
    }

    /// Turns client-side caching on for this name: reads (`GET`, `HGET`, `HGETALL`, `HMGET`)
    /// are answered from a local cache bounded by `config`, kept coherent by a tracking
    /// connection of the name (`CLIENT TRACKING ON BCAST`; on a cluster, one to each node), so
    /// that a pipeline sends only the reads the cache does not hold. Needs Redis 6 or later.
    ///
    /// ```no_run
    /// use redpipe::{CacheConfig, ConnectionInfo, Connections};
    /// let info: ConnectionInfo = "redis://127.0.0.1:6379".parse()?;
    /// let r = Connections::new();
    /// r.register("", info.cache(CacheConfig::new(10_000).prefix("user:")))?;
    /// # Ok::<(), redpipe::Error>(())
    /// ```
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// Sets the read and write timeouts.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.read_timeout = Some(t);
        self.write_timeout = Some(t);
        self
    }

    /// Sets the commands in flight at once.
    pub fn window(mut self, commands: usize) -> Self {
        self.window = commands.max(1);
        self
    }

    /// Sets the password (and user, for ACL users).
    pub fn auth(mut self, username: Option<&str>, password: &str) -> Self {
        self.username = username.map(String::from);
        self.password = Some(password.into());
        self
    }

    /// Selects database `db` after connecting.
    pub fn db(mut self, db: u32) -> Self {
        self.db = db;
        self
    }

    /// Speaks RESP3.
    pub fn resp3(mut self, on: bool) -> Self {
        self.resp3 = on;
        self
    }

    /// These settings at a cluster `node`'s address (over TLS if these are).
    pub(crate) fn at_node(&self, node: &redpipe_core::cluster::Node) -> Self {
        let (host, port) = (node.host.clone(), node.port);
        let addr = match self.addr {
            Addr::Tls { .. } => Addr::Tls { host, port },
            _ => Addr::Tcp { host, port },
        };
        Self {
            addr,
            ..self.clone()
        }
    }

    /// The address as text, for logs (no credentials).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn addr_text(&self) -> String {
        match &self.addr {
            Addr::Tcp { host, port } => format!("{host}:{port}"),
            Addr::Tls { host, port } => format!("tls://{host}:{port}"),
            Addr::Unix(path) => format!("unix:{}", path.display()),
        }
    }

    /// What to set up on each new connection.
    pub(crate) fn setup(&self) -> Setup<'_> {
        Setup {
            resp3: self.resp3,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            client_name: self.client_name.as_deref(),
            db: self.db,
        }
    }

    /// Applies the window and limits to a pipeline about to run on this connection, and wraps
    /// it in `MULTI`/`EXEC` when the name asks for [`transaction`](Self::transaction)s.
    pub(crate) fn configure(&self, p: &mut redpipe_core::VecPipeline) {
        p.set_window(self.window);
        p.set_window_bytes(self.window_bytes);
        p.set_limits(self.limits);
        if self.transaction
            && let Err(e) = p.wrap_in_transaction()
        {
            p.fail(redpipe_core::Failure::Capacity(e));
        }
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

fn millis(v: &str) -> Result<Duration> {
    v.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| bad(format!("expected milliseconds, got {v:?}")))
}

impl std::str::FromStr for ConnectionInfo {
    type Err = Error;

    /// `redis://[user[:password]@]host[:port][/db][?options]`, `rediss://...` for TLS, or
    /// `unix:///path/to/socket[?db=N&...]`. Options: `protocol=3`, `client_name`, `db`,
    /// `password`, `username`, `connect_timeout`, `timeout`, `pipeline_timeout` (in milliseconds),
    /// `window`, `window_bytes`, `multiplexed`, `max_connections`, `transaction` (`true` or
    /// `false`), `tls_ca` (a PEM file path), `cache` (client-side caching: at most this many
    /// entries), `cache_bytes` (its byte bound), `cache_prefix` (a key prefix to cache; given
    /// again for more).
    fn from_str(s: &str) -> Result<Self> {
        let url = url::Url::parse(s).map_err(|e| bad(format!("{s:?}: {e}")))?;
        let decode = |v: &str| {
            percent_decode(v).ok_or_else(|| bad(format!("bad percent-encoding in {v:?}")))
        };
        let mut info = match url.scheme() {
            "redis" | "rediss" => {
                let host = url
                    .host_str()
                    .ok_or_else(|| bad("missing host"))?
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let port = url.port().unwrap_or(6379);
                let mut info = Self::tcp(host.clone(), port);
                if url.scheme() == "rediss" {
                    info.addr = Addr::Tls { host, port };
                }
                let path = url.path().trim_matches('/');
                if !path.is_empty() {
                    info.db = path
                        .parse()
                        .map_err(|_| bad(format!("bad database number {path:?}")))?;
                }
                info
            }
            "unix" | "redis+unix" => {
                let mut info = Self::tcp("", 0);
                info.addr = Addr::Unix(PathBuf::from(decode(url.path())?));
                info
            }
            other => return Err(bad(format!("unsupported scheme {other:?}"))),
        };
        if !url.username().is_empty() {
            info.username = Some(decode(url.username())?);
        }
        if let Some(p) = url.password() {
            info.password = Some(decode(p)?);
        }
        for (k, v) in url.query_pairs() {
            match &*k {
                "protocol" => info.resp3 = v == "3" || v == "resp3",
                "client_name" => info.client_name = Some(v.into_owned()),
                "db" => info.db = v.parse().map_err(|_| bad(format!("bad db {v:?}")))?,
                "password" => info.password = Some(v.into_owned()),
                "username" => info.username = Some(v.into_owned()),
                "connect_timeout" => info.connect_timeout = Some(millis(&v)?),
                "timeout" => {
                    let t = millis(&v)?;
                    info = info.timeout(t);
                }
                "pipeline_timeout" => info.pipeline_timeout = Some(millis(&v)?),
                "window" => {
                    let w = v.parse().map_err(|_| bad(format!("bad window {v:?}")))?;
                    info = info.window(w);
                }
                "max_connections" => {
                    info.max_connections = v
                        .parse()
                        .map_err(|_| bad(format!("bad max_connections {v:?}")))?;
                }
                "multiplexed" => {
                    info.multiplexed = v
                        .parse()
                        .map_err(|_| bad(format!("bad multiplexed {v:?}")))?;
                }
                "window_bytes" => {
                    info.window_bytes = v
                        .parse()
                        .map_err(|_| bad(format!("bad window_bytes {v:?}")))?;
                }
                "tls_ca" => info.tls_ca = Some(PathBuf::from(v.into_owned())),
                "transaction" => {
                    info.transaction = match &*v {
                        "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(bad(format!("bad transaction {v:?}"))),
                    };
                }
                "cache" => {
                    let n = v.parse().map_err(|_| bad(format!("bad cache {v:?}")))?;
                    let mut cache = cache_of(&info);
                    cache.max_entries = n;
                    info.cache = Some(cache);
                }
                "cache_bytes" => {
                    let n = v
                        .parse()
                        .map_err(|_| bad(format!("bad cache_bytes {v:?}")))?;
                    info.cache = Some(cache_of(&info).max_bytes(n));
                }
                "cache_prefix" => info.cache = Some(cache_of(&info).prefix(v.into_owned())),
                other => return Err(bad(format!("unknown option {other:?}"))),
            }
        }
        Ok(info)
    }
}

/// The cache settings given so far in a URL, or the defaults (10 000 entries).
fn cache_of(info: &ConnectionInfo) -> CacheConfig {
    info.cache
        .clone()
        .unwrap_or_else(|| CacheConfig::new(DEFAULT_CACHE_ENTRIES))
}

/// Entries of a cache turned on by `cache_bytes` or `cache_prefix` alone.
const DEFAULT_CACHE_ENTRIES: usize = 10_000;

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let i: ConnectionInfo = "redis://localhost".parse().unwrap();
        assert_eq!(
            i.addr,
            Addr::Tcp {
                host: "localhost".into(),
                port: 6379
            }
        );
        assert_eq!((i.db, i.resp3, i.password), (0, false, None));

        let i: ConnectionInfo = "redis://:p%40ss@10.0.0.1:7000/3?timeout=250&window=100"
            .parse()
            .unwrap();
        assert_eq!(i.password.as_deref(), Some("p@ss"));
        assert_eq!(i.username, None);
        assert_eq!(i.db, 3);
        assert_eq!(i.read_timeout, Some(Duration::from_millis(250)));
        assert_eq!(i.window, 100);

        let i: ConnectionInfo = "rediss://example.com".parse().unwrap();
        assert!(matches!(i.addr, Addr::Tls { port: 6379, .. }));

        let i: ConnectionInfo = "unix:///tmp/redis.sock?db=1&protocol=3".parse().unwrap();
        assert_eq!(i.addr, Addr::Unix("/tmp/redis.sock".into()));
        assert_eq!((i.db, i.resp3), (1, true));

        let i: ConnectionInfo = "redis://[::1]:6380".parse().unwrap();
        assert!(matches!(i.addr, Addr::Tcp { ref host, port: 6380 } if host == "::1"));

        for bad in [
            "http://x",
            "redis://h/notanumber",
            "redis://h?nope=1",
            "redis://h?timeout=x",
            "redis://h?cache=many",
            "not a url",
        ] {
            assert!(bad.parse::<ConnectionInfo>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_options() {
        let i: ConnectionInfo =
            "redis://h?cache=500&cache_bytes=4096&cache_prefix=u:&cache_prefix=s:"
                .parse()
                .unwrap();
        let want = CacheConfig::new(500)
            .max_bytes(4096)
            .prefix("u:")
            .prefix("s:");
        assert_eq!(i.cache, Some(want));
        // A prefix alone turns the cache on with the default size.
        let i: ConnectionInfo = "redis://h?cache_prefix=u:".parse().unwrap();
        assert_eq!(
            i.cache,
            Some(CacheConfig::new(DEFAULT_CACHE_ENTRIES).prefix("u:"))
        );
        let i: ConnectionInfo = "redis://h".parse().unwrap();
        assert_eq!(i.cache, None);
    }
}
