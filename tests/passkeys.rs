//! Passkeys (#25) without a browser: what a client that is not one can
//! get wrong or try (the ceremonies themselves, with a real authenticator,
//! are `tests/browser.rs`): passkeys off until the project names its
//! relying party, a relying party that is not a domain and origins off it
//! refused, the registration options (discoverable, user verification,
//! the relying party, the customer), sign-in options that say nothing of
//! accounts, answers that are not JSON, too big, for an unknown or another
//! customer's ceremony, or answer a ceremony twice, all refused with a
//! code and the `response` field; one costly passkey field per request.

mod common;

use base64::Engine;
use common::{PASSWORD, TestEnv};
use serde_json::{Value, json};

const CONFIGURE: &str = "mutation C($input: ProjectConfigInput!) {
    projectConfigure(input: $input) { success errors { field message code } } }";
const REGISTER_START: &str =
    "mutation { customerPasskeyRegisterStart { success options errors { field message code } } }";
const REGISTER_FINISH: &str = "mutation F($r: JSON!) {
    customerPasskeyRegisterFinish(response: $r, name: \"Laptop\") {
        success passkey { id name } recoveryCodes errors { field message code } } }";
const LOGIN_START: &str = "mutation S($e: String) {
    customerPasskeyLoginStart(email: $e) { success options errors { field message code } } }";
const LOGIN_FINISH: &str = "mutation F($r: JSON!) {
    customerPasskeyLoginFinish(response: $r) {
        success accessToken errors { field message code } } }";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A browser's registration answer for `challenge` (base64url) from
/// `origin`, with an attestation that is not one.
fn registration(challenge: &str, origin: &str) -> Value {
    let client_data =
        json!({ "type": "webauthn.create", "challenge": challenge, "origin": origin });
    json!({
        "id": b64(b"cred-1"),
        "rawId": b64(b"cred-1"),
        "type": "public-key",
        "response": {
            "attestationObject": b64(b"not CBOR"),
            "clientDataJSON": b64(client_data.to_string().as_bytes()),
        },
        "extensions": {},
    })
}

/// A browser's sign-in answer for `challenge`, signed by no one.
fn assertion(challenge: &str, origin: &str) -> Value {
    let client_data = json!({ "type": "webauthn.get", "challenge": challenge, "origin": origin });
    json!({
        "id": b64(b"cred-1"),
        "rawId": b64(b"cred-1"),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0u8; 37]),
            "clientDataJSON": b64(client_data.to_string().as_bytes()),
            "signature": b64(b"not a signature"),
            "userHandle": null,
        },
        "extensions": {},
    })
}

fn error(payload: &Value) -> (String, String) {
    assert_eq!(payload["success"], false, "{payload}");
    let e = &payload["errors"][0];
    (
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{payload}"))
            .into(),
        // The admin API names it as a path (a list), the public one as text.
        e["field"]
            .as_str()
            .or(e["field"][0].as_str())
            .unwrap_or_default()
            .into(),
    )
}

