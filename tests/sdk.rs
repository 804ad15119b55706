//! The TypeScript SDK (`sdk/`, `@authd/storefront-sdk`) built with `tsc`
//! and tested with `node --test` against a real `authd dev` started here:
//! the document's example as written, errors, and every operation.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

struct Dev(Child);

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// Runs `program args` in `sdk/`, failing the test with its output.
fn run(program: &str, args: &[&str], envs: &[(&str, String)]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(sdk_dir())
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run ({e}); Node.js 20+ and npm are needed"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{program} {args:?}:\n{text}");
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
}

/// Starts `authd dev` on a free port; its endpoint, public key and outbox.
async fn start_dev(data: &Path) -> (Dev, String, String, PathBuf) {
    let port = authd::nats_server::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
        // Cheaper hashing: the SDK's tests are about the API, not argon2.
        .args(["--argon2-m-cost", "1024", "--argon2-t-cost", "1"])
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let dev = Dev(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let keys = data.join("dev-keys.json");
    for _ in 0..600 {
        let healthy = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if healthy && keys.exists() {
            let keys: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
            let key = keys["publicApiKey"].as_str().unwrap().to_string();
            let endpoint = format!("{base}/graphql/storefront");
            return (dev, endpoint, key, data.join("outbox"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("authd dev did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_builds_and_its_tests_pass_against_authd_dev() {
    // `.ci/run` installs the pinned packages; a fresh checkout gets them here.
    if !sdk_dir().join("node_modules/.package-lock.json").exists() {
        run("npm", &["ci", "--no-audit", "--no-fund"], &[]);
    }
    run("npm", &["run", "build"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_dev, endpoint, key, outbox) = start_dev(&dir.path().join("data")).await;
    run(
        "node",
        &["--test", "test/"],
        &[
            ("AUTHD_ENDPOINT", endpoint),
            ("AUTHD_API_KEY", key),
            ("AUTHD_OUTBOX", outbox.display().to_string()),
        ],
    );
}
