//! Shopify's `MailingAddress` and its Relay connection, the `Customer`'s
//! `addresses` and `defaultAddress`, and the opaque ids clients put in
//! URLs (`gid://authd/MailingAddress/<id>`).

use async_graphql::{ComplexObject, ID, SimpleObject};
use authd_projections::read_addresses::{AddressRow, Page, PageRequest};
use authd_services::{commands::AddressView, domain::geo};

use super::in_context::CountryCode;
use crate::error::ApiError;

const GID_PREFIX: &str = "gid://authd/MailingAddress/";

/// Relay's largest page, as Shopify's.
pub const MAX_PAGE: i32 = 250;

/// The stored id in a global id, also after one `encodeURIComponent` and
/// with Shopify's `?…` suffix; `None` for anything else.
pub fn address_id(gid: &str) -> Option<String> {
    let decoded;
    let gid = if gid.contains('%') {
        decoded = percent_encoding::percent_decode_str(gid)
            .decode_utf8()
            .ok()?
            .into_owned();
        decoded.as_str()
    } else {
        gid
    };
    let id = gid.trim().strip_prefix(GID_PREFIX)?;
    let id = id.split('?').next().unwrap_or(id);
    let ok = id.len() <= 64
        && id.starts_with("ad_")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then(|| id.to_string())
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct MailingAddress {
    pub id: ID,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub company: Option<String>,
    /// The country's name.
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 (deprecated in Shopify's schema).
    pub country_code: Option<String>,
    #[graphql(name = "countryCodeV2")]
    pub country_code_v2: Option<CountryCode>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// First and last name.
    pub name: Option<String>,
    pub phone: Option<String>,
    /// The province's name.
    pub province: Option<String>,
    /// ISO 3166-2 code without the country (`ON`).
    pub province_code: Option<String>,
    pub zip: Option<String>,
    /// authd does not geocode: always null.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Countries whose addresses put the postal code before the city, on one
/// line (Shopify's worldwide formats); the US layout is the default.
const ZIP_FIRST: &[&str] = &[
    "AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "IT", "LU", "NL", "NO", "PL", "PT", "SE",
];

impl MailingAddress {
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: &str,
        first_name: Option<String>,
        last_name: Option<String>,
        company: Option<String>,
        address1: Option<String>,
        address2: Option<String>,
        city: Option<String>,
        province: Option<String>,
        country: Option<String>,
        zip: Option<String>,
        phone: Option<String>,
    ) -> Self {
        let name = [&first_name, &last_name]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        // A code where the country has subdivisions, else the text given.
        let (province, province_code) = match (&country, province) {
            (Some(c), Some(p)) if geo::has_subdivisions(c) => {
                (geo::subdivision_name(c, &p).map(str::to_string), Some(p))
            }
            (_, p) => (p, None),
        };
        Self {
            id: ID(format!("{GID_PREFIX}{id}")),
            address1,
            address2,
            city,
            company,
            country: country
                .as_deref()
                .and_then(geo::country_name)
                .map(str::to_string),
            country_code: country.clone(),
            country_code_v2: country.map(CountryCode),
            first_name,
            last_name,
            name: (!name.is_empty()).then_some(name),
            phone,
            province,
            province_code,
            zip,
            latitude: None,
            longitude: None,
        }
    }

    pub fn from_view(v: AddressView) -> Self {
        let a = v.address;
        Self::new(
            &v.id,
            a.first_name,
            a.last_name,
            a.company,
            a.address1,
            a.address2,
            a.city,
            a.province,
            a.country,
            a.zip,
            a.phone,
        )
    }

    pub fn from_row(r: AddressRow) -> Self {
        Self::new(
            &r.id,
            r.first_name,
            r.last_name,
            r.company,
            r.address1,
            r.address2,
            r.city,
            r.province,
            r.country,
            r.zip,
            r.phone,
        )
    }

    /// An address kept as JSON of its fields (an order's shipping address).
    pub fn from_json(id: &str, json: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let f = |k: &str| v[k].as_str().map(str::to_string);
        Some(Self::new(
            id,
            f("first_name"),
            f("last_name"),
            f("company"),
            f("address1"),
            f("address2"),
            f("city"),
            f("province"),
            f("country"),
            f("zip"),
            f("phone"),
        ))
    }

    /// The province as the area line shows it: its code where it has one.
    fn area_province(&self) -> Option<&str> {
        self.province_code.as_deref().or(self.province.as_deref())
    }
}

fn joined(parts: &[Option<&str>]) -> Option<String> {
    let line = parts
        .iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    (!line.is_empty()).then_some(line)
}

#[ComplexObject]
impl MailingAddress {
    /// The address as lines, in its country's layout (the phone left out).
    async fn formatted(
        &self,
        #[graphql(default = false)] with_name: bool,
        #[graphql(default = true)] with_company: bool,
    ) -> Vec<String> {
        fn s(v: &Option<String>) -> Option<&str> {
            v.as_deref()
        }
        let code = self.country_code.as_deref().unwrap_or("");
        let mut lines = vec![
            if with_name { self.name.clone() } else { None },
            if with_company {
                self.company.clone()
            } else {
                None
            },
            self.address1.clone(),
            self.address2.clone(),
        ];
        if code == "GB" {
            lines.push(self.city.clone());
            lines.push(self.zip.clone());
        } else if ZIP_FIRST.contains(&code) {
            lines.push(joined(&[s(&self.zip), s(&self.city)]));
        } else {
            lines.push(joined(&[s(&self.city), self.area_province(), s(&self.zip)]));
        }
        lines.push(self.country.clone());
        lines
            .into_iter()
            .flatten()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// City and province, then the country: `Ottawa ON, Canada`.
    async fn formatted_area(&self) -> Option<String> {
        let place = joined(&[self.city.as_deref(), self.area_province()]);
        let parts: Vec<String> = [place, self.country.clone()]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct MailingAddressEdge {
    pub cursor: String,
    pub node: MailingAddress,
}

#[derive(SimpleObject)]
pub struct MailingAddressConnection {
    pub edges: Vec<MailingAddressEdge>,
    pub nodes: Vec<MailingAddress>,
    pub page_info: PageInfo,
}

/// A Relay cursor: `key`, opaque to clients (every connection here).
pub fn encode_cursor(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// The key of a cursor `encode_cursor` made; `None` for anything else.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// An address cursor: its position.
fn cursor(position: i64) -> String {
    encode_cursor(&format!("p:{position}"))
}

fn position(cursor: &str) -> Result<i64, ApiError> {
    decode_cursor(cursor)
        .and_then(|s| s.strip_prefix("p:").and_then(|p| p.parse().ok()))
        .ok_or_else(|| ApiError::bad_request("the cursor is invalid"))
}

/// Relay's arguments, checked as Shopify checks them.
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    pub reverse: bool,
}

impl PageArgs {
    /// How many, and whether from the end (`last`).
    pub fn limits(&self) -> Result<(u32, bool), ApiError> {
        let (limit, from_end) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "providing both first and last is not supported",
                ));
            }
            (None, None) => {
                return Err(ApiError::bad_request(
                    "you must provide one of first or last",
                ));
            }
            (Some(n), None) => (n, false),
            (None, Some(n)) => (n, true),
        };
        let which = if from_end { "last" } else { "first" };
        if limit > MAX_PAGE {
            return Err(ApiError::bad_request(format!(
                "{which} cannot exceed {MAX_PAGE}"
            )));
        }
        if limit < 0 {
            return Err(ApiError::bad_request(format!("{which} cannot be negative")));
        }
        Ok((limit as u32, from_end))
    }

    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let (limit, from_end) = self.limits()?;
        Ok(PageRequest {
            after: self.after.as_deref().map(position).transpose()?,
            before: self.before.as_deref().map(position).transpose()?,
            limit,
            from_end,
            reverse: self.reverse,
        })
    }
}

pub(super) fn connection(page: Page<AddressRow>) -> MailingAddressConnection {
    let edges: Vec<MailingAddressEdge> = page
        .rows
        .into_iter()
        .map(|r| MailingAddressEdge {
            cursor: cursor(r.position),
            node: MailingAddress::from_row(r),
        })
        .collect();
    let page_info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    let nodes = edges.iter().map(|e| e.node.clone()).collect();
    MailingAddressConnection {
        edges,
        nodes,
        page_info,
    }
}
