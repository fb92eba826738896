//! `redpipe-bridge`: the command line around [`redpipe_bridge::serve`].
//!
//! Prints `listening on ADDR` on standard output once it accepts sessions (so that a harness
//! that asked for port 0 learns the port), logs to standard error.

use std::process::ExitCode;
use std::sync::Arc;

use redpipe_bridge::{Cli, ConfigError};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match Cli::parse(
        &args,
        std::env::var("REDPIPE_BRIDGE_TOKEN").ok(),
        std::env::var("REDPIPE_BRIDGE_LOG").ok(),
    ) {
        Ok(cli) => cli,
        Err(ConfigError::Help) => {
            println!("{}", redpipe_bridge::config::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("redpipe-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let level = cli
        .log
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redpipe-bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Arc::new(cli.config);
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        println!("listening on {addr}");
        tracing::info!(%addr, redis = ?config.redis.addr, tokens = config.tokens.len(), origins = ?config.origins, "redpipe-bridge listening");
        redpipe_bridge::serve(listener, config.clone(), shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redpipe-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Each session holds two sockets: raise the soft limit on open files to the hard one.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the one struct given, nothing else.
        #[allow(unsafe_code)]
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}
