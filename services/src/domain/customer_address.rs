//! The customer's mailing addresses: what a client may store (each field
//! checked and normalized, the country and province as ISO 3166 codes),
//! at most `MAX_ADDRESSES` of them, and which one is the default.

use authd_events::{
    CustomerAddressAdded, CustomerAddressRemoved, CustomerAddressUpdated, CustomerEvent,
    DefaultAddressChanged,
};
use serde::{Deserialize, Serialize};

pub use super::customer_state::Address;
use super::{customer_profile::normalize_phone, customer_state::Customer, geo, text};
use crate::error::{DomainError, ProfileProblem};

/// The most addresses one customer keeps.
pub const MAX_ADDRESSES: usize = 100;
/// The longest field Shopify accepts, in characters.
pub const MAX_FIELD_CHARS: usize = 255;

/// What a client sends (Shopify's `MailingAddressInput`): `None` keeps a
/// field (an update), `Some(None)` or a blank value removes it. The
/// country and province may be names or codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressChange {
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub address1: Option<Option<String>>,
    pub address2: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub province: Option<Option<String>>,
    pub country: Option<Option<String>>,
    pub zip: Option<Option<String>>,
    pub phone: Option<Option<String>>,
}

/// What the signed-in customer does to their addresses.
#[derive(Debug, Clone)]
pub enum AddressCommand {
    Add {
        address_id: String,
        change: AddressChange,
    },
    Update {
        address_id: String,
        change: AddressChange,
    },
    Remove {
        address_id: String,
    },
    SetDefault {
        address_id: String,
    },
}

impl AddressChange {
    /// The address after the change, every field checked and normalized.
    pub fn applied_to(&self, a: &Address) -> Result<Address, DomainError> {
        let text = |change: &Option<Option<String>>, old: &Option<String>, field| match change {
            None => Ok(old.clone()),
            Some(None) => Ok(None),
            Some(Some(v)) => text::check(v, field, MAX_FIELD_CHARS),
        };
        let country = match &self.country {
            None => a.country.clone(),
            Some(None) => None,
            Some(Some(c)) if c.trim().is_empty() => None,
            Some(Some(c)) => Some(geo::country_code(c).ok_or(invalid("country"))?.to_string()),
        };
        // A stored code is checked again against a changed country.
        let province = text(&self.province, &a.province, "province")?;
        let province = match (province, country.as_deref()) {
            (None, _) => None,
            (Some(p), Some(c)) if geo::has_subdivisions(c) => {
                Some(geo::subdivision_code(c, &p).ok_or(invalid("province"))?)
            }
            (Some(p), _) => Some(p),
        };
        Ok(Address {
            first_name: text(&self.first_name, &a.first_name, "firstName")?,
            last_name: text(&self.last_name, &a.last_name, "lastName")?,
            company: text(&self.company, &a.company, "company")?,
            address1: text(&self.address1, &a.address1, "address1")?,
            address2: text(&self.address2, &a.address2, "address2")?,
            city: text(&self.city, &a.city, "city")?,
            province,
            country,
            zip: text(&self.zip, &a.zip, "zip")?,
            phone: match &self.phone {
                None => a.phone.clone(),
                Some(None) => None,
                Some(Some(v)) if v.trim().is_empty() => None,
                Some(Some(v)) => Some(normalize_phone(v).map_err(|_| invalid("phone"))?),
            },
        })
    }
}

fn invalid(field: &'static str) -> DomainError {
    DomainError::Profile {
        field,
        problem: ProfileProblem::Invalid,
    }
}

/// The events of an address command on `s`.
pub(super) fn decide(
    s: &Customer,
    cmd: &AddressCommand,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if s.suspended {
        return Err(DomainError::AccountSuspended);
    }
    let find = |id: &str| {
        s.addresses
            .iter()
            .find(|(a, _)| a == id)
            .map(|(_, address)| address)
            .ok_or(DomainError::AddressNotFound)
    };
    match cmd {
        AddressCommand::Add { address_id, change } => {
            if s.addresses.len() >= MAX_ADDRESSES {
                return Err(DomainError::TooManyAddresses(MAX_ADDRESSES));
            }
            let address = Box::new(change.applied_to(&Address::default())?.to_event());
            let mut events = vec![CustomerEvent::AddressAdded(CustomerAddressAdded {
                address_id: address_id.clone(),
                address,
            })];
            // The first address is the default.
            if s.default_address.is_none() {
                events.push(default_is(Some(address_id)));
            }
            Ok(events)
        }
        AddressCommand::Update { address_id, change } => {
            let old = find(address_id)?;
            let new = change.applied_to(old)?;
            if new == *old {
                return Ok(vec![]);
            }
            Ok(vec![CustomerEvent::AddressUpdated(
                CustomerAddressUpdated {
                    address_id: address_id.clone(),
                    address: Box::new(new.to_event()),
                },
            )])
        }
        AddressCommand::Remove { address_id } => {
            find(address_id)?;
            let mut events = vec![CustomerEvent::AddressRemoved(CustomerAddressRemoved {
                address_id: address_id.clone(),
            })];
            // Deleting the default makes the newest remaining one the default.
            if s.default_address.as_deref() == Some(address_id) {
                let newest = s.addresses.iter().rev().find(|(a, _)| a != address_id);
                events.push(default_is(newest.map(|(a, _)| a)));
            }
            Ok(events)
        }
        AddressCommand::SetDefault { address_id } => {
            find(address_id)?;
            if s.default_address.as_deref() == Some(address_id) {
                return Ok(vec![]);
            }
            Ok(vec![default_is(Some(address_id))])
        }
    }
}

