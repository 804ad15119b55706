//! Shopify's `@inContext(country, language, buyer, preferredLocationId,
//! visitorConsent)` on an operation, which Hydrogen sends with every
//! request: accepted, and changes nothing yet (prices, languages, B2B
//! buyers and consent are the shop's, not authd's). `CountryCode` and `LanguageCode` are the ISO codes Shopify's
//! enums list, as scalars that take an enum literal or a string.

use std::borrow::Cow;

use async_graphql::{
    CustomDirective, CustomDirectiveFactory, InputValueError, InputValueResult, Name, Scalar,
    ScalarType, ServerError, Value,
    parser::types::Directive,
    registry::{__DirectiveLocation, Deprecation, MetaDirective, MetaInputValue, Registry},
};
use authd_services::domain::geo;

/// ISO 3166-1 alpha-2 (`CA`), or Shopify's `ZZ` for an unknown region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(pub String);

fn literal(value: &Value) -> Option<&str> {
    match value {
        Value::Enum(name) => Some(name.as_str()),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

#[Scalar(name = "CountryCode")]
impl ScalarType for CountryCode {
    fn parse(value: Value) -> InputValueResult<Self> {
        let code = literal(&value).ok_or_else(|| InputValueError::expected_type(value.clone()))?;
        if code == "ZZ" || (code.len() == 2 && geo::country_code(code) == Some(code)) {
            return Ok(Self(code.to_string()));
        }
        Err(InputValueError::custom(format!(
            "{code} is not an ISO 3166-1 alpha-2 country code"
        )))
    }

    fn to_value(&self) -> Value {
        Value::Enum(Name::new(&self.0))
    }
}

/// An ISO 639-1 language, optionally with a region or script, as
/// Shopify's `LanguageCode` names them (`EN`, `PT_BR`, `ZH_CN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageCode(pub String);

#[Scalar(name = "LanguageCode")]
impl ScalarType for LanguageCode {
    fn parse(value: Value) -> InputValueResult<Self> {
        let code = literal(&value).ok_or_else(|| InputValueError::expected_type(value.clone()))?;
        let mut parts = code.split('_');
        let language = parts.next().unwrap_or_default();
        let ok = (2..=3).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_uppercase())
            && parts.all(|p| {
                (2..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            && code.split('_').count() <= 3;
        if ok {
            return Ok(Self(code.to_string()));
        }
        Err(InputValueError::custom(format!(
            "{code} is not a language code"
        )))
    }

    fn to_value(&self) -> Value {
        Value::Enum(Name::new(&self.0))
    }
}

/// Shopify's `BuyerInput` (a B2B buyer's context).
#[derive(async_graphql::InputObject)]
pub struct BuyerInput {
    pub customer_access_token: String,
    pub company_location_id: Option<async_graphql::ID>,
}

/// Shopify's `VisitorConsent`.
#[derive(async_graphql::InputObject)]
pub struct VisitorConsent {
    pub analytics: Option<bool>,
    pub marketing: Option<bool>,
    pub preferences: Option<bool>,
    pub sale_of_data: Option<bool>,
}

pub struct InContext;

struct Ignored;

impl CustomDirective for Ignored {}

fn arg(name: &str, ty: &str) -> MetaInputValue {
    MetaInputValue {
        name: name.to_string(),
        description: None,
        ty: ty.to_string(),
        deprecation: Deprecation::NoDeprecated,
        default_value: None,
        visible: None,
        inaccessible: false,
        tags: vec![],
        is_secret: false,
        directive_invocations: vec![],
    }
}

impl CustomDirectiveFactory for InContext {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("inContext")
    }

    fn register(&self, registry: &mut Registry) {
        let args = [
            arg("country", "CountryCode"),
            arg("language", "LanguageCode"),
            arg("buyer", "BuyerInput"),
            arg("preferredLocationId", "ID"),
            arg("visitorConsent", "VisitorConsent"),
        ]
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
        registry.add_directive(MetaDirective {
            name: "inContext".into(),
            description: Some(
                "The buyer's country and language (Shopify's); accepted, changes nothing yet."
                    .into(),
            ),
            locations: vec![__DirectiveLocation::QUERY, __DirectiveLocation::MUTATION],
            args,
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    // Only field directives are created; this one sits on operations.
    fn create(
        &self,
        _: &async_graphql::ContextDirective<'_>,
        _: &Directive,
    ) -> Result<Box<dyn CustomDirective>, ServerError> {
        Ok(Box::new(Ignored))
    }
}
