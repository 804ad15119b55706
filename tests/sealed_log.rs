//! Personal data reaches the event log only sealed under its customer's
//! data key (#22): searched for in the broker's own files after a customer
//! gave a profile, an address, a metafield, an order with a shipping
//! address and a user agent; what the APIs show is opened again, and a
//! replay with the keys equals the live read model.

mod common;

use std::path::{Path, PathBuf};

use authd_events::{AggregateKind, AggregateSubject, CustomerEvent, Event, EventStore};
use common::{
    TestEnv,
    personal::{PersonalData, customer_with, storefront_as},
};
use serde_json::{Value, json};

const EMAIL: &str = "zqsealed.ann@example.com";
const AGENT: &str = "ZqSealedAgent/7.3";

fn ann_data() -> PersonalData {
    PersonalData {
        email: EMAIL.into(),
        first_name: "Zqannfirst",
        last_name: "Zqleelast",
        phone: "+16135550177",
        address1: "77 Zqsealed Street",
        note: "zqmetavalue",
        shipping_address1: "88 Zqshipping Road",
        order_name: "#ZQ1001",
        user_agent: AGENT,
    }
}

/// The files under `dir` but the mail queue's (mail jobs have their own
/// erasure test in `erasure.rs`) that hold `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    common::disk::holding(dir, needle)
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("AUTH_MAIL"))
        .collect()
}

async fn sf(env: &TestEnv, query: &str, variables: Value) -> Value {
    storefront_as(env, &ann_data(), query, variables).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_data_reaches_the_brokers_files_only_sealed() {
    let env = TestEnv::start_with(|c| c.audit_index = true).await;
    let (ann, token) = customer_with(&env, &ann_data()).await;

    // What the Storefront shows is opened again.
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = sf(
            &env,
            "query Q($t: String!) { customer(customerAccessToken: $t) { email firstName lastName phone
               defaultAddress { address1 } metafield(namespace: \"custom\", key: \"note\") { value }
               orders(first: 5) { nodes { name shippingAddress { address1 } } } } }",
            json!({ "t": token }),
        )
        .await;
        if shown["data"]["customer"]["orders"]["nodes"][0]["name"] == "#ZQ1001" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let c = &shown["data"]["customer"];
    assert_eq!(c["email"], EMAIL, "{shown}");
    assert_eq!(c["firstName"], "Zqannfirst", "{shown}");
    assert_eq!(c["lastName"], "Zqleelast", "{shown}");
    assert_eq!(c["phone"], "+16135550177", "{shown}");
    assert_eq!(
        c["defaultAddress"]["address1"], "77 Zqsealed Street",
        "{shown}"
    );
    assert_eq!(c["metafield"]["value"], "zqmetavalue", "{shown}");
    assert_eq!(
        c["orders"]["nodes"][0]["shippingAddress"]["address1"], "88 Zqshipping Road",
        "{shown}"
    );
    // So does the audit index: the user agent of the customer's requests.
    let mut history = Value::Null;
    for _ in 0..100 {
        history = env
            .admin(
                "query H($id: ID!) { customer(id: $id) { events(first: 50) { events { type userAgent } } } }",
                json!({ "id": ann }),
            )
            .await;
        let events = history["data"]["customer"]["events"]["events"].as_array();
        if events.is_some_and(|e| e.iter().any(|e| e["userAgent"] == AGENT)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let events = history["data"]["customer"]["events"]["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    assert!(events.iter().any(|e| e["userAgent"] == AGENT), "{history}");

    // The broker's files: the order's name (not personal) is there in
    // plain, so the messages were written; none of the customer's data is.
    let store_dir = env.dir.path().join("nats");
    assert!(
        !holding(&store_dir, b"#ZQ1001").is_empty(),
        "the control: the order's messages are on disk"
    );
    for marker in ann_data().markers() {
        let found = holding(&store_dir, &marker);
        assert!(
            found.is_empty(),
            "{:?} in plain in {found:?}",
            String::from_utf8_lossy(&marker)
        );
    }

    // Without the keys, the log shows the values sealed.
    let bare = EventStore::open(env.client.clone(), env.config.store_config())
        .await
        .unwrap();
    let subject = AggregateSubject::new(&env.project_id, AggregateKind::Customer, &ann).unwrap();
    let messages = bare.read_aggregate(&subject).await.unwrap();
    let registered = messages
        .iter()
        .flat_map(|m| m.message.bodies())
        .find_map(|e| match e {
            Event::Customer(CustomerEvent::Registered(r)) => Some(r.email.clone()),
            _ => None,
        })
        .expect("a registration");
    assert_eq!(registered.as_plain(), None, "the email is sealed");
    assert!(
        messages
            .iter()
            .all(|m| m.message.meta.request.user_agent().is_none()),
        "the user agents are sealed"
    );
    // With them, it opens.
    let opened = env.store.read_aggregate(&subject).await.unwrap();
    assert!(
        opened
            .iter()
            .any(|m| m.message.meta.request.user_agent() == Some(AGENT))
    );

    // A replay with the keys equals the live read model, audit index too.
    let report = authd::verify::verify(&env.store, &env.config.read_model_path(), |_, _| {})
        .await
        .unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
    assert!(report.rows > 0);
}
