//! Second factors (#25) through both APIs against a real broker, read
//! models and SMTP server: an authenticator app (RFC 6238) enrolled,
//! confirmed and asked for at every sign-in (password, code, Storefront),
//! replayed, stale and future codes refused, single-use recovery codes,
//! TOTP guessing locked out, an admin's reset, mail on every change, every
//! step in the customer's history, and the secret never in plain on disk.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{PASSWORD, TestEnv, disk, smtp};
use serde_json::{Value, json};

const LOGIN: &str = "mutation L($email: String!, $password: String!) {
  customerLogin(email: $email, password: $password) {
    success accessToken refreshToken mfaRequired mfaToken mfaTokenExpiresAt mfaMethods
    message errors { field message code }
  }
}";

const LOGIN_MFA: &str = "mutation M($t: String!, $totp: String, $rc: String) {
  customerLoginMfa(mfaToken: $t, totp: $totp, recoveryCode: $rc) {
    success accessToken refreshToken user { id email } message errors { field message code }
  }
}";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The authenticator's code for `offset` seconds from now.
fn code(secret: &str, offset: i64) -> String {
    authd_services::domain::mfa::totp_code(secret, (now_secs() as i64 + offset) as u64).unwrap()
}

async fn login(env: &TestEnv, email: &str, password: &str) -> Value {
    let v = env
        .gql(LOGIN, json!({ "email": email, "password": password }))
        .await;
    v["data"]["customerLogin"].clone()
}

async fn finish(env: &TestEnv, token: &str, totp: Option<&str>, rc: Option<&str>) -> Value {
    let v = env
        .gql(LOGIN_MFA, json!({ "t": token, "totp": totp, "rc": rc }))
        .await;
    v["data"]["customerLoginMfa"].clone()
}