async fn signed_up(env: &TestEnv, email: &str) -> String {
    let r = env.register(email, PASSWORD).await;
    r["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

#[tokio::test]
async fn passkey_ceremonies_refuse_what_a_browser_would_not_send() {
    let env = TestEnv::start().await;
    let ann = signed_up(&env, "ann@passkeys.example").await;

    // Off until the project names its relying party (`authConfig` says).
    let config = "{ authConfig { webauthnRpId } }";
    let r = env.gql(config, json!({})).await;
    assert_eq!(r["data"]["authConfig"]["webauthnRpId"], Value::Null, "{r}");
    let r = env.gql(LOGIN_START, json!({ "e": null })).await;
    let r = &r["data"]["customerPasskeyLoginStart"];
    assert_eq!(error(r).0, "PASSKEYS_NOT_CONFIGURED");
    let r = env.gql_as(Some(&ann), REGISTER_START, json!({})).await;
    let r = &r["data"]["customerPasskeyRegisterStart"];
    assert_eq!(error(r).0, "PASSKEYS_NOT_CONFIGURED");

    // A relying party is a domain; origins are on it, exactly.
    let bad = [
        (
            json!({ "webauthnRpId": "https://shop.example" }),
            "webauthnRpId",
        ),
        (json!({ "webauthnRpId": "Shop.Example" }), "webauthnRpId"),
        (
            json!({ "webauthnRpId": "shop.example", "webauthnOrigins": ["https://evil.example"] }),
            "webauthnOrigins",
        ),
        (
            json!({ "webauthnRpId": "shop.example", "webauthnOrigins": ["http://shop.example"] }),
            "webauthnOrigins",
        ),
        (
            json!({ "webauthnRpId": "shop.example", "webauthnOrigins": ["https://shop.example/"] }),
            "webauthnOrigins",
        ),
    ];
    for (input, field) in bad {
        let r = env.admin(CONFIGURE, json!({ "input": input })).await;
        let r = &r["data"]["projectConfigure"];
        assert_eq!(
            error(r),
            ("INVALID_INPUT".into(), field.into()),
            "{input} {r}"
        );
    }
    let origin = "https://shop.example";
    let input = json!({ "webauthnRpId": "shop.example", "webauthnOrigins": [origin] });
    let r = env.admin(CONFIGURE, json!({ "input": input })).await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let r = env.gql(config, json!({})).await;
    assert_eq!(
        r["data"]["authConfig"]["webauthnRpId"], "shop.example",
        "{r}"
    );

    // Adding one: signed in only; a discoverable credential with user
    // verification, for this relying party and this customer.
    let r = env.gql(REGISTER_START, json!({})).await;
    let r = &r["data"]["customerPasskeyRegisterStart"];
    assert_eq!(error(r).0, "UNAUTHENTICATED");
    let r = env.gql_as(Some(&ann), REGISTER_START, json!({})).await;
    let r = &r["data"]["customerPasskeyRegisterStart"];
    assert_eq!(r["success"], true, "{r}");
    let pk = &r["options"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "shop.example", "{r}");
    assert_eq!(pk["user"]["name"], "ann@passkeys.example");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(pk["excludeCredentials"], json!([]));
    let challenge = pk["challenge"].as_str().unwrap().to_string();
    assert!(
        challenge.len() >= 43,
        "at least 32 random bytes: {challenge}"
    );

    // Answers that are not one.
    let finish = |token: String, response: Value| {
        let env = &env;
        async move {
            let r = env
                .gql_as(Some(&token), REGISTER_FINISH, json!({ "r": response }))
                .await;
            r["data"]["customerPasskeyRegisterFinish"].clone()
        }
    };
    let r = finish(ann.clone(), json!({ "id": 1 })).await;
    assert_eq!(error(&r), ("INVALID_INPUT".into(), "response".into()));
    let huge = json!({ "id": "x".repeat(70_000) });
    let r = finish(ann.clone(), huge).await;
    assert_eq!(error(&r).1, "response", "{r}");
    // Another customer cannot finish Ann's ceremony (and spends it).
    let bob = signed_up(&env, "bob@passkeys.example").await;
    let r = finish(bob.clone(), registration(&challenge, origin)).await;
    assert_eq!(error(&r), ("INVALID_PASSKEY".into(), "response".into()));
    // An attestation that does not verify; then the spent ceremony again.
    let r = env.gql_as(Some(&ann), REGISTER_START, json!({})).await;
    let challenge = r["data"]["customerPasskeyRegisterStart"]["options"]["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let r = finish(ann.clone(), registration(&challenge, origin)).await;
        assert_eq!(error(&r), ("INVALID_PASSKEY".into(), "response".into()));
    }
    // A challenge authd never made.
    let r = finish(ann.clone(), registration(&b64(&[7u8; 32]), origin)).await;
    assert_eq!(error(&r), ("INVALID_PASSKEY".into(), "response".into()));
    let me = env
        .gql_as(
            Some(&ann),
            "{ currentUser { mfa { passkeys { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["currentUser"]["mfa"]["passkeys"],
        json!([]),
        "{me}"
    );

    // Sign-in options say nothing of accounts: an unknown address, one
    // without passkeys and none at all get the same discoverable shape.
    let mut shapes = Vec::new();
    for email in [
        json!("nobody@passkeys.example"),
        json!("ann@passkeys.example"),
        json!(null),
    ] {
        let r = env.gql(LOGIN_START, json!({ "e": email })).await;
        let r = &r["data"]["customerPasskeyLoginStart"];
        assert_eq!(r["success"], true, "{r}");
        let pk = &r["options"]["publicKey"];
        assert!(r["options"].get("mediation").is_none(), "{r}");
        assert_eq!(pk["userVerification"], "required", "{r}");
        shapes.push((pk["rpId"].clone(), pk["allowCredentials"].clone()));
    }
    assert!(shapes.iter().all(|s| *s == shapes[0]), "{shapes:?}");
    let r = env.gql(LOGIN_START, json!({ "e": "not an email" })).await;
    let r = &r["data"]["customerPasskeyLoginStart"];
    assert_eq!(error(r), ("INVALID_EMAIL".into(), "email".into()));

    // Sign-in answers: not JSON of one, a challenge never made, a
    // credential no customer has (the ceremony is spent all the same).
    let login = |response: Value| {
        let env = &env;
        async move {
            let r = env.gql(LOGIN_FINISH, json!({ "r": response })).await;
            r["data"]["customerPasskeyLoginFinish"].clone()
        }
    };
    let r = login(json!([])).await;
    assert_eq!(error(&r), ("INVALID_INPUT".into(), "response".into()));
    let r = login(assertion(&b64(&[9u8; 32]), origin)).await;
    assert_eq!(error(&r), ("INVALID_PASSKEY".into(), "response".into()));
    let r = env.gql(LOGIN_START, json!({ "e": null })).await;
    let challenge = r["data"]["customerPasskeyLoginStart"]["options"]["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let r = login(assertion(&challenge, origin)).await;
        assert_eq!(error(&r), ("INVALID_PASSKEY".into(), "response".into()));
        assert!(r["accessToken"].is_null());
    }

    // One costly passkey field per request, however it is named.
    let aliased = "mutation F($r: JSON!) { a: customerPasskeyLoginFinish(response: $r) { success } \
         b: customerPasskeyLoginFinish(response: $r) { success } }";
    let r = env
        .gql(aliased, json!({ "r": assertion(&challenge, origin) }))
        .await;
    assert!(r["errors"][0]["extensions"]["code"].is_string(), "{r}");
    assert!(r["data"].is_null() || r["data"]["a"].is_null(), "{r}");

    // A second step names one proof.
    let both = "mutation M($r: JSON) { customerLoginMfa(mfaToken: \"c_1.x\", totp: \"123456\",
        passkeyResponse: $r) { success errors { field code } } }";
    let r = env
        .gql(both, json!({ "r": assertion(&challenge, origin) }))
        .await;
    let r = &r["data"]["customerLoginMfa"];
    assert_eq!(error(r), ("INVALID_INPUT".into(), "passkeyResponse".into()));
}

