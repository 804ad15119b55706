//! Every personal value of every kind of event is sealed by
//! `DataKey::seal_event` (searched for in the encoded bytes), opens again
//! with the same key, and with no other customer's.

use authd_events::data_keys::DataKey;
use authd_events::envelope::{EventEnvelope, EventMessage, MessageMeta};
use authd_events::metafield::*;
use authd_events::*;

const MARK: &str = "PLAINTEXT";

fn p(field: &str) -> Option<Personal> {
    Some(Personal::plain(format!("{MARK}-{field}")))
}

fn address() -> MailingAddress {
    MailingAddress {
        first_name: p("first"),
        last_name: p("last"),
        company: p("company"),
        address1: p("address1"),
        address2: p("address2"),
        city: p("city"),
        province: p("province"),
        country: p("country"),
        zip: p("zip"),
        phone: p("phone"),
    }
}

/// Each kind of event that carries personal data.
fn personal_events() -> Vec<Event> {
    vec![
        Event::Customer(CustomerEvent::Registered(CustomerRegistered {
            email: Personal::plain(format!("{MARK}@example.com")),
            password_hash: "$argon2id$v=19$x".into(),
            email_verified: false,
        })),
        Event::Customer(CustomerEvent::EmailChanged(CustomerEmailChanged {
            email: Personal::plain(format!("{MARK}2@example.com")),
        })),
        Event::Customer(CustomerEvent::ProfileChanged(CustomerProfile {
            first_name: p("first"),
            last_name: p("last"),
            phone: p("phone"),
            accepts_marketing: p("consent"),
        })),
        Event::Customer(CustomerEvent::AddressAdded(CustomerAddressAdded {
            address_id: "ad_1".into(),
            address: Box::new(address()),
        })),
        Event::Customer(CustomerEvent::AddressUpdated(CustomerAddressUpdated {
            address_id: "ad_1".into(),
            address: Box::new(address()),
        })),
        Event::Customer(CustomerEvent::MetafieldsSet(CustomerMetafieldsSet {
            values: vec![MetafieldValue {
                namespace: "custom".into(),
                key: "note".into(),
                type_name: "single_line_text_field".into(),
                value: Personal::plain(format!("{MARK}-note")),
            }],
        })),
        Event::Order(OrderEvent::Recorded(Box::new(OrderRecorded {
            customer_id: "c_ann".into(),
            external_id: "ext-1".into(),
            name: "#1001".into(),
            processed_at: 0,
            financial_status: None,
            fulfillment_status: "UNFULFILLED".into(),
            currency: "CAD".into(),
            subtotal_price: None,
            total_tax: None,
            total_shipping: "0".into(),
            total_price: "1".into(),
            status_url: None,
            shipping_address: Some(Box::new(address())),
            line_items: vec![],
        }))),
    ]
}

fn bytes(body: &Event) -> Vec<u8> {
    EventMessage {
        meta: MessageMeta {
            tenant: "p_shop".into(),
            aggregate_id: "c_ann".into(),
            time: 0,
            actor: Actor::System,
            request: RecordedRequest::default(),
            command_id: "cmd".into(),
        },
        events: vec![EventEnvelope {
            event_id: [1; 16],
            body: body.clone(),
        }],
    }
    .encode()
}

fn holds_mark(bytes: &[u8]) -> bool {
    bytes.windows(MARK.len()).any(|w| w == MARK.as_bytes())
}

#[test]
fn every_personal_value_is_sealed_and_opens_again() {
    let ann = DataKey::from_bytes("p_shop", "c_ann", &[3; 32]);
    let bob = DataKey::from_bytes("p_shop", "c_bob", &[4; 32]);
    for original in personal_events() {
        assert!(holds_mark(&bytes(&original)), "the control: {original:?}");
        let mut sealed = original.clone();
        ann.seal_event(&mut sealed);
        assert!(
            !holds_mark(&bytes(&sealed)),
            "{} keeps plaintext once sealed",
            original.type_name()
        );
        assert!(
            sealed
                .personal_values_mut()
                .iter()
                .all(|(_, v)| v.as_plain().is_none()),
            "{}",
            original.type_name()
        );
        let mut opened = sealed.clone();
        ann.open_event(&mut opened).unwrap();
        assert_eq!(opened, original);
        let mut stolen = sealed.clone();
        assert!(
            bob.open_event(&mut stolen).is_err(),
            "another customer's key"
        );
    }
}

