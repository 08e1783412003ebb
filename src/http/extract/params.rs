//! Path and query parameters read into typed structs, which are also their documentation
//! (`#[derive(Deserialize, IntoParams)]`): a malformed or out-of-bounds parameter is a
//! 400 naming it, and what the document states is what is checked.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::http::error::ApiError;

/// Rules a query struct's fields obey beyond their types (bounds, allowed values),
/// checked once it is read. The same numbers are in its `#[param(...)]` attributes.
pub trait QueryRules {
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The rules of a keyset page's `size` (1 to `max`) and `cursor` (one the list handed
/// out: `cursor_reads` says whether it decodes).
pub fn check_keyset_page(size: Option<i64>, max: i64, cursor_reads: bool) -> Result<(), ApiError> {
    if size.is_some_and(|n| !(1..=max).contains(&n)) {
        return Err(ApiError::malformed_field(
            "size",
            &format!("must be a whole number from 1 to {max}"),
        ));
    }
    if !cursor_reads {
        return Err(ApiError::malformed_field(
            "cursor",
            "not a cursor this list handed out: take `next_cursor` as it is",
        ));
    }
    Ok(())
}

/// The query string read into `T`; parameters `T` does not name are ignored, so several
/// of these can read one query (paging and filters).
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + QueryRules,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        let value: T = serde_path_to_error::deserialize(pairs).map_err(|err| {
            let field = match err.path().to_string() {
                path if path == "." => "query".to_owned(),
                path => path,
            };
            ApiError::malformed_field(&field, &err.inner().to_string())
        })?;
        value.check()?;
        Ok(Self(value))
    }
}

/// The `{id}` of a path: anything but a UUID is a 400 naming it.
#[derive(Debug, Clone, Copy)]
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::malformed_field("id", "must be a UUID"))?;
        Uuid::parse_str(&raw)
            .map(Self)
            .map_err(|_| ApiError::malformed_field("id", "must be a UUID"))
    }
}

/// The `{id}` and `{sku_id}` of a SKU's path: anything but UUIDs is a 400 naming which.
#[derive(Debug, Clone, Copy)]
pub struct SkuPath {
    pub product_id: Uuid,
    pub sku_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for SkuPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((id, sku_id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::malformed_field("id", "must be a UUID"))?;
        let uuid = |field: &str, raw: &str| {
            Uuid::parse_str(raw).map_err(|_| ApiError::malformed_field(field, "must be a UUID"))
        };
        Ok(Self {
            product_id: uuid("id", &id)?,
            sku_id: uuid("sku_id", &sku_id)?,
        })
    }
}

/// A filter's value if it names one of `allowed`; empty or absent is no filter.
pub fn one_of<'v>(
    field: &str,
    value: Option<&'v str>,
    allowed: &[&str],
) -> Result<Option<&'v str>, ApiError> {
    match value.filter(|value| !value.is_empty()) {
        None => Ok(None),
        Some(value) if allowed.contains(&value) => Ok(Some(value)),
        Some(_) => Err(ApiError::malformed_field(
            field,
            &format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// An optional RFC 3339 instant (`#[serde(default, deserialize_with = "rfc3339")]`):
/// given empty or in another form, it is refused, as the document's `date-time` says.
pub fn rfc3339<'de, D>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = String::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&raw)
        .map(|at| Some(at.to_utc()))
        .map_err(|_| {
            serde::de::Error::custom("must be an RFC 3339 instant, e.g. 2026-11-24T12:00:00Z")
        })
}

/// A required query parameter of text under `rule`, as the document shows it. Written out
/// because `#[param(schema_with)]` drops `required` (utoipa 6).
pub fn required_text_param(
    name: &str,
    description: &str,
    rule: aggregates::text::TextRule,
) -> utoipa::openapi::path::Parameter {
    utoipa::openapi::path::ParameterBuilder::new()
        .name(name)
        .parameter_in(utoipa::openapi::path::ParameterIn::Query)
        .required(utoipa::openapi::Required::True)
        .description(Some(description))
        .schema(Some(crate::http::schemas::text_schema(rule)))
        .build()
}

/// `value` of `field` checked by `rule`: a 422 naming it when it breaks the rule.
pub fn check_text(
    field: &str,
    value: &str,
    rule: aggregates::text::TextRule,
) -> Result<(), ApiError> {
    match rule.check(field, value) {
        Some(error) => Err(ApiError::invalid(vec![error])),
        None => Ok(()),
    }
}