/// Registers `email`, enrolls and confirms an authenticator app: (access
/// token, secret, recovery codes).
async fn protected_customer(env: &TestEnv, email: &str) -> (String, String, Vec<String>) {
    let r = env.register(email, PASSWORD).await;
    let token = r["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    let e = env
        .gql_as(
            Some(&token),
            "mutation { customerTotpEnroll { success secret otpauthUrl qrCodeSvg errors { code } } }",
            json!({}),
        )
        .await;
    let e = &e["data"]["customerTotpEnroll"];
    let secret = e["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{e}"))
        .to_string();
    let c = env
        .gql_as(
            Some(&token),
            "mutation C($c: String!) { customerTotpConfirm(code: $c) { success recoveryCodes errors { code } } }",
            json!({ "c": code(&secret, 0) }),
        )
        .await;
    let codes = c["data"]["customerTotpConfirm"]["recoveryCodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{c}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (token, secret, codes)
}

fn error_code(v: &Value) -> &str {
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_authenticator_app_guards_every_sign_in_of_the_account() {
    let env = TestEnv::start_with_mail_and(|c| c.audit_index = true).await;
    let email = "ann@example.com";
    let r = env.register(email, PASSWORD).await;
    let token = r["accessToken"].as_str().unwrap().to_string();

    // Enrollment: the secret, its otpauth URL and QR code; nothing asked yet.
    let e = env
        .gql_as(
            Some(&token),
            "mutation { customerTotpEnroll { success secret otpauthUrl qrCodeSvg errors { code } } }",
            json!({}),
        )
        .await;
    let e = &e["data"]["customerTotpEnroll"];
    assert_eq!(e["success"], true, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 32, "160 bits of base32");
    let url = e["otpauthUrl"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/")
            && url.contains(":ann%40example.com?secret=")
            && url.contains(&format!("secret={secret}&issuer="))
            && url.ends_with("&algorithm=SHA1&digits=6&period=30"),
        "{url}"
    );
    assert!(e["qrCodeSvg"].as_str().unwrap().contains("<svg"));
    let l = login(&env, email, PASSWORD).await;
    assert_eq!(l["mfaRequired"], false, "enrolled is not on: {l}");
    assert!(l["accessToken"].is_string());

    // A wrong code does not confirm; the right one does, with ten codes.
    let confirm = "mutation C($c: String!) { customerTotpConfirm(code: $c) {
        success recoveryCodes errors { field code } } }";
    let wrong = env
        .gql_as(Some(&token), confirm, json!({ "c": "000000" }))
        .await;
    let wrong = &wrong["data"]["customerTotpConfirm"];
    assert_eq!(wrong["success"], false);
    assert_eq!(wrong["errors"][0]["code"], "INVALID_MFA_CODE");
    assert_eq!(wrong["errors"][0]["field"], json!(["code"]));
    let confirm_code = code(&secret, 0);
    let c = env
        .gql_as(Some(&token), confirm, json!({ "c": confirm_code }))
        .await;
    let codes: Vec<String> = c["data"]["customerTotpConfirm"]["recoveryCodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{c}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-')
    );
    let added = env.smtp().nth_to(email, 1).await;
    assert!(
        added.text.contains("A second factor was added"),
        "{}",
        added.text
    );
    let status = env
        .gql_as(
            Some(&token),
            "{ customerMfaStatus { totp totpEnabledAt recoveryCodesLeft }
               currentUser { mfa { totp recoveryCodesLeft } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status["data"]["customerMfaStatus"]["totp"], true,
        "{status}"
    );
    assert!(status["data"]["customerMfaStatus"]["totpEnabledAt"].is_string());
    assert_eq!(
        status["data"]["currentUser"]["mfa"]["recoveryCodesLeft"],
        10
    );

    // A wrong password answers as for anyone: nothing says MFA is on.
    env.register("bob@example.com", PASSWORD).await;
    let ann_wrong = login(&env, email, "wrong password!!").await;
    let bob_wrong = login(&env, "bob@example.com", "wrong password!!").await;
    assert_eq!(ann_wrong, bob_wrong);
    assert_eq!(ann_wrong["mfaRequired"], false);
    assert!(ann_wrong["mfaToken"].is_null());

    // The right password: no tokens, a challenge.
    let l = login(&env, email, PASSWORD).await;
    assert_eq!(l["success"], true, "{l}");
    assert_eq!(l["mfaRequired"], true);
    assert!(l["accessToken"].is_null() && l["refreshToken"].is_null());
    assert_eq!(l["mfaMethods"], json!(["TOTP", "RECOVERY_CODE"]));
    assert!(l["mfaTokenExpiresAt"].is_string());
    let mfa_token = l["mfaToken"].as_str().unwrap().to_string();

    // The code that confirmed the app is spent (RFC 6238 §5.2); codes two
    // steps away either side are outside the window; neither kills the
    // challenge.
    for refused in [confirm_code.clone(), code(&secret, -90), code(&secret, 90)] {
        let f = finish(&env, &mfa_token, Some(&refused), None).await;
        assert_eq!(f["success"], false, "{refused}: {f}");
        assert_eq!(error_code(&f), "INVALID_MFA_CODE");
        assert!(f["accessToken"].is_null());
    }
    // A step ahead is within the drift allowed (and newer than the spent one).
    let next = code(&secret, 30);
    let f = finish(&env, &mfa_token, Some(&next), None).await;
    assert_eq!(f["success"], true, "{f}");
    let access = f["accessToken"].as_str().unwrap();
    let me = env.current_user(access).await;
    assert_eq!(me["data"]["currentUser"]["email"], email, "{me}");
    // The challenge is used up; the code cannot be replayed on a new one.
    let again = finish(&env, &mfa_token, Some(&next), None).await;
    assert_eq!(error_code(&again), "INVALID_TOKEN");
    assert_eq!(again["errors"][0]["field"], json!(["mfaToken"]));
    let l2 = login(&env, email, PASSWORD).await;
    let token2 = l2["mfaToken"].as_str().unwrap().to_string();
    let replayed = finish(&env, &token2, Some(&next), None).await;
    assert_eq!(error_code(&replayed), "INVALID_MFA_CODE");
    // Forged and malformed tokens, and no proof or both proofs.
    let forged = format!("{}.AAAA", mfa_token.split('.').next().unwrap());
    for bad in [forged.as_str(), "", "x", &"y".repeat(5000)] {
        let f = finish(&env, bad, Some("123456"), None).await;
        assert_eq!(error_code(&f), "INVALID_TOKEN", "{bad:.20}: {f}");
    }
    let neither = finish(&env, &token2, None, None).await;
    assert_eq!(error_code(&neither), "INVALID_INPUT", "{neither}");

    // A recovery code finishes it, once.
    let f = finish(&env, &token2, None, Some(&codes[0].to_uppercase())).await;
    assert_eq!(f["success"], true, "recovery codes ignore case: {f}");
    let l3 = login(&env, email, PASSWORD).await;
    let token3 = l3["mfaToken"].as_str().unwrap().to_string();
    let used = finish(&env, &token3, None, Some(&codes[0])).await;
    assert_eq!(error_code(&used), "INVALID_MFA_CODE");

    // The Storefront: no token in one step; the SDK's second step.
    let create = env
        .storefront(
            None,
            "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) {
               customerAccessToken { accessToken }
               customerUserErrors { field code message mfaToken mfaMethods }
               userErrors { message } } }",
            json!({ "i": { "email": email, "password": PASSWORD } }),
        )
        .await;
    let p = &create["data"]["customerAccessTokenCreate"];
    assert!(p["customerAccessToken"].is_null(), "{create}");
    let err = &p["customerUserErrors"][0];
    assert!(err["code"].is_null(), "not a mistake: {err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("customerAccessTokenCreateWithMfa")
    );
    assert_eq!(err["mfaMethods"], json!(["TOTP", "RECOVERY_CODE"]));
    let sf_token = err["mfaToken"].as_str().unwrap().to_string();
    let with_mfa = "mutation W($t: String!, $totp: String, $rc: String) {
        customerAccessTokenCreateWithMfa(mfaToken: $t, totp: $totp, recoveryCode: $rc) {
          customerAccessToken { accessToken } customerUserErrors { field code message } } }";
    // A Customer Auth challenge does not finish a Storefront sign-in.
    let l4 = login(&env, email, PASSWORD).await;
    let other = env
        .storefront(
            None,
            with_mfa,
            json!({ "t": l4["mfaToken"], "rc": codes[2] }),
        )
        .await;
    let other = &other["data"]["customerAccessTokenCreateWithMfa"];
    assert_eq!(
        other["customerUserErrors"][0]["code"], "TOKEN_INVALID",
        "{other}"
    );
    let wrong = env
        .storefront(None, with_mfa, json!({ "t": sf_token, "totp": "000000" }))
        .await;
    let wrong = &wrong["data"]["customerAccessTokenCreateWithMfa"];
    assert_eq!(wrong["customerUserErrors"][0]["code"], "INVALID", "{wrong}");
    assert_eq!(wrong["customerUserErrors"][0]["field"], json!(["totp"]));
    let done = env
        .storefront(None, with_mfa, json!({ "t": sf_token, "rc": codes[3] }))
        .await;
    let sf_access =
        done["data"]["customerAccessTokenCreateWithMfa"]["customerAccessToken"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{done}"))
            .to_string();
    let me = env
        .storefront(
            None,
            "query Q($t: String!) { customer(customerAccessToken: $t) { email } }",
            json!({ "t": sf_access }),
        )
        .await;
    assert_eq!(me["data"]["customer"]["email"], email, "{me}");
    let status = env
        .gql_as(
            Some(&token),
            "{ customerMfaStatus { recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status["data"]["customerMfaStatus"]["recoveryCodesLeft"], 8,
        "{status}"
    );

    // New recovery codes replace the old set.
    let g = env
        .gql_as(
            Some(&token),
            "mutation { customerRecoveryCodesGenerate { success recoveryCodes } }",
            json!({}),
        )
        .await;
    let fresh: Vec<String> = g["data"]["customerRecoveryCodesGenerate"]["recoveryCodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{g}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let l5 = login(&env, email, PASSWORD).await;
    let t5 = l5["mfaToken"].as_str().unwrap().to_string();
    let old = finish(&env, &t5, None, Some(&codes[4])).await;
    assert_eq!(error_code(&old), "INVALID_MFA_CODE", "the old set is void");

    // Removing the app takes a second factor; then sign-in is one step.
    let disable =
        "mutation D($c: String, $rc: String) { customerTotpDisable(code: $c, recoveryCode: $rc) {
        success errors { field code } } }";
    let d = env
        .gql_as(Some(&token), disable, json!({ "c": "000000" }))
        .await;
    assert_eq!(
        d["data"]["customerTotpDisable"]["errors"][0]["code"],
        "INVALID_MFA_CODE"
    );
    let d = env
        .gql_as(Some(&token), disable, json!({ "rc": fresh[0] }))
        .await;
    assert_eq!(d["data"]["customerTotpDisable"]["success"], true, "{d}");
    let removed = env.smtp().nth_to(email, 2).await;
    assert!(
        removed.text.contains("A second factor was removed"),
        "{}",
        removed.text
    );
    let l = login(&env, email, PASSWORD).await;
    assert_eq!(l["mfaRequired"], false);
    assert!(l["accessToken"].is_string(), "{l}");

    // A code sign-in asks for the second factor too (another customer:
    // a code proves an unverified address, which drops its password).
    let eve = "eve@example.com";
    let (_, _, eve_codes) = protected_customer(&env, eve).await;
    env.gql(
        "mutation R($e: String!) { customerRequestOTP(email: $e) { success } }",
        json!({ "e": eve }),
    )
    .await;
    let mail = env.smtp().nth_to(eve, 2).await;
    let otp = smtp::code_in(&mail);
    let o = env
        .gql(
            "mutation O($e: String!, $o: String!) { customerLoginOTP(email: $e, otp: $o) {
               success accessToken mfaRequired mfaToken errors { code } } }",
            json!({ "e": eve, "o": otp }),
        )
        .await;
    let o = &o["data"]["customerLoginOTP"];
    assert_eq!(o["mfaRequired"], true, "{o}");
    assert!(o["accessToken"].is_null());
    let f = finish(
        &env,
        o["mfaToken"].as_str().unwrap(),
        None,
        Some(&eve_codes[0]),
    )
    .await;
    assert_eq!(f["success"], true, "{f}");

    // Every step is in the customer's history.
    let history = env
        .admin(
            "query H($e: String) { customer(email: $e) { events(first: 100) { events { type } } } }",
            json!({ "e": email }),
        )
        .await;
    let types: Vec<&str> = history["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "customer.mfa.totp_enrolled",
        "customer.mfa.totp_confirmed",
        "customer.mfa.recovery_codes_generated",
        "customer.mfa.challenged",
        "customer.mfa.failed",
        "customer.mfa.passed",
        "customer.mfa.recovery_code_used",
        "customer.mfa.totp_disabled",
    ] {
        assert!(types.contains(&t), "{t} not in {types:?}");
    }

    // The secret is sealed in the log: never in plain in the broker's
    // files, the read models, or what the JSON feed would carry.
    let raw = env.raw_messages().await;
    assert!(
        raw.iter().all(|m| !m
            .payload
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())),
        "the secret is in a message in plain"
    );
    let holding = disk::holding(env.dir.path(), secret.as_bytes());
    assert!(
        holding.is_empty(),
        "the secret on disk in plain: {holding:?}"
    );
    for c in &fresh {
        assert!(
            disk::holding(env.dir.path(), c.as_bytes()).is_empty(),
            "a recovery code on disk"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessing_codes_locks_out_and_an_admin_reset_removes_the_factor() {
    let env = TestEnv::start_with_mail_and(|c| c.audit_index = true).await;
    let r = env
        .admin(
            "mutation { projectConfigure(input: { lockoutThreshold: 3 }) { success errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let email = "cat@example.com";
    let (_, secret, _) = protected_customer(&env, email).await;
    let l = login(&env, email, PASSWORD).await;
    let t = l["mfaToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{l}"))
        .to_string();
    // Wrong codes count like wrong passwords: the third locks the client.
    for _ in 0..3 {
        let f = finish(&env, &t, Some("000000"), None).await;
        assert_eq!(error_code(&f), "INVALID_MFA_CODE", "{f}");
    }
    let right = finish(&env, &t, Some(&code(&secret, 30)), None).await;
    assert_eq!(
        error_code(&right),
        "ACCOUNT_LOCKED",
        "even the right code: {right}"
    );
    let l = login(&env, email, PASSWORD).await;
    assert_eq!(
        error_code(&l),
        "ACCOUNT_LOCKED",
        "and the password step: {l}"
    );

    // Support resets the factors (and the lock, by unlocking).
    let c = env
        .admin(
            "query C($e: String) { customer(email: $e) { id } }",
            json!({ "e": email }),
        )
        .await;
    let id = c["data"]["customer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{c}"))
        .to_string();
    let reset = "mutation R($id: ID!, $r: String!) { customerMfaReset(id: $id, reason: $r) {
        success errors { field code } } }";
    let bad = env.admin(reset, json!({ "id": id, "r": "  " })).await;
    assert_eq!(
        bad["data"]["customerMfaReset"]["errors"][0]["field"],
        json!(["reason"]),
        "{bad}"
    );
    let nobody = env
        .admin(reset, json!({ "id": "c_nobody", "r": "ticket 7" }))
        .await;
    assert_eq!(
        nobody["data"]["customerMfaReset"]["errors"][0]["code"],
        "CUSTOMER_NOT_FOUND"
    );
    let ok = env.admin(reset, json!({ "id": id, "r": "ticket 7" })).await;
    assert_eq!(ok["data"]["customerMfaReset"]["success"], true, "{ok}");
    let mail = env.smtp().nth_to(email, 2).await;
    assert!(
        mail.text.contains("A second factor was removed"),
        "{}",
        mail.text
    );
    env.admin(
        "mutation U($id: ID!) { customerUnlock(id: $id) { success } }",
        json!({ "id": id }),
    )
    .await;
    let l = login(&env, email, PASSWORD).await;
    assert_eq!(l["mfaRequired"], false, "{l}");
    assert!(l["accessToken"].is_string(), "{l}");
    let c = env
        .admin(
            "query C($e: String) { customer(email: $e) { mfa { totp totpEnabledAt recoveryCodesLeft } } }",
            json!({ "e": email }),
        )
        .await;
    assert_eq!(
        c["data"]["customer"]["mfa"],
        json!({ "totp": false, "totpEnabledAt": null, "recoveryCodesLeft": 0 })
    );
    let history = env
        .admin(
            "query H($e: String) { customer(email: $e) { events(first: 50) { events { type actor } } } }",
            json!({ "e": email }),
        )
        .await;
    let events = history["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    let reset = events
        .iter()
        .find(|e| e["type"] == "customer.mfa.reset")
        .unwrap_or_else(|| panic!("no reset in {events:?}"));
    assert!(
        reset["actor"].as_str().unwrap().starts_with("admin"),
        "{reset}"
    );
}

