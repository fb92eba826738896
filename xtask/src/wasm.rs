//! `cargo xtask wasm`: the browser and edge side, against real parts.
//!
//! 1. Installs what is missing: Chromium and ChromeDriver, websockify, Node and npm, binaryen
//!    (npm's, pinned, under `target/tools`), and `wasm-bindgen-cli` at the version of the
//!    `wasm-bindgen` crate in `Cargo.lock`.
//! 2. Starts a throwaway redis-server, a `redpipe-bridge` in front of it (a random signing
//!    secret, an origin allow-list naming the test page's address), the application backend
//!    that mints the pages' signed short-lived tokens (`bridge/js/test-backend.mjs`, Node) and
//!    websockify in front of the same server.
//! 3. Runs the wasm-bindgen tests of `redpipe-wasm` in headless Chromium against them.
//! 4. Builds the npm package (`target/wasm-pkg/redpipe-wasm`: the `.wasm` of `wasm/package`
//!    after wasm-bindgen `--target web` and `wasm-opt -Oz`; one minified ES module bundling
//!    `wasm/npm/index.js`, the glue and its snippets, the `.wasm`'s names renamed to match (see
//!    [`npm`](crate::npm)); the generated `.d.ts`; the files of `wasm/npm`) and the smallest
//!    program (`wasm/minimal`) with the `wasm-release` profile, and prints their sizes and the
//!    verdicts against the 40 KiB goals.
//! 5. Checks the published shape: `npm pack`, the tarball installed into a scratch project,
//!    imported from Node by name and type-checked with `tsc`.
//! 6. Runs the JavaScript API tests from Node against the installed package (bridge, Node
//!    `net` and web streams straight to Redis).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis;
use crate::setup::{self, cargo, root, run};

/// Debian packages the browser side needs (program, package).
const APT_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("websockify", "websockify"),
    ("node", "nodejs"),
    ("npm", "npm"),
];

/// The size goal, gzip, for the whole npm package (`.wasm` + JS) and for core + WebSocket
/// transport + JS glue (the minimal program) (reported, not enforced: it moves with the
/// compiler and wasm-bindgen versions).
const GZIP_GOAL: u64 = 40 * 1024;

/// A child process killed (by PID) when dropped.
pub(crate) struct Process {
    child: Child,
    what: &'static str,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.what);
    }
}

/// A free loopback port.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{what} did not listen on port {port}"))
}

/// The version of a locked package in `Cargo.lock`.
fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| e.to_string())?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"")
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// Chromium, ChromeDriver, websockify, Node and wasm-bindgen-cli; binaryen if it installs.
pub(crate) fn install() -> Result<(), String> {
    setup::rust()?;
    setup::redis()?;
    setup::apt(APT_PACKAGES)?;
    if let Err(e) = install_binaryen() {
        eprintln!("binaryen did not install ({e}): the package is built without wasm-opt");
    }
    crate::npm::install_esbuild()?;
    let version = locked_version("wasm-bindgen")?;
    let installed =
        setup::output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if !installed.split_whitespace().any(|w| w == version) {
        // Not `--locked`: the CLI's lockfile pins a version the registry lacks.
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &version,
            ]),
        )?;
    }
    Ok(())
}

/// The servers the tests run against: redis-server, the bridge, the application backend that
/// mints the pages' tokens, and websockify.
pub(crate) struct Services {
    pub(crate) redis: redis::Server,
    _bridge: Process,
    _backend: Process,
    _relay: Process,
    pub(crate) bridge_url: String,
    pub(crate) relay_url: String,
    /// `GET` answers a fresh signed token (`?prefix=`, `?ttl=`), as a page's backend would.
    pub(crate) token_url: String,
    /// The bridge's signing secret (a random one per run), in a file of its own.
    secret_file: PathBuf,
}

