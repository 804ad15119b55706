//! Orders: recorded by the shop's backend through the admin API
//! (`orderRecord`, `orderCancel`) and `authd admin import-orders`, read by
//! the signed-in customer as Shopify's Storefront API answers them
//! (`customer.orders` with sort keys, search and Relay paging,
//! `numberOfOrders`, `node`), against a real gateway, services,
//! nats-server and SQLite.

mod common;

use std::process::Command;

use common::TestEnv;
use serde_json::{Value, json};

async fn sf(env: &TestEnv, bearer: Option<&str>, query: &str, variables: Value) -> Value {
    env.storefront(bearer, query, variables).await
}

/// A signed-in customer: (id, Storefront token).
async fn signed_in(env: &TestEnv, email: &str) -> (String, String) {
    env.storefront_customer(email).await
}

const RECORD: &str = "mutation R($input: OrderRecordInput!) { orderRecord(input: $input) {
    success outcome customerId errors { field message code } } }";

async fn record(env: &TestEnv, input: Value) -> Value {
    env.admin(RECORD, json!({ "input": input })).await["data"]["orderRecord"].clone()
}

fn order(n: u32, customer: &str) -> Value {
    json!({
        "customerId": customer,
        "externalId": format!("ext-{n}"),
        "name": format!("#{}", 1000 + n),
        "processedAt": format!("2026-01-{:02}T10:00:00Z", n),
        "financialStatus": if n.is_multiple_of(2) { "paid" } else { "PENDING" },
        "fulfillmentStatus": if n.is_multiple_of(3) { "FULFILLED" } else { "UNFULFILLED" },
        "currencyCode": "CAD",
        "subtotalPrice": format!("{}.00", 10 * n),
        "totalTax": "1.30",
        "totalShipping": "5.00",
        // Totals not in processedAt order, so the sort keys differ.
        "totalPrice": format!("{}.50", (n * 37) % 100 + 1),
        "statusUrl": format!("https://shop.example/orders/{n}"),
        "lineItems": [
            { "title": "Mug", "variantTitle": "Blue", "sku": "MUG-B", "quantity": 3, "price": "9.99" },
            { "title": "Tea", "quantity": 1, "price": "4.5" },
        ],
    })
}

const ORDERS: &str =
    "query O($t: String!, $first: Int, $after: String, $last: Int, $before: String,
    $sortKey: OrderSortKeys, $reverse: Boolean, $query: String) {
  customer(customerAccessToken: $t) {
    numberOfOrders
    orders(first: $first, after: $after, last: $last, before: $before, sortKey: $sortKey,
           reverse: $reverse, query: $query) {
      totalCount
      edges { cursor node { id name orderNumber } }
      pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
    }
  }
}";