/// Adding or removing a second factor takes a recent sign-in: an access
/// token that leaked (or a session refreshed for weeks) cannot plant an
/// attacker's passkey or authenticator app. A new sign-in can.
#[tokio::test]
async fn changing_second_factors_takes_a_recent_sign_in() {
    let env = TestEnv::start_with(|c| {
        c.limits.recent_sign_in = std::time::Duration::from_secs(1);
    })
    .await;
    let input =
        json!({ "webauthnRpId": "localhost", "webauthnOrigins": ["http://localhost:5173"] });
    let r = env.admin(CONFIGURE, json!({ "input": input })).await;
    assert_eq!(r["data"]["projectConfigure"]["success"], true, "{r}");
    let r = env.register("cy@passkeys.example", PASSWORD).await;
    let old = r["accessToken"].as_str().unwrap().to_string();
    let refresh = r["refreshToken"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    // A refreshed token is the same sign-in.
    let r = env
        .gql(
            "mutation R($t: String!) { customerRefreshToken(refreshToken: $t) {
                success accessToken errors { code } } }",
            json!({ "t": refresh }),
        )
        .await;
    let refreshed = r["data"]["customerRefreshToken"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    let changes = [
        (
            "customerTotpEnroll",
            "mutation { customerTotpEnroll { success errors { code } } }",
        ),
        (
            "customerRecoveryCodesGenerate",
            "mutation { customerRecoveryCodesGenerate { success errors { code } } }",
        ),
        ("customerPasskeyRegisterStart", REGISTER_START),
        (
            "customerPasskeyRemove",
            "mutation { customerPasskeyRemove(id: \"AAAA\") { success errors { field code } } }",
        ),
    ];
    for token in [&old, &refreshed] {
        for (field, query) in changes {
            let r = env.gql_as(Some(token), query, json!({})).await;
            assert_eq!(
                error(&r["data"][field]).0,
                "RECENT_LOGIN_REQUIRED",
                "{field} {r}"
            );
        }
    }
    // The Storefront's way in, with the same token.
    let r = env
        .storefront(
            None,
            "mutation S($t: String!) { customerPasskeyRegisterStart(customerAccessToken: $t) {
                options customerUserErrors { message } } }",
            json!({ "t": refreshed }),
        )
        .await;
    let r = &r["data"]["customerPasskeyRegisterStart"];
    assert!(r["options"].is_null(), "{r}");
    let message = r["customerUserErrors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("sign in again"), "{r}");

    // Signed in again: the same changes go through.
    let r = env
        .gql(
            "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) {
                accessToken } }",
            json!({ "e": "cy@passkeys.example", "p": PASSWORD }),
        )
        .await;
    let fresh = r["data"]["customerLogin"]["accessToken"].as_str().unwrap();
    let r = env.gql_as(Some(fresh), REGISTER_START, json!({})).await;
    assert_eq!(
        r["data"]["customerPasskeyRegisterStart"]["success"], true,
        "{r}"
    );
    let r = env.gql_as(Some(fresh), changes[0].1, json!({})).await;
    assert_eq!(r["data"]["customerTotpEnroll"]["success"], true, "{r}");
}
