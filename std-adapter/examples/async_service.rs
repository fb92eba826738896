//! An axum service whose handler reads a user's profile with four commands (HGETALL, ZSCORE,
//! GET, INCR) in one pipeline per request, awaited without holding a runtime thread; many
//! requests in flight share the registry's connections.
//!
//! Run it with `REDIS_URL=redis://127.0.0.1:6379 cargo run -p redpipe --features tokio --example
//! async_service` (`cargo xtask test` runs it against a throwaway server). It serves on a free
//! loopback port, sends itself 64 concurrent requests, checks every answer, and deletes its keys.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use redpipe::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USERS: u32 = 16;

fn key(kind: &str, id: u32) -> String {
    format!("svc:{}:{kind}:{id}", std::process::id())
}

fn board() -> String {
    format!("svc:{}:board", std::process::id())
}

/// What `GET /profile/{id}` answers.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Profile {
    name: Option<String>,
    score: Option<f64>,
    session: Option<String>,
    visits: i64,
}

async fn profile(Path(id): Path<u32>) -> Result<Json<Profile>, Failed> {
    let (user, score, session, visits) = redpipe::autoexec_async(None, |p| {
        Ok((
            p.hgetall(key("user", id)),
            p.zscore(board(), format!("u{id}")),
            p.get(key("session", id)),
            p.incr(key("visits", id)),
        ))
    })
    .await?;
    Ok(Json(Profile {
        name: user.result()?.remove("name"),
        score: score.result()?,
        session: session.result()?,
        visits: visits.result()?,
    }))
}

/// A redpipe error as a 500 answer.
struct Failed(redpipe::Error);

impl From<redpipe::Error> for Failed {
    fn from(e: redpipe::Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
    }
}

/// One HTTP/1.1 GET, the body of the answer.
async fn fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("{head}\n{body}")));
    }
    Ok(body.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set")?;
    redpipe::connect(&url)?;

    // Seed: every user has a name and a score; even ones have a session.
    let seeded = redpipe::autoexec_async(None, |p| {
        Ok((1..=USERS)
            .map(|id| {
                let _ = p.hset(key("user", id), "name", format!("user {id}"));
                let _ = p.zadd(board(), format!("u{id}"), id * 10);
                if id % 2 == 0 {
                    let _ = p.set(key("session", id), format!("s{id}"));
                }
                p.del(key("visits", id))
            })
            .collect::<Vec<_>>())
    })
    .await?;
    for h in &seeded {
        h.result()?;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/profile/{id}", get(profile));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // 64 requests in flight at once, four per user.
    let requests: Vec<_> = (0..64u32)
        .map(|i| {
            let id = i % USERS + 1;
            tokio::spawn(async move { (id, fetch(addr, &format!("/profile/{id}")).await) })
        })
        .collect();
    let mut most_visits = vec![0; USERS as usize + 1];
    for r in requests {
        let (id, body) = r.await?;
        let got: Profile = serde_json::from_str(&body?)?;
        assert_eq!(got.name, Some(format!("user {id}")));
        assert_eq!(got.score, Some(f64::from(id * 10)));
        assert_eq!(got.session, (id % 2 == 0).then(|| format!("s{id}")));
        let seen = &mut most_visits[id as usize];
        *seen = (*seen).max(got.visits);
    }
    assert!(
        most_visits[1..].iter().all(|&n| n == 4),
        "each user's four requests counted once each: {most_visits:?}"
    );
    println!("64 concurrent requests, 4 commands each, all answered");
    server.abort();

    // Clean up.
    let deleted = redpipe::autoexec_async(None, |p| {
        let mut keys = vec![board()];
        for id in 1..=USERS {
            keys.extend([key("user", id), key("session", id), key("visits", id)]);
        }
        Ok(p.del(keys))
    })
    .await?;
    assert_eq!(deleted.result()?, i64::from(1 + USERS * 2 + USERS / 2));
    Ok(())
}
