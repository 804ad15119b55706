//! The rest of the Customer Auth API: one-time codes, email verification,
//! password reset and update, authConfig, projects and keys, suspension,
//! lockout, rate limits and mail delivery, against a real gateway, services,
//! nats-server, SQLite and SMTP server.

mod common;

use std::time::Duration;

use common::{
    PASSWORD, TestEnv,
    smtp::{code_in, token_in},
};
use serde_json::{Value, json};

fn op(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/customer-auth/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The seed operation with `errors` selected too, for the cases that check codes.
fn opx(name: &str) -> String {
    op(name).replacen(
        "success\n",
        "success\nerrors { field message code retryAfterSeconds }\n",
        1,
    )
}

fn without(mut v: Value, pointer: &str) -> Value {
    if let Some(x) = v.pointer_mut(pointer) {
        *x = Value::Null;
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auth_config_follows_the_project_and_its_policy_is_enforced() {
    let env = TestEnv::start().await;
    let config = env.gql(&op("AuthConfig"), json!({})).await;
    assert_eq!(
        config["data"]["authConfig"],
        json!({
            "authMethods": ["PASSWORD", "OTP"],
            "publicRegistrationEnabled": true,
            "passwordPolicy": { "minLength": 8, "requireUppercase": false, "requireLowercase": false,
                                "requireNumbers": false, "requireSpecialChars": false }
        })
    );
    // NIST: long passphrases are welcome.
    assert_eq!(
        env.register("long@example.com", &"correct horse ".repeat(8))
            .await["success"],
        true
    );

    env.configure(json!({ "passwordPolicy": { "minLength": 12, "requireNumbers": true, "requireUppercase": true } })).await;
    let config = env.gql(&op("AuthConfig"), json!({})).await;
    assert_eq!(
        config["data"]["authConfig"]["passwordPolicy"]["minLength"],
        12
    );
    assert_eq!(
        config["data"]["authConfig"]["passwordPolicy"]["requireNumbers"],
        true
    );
    for (password, code) in [
        ("Short1", "PASSWORD_TOO_SHORT"),
        ("Abcdefghijklm", "PASSWORD_REQUIRES_NUMBER"),
        ("abcdefghijk1", "PASSWORD_REQUIRES_UPPERCASE"),
    ] {
        let r = env.register("policy@example.com", password).await;
        assert_eq!(r["errors"][0]["code"], code, "{r}");
        assert_eq!(r["errors"][0]["field"], json!(["password"]));
    }
    assert_eq!(
        env.register("policy@example.com", "Abcdefghijk1").await["success"],
        true
    );

    env.configure(json!({ "publicRegistrationEnabled": false }))
        .await;
    let r = env.register("closed@example.com", "Abcdefghijk1").await;
    assert_eq!(r["errors"][0]["code"], "REGISTRATION_DISABLED", "{r}");
    let config = env.gql(&op("AuthConfig"), json!({})).await;
    assert_eq!(
        config["data"]["authConfig"]["publicRegistrationEnabled"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn otp_login_by_mail_for_customers_and_sign_up_for_new_addresses() {
    let env = TestEnv::start_with_mail().await;
    let reg = env.register("ann@example.com", PASSWORD).await;

    let requested = env
        .gql(&op("RequestOTP"), json!({ "email": "ann@example.com" }))
        .await;
    let r = &requested["data"]["customerRequestOTP"];
    assert_eq!(r["success"], true, "{requested}");
    let expires = time::OffsetDateTime::parse(
        r["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::minutes(9) && ttl <= time::Duration::minutes(10),
        "{ttl}"
    );

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    let code = code_in(&mail);
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    assert!(mail.text.contains("Subject: Your sign-in code"));
    assert!(mail.text.contains("text/html"), "plain and HTML bodies");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": wrong }),
        )
        .await;
    assert_eq!(bad["data"]["customerLoginOTP"]["success"], false);
    assert_eq!(
        bad["data"]["customerLoginOTP"]["errors"][0]["code"],
        "INVALID_OTP"
    );

    let login = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ANN@example.com", "otp": code }),
        )
        .await;
    let l = &login["data"]["customerLoginOTP"];
    assert_eq!(l["success"], true, "{login}");
    assert_eq!(l["user"]["id"], reg["user"]["id"]);
    let me = env
        .gql_as(
            l["accessToken"].as_str(),
            "{ currentUser { emailVerified } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["currentUser"]["emailVerified"], true,
        "a used code proves the address"
    );
    // Single use.
    let again = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": code }),
        )
        .await;
    assert_eq!(
        again["data"]["customerLoginOTP"]["errors"][0]["code"],
        "INVALID_OTP"
    );

    // An unknown address gets the same answer, and (public registration on)
    // a code that signs it up. (Past the 30 s between two codes for ann.)
    env.config.clock.advance(Duration::from_secs(31));
    let known = env
        .gql(&op("RequestOTP"), json!({ "email": "ann@example.com" }))
        .await;
    let unknown = env
        .gql(&op("RequestOTP"), json!({ "email": "new@example.com" }))
        .await;
    let strip = |v: Value| without(v, "/data/customerRequestOTP/expiresAt");
    assert_eq!(
        serde_json::to_string(&strip(known.clone())).unwrap(),
        serde_json::to_string(&strip(unknown.clone())).unwrap()
    );
    let code = code_in(&env.smtp().nth_to("new@example.com", 1).await);
    let signup = env.gql(
        "mutation L($email: String!, $otp: String!) { customerLoginOTP(email: $email, otp: $otp) { success isNewCustomer user { email } } }",
        json!({ "email": "new@example.com", "otp": code }),
    ).await;
    assert_eq!(
        signup["data"]["customerLoginOTP"]["isNewCustomer"], true,
        "{signup}"
    );
    assert_eq!(
        signup["data"]["customerLoginOTP"]["user"]["email"],
        "new@example.com"
    );

    // With registration closed nothing is mailed to an unknown address, and the answer is the same.
    env.configure(json!({ "publicRegistrationEnabled": false }))
        .await;
    let closed = env
        .gql(
            &op("RequestOTP"),
            json!({ "email": "stranger@example.com" }),
        )
        .await;
    assert_eq!(
        serde_json::to_string(&strip(closed)).unwrap(),
        serde_json::to_string(&strip(known)).unwrap()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.smtp().count_to("stranger@example.com"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn otp_codes_expire_die_after_five_wrong_tries_and_are_throttled() {
    let env = TestEnv::start_with_mail().await;
    env.register("ann@example.com", PASSWORD).await;
    let request_op = opx("RequestOTP");
    let request = || env.gql(&request_op, json!({ "email": "ann@example.com" }));
    request().await;
    let code = code_in(&env.smtp().nth_to("ann@example.com", 1).await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        env.gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": wrong }),
        )
        .await;
    }
    let dead = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": code }),
        )
        .await;
    assert_eq!(
        dead["data"]["customerLoginOTP"]["errors"][0]["code"], "INVALID_OTP",
        "{dead}"
    );

    // A second request within 30 s is throttled, with a hint.
    let throttled = request().await;
    let t = &throttled["data"]["customerRequestOTP"];
    assert_eq!(t["success"], false);
    assert_eq!(t["errors"][0]["code"], "RATE_LIMITED", "{throttled}");
    let r = env.gql("mutation { customerRequestOTP(email: \"ann@example.com\") { success errors { code retryAfterSeconds } } }", json!({})).await;
    let hint = r["data"]["customerRequestOTP"]["errors"][0]["retryAfterSeconds"]
        .as_i64()
        .unwrap();
    assert!((1..=30).contains(&hint), "{r}");

    // Expiry: a fresh code, then eleven minutes pass.
    env.config.clock.advance(Duration::from_secs(60));
    request().await;
    let code = code_in(&env.smtp().nth_to("ann@example.com", 2).await);
    env.config.clock.advance(Duration::from_secs(11 * 60));
    let late = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": code }),
        )
        .await;
    assert_eq!(
        late["data"]["customerLoginOTP"]["errors"][0]["code"], "INVALID_OTP",
        "{late}"
    );
    // Malformed codes never reach the aggregate.
    let junk = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": "12ab" }),
        )
        .await;
    assert_eq!(
        junk["data"]["customerLoginOTP"]["errors"][0]["code"],
        "INVALID_OTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_verification_when_the_project_requires_it() {
    let env = TestEnv::start_with_mail().await;
    env.configure(
        json!({ "emailVerificationRequired": true, "linkBaseUrl": "https://shop.example/account" }),
    )
    .await;
    let reg = env
        .gql(
            &op("CustomerRegister").replacen("email\n}", "email\nstatus\n}", 1),
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    let r = &reg["data"]["customerRegister"];
    assert_eq!(r["success"], true, "{reg}");
    assert_eq!(r["emailVerificationRequired"], true);
    assert_eq!(r["accessToken"], Value::Null);
    assert_eq!(r["user"]["status"], "INACTIVE", "{reg}");
    let status = || async {
        let r = env
            .admin(
                "{ customer(email: \"ann@example.com\") { status emailVerified } }",
                json!({}),
            )
            .await;
        r["data"]["customer"]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status().await, "INACTIVE");

    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["errors"][0]["code"], "EMAIL_NOT_VERIFIED", "{login}");

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(
        mail.text
            .contains("https://shop.example/account/verify?token="),
        "{}",
        mail.text
    );
    let token = token_in(&mail);
    let verified = env
        .gql(
            &opx("VerifyEmail").replacen(
                "emailVerified\n",
                "emailVerified\ncreatedAt\nupdatedAt\n",
                1,
            ),
            json!({ "token": token }),
        )
        .await;
    let v = &verified["data"]["customerVerifyEmail"];
    assert_eq!(v["success"], true, "{verified}");
    // Verifying changed the account: updatedAt moved past createdAt.
    let (created, updated) = (
        v["user"]["createdAt"].as_str().unwrap(),
        v["user"]["updatedAt"].as_str().unwrap(),
    );
    assert!(updated > created, "{verified}");
    assert_eq!(v["user"]["emailVerified"], true);
    assert_eq!(v["user"]["id"], r["user"]["id"]);
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
    assert_eq!(status().await, "ACTIVE");
    let me = env
        .gql_as(
            login["accessToken"].as_str(),
            "{ currentUser { status updatedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["currentUser"]["status"], "ACTIVE", "{me}");
    // Signing in is not a change to the account; the read model agrees with the reply.
    assert_eq!(me["data"]["currentUser"]["updatedAt"], updated, "{me}");

    let bad = env
        .gql(
            &opx("VerifyEmail"),
            json!({ "token": "c_x.not-a-real-token" }),
        )
        .await;
    assert_eq!(
        bad["data"]["customerVerifyEmail"]["errors"][0]["code"], "INVALID_TOKEN",
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_in_customer_can_ask_for_a_new_verification_link() {
    let env = TestEnv::start_with_mail().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let access = reg["accessToken"].as_str().unwrap();
    let anonymous = env.gql(&opx("ResendVerification"), json!({})).await;
    assert_eq!(
        anonymous["data"]["customerResendVerificationEmail"]["success"],
        false
    );
    let sent = env
        .gql_as(Some(access), &opx("ResendVerification"), json!({}))
        .await;
    assert_eq!(
        sent["data"]["customerResendVerificationEmail"]["success"], true,
        "{sent}"
    );
    let token = token_in(&env.smtp().nth_to("ann@example.com", 1).await);
    let verified = env
        .gql(&opx("VerifyEmail"), json!({ "token": token }))
        .await;
    assert_eq!(
        verified["data"]["customerVerifyEmail"]["success"], true,
        "{verified}"
    );
    let me = env
        .gql_as(Some(access), "{ currentUser { emailVerified } }", json!({}))
        .await;
    assert_eq!(me["data"]["currentUser"]["emailVerified"], true);
    let again = env
        .gql_as(Some(access), &opx("ResendVerification"), json!({}))
        .await;
    assert_eq!(
        again["data"]["customerResendVerificationEmail"]["errors"][0]["code"],
        "ALREADY_VERIFIED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_reset_by_mail_ends_sessions_and_works_once() {
    let env = TestEnv::start_with_mail().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let before = env.raw_messages().await.len();

    let known = env
        .gql(&op("RequestReset"), json!({ "email": "ann@example.com" }))
        .await;
    let unknown = env
        .gql(
            &op("RequestReset"),
            json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!(
        known["data"]["customerRequestPasswordReset"]["success"], true,
        "{known}"
    );
    assert_eq!(
        serde_json::to_string(&known).unwrap(),
        serde_json::to_string(&unknown).unwrap()
    );
    assert!(env.raw_messages().await.len() > before);

    let mail = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(mail.text.contains("/reset?token="));
    let token = token_in(&mail);
    let weak = env
        .gql(
            &op("ResetPassword"),
            json!({ "token": token, "newPassword": "short" }),
        )
        .await;
    assert_eq!(weak["data"]["customerResetPassword"]["success"], false);
    let weak = env.gql("mutation R($t: String!) { customerResetPassword(token: $t, newPassword: \"short\") { errors { field code } } }", json!({ "t": token })).await;
    assert_eq!(
        weak["data"]["customerResetPassword"]["errors"][0],
        json!({ "field": ["newPassword"], "code": "PASSWORD_TOO_SHORT" })
    );

    let new_password = "a brand new passphrase";
    let done = env
        .gql(
            &op("ResetPassword"),
            json!({ "token": token, "newPassword": new_password }),
        )
        .await;
    assert_eq!(
        done["data"]["customerResetPassword"]["success"], true,
        "{done}"
    );
    // Every session ended; the old password no longer works; the new one does.
    let me = env.current_user(reg["accessToken"].as_str().unwrap()).await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
    assert_eq!(
        env.refresh(reg["refreshToken"].as_str().unwrap()).await["errors"][0]["code"],
        "SESSION_REVOKED"
    );
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["errors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        env.login("ann@example.com", new_password).await["success"],
        true
    );
    // The customer is told by mail.
    let notice = env.smtp().nth_to("ann@example.com", 2).await;
    assert!(notice.text.contains("Subject: Your password was changed"));
    // Single use.
    let reuse = env
        .gql(
            &op("ResetPassword"),
            json!({ "token": token, "newPassword": "yet another passphrase" }),
        )
        .await;
    assert_eq!(reuse["data"]["customerResetPassword"]["success"], false);

    // Thirty minutes later, a link is dead. (A new link is mailed at most
    // every 30 s per address.)
    env.config.clock.advance(Duration::from_secs(31));
    env.gql(&op("RequestReset"), json!({ "email": "ann@example.com" }))
        .await;
    let token = token_in(&env.smtp().nth_to("ann@example.com", 3).await);
    env.config.clock.advance(Duration::from_secs(31 * 60));
    let late = env.gql("mutation R($t: String!) { customerResetPassword(token: $t, newPassword: \"yet another passphrase\") { success errors { code } } }", json!({ "t": token })).await;
    assert_eq!(
        late["data"]["customerResetPassword"]["errors"][0]["code"], "INVALID_TOKEN",
        "{late}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updating_the_password_needs_the_current_one_and_ends_other_sessions() {
    let env = TestEnv::start_with_mail().await;
    let first = env.register("ann@example.com", PASSWORD).await;
    let second = env.login("ann@example.com", PASSWORD).await;
    let current = second["accessToken"].as_str().unwrap();

    let wrong = env.gql_as(Some(current), &op("UpdatePassword"), json!({ "currentPassword": "nope nope nope", "newPassword": "another long passphrase" })).await;
    assert_eq!(
        wrong["data"]["customerUpdatePassword"]["success"], false,
        "{wrong}"
    );
    let anonymous = env
        .gql(
            &op("UpdatePassword"),
            json!({ "currentPassword": PASSWORD, "newPassword": "another long passphrase" }),
        )
        .await;
    assert_eq!(
        anonymous["data"]["customerUpdatePassword"]["success"],
        false
    );

    let ok = env
        .gql_as(
            Some(current),
            &op("UpdatePassword"),
            json!({ "currentPassword": PASSWORD, "newPassword": "another long passphrase" }),
        )
        .await;
    assert_eq!(
        ok["data"]["customerUpdatePassword"]["success"], true,
        "{ok}"
    );
    // This session lives on, the other one ended.
    assert_eq!(
        env.current_user(current).await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
    let other = env
        .current_user(first["accessToken"].as_str().unwrap())
        .await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{other}"
    );
    assert_eq!(
        env.login("ann@example.com", "another long passphrase")
            .await["success"],
        true
    );
    // Keeping other sessions is a choice.
    let third = env
        .login("ann@example.com", "another long passphrase")
        .await;
    let keep = env.gql_as(Some(current), "mutation { customerUpdatePassword(currentPassword: \"another long passphrase\", newPassword: \"third long passphrase\", endOtherSessions: false) { success } }", json!({})).await;
    assert_eq!(
        keep["data"]["customerUpdatePassword"]["success"], true,
        "{keep}"
    );
    assert_eq!(
        env.current_user(third["accessToken"].as_str().unwrap())
            .await["data"]["currentUser"]["email"],
        "ann@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_login_at_follows_every_sign_in_whatever_it_appends() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let id = reg["user"]["id"].as_str().unwrap().to_string();
    let seen = || async {
        let c = env
            .admin(
                "query C($id: ID) { customer(id: $id) { lastLoginAt failedLogins } }",
                json!({ "id": id }),
            )
            .await;
        let c = &c["data"]["customer"];
        (
            c["lastLoginAt"].as_str().unwrap().to_string(),
            c["failedLogins"].as_i64().unwrap(),
        )
    };
    let (at_registration, _) = seen().await;
    // A sign-in that resets nothing appends only its session's start.
    env.config.clock.advance(Duration::from_secs(5));
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["success"],
        true
    );
    let (first, failed) = seen().await;
    assert!(first > at_registration, "{first} after {at_registration}");
    assert_eq!(failed, 0);
    // One that clears a failure writes the customer too. (A refused
    // sign-in's answer carries no sequence to wait for: the read model
    // shows its failure a moment later.)
    env.login("ann@example.com", "wrong password").await;
    let mut failed = 0;
    for _ in 0..200 {
        failed = seen().await.1;
        if failed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(failed, 1);
    env.config.clock.advance(Duration::from_secs(5));
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["success"],
        true
    );
    let (second, failed) = seen().await;
    assert!(second > first, "{second} after {first}");
    assert_eq!(failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_logins_lock_the_account_until_time_or_an_admin_unlocks_it() {
    let env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    for _ in 0..4 {
        assert_eq!(
            env.login("ann@example.com", "wrong password").await["errors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
    let fifth = env.login("ann@example.com", "wrong password").await;
    assert_eq!(fifth["errors"][0]["code"], "INVALID_CREDENTIALS", "{fifth}");
    let locked = env.gql("mutation { customerLogin(email: \"ann@example.com\", password: \"correct horse battery staple\") { success errors { code retryAfterSeconds } } }", json!({})).await;
    let e = &locked["data"]["customerLogin"]["errors"][0];
    assert_eq!(e["code"], "ACCOUNT_LOCKED", "{locked}");
    assert!(
        (1..=60).contains(&e["retryAfterSeconds"].as_i64().unwrap()),
        "{locked}"
    );

    let id = reg["user"]["id"].as_str().unwrap();
    let c = env
        .admin(
            "query C($id: ID) { customer(id: $id) { lockedUntil failedLogins status } }",
            json!({ "id": id }),
        )
        .await;
    // That lock is this client's (#9: five guesses from one address do not
    // lock the owner out everywhere); the account shows the failures, and
    // is locked as a whole only at ten times the threshold.
    assert_eq!(c["data"]["customer"]["failedLogins"], 5, "{c}");
    assert!(c["data"]["customer"]["lockedUntil"].is_null(), "{c}");
    let unlocked = env
        .admin(
            "mutation U($id: ID!) { customerUnlock(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        unlocked["data"]["customerUnlock"]["success"], true,
        "{unlocked}"
    );
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["success"],
        true
    );

    // An address without an account locks the same way: a lock says nothing.
    let probe = "mutation { customerLogin(email: \"ghost@example.com\", password: \"correct horse battery staple\") { success errors { code } } }";
    for _ in 0..5 {
        let r = env.gql(probe, json!({})).await;
        assert_eq!(
            r["data"]["customerLogin"]["errors"][0]["code"], "INVALID_CREDENTIALS",
            "{r}"
        );
    }
    let r = env.gql(probe, json!({})).await;
    assert_eq!(
        r["data"]["customerLogin"]["errors"][0]["code"], "ACCOUNT_LOCKED",
        "{r}"
    );

    // Time unlocks too: lock again, then let the minute pass.
    for _ in 0..5 {
        env.login("ann@example.com", "wrong password").await;
    }
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["errors"][0]["code"],
        "ACCOUNT_LOCKED"
    );
    env.config.clock.advance(Duration::from_secs(61));
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["success"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_customer_cannot_sign_in_and_loses_every_session() {
    let env = TestEnv::start_with_mail().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let id = reg["user"]["id"].as_str().unwrap();
    let s = env
        .admin(
            "mutation S($id: ID!) { customerSuspend(id: $id, reason: \"chargeback\") { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(s["data"]["customerSuspend"]["success"], true, "{s}");
    let missing = env
        .admin(
            "mutation { customerSuspend(id: \"c_nobody\") { success errors { field code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        missing["data"]["customerSuspend"]["errors"][0],
        json!({ "field": ["id"], "code": "CUSTOMER_NOT_FOUND" }),
        "{missing}"
    );

    assert_eq!(
        env.current_user(reg["accessToken"].as_str().unwrap()).await["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        env.refresh(reg["refreshToken"].as_str().unwrap()).await["errors"][0]["code"],
        "SESSION_REVOKED"
    );
    assert_eq!(
        env.login("ann@example.com", PASSWORD).await["errors"][0]["code"],
        "ACCOUNT_SUSPENDED"
    );
    env.gql(&op("RequestOTP"), json!({ "email": "ann@example.com" }))
        .await;
    let code = code_in(&env.smtp().nth_to("ann@example.com", 1).await);
    let otp = env
        .gql(
            &opx("LoginWithOTP"),
            json!({ "email": "ann@example.com", "otp": code }),
        )
        .await;
    assert_eq!(
        otp["data"]["customerLoginOTP"]["errors"][0]["code"], "ACCOUNT_SUSPENDED",
        "{otp}"
    );
    let c = env
        .admin(
            "query C($e: String) { customer(email: $e) { status } }",
            json!({ "e": "ann@example.com" }),
        )
        .await;
    assert_eq!(c["data"]["customer"]["status"], "SUSPENDED");

    let r = env
        .admin(
            "mutation R($id: ID!) { customerReactivate(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["data"]["customerReactivate"]["success"], true);
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], true, "{login}");
    let me = env
        .gql_as(
            login["accessToken"].as_str(),
            "{ currentUser { status } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["currentUser"]["status"], "ACTIVE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projects_are_isolated_and_keys_are_issued_and_revoked() {
    let env = TestEnv::start().await;
    // A second project, created by an operator over NATS.
    let bus = authd_services::CommandBus::new(env.client.clone(), Duration::from_secs(5));
    let other = authd_events::new_id("p");
    let operator = authd_services::bus::Sender {
        tenant: other.clone(),
        actor: authd_events::Actor::System,
        request: Default::default(),
    };
    let create = authd_services::commands::CreateProject {
        name: "Other shop".into(),
        public_key: None,
        secret_key: None,
    };
    let reply = bus.send(&operator, create).await.unwrap().unwrap();
    let keys = reply.outcome;
    let mut applied = env.gateway.as_ref().unwrap().applied.clone();
    applied.wait_for(|s| *s >= reply.seq).await.unwrap();
    let as_other = |query: &'static str, vars: Value, token: Option<String>| {
        let mut req = env
            .http
            .post(env.url("/graphql/public"))
            .header("x-api-key", &keys.public_key)
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    // The same email is a customer of both, with different passwords.
    let mine = env.register("ann@example.com", PASSWORD).await;
    let theirs = as_other("mutation { customerRegister(email: \"ann@example.com\", password: \"other project pass\") { success user { id } accessToken } }", json!({}), None).await;
    assert_eq!(
        theirs["data"]["customerRegister"]["success"], true,
        "{theirs}"
    );
    assert_ne!(
        theirs["data"]["customerRegister"]["user"]["id"],
        mine["user"]["id"]
    );
    let cross = as_other("mutation { customerLogin(email: \"ann@example.com\", password: \"correct horse battery staple\") { success } }", json!({}), None).await;
    assert_eq!(cross["data"]["customerLogin"]["success"], false);
    // A token of one project means nothing to the other.
    let foreign = as_other(
        "{ currentUser { id } }",
        json!({}),
        mine["accessToken"].as_str().map(String::from),
    )
    .await;
    assert_eq!(
        foreign["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    // Neither admin sees the other's customers.
    let seen = env
        .admin(
            "query { customer(email: \"ann@example.com\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["data"]["customer"]["id"], mine["user"]["id"]);

    // Keys: a public key cannot use the admin API; issued keys work; revoked ones stop.
    let forbidden = env
        .http
        .post(env.url("/graphql/admin"))
        .bearer_auth(&env.api_key)
        .json(&json!({ "query": "{ project { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let missing = env
        .http
        .post(env.url("/graphql/admin"))
        .json(&json!({ "query": "{ project { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let issued = env
        .admin(
            "mutation { apiKeyIssue(kind: PUBLIC, live: true) { success key keyId } }",
            json!({}),
        )
        .await;
    let key = issued["data"]["apiKeyIssue"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("pk_live_"), "{issued}");
    let key_id = issued["data"]["apiKeyIssue"]["keyId"]
        .as_str()
        .unwrap()
        .to_string();
    let use_key = |k: String| {
        let req = env
            .http
            .post(env.url("/graphql/public"))
            .header("x-api-key", k)
            .json(&json!({ "query": "{ authConfig { publicRegistrationEnabled } }" }));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(use_key(key.clone()).await, 200);
    let project = env
        .admin(
            "{ project { id name apiKeys { id kind live revoked } } }",
            json!({}),
        )
        .await;
    assert_eq!(project["data"]["project"]["id"], env.project_id.as_str());
    assert_eq!(
        project["data"]["project"]["apiKeys"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{project}"
    );
    let revoked = env
        .admin(
            "mutation R($id: ID!) { apiKeyRevoke(keyId: $id) { success } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(
        revoked["data"]["apiKeyRevoke"]["success"], true,
        "{revoked}"
    );
    assert_eq!(use_key(key).await, 401);
    // The operator key creates further projects, each with keys of its own.
    let created = env.admin_as(&env.operator_key, None, "mutation { projectCreate(name: \"Third shop\") { success projectId publicApiKey adminKey } }", json!({})).await;
    let c = &created["data"]["projectCreate"];
    assert_eq!(c["success"], true, "{created}");
    assert_ne!(c["projectId"], env.project_id.as_str());
    let third_key = c["publicApiKey"].as_str().unwrap().to_string();
    let mut status = 0;
    for _ in 0..50 {
        status = use_key(third_key.clone()).await.as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
    let third_admin = env
        .http
        .post(env.url("/graphql/admin"))
        .bearer_auth(c["adminKey"].as_str().unwrap())
        .json(&json!({ "query": "{ customer(email: \"ann@example.com\") { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        third_admin["data"]["customer"],
        Value::Null,
        "{third_admin}"
    );

    // The only secret key cannot be revoked.
    let secret_id = project["data"]["project"]["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "SECRET")
        .unwrap()["id"]
        .clone();
    let last = env
        .admin(
            "mutation R($id: ID!) { apiKeyRevoke(keyId: $id) { success errors { code } } }",
            json!({ "id": secret_id }),
        )
        .await;
    assert_eq!(
        last["data"]["apiKeyRevoke"]["errors"][0]["code"], "LAST_SECRET_KEY",
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_rate_limits_per_account_and_per_ip() {
    let env = TestEnv::start_with(|c| {
        c.limits.per_account_per_minute = 3;
        c.limits.per_ip_per_minute = 5;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            env.login("ann@example.com", "whatever pass").await["errors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
    let limited = env.gql("mutation { customerLogin(email: \"ANN@example.com\", password: \"x\") { success errors { code retryAfterSeconds } } }", json!({})).await;
    let e = &limited["data"]["customerLogin"]["errors"][0];
    assert_eq!(e["code"], "RATE_LIMITED", "{limited}");
    assert!((1..=60).contains(&e["retryAfterSeconds"].as_i64().unwrap()));
    // Another account from the same IP still has budget, until the IP's runs out.
    assert_eq!(
        env.login("bob@example.com", "whatever pass").await["errors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        env.login("cat@example.com", "whatever pass").await["errors"][0]["code"],
        "RATE_LIMITED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mail_survives_an_smtp_outage_and_a_mailer_restart() {
    // The SMTP server is down when the mail is queued.
    let port = authd::nats_server::free_port();
    let mut env =
        TestEnv::start_with(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    env.start_mailer();
    env.register("ann@example.com", PASSWORD).await;
    env.gql(&op("RequestReset"), json!({ "email": "ann@example.com" }))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    env.smtp = Some(common::smtp::SmtpServer::start(port));
    let first = env.smtp().nth_to("ann@example.com", 1).await;
    assert!(first.text.contains("/reset?token="));

    // The mailer is down when the next one is queued.
    env.stop_mailer().await;
    env.gql(&op("RequestOTP"), json!({ "email": "ann@example.com" }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 1);
    env.start_mailer();
    let second = env.smtp().nth_to("ann@example.com", 2).await;
    assert!(second.text.contains("Your sign-in code is"));
    // Delivered once each, and the queue is empty.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.smtp().count_to("ann@example.com"), 2);
    let js = async_nats::jetstream::new(env.client.clone());
    let mut stream = js.get_stream("AUTH_MAIL").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_smtp_mail_lands_in_the_outbox() {
    let mut env = TestEnv::start().await;
    env.start_mailer();
    env.register("ann@example.com", PASSWORD).await;
    env.gql(&op("RequestReset"), json!({ "email": "ann@example.com" }))
        .await;
    let outbox = env.config.data_dir.join("outbox");
    let mut files = Vec::new();
    for _ in 0..100 {
        files = std::fs::read_dir(&outbox)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    // The file appears before the transport has finished writing it.
    let mut eml = String::new();
    for _ in 0..100 {
        eml = std::fs::read_to_string(&files[0]).unwrap();
        if eml.trim_end().ends_with("--") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(eml.contains("To: ann@example.com"), "{eml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_and_link_tokens_never_reach_the_event_log() {
    let env = TestEnv::start_with_mail().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    env.gql(&op("RequestOTP"), json!({ "email": "ann@example.com" }))
        .await;
    env.gql(&op("RequestReset"), json!({ "email": "ann@example.com" }))
        .await;
    env.gql_as(
        reg["accessToken"].as_str(),
        &opx("ResendVerification"),
        json!({}),
    )
    .await;
    let mut secrets = Vec::new();
    for n in 1..=3 {
        let mail = env.smtp().nth_to("ann@example.com", n).await;
        if mail.text.contains("sign-in code") {
            secrets.push(code_in(&mail));
        } else {
            let token = token_in(&mail);
            secrets.push(token.rsplit('.').next().unwrap().to_string());
        }
    }
    assert_eq!(secrets.len(), 3);
    for m in env.raw_messages().await {
        let payload = String::from_utf8_lossy(&m.payload).into_owned();
        for s in &secrets {
            // a 6-digit code could appear by chance inside binary data only as
            // these ASCII digits in a row; hashes are binary.
            assert!(
                !payload.contains(s.as_str()),
                "secret {s} in message {}",
                m.sequence
            );
        }
    }
}
