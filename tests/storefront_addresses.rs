//! A Storefront customer's mailing addresses, with the operations
//! Hydrogen's account pages send (`customerAddressCreate`, `…Update`,
//! `…Delete`, `customerDefaultAddressUpdate`, the `customer` query with
//! `defaultAddress` and `addresses` under `@inContext`), against a real
//! gateway, services, nats-server and SQLite.

mod common;

use authd_projections::Until;
use common::TestEnv;
use serde_json::{Value, json};

async fn sf(env: &TestEnv, query: &str, variables: Value) -> Value {
    env.storefront(None, query, variables).await
}

/// A customer, signed in: their Storefront token.
async fn signed_in(env: &TestEnv, email: &str) -> String {
    env.storefront_customer(email).await.1
}

// Hydrogen's demo-store operations (Storefront API era), verbatim but for
// the orders it also asks for.
const CREATE: &str = "mutation customerAddressCreate(
    $address: MailingAddressInput!
    $customerAccessToken: String!
  ) {
    customerAddressCreate(
      address: $address
      customerAccessToken: $customerAccessToken
    ) {
      customerAddress {
        id
      }
      customerUserErrors {
        code
        field
        message
      }
    }
  }";

const UPDATE: &str = "mutation customerAddressUpdate(
    $address: MailingAddressInput!
    $customerAccessToken: String!
    $id: ID!
  ) {
    customerAddressUpdate(
      address: $address
      customerAccessToken: $customerAccessToken
      id: $id
    ) {
      customerUserErrors {
        code
        field
        message
      }
    }
  }";

const DELETE: &str = "mutation customerAddressDelete($customerAccessToken: String!, $id: ID!) {
    customerAddressDelete(customerAccessToken: $customerAccessToken, id: $id) {
      customerUserErrors {
        code
        field
        message
      }
      deletedCustomerAddressId
    }
  }";

const UPDATE_DEFAULT: &str = "mutation customerDefaultAddressUpdate(
    $addressId: ID!
    $customerAccessToken: String!
  ) {
    customerDefaultAddressUpdate(
      addressId: $addressId
      customerAccessToken: $customerAccessToken
    ) {
      customerUserErrors {
        code
        field
        message
      }
    }
  }";

const CUSTOMER: &str = "query CustomerDetails(
    $customerAccessToken: String!
    $country: CountryCode
    $language: LanguageCode
  ) @inContext(country: $country, language: $language) {
    customer(customerAccessToken: $customerAccessToken) {
      ...CustomerDetails
    }
  }

  fragment AddressPartial on MailingAddress {
    id
    formatted
    firstName
    lastName
    company
    address1
    address2
    country
    province
    city
    zip
    phone
  }

  fragment CustomerDetails on Customer {
    firstName
    lastName
    phone
    email
    defaultAddress {
      ...AddressPartial
    }
    addresses(first: 6) {
      edges {
        node {
          ...AddressPartial
        }
      }
    }
  }";

async fn create(env: &TestEnv, token: &str, address: Value) -> Value {
    let v = sf(
        env,
        CREATE,
        json!({ "customerAccessToken": token, "address": address }),
    )
    .await;
    v["data"]["customerAddressCreate"].clone()
}

async fn created_id(env: &TestEnv, token: &str, address: Value) -> String {
    let c = create(env, token, address).await;
    assert_eq!(c["customerUserErrors"], json!([]), "{c}");
    c["customerAddress"]["id"].as_str().unwrap().to_string()
}