impl Services {
    /// Starts them; the bridge admits browser pages from `origin`, and clients without an
    /// `Origin` (the Node tests: Node's WebSocket sends none). Redis's `default` user can do
    /// anything, which one browser test needs (`CLIENT KILL`), so the bridge's start-up ACL
    /// check only warns (`--acl-check warn`).
    pub(crate) fn start(origin: &str, extra_bridge_args: &[&str]) -> Result<Self, String> {
        run(cargo().args(["build", "-p", "redpipe-bridge"]))?;
        let redis = redis::Server::start()?;
        let secret_file = std::env::temp_dir().join(format!(
            "redpipe-xtask-bridge-secret-{}",
            std::process::id()
        ));
        std::fs::write(&secret_file, random_secret()?)
            .map_err(|e| format!("{}: {e}", secret_file.display()))?;
        let secret = secret_file.display().to_string();
        let (bridge, bridge_addr) = spawn_listening(
            Command::new(root().join("target/debug/redpipe-bridge"))
                .args(["--redis", &redis.url(), "--listen", "127.0.0.1:0"])
                .args(["--token-secret-file", &secret, "--origin", origin])
                .args(["--allow-missing-origin", "--acl-check", "warn"])
                // Tokens that name no channels may use the tests' own.
                .args(["--subscribe", "test:*", "--publish", "test:*"])
                .args(extra_bridge_args)
                .env("REDPIPE_BRIDGE_LOG", "error"),
            "redpipe-bridge",
        )?;
        let (backend, backend_addr) = spawn_listening(
            Command::new("node")
                .arg(root().join("bridge/js/test-backend.mjs"))
                .env("REDPIPE_BRIDGE_SECRET_FILE", &secret),
            "the token backend (node bridge/js/test-backend.mjs)",
        )?;
        let relay_port = free_port()?;
        let relay = Process {
            child: Command::new("websockify")
                .arg(format!("127.0.0.1:{relay_port}"))
                .arg(format!("127.0.0.1:{}", redis.port))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start websockify: {e}"))?,
            what: "websockify",
        };
        wait_for_port(relay_port, "websockify")?;
        eprintln!(
            "started redis-server on {}, redpipe-bridge on {bridge_addr}, the token backend on {backend_addr}, websockify on {relay_port}",
            redis.port
        );
        Ok(Self {
            redis,
            _bridge: bridge,
            _backend: backend,
            _relay: relay,
            bridge_url: format!("ws://{bridge_addr}"),
            relay_url: format!("ws://127.0.0.1:{relay_port}"),
            token_url: format!("http://{backend_addr}/token"),
            secret_file,
        })
    }

    /// A token for the bridge, valid for `ttl_secs` (`redpipe-bridge mint`).
    pub(crate) fn mint(&self, ttl_secs: u32) -> Result<String, String> {
        let out = setup::output(
            Command::new(root().join("target/debug/redpipe-bridge"))
                .args(["mint", "--token-secret-file"])
                .arg(&self.secret_file)
                .args(["--ttl", &ttl_secs.to_string()]),
        )
        .ok_or("redpipe-bridge mint failed")?;
        Ok(out.trim().to_string())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.secret_file);
    }
}

/// 32 random bytes from the system, in hex.
fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Spawns `command`, which prints `listening on ADDR` once it serves; the process and ADDR.
fn spawn_listening(command: &mut Command, what: &'static str) -> Result<(Process, String), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let process = Process { child, what };
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{what} did not start (printed {line:?})"))?
        .to_string();
    Ok((process, addr))
}

/// `cargo xtask wasm`: everything in the [module docs](self).
pub(crate) fn command(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("unexpected argument: {extra}"));
    }
    install()?;
    let page_port = free_port()?;
    let services = Services::start(
        &format!("http://127.0.0.1:{page_port}"),
        &["--allow", "CLIENT KILL"],
    )?;
    browser_tests(&services, page_port)?;
    let package = package()?;
    let installed = crate::npm::check_package(&package, services.redis.port)?;
    node_tests(&services, &installed)?;
    // The test page's port is free again: the wasm-bindgen tests are done.
    browser_package_test(&services, page_port, &installed)?;
    Ok(())
}

