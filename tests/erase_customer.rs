//! `customerErase` (#22): a customer with a profile, an address, a
//! metafield, an order, sessions on both APIs and mail waiting in the queue
//! is forgotten: sessions end, the address and phone are free again, the
//! queued mail and the data key are deleted with erase, the read models
//! forget them, and none of their personal data is left in any file the
//! broker or the read models wrote; the audit history stays, `[erased]`
//! where their data was, and a replay equals the live read model.

mod common;

use std::time::Duration;

use common::{
    PASSWORD, TestEnv,
    disk::holding,
    personal::{PersonalData, customer_with, storefront_as},
    smtp::REFUSED_DOMAIN,
};
use serde_json::{Value, json};

const AGENT: &str = "ZqEraseAgent/2.1";
const PHONE: &str = "+16135550188";

fn ann_data() -> PersonalData {
    PersonalData {
        // The relay refuses this domain (451): her mail waits in the queue.
        email: format!("zq.erase.ann{REFUSED_DOMAIN}"),
        first_name: "Zqerasefirst",
        last_name: "Zqeraselast",
        phone: PHONE,
        address1: "55 Zqerase Lane",
        note: "zqerasenote",
        shipping_address1: "66 Zqeraseship Road",
        order_name: "#ZQE1",
        user_agent: AGENT,
    }
}

async fn sf(env: &TestEnv, query: &str, variables: Value) -> Value {
    storefront_as(env, &ann_data(), query, variables).await
}

const CREATE: &str = "mutation C($i: CustomerCreateInput!) { customerCreate(input: $i) {
    customer { id } customerUserErrors { code field } } }";
const ERASE: &str = "mutation E($id: ID!, $r: String!) { customerErase(id: $id, reason: $r) {
    success keyDestroyed mailJobsDropped errors { field code message } } }";