async fn details(env: &TestEnv, token: &str) -> Value {
    let v = sf(
        env,
        CUSTOMER,
        json!({ "customerAccessToken": token, "country": "CA", "language": "EN" }),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["customer"].clone()
}

fn ids(customer: &Value) -> Vec<String> {
    customer["addresses"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The one customerUserError: its field path and code.
fn refused(payload: &Value) -> (Value, Value) {
    let e = &payload["customerUserErrors"];
    assert_eq!(e.as_array().map(Vec::len), Some(1), "{payload}");
    assert!(e[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    (e[0]["field"].clone(), e[0]["code"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hydrogens_address_book_works_against_authd() {
    let env = TestEnv::start().await;
    let ann = signed_in(&env, "ann@example.com").await;

    let home = created_id(
        &env,
        &ann,
        json!({
            "firstName": "Ann", "lastName": "Lee", "company": "Acme",
            "address1": "1 Main St", "address2": "Apt 4", "city": "Ottawa",
            "province": "Ontario", "country": "Canada", "zip": "K1A 0B1",
            "phone": "+1 613 555 1111",
        }),
    )
    .await;
    assert!(home.starts_with("gid://authd/MailingAddress/"), "{home}");

    // The first address is the default; names and codes both answered.
    let c = details(&env, &ann).await;
    let d = &c["defaultAddress"];
    assert_eq!(d["id"], home);
    assert_eq!(d["country"], "Canada");
    assert_eq!(d["province"], "Ontario");
    assert_eq!(d["phone"], "+16135551111");
    assert_eq!(
        d["formatted"],
        json!(["Acme", "1 Main St", "Apt 4", "Ottawa ON K1A 0B1", "Canada"])
    );
    let full = sf(
        &env,
        "query Q($t: String!) { customer(customerAccessToken: $t) { defaultAddress {
           name countryCodeV2 countryCode provinceCode formattedArea latitude longitude
           formatted(withName: true, withCompany: false) } } }",
        json!({ "t": ann }),
    )
    .await;
    let d = &full["data"]["customer"]["defaultAddress"];
    assert_eq!(d["name"], "Ann Lee", "{full}");
    assert_eq!(d["countryCodeV2"], "CA");
    assert_eq!(d["countryCode"], "CA");
    assert_eq!(d["provinceCode"], "ON");
    assert_eq!(d["formattedArea"], "Ottawa ON, Canada");
    assert_eq!(d["latitude"], Value::Null);
    assert_eq!(
        d["formatted"],
        json!([
            "Ann Lee",
            "1 Main St",
            "Apt 4",
            "Ottawa ON K1A 0B1",
            "Canada"
        ])
    );

    // A second address by codes; the default stays.
    let work = created_id(
        &env,
        &ann,
        json!({ "address1": "2 Rue", "city": "Berlin", "country": "DE", "province": "BE", "zip": "10115" }),
    )
    .await;
    let c = details(&env, &ann).await;
    assert_eq!(ids(&c), [home.clone(), work.clone()]);
    assert_eq!(c["defaultAddress"]["id"], home);
    assert_eq!(
        c["addresses"]["edges"][1]["node"]["formatted"],
        json!(["2 Rue", "10115 Berlin", "Germany"])
    );

    // Update: the fields given change, the rest stay; the id as the
    // browser's URL carried it (encodeURIComponent once) is the same id.
    let encoded = home.replace(':', "%3A").replace('/', "%2F");
    let u = sf(
        &env,
        UPDATE,
        json!({ "customerAccessToken": ann, "id": encoded, "address": { "address2": null, "city": "Toronto" } }),
    )
    .await;
    assert_eq!(
        u["data"]["customerAddressUpdate"]["customerUserErrors"],
        json!([]),
        "{u}"
    );
    let d = &details(&env, &ann).await["defaultAddress"];
    assert_eq!(d["city"], "Toronto");
    assert_eq!(d["address2"], Value::Null);
    assert_eq!(d["address1"], "1 Main St");

    // Another default, then deleting it: the newest remaining one.
    let third = created_id(&env, &ann, json!({ "city": "Paris", "country": "FR" })).await;
    let set = sf(
        &env,
        UPDATE_DEFAULT,
        json!({ "customerAccessToken": ann, "addressId": work }),
    )
    .await;
    assert_eq!(
        set["data"]["customerDefaultAddressUpdate"]["customerUserErrors"],
        json!([]),
        "{set}"
    );
    assert_eq!(details(&env, &ann).await["defaultAddress"]["id"], work);
    let del = sf(
        &env,
        DELETE,
        json!({ "customerAccessToken": ann, "id": work }),
    )
    .await;
    let del = &del["data"]["customerAddressDelete"];
    assert_eq!(del["deletedCustomerAddressId"], work, "{del}");
    let c = details(&env, &ann).await;
    assert_eq!(c["defaultAddress"]["id"], third);
    assert_eq!(ids(&c), [home.clone(), third.clone()]);

    // The read model is what a rebuild from the log makes.
    let rebuilt = env.dir.path().join("rebuilt.db");
    authd_projections::rebuild(&env.store, &rebuilt, Until::Latest, false, |_, _| {})
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&rebuilt).unwrap();
    let live = env.read_model().dump().unwrap();
    assert!(live.iter().any(|r| r.starts_with("customer_addresses:")));
    assert_eq!(authd_projections::db::dump(&conn).unwrap(), live);

    // No address, country or city reaches a subject or header.
    for m in env.raw_messages().await {
        let headers = format!("{:?}", m.headers);
        for secret in ["Toronto", "Ontario", "1 Main St", "K1A"] {
            assert!(!m.subject.contains(secret) && !headers.contains(secret));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_addresses_are_refused_with_shopifys_codes_and_paths() {
    let env = TestEnv::start().await;
    let ann = signed_in(&env, "ann@example.com").await;
    let cases = [
        (
            json!({ "country": "Atlantis" }),
            json!(["address", "country"]),
            "INVALID",
        ),
        (
            json!({ "country": "CA", "province": "California" }),
            json!(["address", "province"]),
            "INVALID",
        ),
        (
            json!({ "address1": "x".repeat(256) }),
            json!(["address", "address1"]),
            "TOO_LONG",
        ),
        (
            json!({ "company": "<b>Acme</b>" }),
            json!(["address", "company"]),
            "CONTAINS_HTML_TAGS",
        ),
        (
            json!({ "phone": "555-1111" }),
            json!(["address", "phone"]),
            "INVALID",
        ),
    ];
    for (address, field, code) in cases {
        let c = create(&env, &ann, address.clone()).await;
        assert_eq!(refused(&c), (field, json!(code)), "{address}");
        assert_eq!(c["customerAddress"], Value::Null);
    }
    // Nothing was recorded for any of them.
    assert_eq!(details(&env, &ann).await["addresses"]["edges"], json!([]));

    // A stale token, and no token at all.
    for token in ["not-a-token", ""] {
        let c = create(&env, token, json!({ "city": "Ottawa" })).await;
        assert_eq!(
            refused(&c),
            (json!(["customerAccessToken"]), json!("TOKEN_INVALID"))
        );
    }
    // Ids that are not ours, malformed, or someone else's: NOT_FOUND.
    let bob = signed_in(&env, "bob@example.com").await;
    let bobs = created_id(&env, &bob, json!({ "city": "Bobton" })).await;
    for id in [
        bobs.as_str(),
        "gid://authd/MailingAddress/ad_nope",
        "gid://shopify/MailingAddress/1",
        "1",
    ] {
        let u = sf(
            &env,
            UPDATE,
            json!({ "customerAccessToken": ann, "id": id, "address": { "city": "Mine" } }),
        )
        .await;
        let u = &u["data"]["customerAddressUpdate"];
        assert_eq!(refused(u), (json!(["id"]), json!("NOT_FOUND")), "{id}");
        let d = sf(
            &env,
            DELETE,
            json!({ "customerAccessToken": ann, "id": id }),
        )
        .await;
        let d = &d["data"]["customerAddressDelete"];
        assert_eq!(refused(d), (json!(["id"]), json!("NOT_FOUND")), "{id}");
        assert_eq!(d["deletedCustomerAddressId"], Value::Null);
        let s = sf(
            &env,
            UPDATE_DEFAULT,
            json!({ "customerAccessToken": ann, "addressId": id }),
        )
        .await;
        let s = &s["data"]["customerDefaultAddressUpdate"];
        assert_eq!(
            refused(s),
            (json!(["addressId"]), json!("NOT_FOUND")),
            "{id}"
        );
    }
    // Bob's address is untouched.
    assert_eq!(
        details(&env, &bob).await["defaultAddress"]["city"],
        "Bobton"
    );

    // @inContext with literals is accepted on queries and mutations; an
    // argument Shopify's directive does not have is a validation error.
    let inline = sf(
        &env,
        "query Q($t: String!) @inContext(country: CA, language: PT_BR) {
           customer(customerAccessToken: $t) { email } }",
        json!({ "t": ann }),
    )
    .await;
    assert_eq!(
        inline["data"]["customer"]["email"], "ann@example.com",
        "{inline}"
    );
    let m = sf(
        &env,
        "mutation M($t: String!) @inContext(country: DE) {
           customerAddressCreate(customerAccessToken: $t, address: { city: \"Bonn\" }) {
             customerAddress { city } } }",
        json!({ "t": ann }),
    )
    .await;
    assert_eq!(
        m["data"]["customerAddressCreate"]["customerAddress"]["city"], "Bonn",
        "{m}"
    );
    // Hydrogen 2024+'s arguments, as variables of Shopify's input types.
    let newer = sf(
        &env,
        "query Q($t: String!, $buyer: BuyerInput, $consent: VisitorConsent)
           @inContext(country: US, buyer: $buyer, visitorConsent: $consent, preferredLocationId: \"gid://shopify/Location/1\") {
           customer(customerAccessToken: $t) { email } }",
        json!({ "t": ann, "buyer": { "customerAccessToken": ann }, "consent": { "analytics": true, "saleOfData": false } }),
    )
    .await;
    assert_eq!(
        newer["data"]["customer"]["email"], "ann@example.com",
        "{newer}"
    );
    let unknown = sf(
        &env,
        "query Q($t: String!) @inContext(currency: USD) { customer(customerAccessToken: $t) { email } }",
        json!({ "t": ann }),
    )
    .await;
    assert!(unknown["errors"][0]["message"].is_string(), "{unknown}");
    assert_eq!(unknown["data"], Value::Null, "{unknown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn addresses_page_both_ways_and_stop_at_a_hundred() {
    let env = TestEnv::start().await;
    let ann = signed_in(&env, "ann@example.com").await;
    let mut all = Vec::new();
    for i in 0..100 {
        all.push(created_id(&env, &ann, json!({ "city": format!("City {i}") })).await);
    }
    let over = create(&env, &ann, json!({ "city": "One too many" })).await;
    assert_eq!(refused(&over).1, json!("INVALID"), "{over}");

    let page = |args: &str| {
        format!(
            "query P($t: String!) {{ customer(customerAccessToken: $t) {{ addresses({args}) {{
               edges {{ cursor node {{ id }} }} nodes {{ id }}
               pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }} }}"
        )
    };
    let read = |args: String| {
        let env = &env;
        let ann = ann.clone();
        async move { sf(env, &page(&args), json!({ "t": ann })).await }
    };
    let got = |v: &Value| -> Vec<String> {
        v["data"]["customer"]["addresses"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let info = |v: &Value| v["data"]["customer"]["addresses"]["pageInfo"].clone();

    // Forwards, 30 at a time, through every address once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let args = match &after {
            None => "first: 30".to_string(),
            Some(c) => format!("first: 30, after: \"{c}\""),
        };
        let v = read(args).await;
        seen.extend(got(&v));
        let pi = info(&v);
        assert_eq!(pi["hasPreviousPage"], after.is_some(), "{v}");
        if pi["hasNextPage"] == false {
            break;
        }
        after = pi["endCursor"].as_str().map(String::from);
    }
    assert_eq!(seen, all);

    // Backwards from the end, and reversed.
    let v = read("last: 10".into()).await;
    assert_eq!(got(&v), all[90..]);
    assert_eq!(info(&v)["hasPreviousPage"], true);
    assert_eq!(info(&v)["hasNextPage"], false);
    let start = info(&v)["startCursor"].as_str().unwrap().to_string();
    let v = read(format!("last: 10, before: \"{start}\"")).await;
    assert_eq!(got(&v), all[80..90]);
    assert_eq!(info(&v)["hasNextPage"], true);
    let v = read("first: 3, reverse: true".into()).await;
    assert_eq!(got(&v), [all[99].clone(), all[98].clone(), all[97].clone()]);

    // Relay's limits, as Shopify words them.
    for (args, message) in [
        ("first: 251", "first cannot exceed 250"),
        ("last: 251", "last cannot exceed 250"),
        ("reverse: true", "you must provide one of first or last"),
        (
            "first: 1, last: 1",
            "providing both first and last is not supported",
        ),
        ("first: 1, after: \"garbage\"", "the cursor is invalid"),
    ] {
        let v = read(args.into()).await;
        assert_eq!(v["errors"][0]["message"], message, "{args}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v}");
    }

    // Deleting one makes room again.
    let d = sf(
        &env,
        DELETE,
        json!({ "customerAccessToken": ann, "id": all[0] }),
    )
    .await;
    assert_eq!(
        d["data"]["customerAddressDelete"]["customerUserErrors"],
        json!([])
    );
    created_id(&env, &ann, json!({ "city": "Room again" })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_customers_token_reads_and_writes_no_address() {
    let env = TestEnv::start().await;
    let ann = signed_in(&env, "ann@example.com").await;
    created_id(&env, &ann, json!({ "city": "Ottawa" })).await;
    let id = env
        .read_model()
        .customer_by_email(&env.project_id, "ann@example.com")
        .unwrap()
        .unwrap()
        .id;
    let s = env
        .admin(
            "mutation S($id: ID!) { customerSuspend(id: $id) { success } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(s["data"]["customerSuspend"]["success"], true, "{s}");
    let v = sf(&env, CUSTOMER, json!({ "customerAccessToken": ann })).await;
    assert_eq!(v["data"]["customer"], Value::Null, "{v}");
    let c = create(&env, &ann, json!({ "city": "Paris" })).await;
    assert_eq!(refused(&c).1, json!("TOKEN_INVALID"));
}