/// The wasm-bindgen tests in headless Chromium.
fn browser_tests(s: &Services, page_port: u16) -> Result<(), String> {
    // The addresses are compiled in: a browser page has no environment to read.
    run(cargo()
        .args([
            "test",
            "-p",
            "redpipe-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--tests",
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env(
            "WASM_BINDGEN_TEST_ADDRESS",
            format!("127.0.0.1:{page_port}"),
        )
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .env("REDPIPE_BRIDGE_URL", &s.bridge_url)
        .env("REDPIPE_TOKEN_URL", &s.token_url)
        .env("REDPIPE_RELAY_URL", &s.relay_url))
}

/// The JavaScript API tests from Node, against the package in `package` (as installed from
/// its tarball), with a signed token minted for them (ten minutes: it opens every connection
/// of the run).
fn node_tests(s: &Services, package: &Path) -> Result<(), String> {
    let token = s.mint(600)?;
    run(Command::new("node")
        // A hung test fails instead of holding CI.
        .args(["--experimental-websocket", "--test", "--test-timeout=60000"])
        .arg(root().join("wasm/npm/test/api.test.mjs"))
        .env("REDPIPE_PKG", package)
        .env("REDPIPE_MINIMAL", root().join("target/wasm-pkg/minimal"))
        .env("REDPIPE_BRIDGE_URL", &s.bridge_url)
        .env("REDPIPE_BRIDGE_TOKEN", &token)
        .env("REDIS_PORT", s.redis.port.to_string()))
}

fn gzip_size(path: &Path) -> Result<u64, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    Ok(out.stdout.len() as u64)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Builds the npm package into `target/wasm-pkg/redpipe-wasm` and the smallest program into
/// `target/wasm-pkg/minimal`, and prints their sizes; returns the package's directory.
pub(crate) fn package() -> Result<PathBuf, String> {
    // One cargo run each: built together, the minimal program would get the package's features
    // (the JS API) through feature unification.
    for crate_name in [
        "redpipe-wasm-package",
        "redpipe-wasm-subscribe",
        "redpipe-wasm-minimal",
    ] {
        run(cargo().args(["build", "-p", crate_name]).args([
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ]))?;
    }
    let release = root().join("target/wasm32-unknown-unknown/wasm-release");
    let out = root().join("target/wasm-pkg/redpipe-wasm");
    let glue = root().join("target/wasm-pkg/glue");
    let glue_sub = root().join("target/wasm-pkg/glue-subscribe");
    for dir in [&out, &glue, &glue_sub] {
        let _ = std::fs::remove_dir_all(dir);
    }
    // The glue, with `index.js` beside it, is bundled into the package's one module below.
    bindgen(
        &release.join("redpipe_wasm_package.wasm"),
        "web",
        "redpipe_wasm",
        true,
        &glue,
    )?;
    // The `redpipe-wasm/subscribe` module, bundled the same way with `subscribe.js`.
    bindgen(
        &release.join("redpipe_wasm_subscribe.wasm"),
        "web",
        "redpipe_subscribe",
        true,
        &glue_sub,
    )?;
    // The smallest Rust-on-wasm program: core + Pipe + WebSocket transport + glue, no JS API.
    let minimal = root().join("target/wasm-pkg/minimal");
    let _ = std::fs::remove_dir_all(&minimal);
    bindgen(
        &release.join("redpipe_wasm_minimal.wasm"),
        "web",
        "minimal",
        false,
        &minimal,
    )?;
    let wasm_opt = optimize(&[
        glue.join("redpipe_wasm_bg.wasm"),
        glue_sub.join("redpipe_subscribe_bg.wasm"),
        minimal.join("minimal_bg.wasm"),
    ])?;

    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|e| format!("{}: {e}", from.display()))
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let npm = root().join("wasm/npm");
    copy(&npm.join("index.js"), &glue.join("index.js"))?;
    let wasm = out.join("redpipe_wasm_bg.wasm");
    let js = out.join("redpipe_wasm.js");
    copy(&glue.join("redpipe_wasm_bg.wasm"), &wasm)?;
    crate::npm::bundle(
        &glue.join("index.js"),
        &js,
        &wasm,
        "/* @ts-self-types=\"./redpipe_wasm.d.ts\" */",
    )?;
    let types = std::fs::read_to_string(glue.join("redpipe_wasm.d.ts"))
        .map_err(|e| format!("redpipe_wasm.d.ts: {e}"))?;
    std::fs::write(out.join("redpipe_wasm.d.ts"), opaque_exports(&types)?)
        .map_err(|e| format!("redpipe_wasm.d.ts: {e}"))?;
    copy(&npm.join("subscribe.js"), &glue_sub.join("index.js"))?;
    let (sub_wasm, sub_js) = (
        out.join("redpipe_subscribe_bg.wasm"),
        out.join("redpipe_subscribe.js"),
    );
    copy(&glue_sub.join("redpipe_subscribe_bg.wasm"), &sub_wasm)?;
    crate::npm::bundle(
        &glue_sub.join("index.js"),
        &sub_js,
        &sub_wasm,
        "/* @ts-self-types=\"./redpipe_subscribe.d.ts\" */",
    )?;
    let types = std::fs::read_to_string(glue_sub.join("redpipe_subscribe.d.ts"))
        .map_err(|e| format!("redpipe_subscribe.d.ts: {e}"))?;
    std::fs::write(out.join("redpipe_subscribe.d.ts"), opaque_exports(&types)?)
        .map_err(|e| format!("redpipe_subscribe.d.ts: {e}"))?;
    for file in [
        "package.json",
        "README.md",
        "node.js",
        "net.js",
        "net.d.ts",
        "streams.js",
        "streams.d.ts",
        "subscribe-node.js",
    ] {
        copy(&npm.join(file), &out.join(file))?;
    }
    // The node tests load the minimal program's web output as an ES module.
    std::fs::write(minimal.join("package.json"), "{ \"type\": \"module\" }\n")
        .map_err(|e| e.to_string())?;

    let (wasm_gz, js_gz) = (gzip_size(&wasm)?, gzip_size(&js)?);
    let (glue_js, glue_gz) = (
        glue.join("redpipe_wasm.js"),
        gzip_size(&glue.join("redpipe_wasm.js"))?,
    );
    println!("\nredpipe-wasm package (target/wasm-pkg/redpipe-wasm), what a page loads, bytes:");
    println!("{:<44} {:>9} {:>9}", "file", "raw", "gzip -9");
    println!(
        "{:<44} {:>9} {:>9}",
        "redpipe_wasm_bg.wasm",
        size(&wasm),
        wasm_gz
    );
    println!(
        "{:<44} {:>9} {:>9}",
        "redpipe_wasm.js (API + glue, minified)",
        size(&js),
        js_gz
    );
    println!(
        "{:<44} {:>9} {:>9}",
        "(wasm-bindgen's glue alone, as generated)",
        size(&glue_js),
        glue_gz
    );
    let total = wasm_gz + js_gz;
    let verdict = |bytes: u64| if bytes <= GZIP_GOAL { "met" } else { "missed" };
    println!(
        "whole JS package (wasm + JS), gzip: {total} bytes ({:.1} KiB); goal <= 40 KiB: {}; wasm-opt: {wasm_opt}",
        total as f64 / 1024.0,
        verdict(total)
    );
    let (sw_gz, sj_gz) = (gzip_size(&sub_wasm)?, gzip_size(&sub_js)?);
    println!(
        "the subscribe module (redpipe-wasm/subscribe, loaded only by pages that subscribe): wasm {} / {sw_gz} gzip, JS {} / {sj_gz} gzip, together {} bytes ({:.1} KiB) gzip; goal <= 40 KiB: {}",
        size(&sub_wasm),
        size(&sub_js),
        sw_gz + sj_gz,
        (sw_gz + sj_gz) as f64 / 1024.0,
        verdict(sw_gz + sj_gz)
    );
    let (mw, mj) = (minimal.join("minimal_bg.wasm"), minimal.join("minimal.js"));
    let (mw_gz, mj_gz) = (gzip_size(&mw)?, gzip_size(&mj)?);
    let minimal_total = mw_gz + mj_gz;
    println!(
        "minimal Rust program (wasm/minimal: a 4-command pipeline over the WebSocket, no JS API): wasm {} / {mw_gz} gzip, glue {} / {mj_gz} gzip, together {minimal_total} bytes ({:.1} KiB) gzip; goal <= 40 KiB: {}",
        size(&mw),
        size(&mj),
        minimal_total as f64 / 1024.0,
        verdict(minimal_total)
    );
    std::fs::write(
        root().join("target/wasm-pkg/sizes.txt"),
        format!(
            "wasm {} {wasm_gz}\njs {} {js_gz}\nsubscribe-wasm {} {sw_gz}\nsubscribe-js {} {sj_gz}\nminimal-wasm {} {mw_gz}\nminimal-js {} {mj_gz}\n",
            size(&wasm),
            size(&js),
            size(&sub_wasm),
            size(&sub_js),
            size(&mw),
            size(&mj)
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The generated `.d.ts` with the `InitOutput` interface (the instance's raw exports, typed
/// `any`, whose names the bundling shortened) reduced to its memory: nothing a user calls.
fn opaque_exports(types: &str) -> Result<String, String> {
    let start = types
        .find("export interface InitOutput {")
        .ok_or("the .d.ts has no InitOutput")?;
    let end = types[start..]
        .find("\n}\n")
        .map(|i| start + i + 3)
        .ok_or("the .d.ts's InitOutput does not end")?;
    Ok([
        &types[..start],
        "/** The instance's exports: internal to the package (their names are shortened). */\n",
        "export interface InitOutput {\n    readonly memory: WebAssembly.Memory;\n}\n",
        &types[end..],
    ]
    .concat())
}

/// `wasm-bindgen` for `target` into `dir`, files named `name`: no name or producers section;
/// `weak_refs`: exported objects are freed when JavaScript collects them (the package's).
fn bindgen(
    input: &Path,
    target: &str,
    name: &str,
    weak_refs: bool,
    dir: &Path,
) -> Result<(), String> {
    let mut c = Command::new("wasm-bindgen");
    c.args(["--target", target, "--out-name", name]);
    if weak_refs {
        c.arg("--weak-refs");
    }
    run(c
        .args(["--remove-name-section", "--remove-producers-section"])
        .arg("--out-dir")
        .arg(dir)
        .arg(input))
}

/// npm's binaryen, whose `wasm-opt` (compiled to wasm, run by Node) reads wasm-bindgen
/// 0.2.130's output, which Debian's binaryen 108 cannot (`table.fill`). Pinned: each binaryen
/// release optimizes a little differently, and the size figures should move only with our
/// code.
const BINARYEN: &str = "132.0.0";

/// Where [`install_binaryen`] puts it.
fn binaryen_dir() -> PathBuf {
    root().join("target/tools/binaryen")
}

/// Installs npm's binaryen [`BINARYEN`] under `target/tools` unless it is there.
fn install_binaryen() -> Result<(), String> {
    let dir = binaryen_dir();
    let manifest = dir.join("node_modules/binaryen/package.json");
    let installed = std::fs::read_to_string(&manifest).unwrap_or_default();
    if installed.contains(&format!("\"version\": \"{BINARYEN}\"")) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("binaryen@{BINARYEN}")))
}

/// Runs `wasm-opt -Oz` over each file in place; says what happened.
fn optimize(files: &[PathBuf]) -> Result<String, String> {
    let wasm_opt = binaryen_dir().join("node_modules/binaryen/bin/wasm-opt");
    if !wasm_opt.exists() {
        return Ok("not installed".into());
    }
    for wasm in files {
        let tmp = wasm.with_extension("opt.wasm");
        // The features are the module's own (its `target_features` section, which nothing
        // reads after wasm-bindgen: stripped).
        run(Command::new("node")
            .arg(&wasm_opt)
            .args(["-Oz", "--strip-target-features", "-o"])
            .arg(&tmp)
            .arg(wasm))?;
        std::fs::rename(&tmp, wasm).map_err(|e| e.to_string())?;
    }
    Ok(format!("binaryen {BINARYEN}, -Oz"))
}

/// `cargo xtask tour --browser`: a headless page runs the README's pipeline through the bridge
/// and reports what it saw.
pub(crate) fn tour() -> Result<(), String> {
    install()?;
    let package = package()?;
    let page_port = free_port()?;
    let services = Services::start(&format!("http://127.0.0.1:{page_port}"), &[])?;
    let page = TOUR_PAGE
        .replace("BRIDGE_URL", &services.bridge_url)
        .replace("BRIDGE_TOKEN", &services.mint(120)?);
    let report = in_chromium(&page, page_port, &package)?;
    println!(
        "\nredpipe in the browser, through redpipe-bridge ({}):\n",
        services.bridge_url
    );
    println!("{report}");
    if report.contains("FAILED") {
        return Err("the browser tour failed".into());
    }
    Ok(())
}

/// The package's own module in headless Chromium, through the bridge (which admits pages from
/// `page_port`): a pipeline, and the errors a page meets first (a refused token, a dead port).
fn browser_package_test(s: &Services, page_port: u16, package: &Path) -> Result<(), String> {
    let page = PACKAGE_PAGE
        .replace("BRIDGE_URL", &s.bridge_url)
        .replace("BRIDGE_TOKEN", &s.mint(120)?)
        .replace("DEAD_PORT", &free_port()?.to_string());
    let report = in_chromium(&page, page_port, package)?;
    println!("\nthe npm package's module in Chromium:\n{report}");
    if report.contains("FAILED") || !report.contains("ok") {
        return Err("the npm package failed in Chromium".into());
    }
    Ok(())
}

/// Serves `page` (and the files of `package`) on `page_port` to headless Chromium; returns
/// what the page posts to `/report`.
fn in_chromium(page: &str, page_port: u16, package: &Path) -> Result<String, String> {
    let listener = TcpListener::bind(("127.0.0.1", page_port))
        .map_err(|e| format!("cannot serve the page: {e}"))?;
    let profile =
        std::env::temp_dir().join(format!("redpipe-page-chromium-{}", std::process::id()));
    let chromium = Process {
        child: Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("http://127.0.0.1:{page_port}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromium: {e}"))?,
        what: "chromium",
    };
    eprintln!("serving a page on http://127.0.0.1:{page_port}/ to headless Chromium");
    let report = serve_page(&listener, page, package);
    drop(chromium);
    let _ = std::fs::remove_dir_all(&profile);
    report
}

/// Serves the page and the package until the page posts its report (60 s at most).
fn serve_page(listener: &TcpListener, page: &str, package: &Path) -> Result<String, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (mut stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut request = Vec::new();
        let mut buf = [0u8; 8192];
        // Headers, then the body of a POST (Content-Length).
        let (head, body) = loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break (String::from_utf8_lossy(&request).into_owned(), Vec::new());
            }
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let mut body = request[end + 4..].to_vec();
                while body.len() < length {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&buf[..n]);
                }
                break (head, body);
            }
        };
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        if head.starts_with("POST /report") {
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            return Ok(String::from_utf8_lossy(&body).into_owned());
        }
        let (status, kind, content) = if path == "/" {
            ("200 OK", "text/html", page.as_bytes().to_vec())
        } else {
            let file = package.join(path.trim_start_matches('/'));
            let inside = file
                .canonicalize()
                .ok()
                .filter(|f| f.starts_with(package.canonicalize().unwrap_or_default()));
            match inside.and_then(|f| std::fs::read(&f).ok().map(|c| (f, c))) {
                Some((f, c)) => {
                    let kind = match f.extension().and_then(|e| e.to_str()) {
                        Some("js") => "text/javascript",
                        Some("wasm") => "application/wasm",
                        _ => "application/octet-stream",
                    };
                    ("200 OK", kind, c)
                }
                None => ("404 Not Found", "text/plain", b"not found".to_vec()),
            }
        };
        let header = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            content.len()
        );
        let _ = stream.write_all(header.as_bytes());
        let _ = stream.write_all(&content);
    }
    Err("the tour page did not report within 60 s".into())
}

