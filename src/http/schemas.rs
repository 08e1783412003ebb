//! The schemas of request and answer fields whose rules live in the aggregates: each is
//! generated from the rule the aggregate checks, so the document states exactly what is
//! refused and cannot drift from it.

use aggregates::order::{
    ADDRESS_FIELD, MAX_QUANTITY, OPTIONAL_SHIPMENT_FIELD, REFUND_REASON, REMARK, SHIPMENT_FIELD,
};
use aggregates::stock::MAX_ADJUSTMENT;
use aggregates::text::TextRule;
use aggregates::{product, stock, user};
use utoipa::ToSchema;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{
    KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

/// The schema of a free-text field checked by `rule`: its characters, blankness and
/// length, from the rule itself.
pub fn text_schema(rule: TextRule) -> Object {
    let mut schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(rule.max_chars))
        .pattern(Some(rule.pattern()));
    if rule.required {
        schema = schema.min_length(Some(1));
    }
    schema.build()
}

/// `schema` that also accepts null: for changes, where null (like absent) keeps the value.
fn or_null(mut schema: Object) -> Object {
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

/// `#[schema(schema_with = …)]` takes a function without arguments: one per rule, and
/// one that accepts null too in [`or_null`].
macro_rules! text_fields {
    ($($(#[$doc:meta])* $name:ident = $rule:expr;)*) => {
        $($(#[$doc])* pub fn $name() -> Object {
            text_schema($rule)
        })*

        /// The same fields in a change, where null keeps the value.
        #[allow(dead_code)] // Not every field can be changed.
        pub mod or_null {
            use utoipa::openapi::Object;

            $($(#[$doc])* pub fn $name() -> Object {
                super::or_null(super::$name())
            })*

            pub fn avatar_url() -> Object {
                super::or_null(super::avatar_url())
            }

            pub fn phone() -> Object {
                super::or_null(super::phone())
            }
        }
    };
}

text_fields! {
    /// A product's name: one line, 1 to 100 characters, not blank.
    product_name = product::NAME;
    /// A product's description: prose, at most 2,000 characters.
    product_description = product::DESCRIPTION;
    /// A product's category: one line, at most 50 characters.
    product_category = product::CATEGORY;
    /// Why stock was adjusted: one line, at most 200 characters.
    stock_reason = stock::REASON;
    /// An address field: one line, 1 to 200 characters, not blank.
    address_field = ADDRESS_FIELD;
    /// The shopper's note: prose, at most 200 characters.
    order_remark = REMARK;
    /// A carrier or tracking number: one line, 1 to 64 characters, not blank.
    shipment_field = SHIPMENT_FIELD;
    /// A tracking number where it may be left out: one line, at most 64 characters.
    optional_shipment_field = OPTIONAL_SHIPMENT_FIELD;
    /// A shopper's nickname: one line, 1 to 64 characters, not blank.
    nickname = user::NICKNAME;
    /// Why an order is refunded: one line, 1 to 80 characters, not blank.
    refund_reason = REFUND_REASON;
    /// A spec's name or value: one line, 1 to 30 characters, not blank.
    spec_text = product::SPEC_TEXT;
    /// A SKU's merchant code: one line, at most 64 characters.
    sku_code = product::SKU_CODE;
}

/// An avatar: an `https://` URL of one line, at most 1,024 characters, or empty.
pub fn avatar_url() -> Object {
    let rule = user::AVATAR_URL;
    let any = rule.pattern();
    let chars = any.trim_start_matches('^');
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(rule.max_chars))
        .pattern(Some(format!("^(?:$|https://){chars}")))
        .build()
}

/// A phone number: 5 to 20 digits, optionally after `+`, or empty.
pub fn phone() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^(?:\+?[0-9]{5,20})?$"))
        .build()
}

/// Units of one order line.
pub fn line_quantity() -> Object {
    integer()
        .minimum(Some(1))
        .maximum(Some(MAX_QUANTITY))
        .build()
}

/// The schema of `aggregates::order::Refund`: one refund of an order.
#[derive(ToSchema)]
#[schema(as = Refund)]
#[allow(dead_code)]
pub struct RefundSchema {
    /// The merchant's refund number (WeChat Pay's `out_refund_no`).
    refund_no: String,
    /// The WeChat Pay transaction whose money goes back.
    payment_id: String,
    amount_cents: i64,
    /// What the payment took in all (WeChat Pay's `amount.total`).
    payment_cents: i64,
    /// `order` (the rest of the order's payment: the order is refunded), `partial` (a
    /// part of it: the order's status stays) or `extra_payment` (one of its
    /// `refunds_due`).
    #[schema(pattern = "^(order|partial|extra_payment)$")]
    kind: String,
    /// The order's units the refund covers (empty: money only, another payment's
    /// refund, or an order's refund asked before partial refunds existed).
    lines: Vec<RefundLineSchema>,
    /// The operator's reason.
    reason: String,
    /// `requested` (waiting for WeChat Pay), `succeeded` or `failed`.
    #[schema(pattern = "^(requested|succeeded|failed)$")]
    status: String,
    requested_at: chrono::DateTime<chrono::Utc>,
    /// When it succeeded or failed.
    settled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// WeChat Pay's `refund_id`, once it succeeded.
    provider_refund_id: Option<String>,
    /// Why it failed.
    failure: Option<String>,
    /// Present while WeChat Pay reports the refund stuck (`ABNORMAL`: the shopper's
    /// account could not take the money): the order stays `refunding` and is listed among
    /// the refunds due until WeChat Pay's final word; an operator's to look into.
    abnormal: Option<String>,
}

/// Units of one SKU a refund covers: as answers show them, and as an operator's refund
/// and a shopper's after-sale name them.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundLine)]
pub struct RefundLineSchema {
    pub sku_id: uuid::Uuid,
    #[schema(minimum = 1)]
    pub quantity: i64,
}

impl From<RefundLineSchema> for aggregates::order::RefundLine {
    fn from(line: RefundLineSchema) -> Self {
        Self {
            sku_id: line.sku_id,
            quantity: line.quantity,
        }
    }
}

/// The schema of `aggregates::order::Address`: every field one line of 1 to 200
/// characters.
#[derive(ToSchema)]
#[schema(as = Address)]
#[allow(dead_code)]
pub struct AddressSchema {
    #[schema(schema_with = address_field)]
    name: String,
    #[schema(schema_with = address_field)]
    phone: String,
    #[schema(schema_with = address_field)]
    province: String,
    #[schema(schema_with = address_field)]
    city: String,
    #[schema(schema_with = address_field)]
    district: String,
    #[schema(schema_with = address_field)]
    detail: String,
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

/// A stock adjustment: a restock (> 0) or a write-off (< 0) of at most a billion units,
/// never 0.
pub fn stock_quantity() -> Schema {
    OneOfBuilder::new()
        .item(
            integer()
                .minimum(Some(1))
                .maximum(Some(MAX_ADJUSTMENT))
                .description(Some("a restock")),
        )
        .item(
            integer()
                .minimum(Some(-MAX_ADJUSTMENT))
                .maximum(Some(-1))
                .description(Some("a write-off")),
        )
        .build()
        .into()
}

/// A new product's units on hand: 0 to a billion.
pub fn initial_stock() -> Object {
    integer()
        .minimum(Some(0))
        .maximum(Some(MAX_ADJUSTMENT))
        .build()
}
