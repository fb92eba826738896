//! `redpipe-bridge`: the command line around [`redpipe_bridge::serve`].
//!
//! Prints `listening on ADDR` on standard output once it accepts sessions (so that a harness
//! that asked for port 0 learns the port), logs to standard error.

use std::process::ExitCode;
use std::sync::Arc;

use redpipe_bridge::cli::{self, Command, Env};
use redpipe_bridge::{AclCheck, Config, ConfigError, Policy, acl};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, log) = match cli::parse(&args, &Env::from_process()) {
        Ok(Command::Serve(config, log)) => (config, log),
        Ok(Command::Mint(secret, grant)) => {
            println!("{}", redpipe_bridge::mint(&secret, &grant));
            return ExitCode::SUCCESS;
        }
        Ok(_) => return ExitCode::FAILURE,
        Err(ConfigError::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("redpipe-bridge: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let level = log
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
    let config: Arc<Config> = Arc::from(config);
    warn_about(&config);
    if !runtime.block_on(acl_check(&config)) {
        return ExitCode::FAILURE;
    }
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        println!("listening on {addr}");
        tracing::info!(%addr, redis = ?config.redis.addr, secrets = config.secrets.len(), static_tokens = config.tokens.len(), origins = ?config.origins, "redpipe-bridge listening");
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

/// Logs what the configuration opens beyond the safe defaults.
fn warn_about(config: &Config) {
    for rule in config.policy.extra() {
        if Policy::is_risky(rule) {
            tracing::warn!(
                rule,
                "allowed by --allow, off by default: it reaches beyond one page's keys, runs code on the server or blocks it (see SECURITY.md)"
            );
        } else {
            tracing::info!(rule, "allowed by --allow");
        }
    }
    if !config.tokens.is_empty() {
        tracing::warn!(
            count = config.tokens.len(),
            "static tokens are for development: every visitor of a page can read its token; use signed tokens (--token-secret-file)"
        );
    }
    if config.allow_missing_origin {
        tracing::warn!(
            "--allow-missing-origin: clients without an Origin header (not browsers) may open sessions"
        );
    }
    if config.origins.iter().any(|o| o == "*") {
        tracing::warn!("--origin '*': pages of any site may open sessions with a token they hold");
    }
}

/// The start-up check of the Redis users tokens map to; false: refuse to start.
async fn acl_check(config: &Config) -> bool {
    let mut ok = true;
    for finding in acl::check(config).await {
        let user = finding.name();
        match &finding.result {
            Ok(found) if found.is_empty() => {
                tracing::info!(
                    user,
                    "ACL check passed: no @scripting, @admin or @dangerous command"
                );
            }
            Ok(found) => {
                let found = found.join(", ");
                let advice = format!(
                    "give it the recommended ACL (ACL SETUSER <user> on >PASSWORD {}; see SECURITY.md)",
                    acl::RECOMMENDED
                );
                if config.acl_check == AclCheck::Refuse {
                    tracing::error!(user, can_run = %found, "refusing to start: a token's Redis user can run @scripting, @admin or @dangerous commands; {advice}, or start with --acl-check warn");
                    eprintln!(
                        "redpipe-bridge: the Redis user {user} can run {found}: {advice}, or pass --acl-check warn"
                    );
                    ok = false;
                } else {
                    tracing::warn!(user, can_run = %found, "DANGER: a token's Redis user can run @scripting, @admin or @dangerous commands; only the bridge's policy stands between a page and them; {advice}");
                }
            }
            Err(e) => {
                if config.acl_check == AclCheck::Refuse {
                    tracing::error!(user, error = %e, "refusing to start: cannot check the Redis user's ACL (--acl-check warn starts anyway)");
                    eprintln!("redpipe-bridge: cannot check the ACL of the Redis user {user}: {e}");
                    ok = false;
                } else {
                    tracing::warn!(user, error = %e, "cannot check the Redis user's ACL");
                }
            }
        }
    }
    ok
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