/// The tour page: the Python README's first examples, in the browser.
const TOUR_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>redpipe tour</title>
<pre id="out"></pre>
<script type="module">
import init, { connect } from "/redpipe_wasm.js";
const lines = [];
const say = (s) => { lines.push(s); document.getElementById("out").textContent = lines.join("\n"); };
try {
  await init();
  const redpipe = await connect("BRIDGE_URL", "BRIDGE_TOKEN");
  const ns = `tour:browser:${Date.now()}`;

  say("1. Pipelined commands return handles, filled when the pipeline runs");
  const p = redpipe.pipeline();
  const foo = p.incr(`${ns}:foo`);
  const bar = p.incr(`${ns}:bar`);
  await p.execute();
  say(`   foo = ${foo.result}, bar = ${bar.result}`);

  say("2. A reusable function, with or without a pipeline");
  const incrementAndExpire = (key, pipe) =>
    redpipe.autoexec(pipe, (q) => { const n = q.incrby(key, 1); q.expire(key, 60); return n; });
  const before = redpipe.stats().pipelines;
  const handles = await redpipe.autoexec(null, async (q) => {
    const all = [];
    for (let i = 0; i < 100; i++) all.push(await incrementAndExpire(`${ns}:key${i}`, q));
    return all;
  });
  say(`   100 calls, ${handles.length * 2} commands, ${redpipe.stats().pipelines - before} round trip; key0 = ${handles[0].result}`);

  say("3. A callback combines results after execute");
  const q = redpipe.pipeline();
  const hits = [0, 1, 2].map((i) => q.incr(`${ns}:key${i}`));
  const total = q.onExecute(() => hits.reduce((s, h) => s + h.result, 0));
  await q.execute();
  say(`   sum = ${total.result}`);

  say("4. A command the bridge does not allow fails in its own slot");
  const r = redpipe.pipeline();
  const denied = r.command("FLUSHALL");
  const fine = r.get(`${ns}:foo`);
  await r.execute();
  try { denied.result; } catch (e) { say(`   FLUSHALL: ${e.name} ${e.code}: ${e.message}`); }
  say(`   the GET beside it: ${fine.result}`);
  const cleanup = redpipe.pipeline();
  cleanup.del([`${ns}:foo`, `${ns}:bar`, ...handles.map((_, i) => `${ns}:key${i}`)]);
  await cleanup.execute();
  redpipe.close();
  say("ok");
} catch (e) {
  say(`FAILED: ${e.name}: ${e.message}`);
}
await fetch("/report", { method: "POST", body: lines.join("\n") });
</script>
"#;