fn default_is(address_id: Option<&String>) -> CustomerEvent {
    CustomerEvent::DefaultAddressChanged(DefaultAddressChanged {
        address_id: address_id.cloned(),
    })
}

/// The state after an address event.
pub(super) fn evolve(s: &mut Customer, e: &CustomerEvent) {
    match e {
        CustomerEvent::AddressAdded(a) => s
            .addresses
            .push((a.address_id.clone(), Address::from_event(&a.address))),
        CustomerEvent::AddressUpdated(u) => {
            if let Some((_, a)) = s.addresses.iter_mut().find(|(id, _)| *id == u.address_id) {
                *a = Address::from_event(&u.address);
            }
        }
        CustomerEvent::AddressRemoved(r) => s.addresses.retain(|(id, _)| *id != r.address_id),
        CustomerEvent::DefaultAddressChanged(d) => s.default_address = d.address_id.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::state;
    use authd_events::{CustomerRegistered, CustomerSuspended, MailingAddress, Personal};

    fn registered() -> CustomerEvent {
        CustomerEvent::Registered(CustomerRegistered {
            email: Personal::plain("ann@example.com"),
            password_hash: "$argon2id$hash".into(),
            email_verified: true,
        })
    }
    fn city(c: &str) -> AddressChange {
        AddressChange {
            city: Some(Some(c.into())),
            ..Default::default()
        }
    }
    fn stored(c: &str) -> MailingAddress {
        MailingAddress {
            city: Some(Personal::plain(c)),
            ..Default::default()
        }
    }
    fn added(id: &str, c: &str) -> CustomerEvent {
        CustomerEvent::AddressAdded(CustomerAddressAdded {
            address_id: id.into(),
            address: Box::new(stored(c)),
        })
    }
    fn default(id: Option<&str>) -> CustomerEvent {
        default_is(id.map(String::from).as_ref())
    }
    fn removed(id: &str) -> CustomerEvent {
        CustomerEvent::AddressRemoved(CustomerAddressRemoved {
            address_id: id.into(),
        })
    }
    fn add(id: &str, change: AddressChange) -> AddressCommand {
        AddressCommand::Add {
            address_id: id.into(),
            change,
        }
    }
    /// Given these customer events, when this command, then this.
    #[track_caller]
    fn check(
        given: &[CustomerEvent],
        when: AddressCommand,
        then: Result<Vec<CustomerEvent>, DomainError>,
    ) {
        assert_eq!(decide(&state::<Customer>(given), &when), then);
    }
    fn refused(field: &'static str, problem: ProfileProblem) -> DomainError {
        DomainError::Profile { field, problem }
    }

    #[test]
    fn the_first_address_becomes_the_default_and_later_ones_do_not() {
        check(
            &[registered()],
            add("ad_1", city("Ottawa")),
            Ok(vec![added("ad_1", "Ottawa"), default(Some("ad_1"))]),
        );
        check(
            &[registered(), added("ad_1", "Ottawa"), default(Some("ad_1"))],
            add("ad_2", city("Paris")),
            Ok(vec![added("ad_2", "Paris")]),
        );
    }

    #[test]
    fn deleting_the_default_makes_the_newest_remaining_one_the_default() {
        let given = [
            registered(),
            added("ad_1", "A"),
            default(Some("ad_1")),
            added("ad_2", "B"),
            added("ad_3", "C"),
        ];
        let remove = |id: &str| AddressCommand::Remove {
            address_id: id.into(),
        };
        check(
            &given,
            remove("ad_1"),
            Ok(vec![removed("ad_1"), default(Some("ad_3"))]),
        );
        // Not the default: the default stays.
        check(&given, remove("ad_2"), Ok(vec![removed("ad_2")]));
        // The last one: no default left.
        check(
            &[registered(), added("ad_1", "A"), default(Some("ad_1"))],
            remove("ad_1"),
            Ok(vec![removed("ad_1"), default(None)]),
        );
        let mut after = given.to_vec();
        after.extend([removed("ad_1"), default(Some("ad_3"))]);
        let s = state::<Customer>(&after);
        assert_eq!(s.default_address.as_deref(), Some("ad_3"));
        assert_eq!(s.addresses.len(), 2);
    }

    #[test]
    fn an_address_of_nobody_here_is_not_found() {
        let given = [registered(), added("ad_1", "A"), default(Some("ad_1"))];
        for cmd in [
            AddressCommand::Update {
                address_id: "ad_9".into(),
                change: city("B"),
            },
            AddressCommand::Remove {
                address_id: "ad_9".into(),
            },
            AddressCommand::SetDefault {
                address_id: "ad_9".into(),
            },
        ] {
            check(&given, cmd, Err(DomainError::AddressNotFound));
        }
    }

    #[test]
    fn setting_the_default_again_or_an_unchanged_update_records_nothing() {
        let given = [
            registered(),
            added("ad_1", "A"),
            default(Some("ad_1")),
            added("ad_2", "B"),
        ];
        let set = |id: &str| AddressCommand::SetDefault {
            address_id: id.into(),
        };
        check(&given, set("ad_1"), Ok(vec![]));
        check(&given, set("ad_2"), Ok(vec![default(Some("ad_2"))]));
        let update = |change| AddressCommand::Update {
            address_id: "ad_2".into(),
            change,
        };
        check(&given, update(city("B")), Ok(vec![]));
        // An update keeps the fields it leaves out.
        let zip = AddressChange {
            zip: Some(Some("K1A 0B1".into())),
            ..Default::default()
        };
        let mut both = stored("B");
        both.zip = Some(Personal::plain("K1A 0B1"));
        check(
            &given,
            update(zip),
            Ok(vec![CustomerEvent::AddressUpdated(
                CustomerAddressUpdated {
                    address_id: "ad_2".into(),
                    address: Box::new(both),
                },
            )]),
        );
    }

    #[test]
    fn at_most_a_hundred_addresses() {
        let mut given = vec![registered()];
        given.extend((0..MAX_ADDRESSES).map(|i| added(&format!("ad_{i}"), "A")));
        check(
            &given,
            add("ad_x", city("B")),
            Err(DomainError::TooManyAddresses(MAX_ADDRESSES)),
        );
        given.push(removed("ad_0"));
        assert!(decide(&state::<Customer>(&given), &add("ad_x", city("B"))).is_ok());
    }

    #[test]
    fn a_suspended_customer_changes_nothing() {
        let suspended = CustomerEvent::Suspended(CustomerSuspended { reason: None });
        check(
            &[registered(), suspended],
            add("ad_1", city("A")),
            Err(DomainError::AccountSuspended),
        );
    }

    #[test]
    fn fields_are_checked_and_country_and_province_become_codes() {
        let change = AddressChange {
            first_name: Some(Some("  Ann ".into())),
            country: Some(Some("Canada".into())),
            province: Some(Some("Québec".into())),
            phone: Some(Some("+1 (613) 555-1111".into())),
            address2: Some(Some("   ".into())),
            ..Default::default()
        };
        let a = change.applied_to(&Address::default()).unwrap();
        assert_eq!(a.first_name.as_deref(), Some("Ann"));
        assert_eq!(a.country.as_deref(), Some("CA"));
        assert_eq!(a.province.as_deref(), Some("QC"));
        assert_eq!(a.phone.as_deref(), Some("+16135551111"));
        assert_eq!(a.address2, None);

        let applied = |change: AddressChange| change.applied_to(&a).err();
        let country = |c: &str| AddressChange {
            country: Some(Some(c.into())),
            ..Default::default()
        };
        assert_eq!(
            applied(country("Atlantis")),
            Some(refused("country", ProfileProblem::Invalid))
        );
        // Moving to a country the stored province is not in.
        assert_eq!(
            applied(country("US")),
            Some(refused("province", ProfileProblem::Invalid))
        );
        let province = |p: &str| AddressChange {
            province: Some(Some(p.into())),
            ..Default::default()
        };
        assert_eq!(
            applied(province("California")),
            Some(refused("province", ProfileProblem::Invalid))
        );
        // A country without subdivisions keeps the province's text.
        let elsewhere = AddressChange {
            country: Some(Some("AQ".into())),
            province: Some(Some("Ross Dependency".into())),
            ..Default::default()
        };
        assert_eq!(
            elsewhere.applied_to(&a).unwrap().province.as_deref(),
            Some("Ross Dependency")
        );
        let long = AddressChange {
            address1: Some(Some("x".repeat(MAX_FIELD_CHARS + 1))),
            ..Default::default()
        };
        assert_eq!(
            applied(long),
            Some(refused(
                "address1",
                ProfileProblem::TooLong(MAX_FIELD_CHARS)
            ))
        );
        let html = AddressChange {
            company: Some(Some("<script>x</script>".into())),
            ..Default::default()
        };
        assert_eq!(
            applied(html),
            Some(refused("company", ProfileProblem::ContainsHtmlTags))
        );
        let phone = AddressChange {
            phone: Some(Some("555-1111".into())),
            ..Default::default()
        };
        assert_eq!(
            applied(phone),
            Some(refused("phone", ProfileProblem::Invalid))
        );
    }
}