/// The claims of a JWT, unverified (the test only reads what it got).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_that_requires_a_second_factor_lets_a_customer_without_one_only_add_one() {
    let env = TestEnv::start_with_mail().await;
    let configure = |required: &str| {
        format!(
            "mutation {{ projectConfigure(input: {{ mfaRequired: {required} }}) {{ success errors {{ code }} }} }}"
        )
    };
    let r = env.admin(&configure("REQUIRED"), json!({})).await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let c = env.gql("{ authConfig { mfaRequired } }", json!({})).await;
    assert_eq!(c["data"]["authConfig"]["mfaRequired"], "REQUIRED", "{c}");

    // Registration signs in with a token that may only add a factor.
    let email = "fay@example.com";
    let r = env.register(email, PASSWORD).await;
    let token = r["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    assert_eq!(claims(&token)["restricted"], "mfa_enrollment");
    let refresh = r["refreshToken"].as_str().unwrap().to_string();
    let me = env.current_user(&token).await;
    assert_eq!(
        me["data"]["currentUser"]["email"], email,
        "who they are: {me}"
    );
    let update = env
        .gql_as(
            Some(&token),
            "mutation { customerUpdatePassword(currentPassword: \"correct horse battery staple\",
               newPassword: \"another horse battery staple\") { success errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        update["data"]["customerUpdatePassword"]["errors"][0]["code"], "MFA_ENROLLMENT_REQUIRED",
        "{update}"
    );
    let export = env
        .gql_as(Some(&token), "{ customerDataExport }", json!({}))
        .await;
    assert_eq!(
        export["errors"][0]["extensions"]["code"], "MFA_ENROLLMENT_REQUIRED",
        "{export}"
    );
    // The Storefront takes no such token, and hands out none.
    let sf = env
        .storefront(
            None,
            "query Q($t: String!) { customer(customerAccessToken: $t) { email } }",
            json!({ "t": token }),
        )
        .await;
    assert!(sf["data"]["customer"].is_null(), "{sf}");
    let create = env
        .storefront(
            None,
            "mutation T($i: CustomerAccessTokenCreateInput!) { customerAccessTokenCreate(input: $i) {
               customerAccessToken { accessToken } customerUserErrors { code message } } }",
            json!({ "i": { "email": email, "password": PASSWORD } }),
        )
        .await;
    let p = &create["data"]["customerAccessTokenCreate"];
    assert!(p["customerAccessToken"].is_null(), "{create}");
    assert!(
        p["customerUserErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("second factor"),
        "{create}"
    );

    // The restricted session adds the app; the next refresh is whole.
    let e = env
        .gql_as(
            Some(&token),
            "mutation { customerTotpEnroll { secret } }",
            json!({}),
        )
        .await;
    let secret = e["data"]["customerTotpEnroll"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{e}"))
        .to_string();
    let c = env
        .gql_as(
            Some(&token),
            "mutation C($c: String!) { customerTotpConfirm(code: $c) { success } }",
            json!({ "c": code(&secret, 0) }),
        )
        .await;
    assert_eq!(c["data"]["customerTotpConfirm"]["success"], true, "{c}");
    let f = env.refresh(&refresh).await;
    let whole = f["accessToken"].as_str().unwrap_or_else(|| panic!("{f}"));
    assert!(
        claims(whole).get("restricted").is_none(),
        "{}",
        claims(whole)
    );
    let update = env
        .gql_as(
            Some(whole),
            "mutation { customerUpdatePassword(currentPassword: \"correct horse battery staple\",
               newPassword: \"another horse battery staple\") { success errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        update["data"]["customerUpdatePassword"]["success"], true,
        "{update}"
    );

    // OFF: nobody can add a factor; the ones added still count.
    let r = env.admin(&configure("OFF"), json!({})).await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let g = env.register("gus@example.com", PASSWORD).await;
    let gus = g["accessToken"].as_str().unwrap();
    assert!(claims(gus).get("restricted").is_none());
    let e = env
        .gql_as(
            Some(gus),
            "mutation { customerTotpEnroll { success errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        e["data"]["customerTotpEnroll"]["errors"][0]["code"], "METHOD_DISABLED",
        "{e}"
    );
    let l = login(&env, email, "another horse battery staple").await;
    assert_eq!(l["mfaRequired"], true, "{l}");
}
