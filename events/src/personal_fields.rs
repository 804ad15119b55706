//! Where the personal values of an event are: every `Personal` field,
//! named (the name a sealed value is bound to, with its customer), and
//! whose they are. Sealing at write and unsealing at read go through
//! here, so a `Personal` field added to an event must be listed here too
//! (`tests/sealing.rs` seals every kind of event and searches the bytes).

use crate::{
    address::MailingAddress,
    event::{CustomerEvent, CustomerProfile, Event, OrderEvent},
    personal::Personal,
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
    /// The customer whose personal data the event carries, when not the
    /// aggregate's own id (an order's customer); `None` for the others.
    pub fn personal_owner(&self) -> Option<&str> {
        match self {
            Event::Order(OrderEvent::Recorded(r)) => Some(&r.customer_id),
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
