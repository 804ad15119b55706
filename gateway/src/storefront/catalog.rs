//! Shopify's money (`MoneyV2`, `Decimal`) and the catalog types order
//! lines name. authd keeps no catalog: those exist so that clients'
//! selections validate.

use async_graphql::{
    ComplexObject, Enum, ID, InputObject, Scalar, ScalarType, SimpleObject, Value,
};

use super::types::Url;

/// Shopify's `Decimal`: an amount as a string (`"19.99"`).
#[derive(Clone)]
pub struct Decimal(pub String);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Self(s)),
            other => Err(async_graphql::InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(SimpleObject, Clone)]
pub struct MoneyV2 {
    pub amount: Decimal,
    /// ISO 4217.
    pub currency_code: String,
}

/// Shopify's `ProductVariant`. authd keeps no catalog, so an order
/// line's `variant` is always null; the types exist so that clients'
/// selections (Hydrogen's order card asks for `variant { image { url } }`)
/// validate.
#[derive(SimpleObject)]
pub struct ProductVariant {
    pub id: ID,
    pub title: String,
    pub sku: Option<String>,
    pub image: Option<Image>,
    pub price: MoneyV2,
    pub product: Product,
}

#[derive(SimpleObject)]
pub struct Product {
    pub id: ID,
    pub handle: String,
    pub title: String,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Image {
    pub id: Option<ID>,
    pub alt_text: Option<String>,
    pub height: Option<i32>,
    pub width: Option<i32>,
    #[graphql(skip)]
    pub src: String,
}

#[ComplexObject]
impl Image {
    async fn url(&self, _transform: Option<ImageTransformInput>) -> Url {
        Url(self.src.clone())
    }
}

#[derive(InputObject)]
pub struct ImageTransformInput {
    pub crop: Option<CropRegion>,
    pub max_height: Option<i32>,
    pub max_width: Option<i32>,
    pub scale: Option<i32>,
    pub preferred_content_type: Option<ImageContentType>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CropRegion {
    Bottom,
    Center,
    Left,
    Region,
    Right,
    Top,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImageContentType {
    Jpg,
    Png,
    Webp,
}