#[test]
fn a_sealed_value_cannot_move_to_another_field() {
    let ann = DataKey::from_bytes("p_shop", "c_ann", &[3; 32]);
    let mut e = Event::Customer(CustomerEvent::ProfileChanged(CustomerProfile {
        first_name: p("first"),
        last_name: p("last"),
        ..Default::default()
    }));
    ann.seal_event(&mut e);
    let Event::Customer(CustomerEvent::ProfileChanged(profile)) = &mut e else {
        unreachable!()
    };
    std::mem::swap(&mut profile.first_name, &mut profile.last_name);
    assert!(ann.open_event(&mut e).is_err());
}

fn customer_message(kind_id: &str, actor: Actor, body: Event) -> EventMessage {
    EventMessage {
        meta: MessageMeta {
            tenant: "p_shop".into(),
            aggregate_id: kind_id.into(),
            time: 0,
            actor,
            request: RequestMeta {
                request_id: "r".into(),
                ip: Some(format!("{MARK}-203.0.113.9")),
                user_agent: Some(format!("{MARK}-agent")),
            }
            .into(),
            command_id: "cmd".into(),
        },
        events: vec![EventEnvelope {
            event_id: [1; 16],
            body,
        }],
    }
}

#[test]
fn a_message_is_sealed_whole_with_its_request_and_opens_again() {
    let ann = DataKey::from_bytes("p_shop", "c_ann", &[3; 32]);
    for body in personal_events() {
        let original = customer_message("c_ann", Actor::Anonymous, body);
        assert!(holds_mark(&original.encode()));
        let mut sealed = original.clone();
        ann.seal_message(&mut sealed);
        assert!(!holds_mark(&sealed.encode()), "{:?}", original.events);
        assert_eq!(sealed.meta.request.ip(), None);
        assert_eq!(sealed.sealed_with().as_deref(), Some("c_ann"));
        // Through the codec and back.
        let mut read = EventMessage::decode(&sealed.encode()).unwrap();
        assert!(ann.open_message(&mut read));
        assert_eq!(read, original);
        let bob = DataKey::from_bytes("p_shop", "c_bob", &[4; 32]);
        let mut stolen = sealed.clone();
        assert!(!bob.open_message(&mut stolen));
        assert_eq!(stolen, sealed, "what does not open stays sealed");
    }
}

#[test]
fn the_owner_of_a_message_is_its_customer_then_the_order_or_session_then_the_actor() {
    let logout = Event::Session(SessionEvent::Revoked(SessionRevoked {
        reason: RevokeReason::Logout,
    }));
    let started = Event::Session(SessionEvent::Started(SessionStarted {
        customer_id: "c_ann".into(),
        method: LoginMethod::Password,
        refresh_token_hash: [0; 32],
        expires_at: 0,
    }));
    let cases = [
        (
            AggregateKind::Customer,
            Actor::System,
            logout.clone(),
            Some("c_ann"),
        ),
        (
            AggregateKind::Session,
            Actor::Anonymous,
            started,
            Some("c_ann"),
        ),
        (
            AggregateKind::Session,
            Actor::Customer("c_ann".into()),
            logout.clone(),
            Some("c_ann"),
        ),
        (
            AggregateKind::Session,
            Actor::Admin("k_1".into()),
            logout.clone(),
            None,
        ),
        (
            AggregateKind::Order,
            Actor::Admin("k_1".into()),
            personal_events().pop().unwrap(),
            Some("c_ann"),
        ),
        (
            AggregateKind::EmailClaim,
            Actor::Anonymous,
            Event::EmailClaim(EmailClaimEvent::Claimed(EmailClaimed {
                customer_id: "c_ann".into(),
            })),
            Some("c_ann"),
        ),
        (AggregateKind::Project, Actor::Operator, logout, None),
    ];
    for (kind, actor, body, owner) in cases {
        let id = if kind == AggregateKind::Customer {
            "c_ann"
        } else {
            "x_1"
        };
        let m = customer_message(id, actor.clone(), body);
        assert_eq!(m.personal_owner(kind), owner, "{kind:?} {actor:?}");
    }
}