/// Her entries in the project's audit log.
async fn history(env: &TestEnv, ann: &str) -> Vec<Value> {
    let v = env
        .admin(
            "query A($id: ID!) { auditLog(filter: { customerId: $id }, first: 250) {
               nodes { type ip userAgent } } }",
            json!({ "id": ann }),
        )
        .await;
    v["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_customer_is_gone_from_every_file_and_their_history_stays() {
    let env = TestEnv::start_with_mail_and(|c| c.audit_index = true).await;
    let email = ann_data().email;
    let (ann, sf_token) = customer_with(&env, &ann_data()).await;
    let login = env
        .gql(
            "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { success accessToken } }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await;
    let auth_token = login["data"]["customerLogin"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_string();
    let reset = env
        .gql(
            "mutation R($email: String!) { customerRequestPasswordReset(email: $email) { success } }",
            json!({ "email": email }),
        )
        .await;
    assert_eq!(
        reset["data"]["customerRequestPasswordReset"]["success"], true,
        "{reset}"
    );

    // The controls: her queued mail and her wrapped key are on disk, her
    // history is in the audit index.
    let nats_dir = env.dir.path().join("nats");
    let data_dir = env.config.data_dir.clone();
    wait_for("her mail is queued", async || {
        holding(&nats_dir, email.as_bytes())
            .iter()
            .any(|f| f.to_string_lossy().contains("AUTH_MAIL"))
    })
    .await;
    let js = async_nats::jetstream::new(env.client.clone());
    let key = js
        .get_stream("AUTH_KEYS")
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&format!("authd.key.{}.{ann}", env.project_id))
        .await
        .expect("her data key")
        .payload
        .to_vec();
    assert!(!holding(&nats_dir, &key).is_empty(), "the key is on disk");
    wait_for("her history is indexed", async || {
        history(&env, &ann)
            .await
            .iter()
            .any(|e| e["userAgent"] == AGENT)
    })
    .await;

    let erased = env
        .admin(ERASE, json!({ "id": ann, "r": "GDPR art. 17 request 42" }))
        .await;
    let e = &erased["data"]["customerErase"];
    assert_eq!(e["success"], true, "{erased}");
    assert_eq!(e["keyDestroyed"], true, "{erased}");
    assert!(e["mailJobsDropped"].as_i64().unwrap() >= 1, "{erased}");

    // Every session ended, on both APIs.
    let me = env
        .gql_as(Some(&auth_token), "{ currentUser { id email } }", json!({}))
        .await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
    let customer = sf(
        &env,
        "query Q($t: String!) { customer(customerAccessToken: $t) { email } }",
        json!({ "t": sf_token }),
    )
    .await;
    assert_eq!(customer["data"]["customer"], Value::Null, "{customer}");
    // No one to find, export or erase again.
    let found = env
        .admin(
            "query C($id: ID!) { customer(id: $id) { email } }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(found["data"]["customer"], Value::Null, "{found}");
    let export = env
        .admin(
            "query E($id: ID!) { customerDataExport(id: $id) }",
            json!({ "id": ann }),
        )
        .await;
    assert_eq!(
        export["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{export}"
    );
    let again = env.admin(ERASE, json!({ "id": ann, "r": "again" })).await;
    assert_eq!(
        again["data"]["customerErase"]["errors"][0]["code"], "ALREADY_ERASED",
        "{again}"
    );
    let nobody = env
        .admin(
            ERASE,
            json!({ "id": "c_01HZZZZZZZZZZZZZZZZZZZZZZZ", "r": "x" }),
        )
        .await;
    assert_eq!(
        nobody["data"]["customerErase"]["errors"][0]["code"], "CUSTOMER_NOT_FOUND",
        "{nobody}"
    );
    assert_eq!(
        nobody["data"]["customerErase"]["errors"][0]["field"],
        json!(["id"]),
        "{nobody}"
    );
    let no_reason = env.admin(ERASE, json!({ "id": ann, "r": " " })).await;
    assert_eq!(
        no_reason["data"]["customerErase"]["success"], false,
        "{no_reason}"
    );

    // The history stays, without her data.
    wait_for("her history shows [erased]", async || {
        let h = history(&env, &ann).await;
        h.iter().any(|e| e["type"] == "customer.erasure.completed")
            && h.iter().all(|e| e["userAgent"] != AGENT)
    })
    .await;
    let h = history(&env, &ann).await;
    assert!(h.iter().any(|e| e["type"] == "customer.erased"), "{h:?}");
    assert!(
        h.iter().any(|e| e["type"] == "customer.registered"),
        "{h:?}"
    );
    assert!(h.iter().any(|e| e["userAgent"] == "[erased]"), "{h:?}");
    assert!(h.iter().any(|e| e["ip"] == "[erased]"), "{h:?}");

    // Nothing of hers in any file the broker or the read models wrote.
    let markers = ann_data().markers();
    for dir in [&nats_dir, &data_dir] {
        for marker in &markers {
            let found = holding(dir, marker);
            assert!(
                found.is_empty(),
                "{:?} is still in {found:?}",
                String::from_utf8_lossy(marker)
            );
        }
    }
    assert!(holding(&nats_dir, &key).is_empty(), "the key's bytes stay");
    // The read models were searched: they are there, with other data.
    assert!(!holding(&data_dir, b"#ZQE1").is_empty(), "the order stays");

    // A replay (the key is gone) equals the live read model.
    let report = authd::verify::verify(&env.store, &env.config.read_model_path(), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);

    // Her address and phone are free: she may sign up again, as someone new.
    let anew = sf(
        &env,
        CREATE,
        json!({ "i": { "email": email, "password": PASSWORD, "phone": PHONE } }),
    )
    .await;
    let new_id = anew["data"]["customerCreate"]["customer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{anew}"));
    assert_ne!(new_id, ann);
}

const DELETE: &str = "mutation D($p: String) { customerDeleteAccount(currentPassword: $p) {
    success errors { field code message } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_deletes_their_own_account_proving_it_is_them() {
    let env = TestEnv::start_with_mail().await;
    // With a password: the current one, a wrong one counting as a failure.
    env.register("ann@example.com", PASSWORD).await;
    let token = env.login("ann@example.com", PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = env
        .gql_as(Some(&token), DELETE, json!({ "p": "not her password" }))
        .await;
    assert_eq!(
        wrong["data"]["customerDeleteAccount"]["errors"][0]["code"], "INVALID_CURRENT_PASSWORD",
        "{wrong}"
    );
    let none = env.gql_as(Some(&token), DELETE, json!({})).await;
    assert_eq!(
        none["data"]["customerDeleteAccount"]["errors"][0]["code"], "INVALID_CURRENT_PASSWORD",
        "{none}"
    );
    let seen = types(&env).await;
    assert_eq!(
        seen.iter()
            .filter(|t| *t == "customer.login.failed")
            .count(),
        2,
        "each wrong password is a failed attempt: {seen:?}"
    );
    let anonymous = env.gql(DELETE, json!({ "p": PASSWORD })).await;
    assert_eq!(
        anonymous["data"]["customerDeleteAccount"]["errors"][0]["code"], "UNAUTHENTICATED",
        "{anonymous}"
    );
    let done = env
        .gql_as(Some(&token), DELETE, json!({ "p": PASSWORD }))
        .await;
    assert_eq!(
        done["data"]["customerDeleteAccount"]["success"], true,
        "{done}"
    );
    let me = env
        .gql_as(Some(&token), "{ currentUser { id } }", json!({}))
        .await;
    assert_eq!(
        me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{me}"
    );
    let login = env
        .gql(
            "mutation L($e: String!, $p: String!) { customerLogin(email: $e, password: $p) { success errors { code } } }",
            json!({ "e": "ann@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(
        login["data"]["customerLogin"]["errors"][0]["code"], "INVALID_CREDENTIALS",
        "{login}"
    );
    let seen = types(&env).await;
    assert!(seen.iter().any(|t| t == "customer.erased"), "{seen:?}");
    assert!(
        seen.iter().any(|t| t == "customer.erasure.completed"),
        "{seen:?}"
    );
    // The address is free again.
    env.register("ann@example.com", PASSWORD).await;

    // Without a password (signed up with a code): a sign-in less than
    // five minutes old.
    let otp_token = |email: &'static str| {
        let env = &env;
        async move {
            let r = env
                .gql(
                    "mutation R($email: String!) { customerRequestOTP(email: $email) { success } }",
                    json!({ "email": email }),
                )
                .await;
            assert_eq!(r["data"]["customerRequestOTP"]["success"], true, "{r}");
            let code = common::smtp::code_in(&env.smtp().nth_to(email, 1).await);
            let l = env
                .gql(
                    "mutation L($email: String!, $otp: String!) { customerLoginOTP(email: $email, otp: $otp) { success accessToken } }",
                    json!({ "email": email, "otp": code }),
                )
                .await;
            l["data"]["customerLoginOTP"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{l}"))
                .to_string()
        }
    };
    let fresh = otp_token("bob@example.com").await;
    let stale = otp_token("cy@example.com").await;
    env.config.clock.advance(Duration::from_secs(6 * 60));
    let refused = env.gql_as(Some(&stale), DELETE, json!({})).await;
    assert_eq!(
        refused["data"]["customerDeleteAccount"]["errors"][0]["code"], "RECENT_LOGIN_REQUIRED",
        "{refused}"
    );
    let fresh_again = otp_token("dee@example.com").await;
    let deleted = env.gql_as(Some(&fresh_again), DELETE, json!({})).await;
    assert_eq!(
        deleted["data"]["customerDeleteAccount"]["success"], true,
        "{deleted}"
    );
    // Bob's sign-in is six minutes old by now, too.
    let bob = env.gql_as(Some(&fresh), DELETE, json!({})).await;
    assert_eq!(
        bob["data"]["customerDeleteAccount"]["errors"][0]["code"], "RECENT_LOGIN_REQUIRED",
        "{bob}"
    );
}

/// The types of every event in the log.
async fn types(env: &TestEnv) -> Vec<String> {
    env.opened_messages()
        .await
        .iter()
        .flat_map(|m| {
            m.bodies()
                .map(|e| e.type_name().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erasure_cut_short_is_finished_when_services_start() {
    let mut env = TestEnv::start().await;
    let reg = env.register("ann@example.com", PASSWORD).await;
    let ann = reg["user"]["id"].as_str().unwrap().to_string();
    // The mail queue is gone: the erasure commits, then cannot drop her mail.
    let js = async_nats::jetstream::new(env.client.clone());
    js.delete_stream("AUTH_MAIL").await.unwrap();
    let r = env
        .admin(ERASE, json!({ "id": ann, "r": "GDPR request 7" }))
        .await;
    let code = r["data"]["customerErase"]["errors"][0]["code"]
        .as_str()
        .or(r["errors"][0]["extensions"]["code"].as_str())
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    assert_eq!(code, "SERVICE_UNAVAILABLE", "{r}");
    let before = types(&env).await;
    assert!(before.iter().any(|t| t == "customer.erased"), "{before:?}");
    assert!(
        !before.iter().any(|t| t == "customer.erasure.completed"),
        "{before:?}"
    );
    let keys = js.get_stream("AUTH_KEYS").await.unwrap();
    let key_subject = format!("authd.key.{}.{ann}", env.project_id);
    assert!(
        keys.get_last_raw_message_by_subject(&key_subject)
            .await
            .is_ok(),
        "her key is still there"
    );
    assert!(
        keys.get_last_raw_message_by_subject(&format!("{key_subject}.erasing"))
            .await
            .is_ok(),
        "the erasure is marked as under way"
    );
    // Committed all the same: she cannot sign in.
    let login = env.login("ann@example.com", PASSWORD).await;
    assert_eq!(login["success"], false, "{login}");

    // The queue is back; a services instance starts and finishes it.
    authd_services::mail::Mailbox::open(env.client.clone(), 1)
        .await
        .unwrap();
    env.start_services();
    wait_for("the erasure is finished", async || {
        types(&env)
            .await
            .iter()
            .any(|t| t == "customer.erasure.completed")
    })
    .await;
    wait_for("her key and the mark are gone", async || {
        keys.get_last_raw_message_by_subject(&key_subject)
            .await
            .is_err()
            && keys
                .get_last_raw_message_by_subject(&format!("{key_subject}.erasing"))
                .await
                .is_err()
    })
    .await;
    // Erasing her again is refused, once it is finished.
    let again = env.admin(ERASE, json!({ "id": ann, "r": "again" })).await;
    assert_eq!(
        again["data"]["customerErase"]["errors"][0]["code"], "ALREADY_ERASED",
        "{again}"
    );
}

/// What a build before sealing wrote: one message with personal data in
/// plain, the request's client address and user agent in plain too.
async fn legacy(
    env: &TestEnv,
    kind: authd_events::AggregateKind,
    id: &str,
    actor: authd_events::Actor,
    agent: &str,
    events: Vec<authd_events::Event>,
) -> u64 {
    use authd_events::{AggregateSubject, EventMessage, Expected, MessageMeta, RequestMeta};
    let subject = AggregateSubject::new(&env.project_id, kind, id).unwrap();
    let meta = MessageMeta {
        tenant: env.project_id.clone(),
        aggregate_id: id.to_string(),
        time: authd_events::now_millis(),
        actor,
        request: RequestMeta {
            request_id: "legacy".into(),
            ip: Some("198.51.100.7".into()),
            user_agent: Some(agent.into()),
        }
        .into(),
        command_id: format!("legacy-{id}"),
    };
    let bare = env.store.without_data_keys();
    bare.append(&subject, &EventMessage::new(meta, events), Expected::Any)
        .await
        .unwrap()
        .seq
}

/// An order as an earlier build recorded it: the shipping address in plain.
fn legacy_order(customer: &str, name: &str, street: &str) -> authd_events::Event {
    use authd_events::{MailingAddress, OrderEvent, OrderRecorded, Personal};
    authd_events::Event::Order(OrderEvent::Recorded(Box::new(OrderRecorded {
        customer_id: customer.to_string(),
        external_id: format!("ext-{name}"),
        name: name.to_string(),
        processed_at: 1_767_261_600_000,
        financial_status: Some("PAID".into()),
        fulfillment_status: "UNFULFILLED".into(),
        currency: "CAD".into(),
        subtotal_price: None,
        total_tax: None,
        total_shipping: "0.00".into(),
        total_price: "12.00".into(),
        status_url: None,
        shipping_address: Some(Box::new(MailingAddress {
            address1: Some(Personal::plain(street)),
            ..Default::default()
        })),
        line_items: Vec::new(),
    })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_from_before_sealing_loses_their_plaintext_messages() {
    use authd_events::{
        Actor, AggregateKind, CustomerEvent, CustomerProfile, CustomerRegistered, Event,
        LoginMethod, Personal, SessionEvent, SessionStarted,
    };
    let mut env = TestEnv::start_with(|c| c.audit_index = true).await;
    let (ann, bob) = (authd_events::new_id("c"), authd_events::new_id("c"));
    let registered = |email: &str, first: &str| {
        vec![
            Event::Customer(CustomerEvent::Registered(CustomerRegistered {
                email: Personal::plain(email),
                password_hash: String::new(),
                email_verified: true,
            })),
            Event::Customer(CustomerEvent::ProfileChanged(CustomerProfile {
                first_name: Some(Personal::plain(first)),
                ..Default::default()
            })),
        ]
    };
    let customer = AggregateKind::Customer;
    let ann_registered = legacy(
        &env,
        customer,
        &ann,
        Actor::Anonymous,
        "ZqLegacyAgent/0.9",
        registered("zq.legacy@example.com", "Zqlegacyfirst"),
    )
    .await;
    legacy(
        &env,
        customer,
        &bob,
        Actor::Anonymous,
        "ZqBobAgent/0.9",
        registered("zq.bob@example.com", "Zqbobfirst"),
    )
    .await;
    // Her address's claim, her session and her order, in aggregates of
    // their own; Bob's order is the control.
    let claim = authd_events::keyed_hash::email_key(
        &env.keys.index,
        &env.project_id,
        &authd_events::keyed_hash::normalize_email("zq.legacy@example.com"),
    );
    let ann_claim = legacy(
        &env,
        AggregateKind::EmailClaim,
        &claim,
        Actor::Anonymous,
        "ZqLegacyClaimAgent/0.9",
        vec![Event::EmailClaim(authd_events::EmailClaimEvent::Claimed(
            authd_events::EmailClaimed {
                customer_id: ann.clone(),
            },
        ))],
    )
    .await;
    let session = authd_events::new_id("s");
    let ann_session = legacy(
        &env,
        AggregateKind::Session,
        &session,
        Actor::Anonymous,
        "ZqLegacySessionAgent/0.9",
        vec![Event::Session(SessionEvent::Started(SessionStarted {
            customer_id: ann.clone(),
            method: LoginMethod::Password,
            refresh_token_hash: [7; 32],
            expires_at: authd_events::now_millis() + 3_600_000,
        }))],
    )
    .await;
    let order = |name: &str, street: &str, customer: &str| {
        (
            authd_events::new_id("o"),
            legacy_order(customer, name, street),
        )
    };
    let (ann_order_id, ann_order) = order("#Z1", "Zqlegacystreet 5", &ann);
    let ann_order = legacy(
        &env,
        AggregateKind::Order,
        &ann_order_id,
        Actor::Admin("k_legacy".into()),
        "ZqShopBackend/1.0",
        vec![ann_order],
    )
    .await;
    let (bob_order_id, bob_order) = order("#Z2", "Zqbobstreet 9", &bob);
    legacy(
        &env,
        AggregateKind::Order,
        &bob_order_id,
        Actor::Admin("k_legacy".into()),
        "ZqShopBackend/1.0",
        vec![bob_order],
    )
    .await;
    let nats_dir = env.dir.path().join("nats");
    for marker in ["Zqlegacyfirst", "Zqlegacystreet 5", "ZqLegacySessionAgent"] {
        assert!(
            !holding(&nats_dir, marker.as_bytes()).is_empty(),
            "the control: an earlier build's {marker} is on disk"
        );
    }

    // The upgrade: this build's services start on a log an earlier build
    // wrote (this test's own start recorded a horizon before the messages
    // above; an upgraded log has none until then).
    env.stop_roles().await;
    env.client
        .request(
            "$JS.API.STREAM.PURGE.AUTH_KEYS",
            r#"{"filter":"authd.key._authd.log.horizon"}"#.into(),
        )
        .await
        .unwrap();
    env.start_services();
    env.start_gateway().await;
    let horizon = env.store.plaintext_horizon().await.unwrap();
    assert!(horizon >= ann_order, "horizon {horizon} < {ann_order}");
    // Her old session is refreshed by this build (sealed, after the
    // horizon): it leaves the log with the session's start.
    let refreshed = {
        use authd_events::{
            AggregateSubject, EventMessage, Expected, MessageMeta, SessionRefreshed,
        };
        let meta = MessageMeta {
            tenant: env.project_id.clone(),
            aggregate_id: session.clone(),
            time: authd_events::now_millis(),
            actor: Actor::Customer(ann.clone()),
            request: authd_events::RequestMeta {
                request_id: "after".into(),
                ip: Some("198.51.100.8".into()),
                user_agent: Some("ZqSealedRefreshAgent/1.0".into()),
            }
            .into(),
            command_id: "refresh-after-upgrade".into(),
        };
        let body = Event::Session(SessionEvent::Refreshed(SessionRefreshed {
            generation: 1,
            refresh_token_hash: [8; 32],
        }));
        let subject =
            AggregateSubject::new(&env.project_id, AggregateKind::Session, &session).unwrap();
        env.store
            .append(
                &subject,
                &EventMessage::new(meta, vec![body]),
                Expected::Any,
            )
            .await
            .unwrap()
            .seq
    };
    assert!(refreshed > horizon);
    assert!(
        holding(&nats_dir, b"ZqSealedRefreshAgent").is_empty(),
        "sealed"
    );
    let export = async |id: &str| {
        env.admin(
            "query E($id: ID!) { customerDataExport(id: $id) }",
            json!({ "id": id }),
        )
        .await["data"]["customerDataExport"]
            .clone()
    };
    wait_for("the read model has her and her order", async || {
        let doc = export(&ann).await;
        doc["customer"]["email"] == "zq.legacy@example.com" && doc["orders"][0]["name"] == "#Z1"
    })
    .await;

    let erased = env
        .admin(
            "mutation E($id: ID!) { customerErase(id: $id, reason: \"request 9\") {
               success keyDestroyed plaintextMessagesErased errors { code } } }",
            json!({ "id": ann }),
        )
        .await;
    let e = &erased["data"]["customerErase"];
    assert_eq!(e["success"], true, "{erased}");
    assert_eq!(
        e["plaintextMessagesErased"],
        json!([
            ann_registered.to_string(),
            ann_claim.to_string(),
            ann_session.to_string(),
            ann_order.to_string(),
            refreshed.to_string()
        ]),
        "{erased}"
    );
    wait_for("her history is erased", async || {
        history(&env, &ann)
            .await
            .iter()
            .any(|e| e["type"] == "customer.erasure.completed")
    })
    .await;
    let h = history(&env, &ann).await;
    assert!(
        !h.iter().any(|e| e["type"] == "customer.registered"),
        "the deleted message's entry went with it: {h:?}"
    );
    for dir in [&nats_dir, &env.config.data_dir] {
        for marker in [
            "zq.legacy@example.com",
            "Zqlegacyfirst",
            "ZqLegacyAgent/0.9",
            "ZqLegacySessionAgent",
            "ZqLegacyClaimAgent",
            "Zqlegacystreet 5",
        ] {
            let found = holding(dir, marker.as_bytes());
            assert!(found.is_empty(), "{marker:?} is still in {found:?}");
        }
    }
    // Bob, who was not erased, keeps everything.
    assert!(!holding(&nats_dir, b"Zqbobstreet 9").is_empty());
    let bob_now = export(&bob).await;
    assert_eq!(bob_now["orders"][0]["name"], "#Z2", "{bob_now}");
    assert_eq!(
        bob_now["orders"][0]["shippingAddress"]["address1"], "Zqbobstreet 9",
        "{bob_now}"
    );
    let report = authd::verify::verify(&env.store, &env.config.read_model_path(), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    // Her address is free: it registers again, as a new customer.
    let again = env.register("zq.legacy@example.com", PASSWORD).await;
    assert_eq!(again["success"], true, "{again}");
}

/// An admin request to the gateway at `addr`.
async fn admin_at(
    env: &TestEnv,
    addr: std::net::SocketAddr,
    query: &str,
    variables: Value,
) -> Value {
    env.http
        .post(format!("http://{addr}/graphql/admin"))
        .bearer_auth(&env.admin_key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_gateway_holding_the_key_forgets_the_customer_on_the_event() {
    let env = TestEnv::start().await;
    // Another gateway: its own read model, its own store and key cache.
    let mut config = env.config.clone();
    config.data_dir = env.dir.path().join("gateway-2");
    config.admin_listen = None;
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let nats = authd::app::connect(&config.nats_url).await.unwrap();
    let store = authd::app::open_store_with(&nats, config.store_config())
        .await
        .unwrap();
    let store = authd::app::with_data_keys(store, &env.keys.data, false, 1)
        .await
        .unwrap();
    let second = authd::app::start_gateway(
        &config,
        &env.keys,
        nats.client.clone(),
        store.clone(),
        env.shutdown.clone(),
    )
    .await
    .unwrap();
    let p = PersonalData {
        email: "zq.two.gateways@example.com".into(),
        first_name: "Zqtwofirst",
        last_name: "Zqtwolast",
        phone: "+16135550199",
        address1: "99 Zqtwo Street",
        note: "zqtwonote",
        shipping_address1: "11 Zqtwoship Road",
        order_name: "#ZQ2G",
        user_agent: "ZqTwoAgent/1.0",
    };
    let (ann, _) = customer_with(&env, &p).await;
    let read = "query C($id: ID!) { customer(id: $id) { email } }";
    wait_for(
        "the second gateway shows her, opened with her key",
        async || {
            let c = admin_at(&env, second.addr, read, json!({ "id": ann })).await;
            c["data"]["customer"]["email"] == "zq.two.gateways@example.com"
        },
    )
    .await;
    assert!(
        store
            .data_keys()
            .unwrap()
            .get(&env.project_id, &ann)
            .await
            .unwrap()
            .is_some(),
        "its cache holds her key"
    );

    let erased = env
        .admin(ERASE, json!({ "id": ann, "r": "GDPR request 3" }))
        .await;
    assert_eq!(erased["data"]["customerErase"]["success"], true, "{erased}");
    wait_for("the second gateway forgets her", async || {
        let c = admin_at(&env, second.addr, read, json!({ "id": ann })).await;
        c["data"]["customer"].is_null() && c["errors"].is_null()
    })
    .await;
    let export = admin_at(
        &env,
        second.addr,
        "query E($id: ID!) { customerDataExport(id: $id) }",
        json!({ "id": ann }),
    )
    .await;
    assert_eq!(
        export["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{export}"
    );
    // What it kept of the key went with the event; nothing of hers is
    // left in its read model's files.
    assert!(
        store
            .data_keys()
            .unwrap()
            .get(&env.project_id, &ann)
            .await
            .unwrap()
            .is_none(),
        "the key is gone from its cache"
    );
    for marker in p.markers() {
        let found = holding(&config.data_dir, &marker);
        assert!(
            found.is_empty(),
            "{:?} is still in {found:?}",
            String::from_utf8_lossy(&marker)
        );
    }
    assert!(
        !holding(&config.data_dir, b"#ZQ2G").is_empty(),
        "the control: its read model holds her order"
    );
}
