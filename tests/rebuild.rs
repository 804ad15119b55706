//! A live rebuild of a gateway's read model (#23): built beside the live
//! file from the log, caught up, and swapped in while requests go on,
//! none failing and none reading a half-built model; `read-model.db`
//! becomes a link to the new generation and the one before is kept as
//! `*.bak` until the next rebuild.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

const START: &str = "mutation { readModelRebuildStart { success message errors { code } } }";
const STATUS: &str = "{ readModelRebuild { running done total file error startedAt finishedAt } }";

async fn operator(env: &TestEnv, query: &str) -> Value {
    env.admin_as(&env.operator_key, Some(&env.project_id), query, json!({}))
        .await
}

/// Waits for the rebuild to end; its status.
async fn finished(env: &TestEnv) -> Value {
    for _ in 0..600 {
        let s = operator(env, STATUS).await;
        let s = s["data"]["readModelRebuild"].clone();
        if s["running"] == false {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the rebuild never finished");
}

fn bak_files(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".bak"))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_rebuild_swaps_the_read_model_while_every_request_is_answered() {
    let env = Arc::new(TestEnv::start().await);
    for i in 0..30 {
        let r = env
            .register(&format!("before{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(r["success"], true);
    }
    // Only the operator rebuilds.
    let v = env.admin(START, json!({})).await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");

    // Load: each new customer reads itself back at once (read-your-writes
    // across the swap), and an old session keeps being checked.
    let old = env.login("before0@example.com", PASSWORD).await;
    let old_token = old["accessToken"].as_str().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let load = {
        let (env, stop, failures, done) =
            (env.clone(), stop.clone(), failures.clone(), done.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let email = format!("during{i}@example.com");
                let r = env.register(&email, PASSWORD).await;
                if r["success"] != true {
                    failures.lock().unwrap().push(format!("register: {r}"));
                    continue;
                }
                let me = env.current_user(r["accessToken"].as_str().unwrap()).await;
                if me["data"]["currentUser"]["email"] != email.as_str() {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("read back {email}: {me}"));
                }
                let me = env.current_user(&old_token).await;
                if me["data"]["currentUser"]["email"] != "before0@example.com" {
                    failures.lock().unwrap().push(format!("old session: {me}"));
                }
                let listed = env
                    .admin(
                        "query C($e: String!) { customer(email: $e) { email } }",
                        json!({ "e": email }),
                    )
                    .await;
                if listed["data"]["customer"]["email"] != email.as_str() {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("admin list {email}: {listed}"));
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = operator(&env, START).await;
    assert_eq!(
        started["data"]["readModelRebuildStart"]["success"], true,
        "{started}"
    );
    let again = operator(&env, START).await;
    assert_eq!(
        again["data"]["readModelRebuildStart"]["errors"][0]["code"], "IN_PROGRESS",
        "one at a time: {again}"
    );
    let before = done.load(Ordering::Relaxed);
    let status = finished(&env).await;
    assert!(status["error"].is_null(), "{status}");
    let file = status["file"].as_str().unwrap().to_string();
    assert!(
        done.load(Ordering::Relaxed) > before,
        "requests went on meanwhile"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:#?}",
        failures.lock().unwrap()
    );

    // `read-model.db` links to the new generation; the plain file of
    // before is kept as a backup.
    let link = env.config.read_model_path();
    let target = std::fs::read_link(&link).expect("read-model.db is a link now");
    assert_eq!(
        link.parent().unwrap().join(&target).display().to_string(),
        file
    );
    let data = link.parent().unwrap();
    assert_eq!(
        bak_files(data),
        ["read-model.audit.db.bak", "read-model.db.bak"],
        "{:?}",
        std::fs::read_dir(data)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect::<Vec<_>>()
    );
    // It holds everything, and matches the log.
    let report = authd::verify::verify(&env.store, &link, |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:#?}", report.drift);
    assert!(report.rows > 60, "{}", report.rows);

    // A second rebuild moves on from the link: the generation before
    // becomes the backup, the first backup goes.
    // This one through `authd projections rebuild`.
    env.register("after@example.com", PASSWORD).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(["projections", "rebuild", "--url", &env.url("")])
        .arg("--operator-key-file")
        .arg(env.config.operator_key_file.as_ref().unwrap())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["rebuilt"], true);
    let status = finished(&env).await;
    assert_eq!(printed["file"], status["file"]);
    assert_ne!(status["file"].as_str().unwrap(), file);
    let first = std::path::Path::new(&file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let first_audit = first.replace(".db", ".audit.db");
    assert_eq!(
        bak_files(data),
        [format!("{first_audit}.bak"), format!("{first}.bak")]
    );
    let report = authd::verify::verify(&env.store, &link, |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:#?}", report.drift);
    let r = env.login("after@example.com", PASSWORD).await;
    let me = env.current_user(r["accessToken"].as_str().unwrap()).await;
    assert_eq!(me["data"]["currentUser"]["email"], "after@example.com");
}

/// A read model that an earlier build wrote (another schema version) is
/// rebuilt beside the old file before the gateway serves: the first answer
/// after the start already covers the whole log, the link names a new
/// generation, and the old file is kept as `*.bak` with its old version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_of_an_older_schema_is_rebuilt_beside_before_serving() {
    let mut env = TestEnv::start_with(|c| c.audit_index = true).await;
    for i in 0..20 {
        let r = env.register(&format!("old{i}@example.com"), PASSWORD).await;
        assert_eq!(r["success"], true);
    }
    let last = env.last_seq().await;
    let mut audit = env.gateway.as_ref().unwrap().audit_applied.clone().unwrap();
    tokio::time::timeout(Duration::from_secs(10), audit.wait_for(|s| *s >= last))
        .await
        .unwrap()
        .unwrap();
    env.stop_roles().await;

    // What an earlier build left: the same files, one schema version back.
    let link = env.config.read_model_path();
    let old = authd_projections::db::SCHEMA_VERSION - 1;
    for f in [link.clone(), authd_projections::audit_path(&link)] {
        let db = rusqlite::Connection::open(&f).unwrap();
        db.execute_batch(&format!("PRAGMA user_version = {old}"))
            .unwrap();
    }
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    env.start_services();
    env.start_gateway().await;
    // Listening means rebuilt: no catching up from an emptied file.
    let g = env.gateway.as_ref().unwrap();
    assert!(
        *g.applied.borrow() >= last,
        "served before the rebuild ended"
    );
    assert!(*g.audit_applied.as_ref().unwrap().borrow() >= last);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let dir = link.parent().unwrap();
    let baks = bak_files(dir);
    assert!(baks.contains(&"read-model.db.bak".to_string()), "{baks:?}");
    let kept = rusqlite::Connection::open(dir.join("read-model.db.bak")).unwrap();
    let v: i64 = kept
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, old, "the old file is kept as it was");
    let current = rusqlite::Connection::open(&link).unwrap();
    let v: i64 = current
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, authd_projections::db::SCHEMA_VERSION);

    let login = env.login("old7@example.com", PASSWORD).await;
    assert!(login["accessToken"].is_string(), "{login}");
    // A start with the current version rebuilds nothing.
    env.stop_roles().await;
    let target = std::fs::read_link(&link).unwrap();
    env.start_services();
    env.start_gateway().await;
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
}
