//! The threat model, one test per attack (#9): each fails without its fix.

mod common;

use common::{PASSWORD, TestEnv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_request_buys_at_most_one_credential_check_or_mail() {
    let env = TestEnv::start().await;
    env.register("ann@example.com", PASSWORD).await;
    let before = env.last_seq().await;
    let login =
        r#"customerLogin(email: "ann@example.com", password: "wrong password") { success }"#;
    let aliased: String = (0..30).map(|i| format!("l{i}: {login} ")).collect();
    let fragments = format!(
        "mutation {{ ...A ...B }} fragment A on Mutation {{ a: {login} }} \
         fragment B on Mutation {{ b: customerRequestPasswordReset(email: \"ann@example.com\") {{ success }} }}"
    );
    for query in [format!("mutation {{ {aliased} }}"), fragments] {
        let (status, body) = env
            .post_raw(
                &[
                    ("content-type", "application/json"),
                    ("x-api-key", &env.api_key),
                ],
                json!({ "query": query }).to_string(),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{body}"
        );
    }
    // Refused whole, before anything ran: nothing was recorded, no lock.
    assert_eq!(env.last_seq().await, before);
    let ok = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(ok["success"], true, "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_reset_requests_in_a_row_send_one_mail() {
    let env = TestEnv::start_with_mail().await;
    env.register("ann@example.com", PASSWORD).await;
    let request = "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success message errors { code } } }";
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(
            env.gql(request, json!({ "email": "ann@example.com" }))
                .await,
        );
    }
    // Every answer the same as the first (and as for an unknown address).
    let unknown = env
        .gql(request, json!({ "email": "nobody@example.com" }))
        .await;
    for a in &answers {
        assert_eq!(a, &unknown, "{a}");
    }
    env.smtp().nth_to("ann@example.com", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 1);
}
