//! What the Node.js suites (the SDK's, the browser test) need: a real
//! `authd dev` process, and npm/node run in a folder of the repository.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

/// A folder of the repository (`sdk`, `examples/storefront`).
pub fn repo_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `program args` in `dir`, failing the test with its output.
pub fn run_in(dir: &Path, program: &str, args: &[&str], envs: &[(&str, String)]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run ({e}); Node.js 20+ and npm are needed"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{program} {args:?} in {}:\n{text}", dir.display());
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
}

/// `npm ci` where the pinned packages are not installed yet (`.ci/run`
/// installs them; a fresh checkout gets them here).
pub fn npm_ci(dir: &Path) {
    if !dir.join("node_modules/.package-lock.json").exists() {
        run_in(dir, "npm", &["ci", "--no-audit", "--no-fund"], &[]);
    }
}

/// Builds the SDK (`sdk/dist`).
pub fn build_sdk() {
    let sdk = repo_dir("sdk");
    npm_ci(&sdk);
    run_in(&sdk, "npm", &["run", "build"], &[]);
}

/// A running `authd dev`, stopped on drop.
pub struct Dev {
    child: Child,
    pub port: u16,
    /// `dev-keys.json`.
    pub keys: Value,
    pub outbox: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SIGTERM, so that authd dev stops its own nats-server too: a
        // SIGKILL would leave that server running with no parent.
        authd::nats_server::stop_child(&mut self.child, Duration::from_secs(10));
    }
}

impl Dev {
    /// Starts `authd dev` on a free port with its data in `data`, cheap
    /// argon2 parameters (these suites test the API, not the hash), and
    /// waits until it is healthy and has written its keys.
    pub async fn start(data: &Path) -> Self {
        let port = authd::nats_server::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--argon2-m-cost", "1024", "--argon2-t-cost", "1"])
            .arg("--data-dir")
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut dev = Dev {
            child,
            port,
            keys: Value::Null,
            outbox: data.join("outbox"),
        };
        let http = reqwest::Client::new();
        let keys = data.join("dev-keys.json");
        for _ in 0..600 {
            let healthy = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if healthy && keys.exists() {
                dev.keys = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
                return dev;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("authd dev did not become healthy");
    }

    pub fn key(&self, name: &str) -> String {
        self.keys[name].as_str().unwrap().to_string()
    }

    /// POSTs to the admin API as `key` (naming `project` for the operator).
    pub async fn admin(&self, key: &str, project: Option<&str>, query: &str, vars: Value) -> Value {
        let mut req = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/graphql/admin", self.port))
            .bearer_auth(key)
            .json(&serde_json::json!({ "query": query, "variables": vars }));
        if let Some(p) = project {
            req = req.header("x-project-id", p);
        }
        req.send().await.unwrap().json().await.unwrap()
    }
}
