//! The harness's own few lines of RESP, so that it never uses the code under test.

use super::*;

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

/// A connection to `127.0.0.1:port`. Reads time out, so that a node that stops answering fails
/// the harness rather than hangs it.
pub(super) fn connect(port: u16) -> Result<BufReader<TcpStream>, String> {
    let io = |e: std::io::Error| format!("{port}: {e}");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(io)?;
    Ok(BufReader::new(stream))
}

/// Sends one command and reads its reply.
pub(super) fn command(
    conn: &mut BufReader<TcpStream>,
    args: &[impl AsRef<[u8]>],
) -> Result<Resp, String> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    conn.get_mut().write_all(&out).map_err(|e| e.to_string())?;
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