fn names(v: &Value) -> Vec<String> {
    v["data"]["customer"]["orders"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_reads_the_orders_the_backend_recorded() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let (_, bob_token) = signed_in(&env, "bob@example.com").await;
    for n in 1..=12 {
        let r = record(&env, order(n, &ann)).await;
        assert_eq!(r["success"], true, "{r}");
        assert_eq!(r["outcome"], "CREATED", "{r}");
    }
    // The same input twice is one order; a change replaces it.
    let again = record(&env, order(1, &ann)).await;
    assert_eq!(again["outcome"], "UNCHANGED", "{again}");
    let mut changed = order(1, &ann);
    changed["fulfillmentStatus"] = json!("FULFILLED");
    changed["shippingAddress"] =
        json!({ "city": "Ottawa", "province": "ON", "country": "CA", "firstName": "Ann" });
    assert_eq!(record(&env, changed).await["outcome"], "REPLACED");
    // By email, too.
    let mut by_email = order(13, "");
    by_email["customerId"] = Value::Null;
    by_email["email"] = json!("ANN@example.com");
    let r = record(&env, by_email).await;
    assert_eq!(
        (r["outcome"].clone(), r["customerId"].clone()),
        (json!("CREATED"), json!(ann))
    );

    let read = |vars: Value| {
        let env = &env;
        let token = token.clone();
        async move {
            let mut vars = vars;
            vars["t"] = json!(token);
            sf(env, None, ORDERS, vars).await
        }
    };
    let v = read(json!({ "first": 5 })).await;
    assert_eq!(v["data"]["customer"]["numberOfOrders"], "13", "{v}");
    assert_eq!(v["data"]["customer"]["orders"]["totalCount"], "13");
    assert_eq!(names(&v), ["#1001", "#1002", "#1003", "#1004", "#1005"]);
    assert_eq!(
        v["data"]["customer"]["orders"]["edges"][0]["node"]["orderNumber"],
        1001
    );

    // Newest first, as Hydrogen asks, paged through with cursors.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let v =
            read(json!({ "first": 4, "after": after, "sortKey": "PROCESSED_AT", "reverse": true }))
                .await;
        seen.extend(names(&v));
        let info = &v["data"]["customer"]["orders"]["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].clone();
    }
    let newest_first: Vec<String> = (1..=13).rev().map(|n| format!("#{}", 1000 + n)).collect();
    assert_eq!(seen, newest_first);
    // The same with nodes and pageInfo only (no edges asked for).
    let nodes_only = "query O($t: String!, $after: String) { customer(customerAccessToken: $t) {
        orders(first: 5, after: $after) { nodes { name } pageInfo { hasNextPage endCursor } } } }";
    let (mut pages, mut after) = (0, Value::Null);
    loop {
        let v = sf(
            &env,
            None,
            nodes_only,
            json!({ "t": token, "after": after }),
        )
        .await;
        let o = &v["data"]["customer"]["orders"];
        pages += 1;
        assert!(o["pageInfo"]["endCursor"].is_string(), "{v}");
        if o["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert!(pages < 5, "paging does not end: {v}");
        after = o["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    // Backwards from the end.
    let v = read(json!({ "last": 3, "sortKey": "PROCESSED_AT" })).await;
    assert_eq!(names(&v), ["#1011", "#1012", "#1013"]);
    let before = v["data"]["customer"]["orders"]["pageInfo"]["startCursor"].clone();
    let v = read(json!({ "last": 2, "before": before, "sortKey": "PROCESSED_AT" })).await;
    assert_eq!(names(&v), ["#1009", "#1010"]);
    assert_eq!(
        v["data"]["customer"]["orders"]["pageInfo"]["hasNextPage"],
        true
    );
    // By total price.
    let v = read(json!({ "first": 13, "sortKey": "TOTAL_PRICE" })).await;
    let mut by_total: Vec<(u32, String)> = (1..=13)
        .map(|n| ((n * 37) % 100 + 1, format!("#{}", 1000 + n)))
        .collect();
    by_total.sort();
    assert_eq!(
        names(&v),
        by_total.into_iter().map(|(_, n)| n).collect::<Vec<_>>()
    );
    // A cursor of one sort key is no cursor of another.
    let cursor = v["data"]["customer"]["orders"]["pageInfo"]["endCursor"].clone();
    let wrong = read(json!({ "first": 2, "after": cursor, "sortKey": "ID" })).await;
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{wrong}"
    );

    // Shopify's search syntax.
    let v =
        read(json!({ "first": 50, "query": "processed_at:>=2026-01-10 financial_status:paid" }))
            .await;
    assert_eq!(names(&v), ["#1010", "#1012"]);
    assert_eq!(v["data"]["customer"]["orders"]["totalCount"], "2");
    let v = read(json!({ "first": 50, "query": "fulfillment_status:fulfilled" })).await;
    assert_eq!(names(&v), ["#1001", "#1003", "#1006", "#1009", "#1012"]);
    let v = read(json!({ "first": 50, "query": "name:#1007" })).await;
    assert_eq!(names(&v), ["#1007"]);
    let v = read(json!({ "first": 50, "query": "price:>5" })).await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{v}");

    // One order whole, as the order page asks for it.
    let detail = sf(
        &env,
        None,
        "query D($t: String!) { customer(customerAccessToken: $t) { orders(first: 1) { nodes {
            id name processedAt statusUrl financialStatus fulfillmentStatus currencyCode
            canceledAt cancelReason
            subtotalPrice { amount currencyCode } totalTax { amount currencyCode }
            totalShippingPrice { amount } totalPrice { amount currencyCode } currentTotalPrice { amount }
            shippingAddress { city provinceCode country formatted }
            lineItems(first: 5) { nodes { title variantTitle quantity currentQuantity
              originalTotalPrice { amount currencyCode } discountedTotalPrice { amount } } }
        } } } }",
        json!({ "t": token }),
    )
    .await;
    let o = &detail["data"]["customer"]["orders"]["nodes"][0];
    assert_eq!(o["name"], "#1001", "{detail}");
    assert_eq!(o["processedAt"], "2026-01-01T10:00:00.000Z");
    assert_eq!(o["statusUrl"], "https://shop.example/orders/1");
    assert_eq!(o["financialStatus"], "PENDING");
    assert_eq!(o["fulfillmentStatus"], "FULFILLED");
    assert_eq!(
        o["subtotalPrice"],
        json!({ "amount": "10.00", "currencyCode": "CAD" })
    );
    assert_eq!(o["totalShippingPrice"]["amount"], "5.00");
    assert_eq!(
        o["totalPrice"],
        json!({ "amount": "38.50", "currencyCode": "CAD" })
    );
    assert_eq!(o["canceledAt"], Value::Null);
    assert_eq!(o["shippingAddress"]["provinceCode"], "ON");
    assert_eq!(o["shippingAddress"]["country"], "Canada");
    let lines = &o["lineItems"]["nodes"];
    assert_eq!(lines[0]["title"], "Mug");
    assert_eq!(
        lines[0]["originalTotalPrice"],
        json!({ "amount": "29.97", "currencyCode": "CAD" })
    );
    assert_eq!(lines[1]["discountedTotalPrice"]["amount"], "4.5");
    let id = o["id"].as_str().unwrap().to_string();

    // node / nodes: the caller's own only.
    let node = "query N($id: ID!, $ids: [ID!]!) { node(id: $id) { id ... on Order { name } }
        nodes(ids: $ids) { id } }";
    let mine = sf(
        &env,
        Some(&token),
        node,
        json!({ "id": id, "ids": [id, "gid://authd/Order/nope"] }),
    )
    .await;
    assert_eq!(mine["data"]["node"]["name"], "#1001", "{mine}");
    assert_eq!(mine["data"]["nodes"], json!([{ "id": id }, null]));
    let theirs = sf(
        &env,
        Some(&bob_token),
        node,
        json!({ "id": id, "ids": [id] }),
    )
    .await;
    assert_eq!(theirs["data"]["node"], Value::Null, "{theirs}");
    assert_eq!(theirs["data"]["nodes"], json!([null]));
    let nobody = sf(&env, None, node, json!({ "id": id, "ids": [] })).await;
    assert_eq!(nobody["data"]["node"], Value::Null, "{nobody}");
    // A line-item page after a cursor: read with the page of orders, and
    // alone through node.
    let lines = "query L($t: String!, $id: ID!) { customer(customerAccessToken: $t) {
        orders(first: 1) { nodes { lineItems(first: 1) { edges { cursor node { title } } pageInfo { hasNextPage } } } } }
        node(id: $id) { ... on Order { lineItems(first: 5, after: \"bDow\") { nodes { title } pageInfo { hasPreviousPage hasNextPage } } } } }";
    let v = sf(&env, Some(&token), lines, json!({ "t": token, "id": id })).await;
    let first = &v["data"]["customer"]["orders"]["nodes"][0]["lineItems"];
    assert_eq!(first["edges"][0]["node"]["title"], "Mug", "{v}");
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["edges"][0]["cursor"].as_str().unwrap().to_string();
    assert_eq!(cursor, "bDow", "the first line's cursor");
    let after = &v["data"]["node"]["lineItems"];
    assert_eq!(after["nodes"], json!([{ "title": "Tea" }]), "{v}");
    assert_eq!(
        after["pageInfo"],
        json!({ "hasPreviousPage": true, "hasNextPage": false })
    );
    let paged = sf(
        &env,
        None,
        "query P($t: String!) { customer(customerAccessToken: $t) { orders(first: 1) { nodes {
           lineItems(first: 5, after: \"bDow\") { nodes { title } } } } } }",
        json!({ "t": token }),
    )
    .await;
    assert_eq!(
        paged["data"]["customer"]["orders"]["nodes"][0]["lineItems"]["nodes"],
        json!([{ "title": "Tea" }]),
        "{paged}"
    );

    // Bob has no orders.
    let v = sf(&env, None, ORDERS, json!({ "t": bob_token, "first": 5 })).await;
    assert_eq!(v["data"]["customer"]["numberOfOrders"], "0");
    assert_eq!(names(&v), Vec::<String>::new());

    // Canceled.
    let c = env
        .admin(
            "mutation C($e: String!, $r: String!) { orderCancel(externalId: $e, reason: $r) { success errors { field code } } }",
            json!({ "e": "ext-2", "r": "customer" }),
        )
        .await;
    assert_eq!(c["data"]["orderCancel"]["success"], true, "{c}");
    let v = sf(
        &env,
        None,
        "query D($t: String!) { customer(customerAccessToken: $t) { orders(first: 1, query: \"name:#1002\") { nodes { canceledAt cancelReason } } } }",
        json!({ "t": token }),
    )
    .await;
    let o = &v["data"]["customer"]["orders"]["nodes"][0];
    assert_eq!(o["cancelReason"], "CUSTOMER", "{v}");
    assert!(o["canceledAt"].is_string());
    let missing = env
        .admin(
            "mutation C($e: String!) { orderCancel(externalId: $e, reason: \"OTHER\") { success errors { field code } } }",
            json!({ "e": "no-such-order" }),
        )
        .await;
    assert_eq!(
        missing["data"]["orderCancel"]["errors"][0]["code"], "NOT_FOUND",
        "{missing}"
    );

    // The read model is what a rebuild from the log makes.
    let rebuilt = env.dir.path().join("rebuilt.db");
    authd_projections::rebuild(
        &env.store,
        &rebuilt,
        authd_projections::Until::Latest,
        false,
        |_, _| {},
    )
    .await
    .unwrap();
    let conn = rusqlite::Connection::open(&rebuilt).unwrap();
    let live = env.read_model().dump().unwrap();
    assert!(live.iter().filter(|r| r.starts_with("orders:")).count() == 13);
    assert_eq!(authd_projections::db::dump(&conn).unwrap(), live);
}

// Hydrogen's demo-store account page (Storefront API era), verbatim.
const HYDROGEN_ACCOUNT: &str = "query CustomerDetails(
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
    orders(first: 250, sortKey: PROCESSED_AT, reverse: true) {
      edges {
        node {
          ...OrderCard
        }
      }
    }
  }

  fragment OrderCard on Order {
    id
    orderNumber
    processedAt
    financialStatus
    fulfillmentStatus
    currentTotalPrice {
      amount
      currencyCode
    }
    lineItems(first: 2) {
      edges {
        node {
          variant {
            image {
              url
              altText
              height
              width
            }
          }
          title
        }
      }
    }
  }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hydrogens_account_page_reads_profile_addresses_and_orders() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    for n in 1..=3 {
        assert_eq!(record(&env, order(n, &ann)).await["success"], true);
    }
    let v = sf(
        &env,
        None,
        HYDROGEN_ACCOUNT,
        json!({ "customerAccessToken": token, "country": "CA", "language": "EN" }),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    let c = &v["data"]["customer"];
    assert_eq!(c["email"], "ann@example.com");
    let orders = c["orders"]["edges"].as_array().unwrap();
    let numbers: Vec<i64> = orders
        .iter()
        .map(|e| e["node"]["orderNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1003, 1002, 1001]);
    let card = &orders[0]["node"];
    assert_eq!(card["financialStatus"], "PENDING");
    assert_eq!(card["currentTotalPrice"]["currencyCode"], "CAD");
    assert_eq!(card["lineItems"]["edges"][0]["node"]["title"], "Mug");
    assert_eq!(
        card["lineItems"]["edges"][0]["node"]["variant"],
        Value::Null
    );
    assert_eq!(card["lineItems"]["edges"].as_array().unwrap().len(), 2);
}

// Hydrogen's demo-store order page (`account.orders.$id`, Storefront API
// era), verbatim: it rebuilds the id as `gid://shopify/Order/<id>?key=<key>`.
const HYDROGEN_ORDER: &str = "fragment Money on MoneyV2 {
    amount
    currencyCode
  }
  fragment AddressFull on MailingAddress {
    address1
    address2
    city
    company
    country
    countryCodeV2
    firstName
    formatted
    id
    lastName
    name
    phone
    province
    provinceCode
    zip
  }
  fragment DiscountApplication on DiscountApplication {
    value {
      ... on MoneyV2 {
        amount
        currencyCode
      }
      ... on PricingPercentageValue {
        percentage
      }
    }
  }
  fragment Image on Image {
    altText
    height
    src: url(transform: {crop: CENTER, maxHeight: 96, maxWidth: 96, scale: 2})
    id
    width
  }
  fragment ProductVariant on ProductVariant {
    id
    image {
      ...Image
    }
    price {
      ...Money
    }
    product {
      handle
    }
    sku
    title
  }
  fragment LineItemFull on OrderLineItem {
    title
    quantity
    discountAllocations {
      allocatedAmount {
        ...Money
      }
      discountApplication {
        ...DiscountApplication
      }
    }
    originalTotalPrice {
      ...Money
    }
    discountedTotalPrice {
      ...Money
    }
    variant {
      ...ProductVariant
    }
  }

  query CustomerOrder(
    $country: CountryCode
    $language: LanguageCode
    $orderId: ID!
  ) @inContext(country: $country, language: $language) {
    node(id: $orderId) {
      ... on Order {
        id
        name
        orderNumber
        processedAt
        fulfillmentStatus
        totalTaxV2 {
          ...Money
        }
        totalPriceV2 {
          ...Money
        }
        subtotalPriceV2 {
          ...Money
        }
        shippingAddress {
          ...AddressFull
        }
        discountApplications(first: 100) {
          nodes {
            ...DiscountApplication
          }
        }
        lineItems(first: 100) {
          nodes {
            ...LineItemFull
          }
        }
      }
    }
  }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hydrogens_order_page_reads_an_order_with_its_discounts() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let (_, bob) = signed_in(&env, "bob@example.com").await;
    let mut input = order(1, &ann);
    input["shippingAddress"] = json!({ "firstName": "Ann", "city": "Ottawa", "province": "ON",
        "country": "CA", "address1": "1 Main St", "zip": "K1A 0B1" });
    input["discountApplications"] = json!([
        { "kind": "DISCOUNT_CODE", "code": "SPRING10", "percentage": "10" },
        { "kind": "AUTOMATIC", "title": "Tea time", "amount": "0.50" },
    ]);
    input["lineItems"][0]["discountAllocations"] =
        json!([{ "amount": "2.997", "discountApplicationIndex": 0 }]);
    input["lineItems"][1]["discountAllocations"] = json!([
        { "amount": "0.45", "discountApplicationIndex": 0 },
        { "amount": "0.50", "discountApplicationIndex": 1 },
    ]);
    let r = record(&env, input.clone()).await;
    assert_eq!(r["outcome"], "CREATED", "{r}");
    assert_eq!(record(&env, input.clone()).await["outcome"], "UNCHANGED");

    // The list gives the id; Hydrogen's card splits it and its page rebuilds it.
    let list = sf(&env, None, ORDERS, json!({ "t": token, "first": 1 })).await;
    let id = list["data"]["customer"]["orders"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let legacy = id.rsplit('/').next().unwrap().split('?').next().unwrap();
    let page = |order_id: String, bearer: String| {
        let env = &env;
        async move {
            sf(
                env,
                Some(&bearer),
                HYDROGEN_ORDER,
                json!({ "orderId": order_id, "country": "CA", "language": "EN" }),
            )
            .await
        }
    };
    let v = page(
        format!("gid://shopify/Order/{legacy}?key=null"),
        token.clone(),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    let o = &v["data"]["node"];
    assert_eq!(o["id"], id.as_str(), "{v}");
    assert_eq!(o["name"], "#1001");
    assert_eq!(
        o["totalPriceV2"],
        json!({ "amount": "38.50", "currencyCode": "CAD" })
    );
    assert_eq!(o["subtotalPriceV2"]["amount"], "10.00");
    assert_eq!(o["totalTaxV2"]["amount"], "1.30");
    assert_eq!(o["shippingAddress"]["provinceCode"], "ON");
    assert_eq!(
        o["discountApplications"]["nodes"],
        json!([{ "value": { "percentage": 10.0 } },
               { "value": { "amount": "0.50", "currencyCode": "CAD" } }])
    );
    let lines = o["lineItems"]["nodes"].as_array().unwrap();
    assert_eq!(lines[0]["originalTotalPrice"]["amount"], "29.97");
    assert_eq!(lines[0]["discountedTotalPrice"]["amount"], "26.973");
    assert_eq!(
        lines[0]["discountAllocations"],
        json!([{ "allocatedAmount": { "amount": "2.997", "currencyCode": "CAD" },
                 "discountApplication": { "value": { "percentage": 10.0 } } }])
    );
    assert_eq!(lines[1]["discountedTotalPrice"]["amount"], "3.55");
    assert_eq!(lines[1]["discountAllocations"].as_array().unwrap().len(), 2);
    assert_eq!(lines[1]["variant"], Value::Null);
    // Our own id form and its URL-encoded form work too; Bob gets nothing.
    let own = page(id.clone(), token.clone()).await;
    assert_eq!(own["data"]["node"]["name"], "#1001", "{own}");
    let theirs = page(format!("gid://shopify/Order/{legacy}"), bob.clone()).await;
    assert_eq!(theirs["data"]["node"], Value::Null, "{theirs}");

    // The discount codes' own fields, and paging the applications.
    let q = "query N($id: ID!) { node(id: $id) { ... on Order {
        discountApplications(first: 1, reverse: true) {
          edges { cursor node { targetType allocationMethod
            ... on AutomaticDiscountApplication { title }
            ... on DiscountCodeApplication { code applicable } } }
          pageInfo { hasNextPage hasPreviousPage } } } } }";
    let d = sf(&env, Some(&token), q, json!({ "id": id })).await;
    let apps = &d["data"]["node"]["discountApplications"];
    assert_eq!(apps["edges"][0]["node"]["title"], "Tea time", "{d}");
    assert_eq!(apps["edges"][0]["node"]["targetType"], "LINE_ITEM");
    assert_eq!(apps["pageInfo"]["hasNextPage"], true);
    let after = apps["edges"][0]["cursor"].as_str().unwrap();
    let q2 = q
        .replace(
            "first: 1, reverse: true",
            "first: 1, reverse: true, after: $after",
        )
        .replace("query N($id: ID!)", "query N($id: ID!, $after: String)");
    let d = sf(&env, Some(&token), &q2, json!({ "id": id, "after": after })).await;
    let apps = &d["data"]["node"]["discountApplications"];
    assert_eq!(apps["edges"][0]["node"]["code"], "SPRING10", "{d}");
    assert_eq!(apps["edges"][0]["node"]["applicable"], true);
    assert_eq!(apps["pageInfo"]["hasNextPage"], false);

    // Recorded again without discounts: they are gone.
    let mut plain = input.clone();
    plain
        .as_object_mut()
        .unwrap()
        .remove("discountApplications");
    for l in plain["lineItems"].as_array_mut().unwrap() {
        l.as_object_mut().unwrap().remove("discountAllocations");
    }
    assert_eq!(record(&env, plain).await["outcome"], "REPLACED");
    let v = page(id.clone(), token.clone()).await;
    assert_eq!(
        v["data"]["node"]["discountApplications"]["nodes"],
        json!([]),
        "{v}"
    );
    assert_eq!(
        v["data"]["node"]["lineItems"]["nodes"][0]["discountedTotalPrice"]["amount"],
        "29.97"
    );

    // Bad discounts are refused and record nothing.
    for (change, path) in [
        (
            json!([{ "kind": "DISCOUNT_CODE", "percentage": "10" }]),
            json!(["discountApplications", "code"]),
        ),
        (
            json!([{ "title": "x", "percentage": "150" }]),
            json!(["discountApplications", "percentage"]),
        ),
        (
            json!([{ "title": "x", "amount": "1", "percentage": "1" }]),
            json!(["discountApplications"]),
        ),
    ] {
        let mut bad = input.clone();
        bad["discountApplications"] = change.clone();
        bad["lineItems"][0]["discountAllocations"] = json!([]);
        bad["lineItems"][1]["discountAllocations"] = json!([]);
        let r = record(&env, bad).await;
        assert_eq!(r["errors"][0]["code"], "INVALID", "{change}: {r}");
        assert_eq!(r["errors"][0]["field"], path, "{change}: {r}");
    }
    let mut over = input.clone();
    over["lineItems"][1]["discountAllocations"] =
        json!([{ "amount": "4.51", "discountApplicationIndex": 1 }]);
    let r = record(&env, over).await;
    assert_eq!(
        r["errors"][0]["field"],
        json!(["lineItems", "discountAllocations", "amount"]),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_orders_are_refused_and_record_nothing() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "currencyCode": "XYZ" }), "currencyCode", "INVALID"),
        (
            json!({ "totalPrice": "19.999999" }),
            "totalPrice",
            "INVALID",
        ),
        (json!({ "totalPrice": "1e3" }), "totalPrice", "INVALID"),
        (json!({ "totalPrice": "-5.00" }), "totalPrice", "INVALID"),
        (
            json!({ "processedAt": "yesterday" }),
            "processedAt",
            "INVALID",
        ),
        (
            json!({ "financialStatus": "MAYBE" }),
            "financialStatus",
            "INVALID",
        ),
        (json!({ "externalId": "  " }), "externalId", "INVALID"),
        (json!({ "name": "x".repeat(300) }), "name", "TOO_LONG"),
        (
            json!({ "statusUrl": "javascript:alert(1)" }),
            "statusUrl",
            "INVALID",
        ),
        (
            json!({ "lineItems": [{ "title": "Mug", "quantity": 0, "price": "1" }] }),
            "lineItems.quantity",
            "INVALID",
        ),
        (
            json!({ "shippingAddress": { "country": "Atlantis" } }),
            "country",
            "INVALID",
        ),
        (
            json!({ "customerId": "c_nobody" }),
            "",
            "CUSTOMER_NOT_FOUND",
        ),
        (
            json!({ "customerId": null, "email": "nobody@example.com" }),
            "",
            "CUSTOMER_NOT_FOUND",
        ),
    ];
    for (change, field, code) in cases {
        let mut input = order(1, &ann);
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let r = record(&env, input).await;
        assert_eq!(r["success"], false, "{change}: {r}");
        assert_eq!(r["errors"][0]["code"], code, "{change}: {r}");
        if !field.is_empty() {
            let path: Vec<&str> = field.split('.').collect();
            assert_eq!(r["errors"][0]["field"], json!(path), "{change}: {r}");
        }
    }
    let v = sf(&env, None, ORDERS, json!({ "t": token, "first": 5 })).await;
    assert_eq!(v["data"]["customer"]["numberOfOrders"], "0", "{v}");
    // The Storefront key cannot record orders.
    let forged = sf(
        &env,
        Some(&token),
        RECORD,
        json!({ "input": order(1, &ann) }),
    )
    .await;
    assert!(forged["errors"][0]["message"].is_string(), "{forged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_history_is_imported_from_json_lines() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let mut lines: Vec<String> = (1..=30).map(|n| order(n, &ann).to_string()).collect();
    lines.insert(5, "{ not json".into());
    let mut bad = order(20, &ann);
    bad["externalId"] = json!("ext-bad");
    bad["currencyCode"] = json!("XYZ");
    lines.insert(10, bad.to_string());
    lines.push(String::new());
    let file = env.dir.path().join("orders.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let import = || {
        let out = Command::new(env!("CARGO_BIN_EXE_authd"))
            .args([
                "admin",
                "--nats-url",
                &env.nats.url(),
                "import-orders",
                &env.project_id,
            ])
            .arg("--file")
            .arg(&file)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let summary = import();
    assert_eq!(summary["imported"], 30, "{summary}");
    assert_eq!(summary["unchanged"], 0);
    let refused = summary["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{summary}");
    assert_eq!(refused[0]["line"], 6);
    assert_eq!(refused[1]["line"], 11);
    assert!(
        refused[1]["error"]
            .as_str()
            .unwrap()
            .contains("currencyCode"),
        "{summary}"
    );
    // Run again: nothing new.
    let again = import();
    assert_eq!(
        (again["imported"].clone(), again["unchanged"].clone()),
        (json!(0), json!(30)),
        "{again}"
    );
    // Recorded over NATS: wait until this gateway's read model has it all.
    let last = env.last_seq().await;
    let mut applied = env.gateway.as_ref().unwrap().applied.clone();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        applied.wait_for(|s| *s >= last),
    )
    .await
    .unwrap()
    .unwrap();
    let v = sf(&env, None, ORDERS, json!({ "t": token, "first": 1 })).await;
    assert_eq!(v["data"]["customer"]["numberOfOrders"], "30", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_tag_customers_and_the_customer_reads_the_tags() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    let set = |tags: Value| {
        let env = &env;
        let ann = ann.clone();
        async move {
            env.admin(
                "mutation T($id: ID!, $tags: [String!]!) { customerTagsSet(id: $id, tags: $tags) {
                   success errors { field code } } }",
                json!({ "id": ann, "tags": tags }),
            )
            .await["data"]["customerTagsSet"]
                .clone()
        }
    };
    let tags = "query T($t: String!) { customer(customerAccessToken: $t) { tags } }";
    let read = || {
        let env = &env;
        let token = token.clone();
        async move {
            sf(env, None, tags, json!({ "t": token })).await["data"]["customer"]["tags"].clone()
        }
    };
    assert_eq!(read().await, json!([]));
    assert_eq!(
        set(json!([" VIP ", "vip", "wholesale", ""])).await["success"],
        true
    );
    assert_eq!(read().await, json!(["VIP", "wholesale"]));
    let before = env.last_seq().await;
    assert_eq!(
        set(json!(["VIP", "wholesale ", "vip"])).await["success"],
        true
    );
    assert_eq!(
        env.last_seq().await,
        before,
        "the same tags again record nothing"
    );
    for (bad, code) in [
        (json!(["a,b"]), "INVALID"),
        (json!(["<b>x</b>"]), "CONTAINS_HTML_TAGS"),
        (json!(["x".repeat(256)]), "TOO_LONG"),
    ] {
        let r = set(bad.clone()).await;
        assert_eq!(r["success"], false, "{bad}: {r}");
        assert_eq!(r["errors"][0]["code"], code, "{bad}: {r}");
        assert_eq!(r["errors"][0]["field"], json!(["tags"]), "{r}");
    }
    assert_eq!(read().await, json!(["VIP", "wholesale"]));
    // Only an admin sets them: the Storefront has no such operation.
    let forged = sf(
        &env,
        Some(&token),
        "mutation { customerTagsSet(id: \"x\", tags: [\"free\"]) { success } }",
        json!({}),
    )
    .await;
    assert!(forged["errors"][0]["message"].is_string(), "{forged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_projects_keys_never_reach_anothers_orders() {
    let env = TestEnv::start().await;
    let (ann, token) = signed_in(&env, "ann@example.com").await;
    assert_eq!(record(&env, order(1, &ann)).await["outcome"], "CREATED");
    let created = env
        .admin_as(
            &env.operator_key,
            None,
            "mutation { projectCreate(name: \"Other shop\") { success projectId publicApiKey adminKey } }",
            json!({}),
        )
        .await;
    let other = &created["data"]["projectCreate"];
    assert_eq!(other["success"], true, "{created}");
    let (other_admin, other_public) = (
        other["adminKey"].as_str().unwrap().to_string(),
        other["publicApiKey"].as_str().unwrap().to_string(),
    );
    let as_other = |query: &'static str, variables: Value| {
        let env = &env;
        let key = other_admin.clone();
        async move { env.admin_as(&key, None, query, variables).await }
    };
    // The other project's admin can neither record for Ann nor touch her order.
    let mut stolen = None;
    for _ in 0..50 {
        let r = as_other(RECORD, json!({ "input": order(1, &ann) })).await;
        if r["data"]["orderRecord"]["errors"][0]["code"] != "INVALID_API_KEY" {
            stolen = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let stolen = stolen.unwrap();
    assert_eq!(
        stolen["data"]["orderRecord"]["errors"][0]["code"], "CUSTOMER_NOT_FOUND",
        "{stolen}"
    );
    let cancel = as_other(
        "mutation { orderCancel(externalId: \"ext-1\", reason: \"FRAUD\") { success errors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        cancel["data"]["orderCancel"]["errors"][0]["code"], "NOT_FOUND",
        "{cancel}"
    );
    // Ann's token with the other project's public key reads nothing.
    let v = env
        .http
        .post(env.url("/graphql/storefront"))
        .header("x-api-key", &other_public)
        .bearer_auth(&token)
        .json(&json!({ "query": ORDERS, "variables": { "t": token, "first": 5 } }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(v["data"]["customer"], Value::Null, "{v}");
    // Her own project still has the order, uncanceled.
    let mine = sf(
        &env,
        None,
        "query D($t: String!) { customer(customerAccessToken: $t) { orders(first: 5) { nodes { name canceledAt } } } }",
        json!({ "t": token }),
    )
    .await;
    assert_eq!(
        mine["data"]["customer"]["orders"]["nodes"],
        json!([{ "name": "#1001", "canceledAt": null }]),
        "{mine}"
    );
}