/// The npm package's module in the browser: each check posts a line, `ok: ...` or
/// `FAILED: ...`.
const PACKAGE_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>redpipe-wasm package</title>
<script type="module">
const lines = [];
const check = (ok, what) => lines.push(`${ok ? "ok" : "FAILED"}: ${what}`);
try {
  const { default: init, connect } = await import("/redpipe_wasm.js");
  await init();
  const redpipe = await connect("BRIDGE_URL", "BRIDGE_TOKEN");
  const k = `package:browser:${Date.now()}`;
  const p = redpipe.pipeline();
  const n = p.incr(k);
  p.set(`${k}:b`, new Uint8Array([0, 255]));
  const b = p.get(`${k}:b`);
  const pong = p.command("PING");
  const gone = p.del([k, `${k}:b`]);
  await p.execute();
  check(n.result === 1 && pong.result === "PONG" && b.bytes[1] === 255 && gone.result === 2, "a pipeline through the bridge");
  redpipe.close();
  try {
    await connect("BRIDGE_URL", "wrong");
    check(false, "a wrong token was accepted");
  } catch (e) {
    check(e.name === "ConnectionError" && e.code === 1008 && /invalid token/.test(e.reason), `a wrong token: ${e.name}, code ${e.code}, reason "${e.reason}"`);
  }
  try {
    await connect("ws://127.0.0.1:DEAD_PORT", "BRIDGE_TOKEN");
    check(false, "a dead port connected");
  } catch (e) {
    check(e.name === "ConnectionError" && e.code === 1006, `a dead port: ${e.name}, code ${e.code}: ${e.message}`);
  }
} catch (e) {
  lines.push(`FAILED: ${e.name}: ${e.message}`);
}
await fetch("/report", { method: "POST", body: lines.join("\n") });
</script>
"#;
