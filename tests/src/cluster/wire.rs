//! The harness's own few lines of RESP, so that it never uses the code under test.

use super::*;

use std::io::Read;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

pub(super) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A RESP2 reply, as far as the harness needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Resp>),
}

/// How the harness reaches the nodes: over TLS with the cluster's CA, and with the default
/// user's password, when the cluster was started so.
#[derive(Clone, Default)]
pub(super) struct Access {
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    pub(super) password: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tls", &self.tls.is_some())
            .field("password", &self.password.is_some())
            .finish()
    }
}

impl Access {
    /// TLS trusting only the CA in `ca` (a PEM file).
    pub(super) fn tls(ca: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca).expect("cannot read the test CA");
        for cert in certs {
            roots
                .add(cert.expect("a bad certificate in the test CA"))
                .expect("the test CA is refused");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            tls: Some(Arc::new(config)),
            password: None,
        }
    }
}

/// A node connection: plain TCP, or TLS over it.
#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
        }
    }
}

/// A connection to `127.0.0.1:port`, over TLS and authenticated as `access` says. Reads time
/// out, so that a node that stops answering fails the harness rather than hangs it.
pub(super) fn connect(port: u16, access: &Access) -> Result<BufReader<Stream>, String> {
    let io = |e: std::io::Error| format!("{port}: {e}");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(io)?;
    tcp.set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(io)?;
    let stream = match &access.tls {
        None => Stream::Plain(tcp),
        Some(config) => {
            let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
            let conn = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| format!("{port}: {e}"))?;
            Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
        }
    };
    let mut conn = BufReader::new(stream);
    if let Some(password) = &access.password {
        match command(&mut conn, &["AUTH", password])? {
            Resp::Simple(ok) if ok == "OK" => {}
            other => return Err(format!("{port}: AUTH gave {other:?}")),
        }
    }
    Ok(conn)
}

/// Sends one command and reads its reply.
pub(super) fn command(
    conn: &mut BufReader<Stream>,
    args: &[impl AsRef<[u8]>],
) -> Result<Resp, String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    let stream = conn.get_mut();
    stream.write_all(&out).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())?;
    read_reply(conn)
}

pub(super) fn read_reply(r: &mut impl BufRead) -> Result<Resp, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let line = line
        .strip_suffix("\r\n")
        .ok_or_else(|| format!("truncated reply line {line:?}"))?;
    let (kind, rest) = line.split_at(1.min(line.len()));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| format!("bad length {line:?}"))
    };
    Ok(match kind {
        "+" => Resp::Simple(rest.to_string()),
        "-" => Resp::Error(rest.to_string()),
        ":" => Resp::Int(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Resp::Nil,
            Ok(len) => {
                let mut bulk = vec![0; len + 2];
                r.read_exact(&mut bulk).map_err(|e| e.to_string())?;
                bulk.truncate(len);
                Resp::Bulk(bulk)
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Resp::Nil,
            Ok(len) => Resp::Array((0..len).map(|_| read_reply(r)).collect::<Result<_, _>>()?),
        },
        _ => return Err(format!("not RESP: {line:?}")),
    })
}
