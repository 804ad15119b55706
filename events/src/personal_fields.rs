//! Where the personal values of an event are: every `Personal` field,
//! named (the name a sealed value is bound to, with its customer), and
//! whose they are. Sealing at write and unsealing at read go through
//! here, so a `Personal` field added to an event must be listed here too
//! (`tests/sealing.rs` seals every kind of event and searches the bytes).

use crate::{
    address::MailingAddress,
    envelope::{Actor, EventMessage},
    event::{CustomerEvent, CustomerProfile, EmailClaimEvent, Event, OrderEvent, SessionEvent},
    personal::Personal,
    subject::AggregateKind,
};

/// An address's fields, as `field` names them under `prefix`.
fn address_mut<'a>(
    prefix: &str,
    a: &'a mut MailingAddress,
    out: &mut Vec<(String, &'a mut Personal)>,
) {
    let MailingAddress {
        first_name,
        last_name,
        company,
        address1,
        address2,
        city,
        province,
        country,
        zip,
        phone,
    } = a;
    let fields = [
        ("first_name", first_name),
        ("last_name", last_name),
        ("company", company),
        ("address1", address1),
        ("address2", address2),
        ("city", city),
        ("province", province),
        ("country", country),
        ("zip", zip),
        ("phone", phone),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            out.push((format!("{prefix}.{name}"), v));
        }
    }
}

fn profile_mut<'a>(p: &'a mut CustomerProfile, out: &mut Vec<(String, &'a mut Personal)>) {
    let CustomerProfile {
        first_name,
        last_name,
        phone,
        accepts_marketing,
    } = p;
    let fields = [
        ("first_name", first_name),
        ("last_name", last_name),
        ("phone", phone),
        ("accepts_marketing", accepts_marketing),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            out.push((name.to_string(), v));
        }
    }
}

impl Event {
    /// The customer an event of another aggregate is about (an order's, a
    /// new session's, a claimed address's or phone's): whose key seals its
    /// message; `None` for the others.
    pub fn personal_owner(&self) -> Option<&str> {
        match self {
            Event::Order(OrderEvent::Recorded(r)) => Some(&r.customer_id),
            Event::Session(SessionEvent::Started(s) | SessionEvent::StorefrontStarted(s)) => {
                Some(&s.customer_id)
            }
            Event::EmailClaim(c) | Event::PhoneClaim(c) => Some(match c {
                EmailClaimEvent::Claimed(c) => &c.customer_id,
                EmailClaimEvent::Released(r) => &r.customer_id,
            }),
            _ => None,
        }
    }

    /// Every personal value in the event, each with its field's name.
    pub fn personal_values_mut(&mut self) -> Vec<(String, &mut Personal)> {
        let mut out = Vec::new();
        match self {
            Event::Customer(e) => match e {
                CustomerEvent::Registered(r) => out.push(("email".into(), &mut r.email)),
                CustomerEvent::EmailChanged(c) => out.push(("email".into(), &mut c.email)),
                CustomerEvent::TotpEnrolled(t) => out.push(("totp_secret".into(), &mut t.secret)),
                CustomerEvent::PasskeyRegistered(p) => {
                    out.push(("passkey_name".into(), &mut p.name))
                }
                CustomerEvent::ProfileChanged(p) => profile_mut(p, &mut out),
                CustomerEvent::AddressAdded(a) => {
                    let prefix = format!("address.{}", a.address_id);
                    address_mut(&prefix, &mut a.address, &mut out);
                }
                CustomerEvent::AddressUpdated(a) => {
                    let prefix = format!("address.{}", a.address_id);
                    address_mut(&prefix, &mut a.address, &mut out);
                }
                CustomerEvent::MetafieldsSet(m) => {
                    for v in &mut m.values {
                        out.push((format!("metafield.{}.{}", v.namespace, v.key), &mut v.value));
                    }
                }
                _ => {}
            },
            Event::Order(OrderEvent::Recorded(r)) => {
                if let Some(a) = &mut r.shipping_address {
                    address_mut("shipping_address", a, &mut out);
                }
            }
            _ => {}
        }
        out
    }
}

impl EventMessage {
    /// The customer whose key seals the message's personal data: the
    /// customer of a customer aggregate, the one an order, a new session
    /// or a claim is of, or else the customer who acted. `None` (nothing sealed): an
    /// administrator's, the system's or an anonymous caller's message about
    /// no customer.
    pub fn personal_owner(&self, kind: AggregateKind) -> Option<&str> {
        if kind == AggregateKind::Customer {
            return Some(&self.meta.aggregate_id);
        }
        if let Some(owner) = self.bodies().find_map(Event::personal_owner) {
            return Some(owner);
        }
        match &self.meta.actor {
            Actor::Customer(id) => Some(id),
            _ => None,
        }
    }

    /// Every personal value of the message: its events' and the request's
    /// client address and user agent, each with its field's name.
    pub fn personal_values_mut(&mut self) -> Vec<(String, &mut Personal)> {
        let mut out = Vec::new();
        let request = &mut self.meta.request;
        if let Some(ip) = &mut request.ip {
            out.push(("request.ip".to_string(), ip));
        }
        if let Some(ua) = &mut request.user_agent {
            out.push(("request.user_agent".to_string(), ua));
        }
        for e in &mut self.events {
            out.extend(e.body.personal_values_mut());
        }
        out
    }

    /// Whether the message registers a customer (its key is made then).
    pub fn registers(&self) -> bool {
        self.bodies()
            .any(|e| matches!(e, Event::Customer(CustomerEvent::Registered(_))))
    }

    /// Whether the message erases a customer (`customer.erased`).
    pub fn erases(&self) -> bool {
        self.bodies()
            .any(|e| matches!(e, Event::Customer(CustomerEvent::Erased(_))))
    }

    /// Whether the message records an erasure's completion (written once
    /// the key is gone).
    pub fn completes_erasure(&self) -> bool {
        self.bodies()
            .any(|e| matches!(e, Event::Customer(CustomerEvent::ErasureCompleted(_))))
    }

    /// Whether the message holds a personal value in plain (as builds
    /// before sealing wrote them).
    pub fn holds_plaintext(&self) -> bool {
        self.clone()
            .personal_values_mut()
            .iter()
            .any(|(_, v)| matches!(v, Personal::Plain(_)))
    }

    /// The customer whose key opens the message's sealed values, if any
    /// is sealed.
    pub fn sealed_with(&mut self) -> Option<String> {
        self.personal_values_mut()
            .into_iter()
            .find_map(|(_, p)| match p {
                Personal::Sealed { key_id, .. } => Some(key_id.clone()),
                Personal::Plain(_) => None,
            })
    }
}
