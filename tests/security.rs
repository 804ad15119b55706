//! The threat model, one test per attack (#9): each fails without its fix.

mod common;

use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

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

const UPDATE: &str = "mutation U($c: String!, $n: String!) { customerUpdatePassword(currentPassword: $c, newPassword: $n) { success errors { field code } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stolen_session_cannot_guess_the_password_through_an_update() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let token = reg["accessToken"].as_str().unwrap();
    let guess = |c: &'static str| {
        env.gql_as(
            Some(token),
            UPDATE,
            json!({ "c": c, "n": "another long passphrase" }),
        )
    };
    for _ in 0..4 {
        let r = guess("not the password").await;
        assert_eq!(
            r["data"]["customerUpdatePassword"]["errors"][0],
            json!({ "field": ["currentPassword"], "code": "INVALID_CURRENT_PASSWORD" }),
            "{r}"
        );
    }
    // The fifth wrong guess locks the account, as five failed logins do…
    guess("not the password").await;
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["errors"][0]["code"], "ACCOUNT_LOCKED", "{login}");
    // …and while locked, not even the right password changes it.
    let r = guess(PASSWORD).await;
    assert_eq!(
        r["data"]["customerUpdatePassword"]["errors"][0]["code"], "ACCOUNT_LOCKED",
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_updates_are_rate_limited_per_account() {
    let env = TestEnv::start_with(|c| c.limits.per_account_per_minute = 3).await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let token = reg["accessToken"].as_str().unwrap();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let r = env
            .gql_as(
                Some(token),
                UPDATE,
                json!({ "c": "wrong guess here", "n": "another long passphrase" }),
            )
            .await;
        codes.push(r["data"]["customerUpdatePassword"]["errors"][0]["code"].clone());
    }
    assert_eq!(
        codes,
        [
            json!("INVALID_CURRENT_PASSWORD"),
            json!("INVALID_CURRENT_PASSWORD"),
            json!("INVALID_CURRENT_PASSWORD"),
            json!("RATE_LIMITED")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_go_to_the_address_on_record_and_lookalike_addresses_are_one_account() {
    let env = TestEnv::start_with_mail().await;
    env.register("ann@example.com", PASSWORD).await;
    let request = "mutation R($email: String!) { customerRequestOTP(email: $email) { success } }";
    let r = env
        .gql(request, json!({ "email": "ANN@Example.COM" }))
        .await;
    assert_eq!(r["data"]["customerRequestOTP"]["success"], true, "{r}");
    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert_eq!(mail.to, ["ann@example.com"], "sent to the address as typed");
    // Fullwidth letters are the same address after NFKC: no second account.
    let twin = env.register("ａｎｎ@example.com", PASSWORD).await;
    assert_eq!(twin["errors"][0]["code"], "EMAIL_TAKEN", "{twin}");
    let login = env.login("ＡＮＮ@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn answers_are_not_sniffed_cached_or_referred_and_admin_has_no_cors() {
    let env = TestEnv::start().await;
    let r = env
        .http
        .post(env.url("/graphql/public"))
        .header("x-api-key", &env.api_key)
        .json(&json!({ "query": "{ authConfig { publicRegistrationEnabled } }" }))
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    // The JWKS keeps its own caching.
    let jwks = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300");
    // A browser page elsewhere may call the public API, never the admin API.
    let preflight = |path: &'static str| {
        env.http
            .request(reqwest::Method::OPTIONS, env.url(path))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .send()
    };
    let public = preflight("/graphql/public").await.unwrap();
    assert!(public.headers().contains_key("access-control-allow-origin"));
    let admin = preflight("/graphql/admin").await.unwrap();
    assert!(!admin.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspection_is_off_outside_dev_unless_asked_for() {
    let introspect = json!({ "query": "{ __schema { queryType { name } } }" });
    for (dev, flag, answered) in [
        (false, false, false),
        (false, true, true),
        (true, false, true),
    ] {
        let env = TestEnv::start_with(|c| {
            c.dev = dev;
            c.limits.introspection = flag;
        })
        .await;
        let (_, body) = env
            .post_raw(
                &[
                    ("content-type", "application/json"),
                    ("x-api-key", &env.api_key),
                ],
                introspect.to_string(),
            )
            .await;
        let name = &body["data"]["__schema"]["queryType"]["name"];
        assert_eq!(name == "Query", answered, "dev {dev}, flag {flag}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_overlong_address_is_refused_before_it_becomes_a_key() {
    let env = TestEnv::start().await;
    let long = format!("{}@example.com", "a".repeat(300));
    let before = env.last_seq().await;
    for r in [
        env.login(&long, PASSWORD).await,
        env.register(&long, PASSWORD).await,
    ] {
        assert_eq!(
            r["errors"][0],
            json!({ "field": ["email"], "message": "email is not a valid address", "code": "INVALID_EMAIL" }),
            "{r}"
        );
    }
    assert_eq!(env.last_seq().await, before, "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pre_registered_account_loses_the_attackers_password_and_sessions_once_the_owner_proves_the_address()
 {
    let env = TestEnv::start_with_mail().await;
    // The attacker registers the victim's address with a password of theirs
    // and keeps the session.
    let attacker = env.register("victim@example.com", PASSWORD).await;
    assert_eq!(attacker["success"], true, "{attacker}");
    let stolen_refresh = attacker["refreshToken"].as_str().unwrap().to_string();
    // The victim later signs in by a code mailed to the address.
    let r = env
        .gql(
            "mutation R($email: String!) { customerRequestOTP(email: $email) { success } }",
            json!({ "email": "victim@example.com" }),
        )
        .await;
    assert_eq!(r["data"]["customerRequestOTP"]["success"], true, "{r}");
    let code = common::smtp::code_in(&env.smtp().nth_to("victim@example.com", 1).await);
    let victim = env
        .gql(
            "mutation L($email: String!, $otp: String!) { customerLoginOTP(email: $email, otp: $otp) { success refreshToken errors { code } } }",
            json!({ "email": "victim@example.com", "otp": code }),
        )
        .await;
    let victim = &victim["data"]["customerLoginOTP"];
    assert_eq!(victim["success"], true, "{victim}");
    // The attacker's session and password are gone; the victim's session
    // works.
    let refreshed = env.refresh(&stolen_refresh).await;
    assert_eq!(refreshed["success"], false, "{refreshed}");
    let login = env.login("victim@example.com", PASSWORD).await;
    assert_eq!(login["errors"][0]["code"], "INVALID_CREDENTIALS", "{login}");
    let own = env.refresh(victim["refreshToken"].as_str().unwrap()).await;
    assert_eq!(own["success"], true, "{own}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn common_passwords_are_refused_with_their_own_code() {
    let env = TestEnv::start().await;
    for common in ["password1", "Iloveyou1", "qwertyuiop"] {
        let r = env.register("ann@example.com", common).await;
        assert_eq!(r["success"], false, "{r}");
        assert_eq!(r["errors"][0]["code"], "PASSWORD_TOO_COMMON", "{r}");
        assert_eq!(r["errors"][0]["field"], json!(["password"]), "{r}");
    }
    let r = env.register("ann@example.com", PASSWORD).await;
    assert_eq!(r["success"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_operator_key_creates_projects_and_a_project_key_manages_only_its_own() {
    let env = TestEnv::start().await;
    let create =
        "mutation { projectCreate(name: \"Shop\") { success projectId adminKey errors { code } } }";
    // A project's own secret key creates nothing.
    let r = env.admin(create, json!({})).await;
    let code = r["data"]["projectCreate"]["errors"][0]["code"]
        .as_str()
        .or(r["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("FORBIDDEN"), "{r}");
    // The operator key does, and the new project's key sees only its own.
    let r = env
        .admin_as(&env.operator_key, None, create, json!({}))
        .await;
    let created = &r["data"]["projectCreate"];
    assert_eq!(created["success"], true, "{r}");
    let (shop, shop_key) = (
        created["projectId"].as_str().unwrap(),
        created["adminKey"].as_str().unwrap(),
    );
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = env
            .admin_as(shop_key, None, "{ project { id } }", json!({}))
            .await;
        if seen["data"]["project"]["id"] == shop {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert_eq!(seen["data"]["project"]["id"], shop, "{seen}");
    // Naming another project does nothing for a project key: the header is
    // the operator's alone.
    let other = env
        .admin_as(
            shop_key,
            Some(&env.project_id),
            "{ project { id } }",
            json!({}),
        )
        .await;
    assert_eq!(other["data"]["project"]["id"], shop, "{other}");
    // The operator manages the project it names, and needs to name one.
    let configure =
        "mutation { projectConfigure(input: { lockoutThreshold: 7 }) { success errors { code } } }";
    let r = env
        .admin_as(&env.operator_key, Some(shop), configure, json!({}))
        .await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let r = env
        .admin_as(&env.operator_key, None, configure, json!({}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    // A look-alike of the operator key is just an unknown key.
    let forged = format!("{}x", env.operator_key);
    let r = env.admin_as(&forged, None, create, json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "INVALID_API_KEY",
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reset_links_cannot_be_pointed_at_a_plain_http_host() {
    let env = TestEnv::start().await;
    let configure = "mutation C($input: ProjectConfigInput!) { projectConfigure(input: $input) { success errors { field code } } }";
    let r = env
        .admin(
            configure,
            json!({ "input": { "linkBaseUrl": "http://attacker.example" } }),
        )
        .await;
    let answer = &r["data"]["projectConfigure"];
    assert_eq!(answer["success"], false, "{r}");
    assert_eq!(answer["errors"][0]["code"], "INVALID_INPUT", "{r}");
    let r = env
        .admin(
            configure,
            json!({ "input": { "linkBaseUrl": "https://shop.example/account" } }),
        )
        .await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_anyone_can_append_for_an_address_without_an_account_ages_out() {
    let env = TestEnv::start_with(|c| {
        c.anonymous_event_ttl = Some(std::time::Duration::from_secs(2));
    })
    .await;
    env.register("ann@example.com", PASSWORD).await;
    let kept = env.last_seq().await;
    let login = env
        .gql(
            "mutation { customerLogin(email: \"nobody@example.com\", password: \"wrong password\") { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        login["data"]["customerLogin"]["errors"][0]["code"], "INVALID_CREDENTIALS",
        "{login}"
    );
    let anonymous = env.last_seq().await;
    assert!(anonymous > kept);
    let js = async_nats::jetstream::new(env.client.clone());
    let stream = js.get_stream("AUTH_EVENTS").await.unwrap();
    let m = stream.get_raw_message(anonymous).await.unwrap();
    assert!(m.subject.contains(".login."), "{}", m.subject);
    assert_eq!(
        m.headers.get("Nats-TTL").map(|v| v.as_str().to_string()),
        Some("2".to_string())
    );
    // The customer's own messages carry none.
    let own = stream.get_raw_message(kept).await.unwrap();
    assert!(own.headers.get("Nats-TTL").is_none());
    // The server removes the anonymous message when its time is up; the
    // account's history stays.
    let mut gone = false;
    for _ in 0..100 {
        if stream.get_raw_message(anonymous).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the anonymous message outlived its TTL");
    assert!(stream.get_raw_message(kept).await.is_ok());
    // And the address works as before (its state starts over).
    let again = env.login("nobody@example.com", "wrong password").await;
    assert_eq!(again["errors"][0]["code"], "INVALID_CREDENTIALS", "{again}");
}

/// A GraphQL request from `client`, as a trusted proxy (loopback) tells it.
async fn from_client(env: &TestEnv, client: &str, query: &str) -> Value {
    env.http
        .post(env.url("/graphql/public"))
        .header("x-api-key", &env.api_key)
        .header("x-forwarded-for", client)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attacker_locks_out_only_themselves_not_the_owner() {
    let env = TestEnv::start_with_mail_and(|c| {
        c.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    env.register("ann@example.com", PASSWORD).await;
    let (attacker, owner) = ("198.51.100.66", "203.0.113.5");
    let guess = r#"mutation { customerLogin(email: "ann@example.com", password: "guess guess guess") { errors { code } } }"#;
    let mut codes = Vec::new();
    for _ in 0..6 {
        let r = from_client(&env, attacker, guess).await;
        codes.push(r["data"]["customerLogin"]["errors"][0]["code"].clone());
    }
    assert_eq!(codes[4], "INVALID_CREDENTIALS", "{codes:?}");
    assert_eq!(codes[5], "ACCOUNT_LOCKED", "{codes:?}");
    // The owner, from their own network, signs in.
    let login = format!(
        r#"mutation {{ customerLogin(email: "ann@example.com", password: "{PASSWORD}") {{ success errors {{ code }} }} }}"#
    );
    let r = from_client(&env, owner, &login).await;
    assert_eq!(r["data"]["customerLogin"]["success"], true, "{r}");
    // The attacker stays locked, even with the right password.
    let r = from_client(&env, attacker, &login).await;
    assert_eq!(
        r["data"]["customerLogin"]["errors"][0]["code"], "ACCOUNT_LOCKED",
        "{r}"
    );
    // Code requests: the attacker's throttle is the attacker's.
    let request =
        r#"mutation { customerRequestOTP(email: "ann@example.com") { success errors { code } } }"#;
    let r = from_client(&env, attacker, request).await;
    assert_eq!(r["data"]["customerRequestOTP"]["success"], true, "{r}");
    let r = from_client(&env, attacker, request).await;
    assert_eq!(
        r["data"]["customerRequestOTP"]["errors"][0]["code"], "RATE_LIMITED",
        "{r}"
    );
    let r = from_client(&env, owner, request).await;
    assert_eq!(r["data"]["customerRequestOTP"]["success"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_for_an_unknown_address_does_the_work_of_a_known_one() {
    let env = TestEnv::start_with_mail().await;
    env.register("ann@example.com", PASSWORD).await;
    let request = "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success message } }";
    // Each address: the first request records one fact, the second (too
    // soon) records nothing, and all four answers are the same.
    let mut answers = Vec::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        let before = env.last_seq().await;
        answers.push(env.gql(request, json!({ "email": email })).await);
        let first = env.last_seq().await;
        assert_eq!(first, before + 1, "{email}: one message");
        let js = async_nats::jetstream::new(env.client.clone());
        let stream = js.get_stream("AUTH_EVENTS").await.unwrap();
        let m = stream.get_raw_message(first).await.unwrap();
        let types = m
            .headers
            .get("Authd-Event-Types")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        let expected = if email.starts_with("ann") {
            "customer.password_reset.requested"
        } else {
            "login.reset_requested.unknown_email"
        };
        assert!(types.contains(expected), "{email}: {types}");
        answers.push(env.gql(request, json!({ "email": email })).await);
        assert_eq!(env.last_seq().await, first, "{email}: throttled alike");
    }
    for a in &answers {
        assert_eq!(a, &answers[0], "{a}");
    }
}
