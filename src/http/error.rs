//! ordo's HTTP errors: the one place where failures become statuses, stable codes and
//! readable messages. Internal causes are logged, never shown to the client.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use aggregates::FieldError;
use aggregates::product::ProductError;
use aggregates::stock::StockError;

use crate::database::DatabaseError;
use crate::event_store::{AppendError, LoadError, LoadFailure};
use crate::write::WriteError;

use crate::http::envelope::ErrorBody;

/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_UNAVAILABLE_SECS: &str = "5";
/// Seconds a client should wait before retrying a write that lost to concurrent ones.
const RETRY_AFTER_BUSY_SECS: &str = "1";

/// Stable error codes (the envelope's `code`), one per kind of failure. Clients match on
/// them; never renumber one. The code decides the HTTP status (its first three digits),
/// and [`ErrorCode::ALL`] with [`ErrorCode::meaning`] is the table the OpenAPI
/// description and docs/http.md show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Malformed = 40000,
    Unauthorized = 40100,
    Forbidden = 40300,
    NotFound = 40400,
    RequestTimeout = 40800,
    Conflict = 40900,
    InsufficientStock = 40901,
    InvalidState = 40902,
    Busy = 40903,
    PurchaseLimit = 40904,
    TooManyUnpaid = 40905,
    PayloadTooLarge = 41300,
    UnsupportedMediaType = 41500,
    Validation = 42200,
    RateLimited = 42900,
    Internal = 50000,
    Upstream = 50200,
    Unavailable = 50300,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [Self; 18] = [
        Self::Malformed,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::RequestTimeout,
        Self::Conflict,
        Self::InsufficientStock,
        Self::InvalidState,
        Self::Busy,
        Self::PurchaseLimit,
        Self::TooManyUnpaid,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Validation,
        Self::RateLimited,
        Self::Internal,
        Self::Upstream,
        Self::Unavailable,
    ];

    /// The HTTP status this code is answered with: its first three digits.
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16((self as u32 / 100) as u16)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// What the code means, for clients (Markdown).
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Malformed => "malformed request: not JSON, bad path id, bad query parameter",
            Self::Unauthorized => "missing, invalid or expired token; session ended",
            Self::Forbidden => {
                "the token's role may not do this (admin routes); dev login outside dev mode"
            }
            Self::NotFound => "no such resource, or not yours",
            Self::RequestTimeout => {
                "the request body did not arrive within `ORDO_BODY_READ_TIMEOUT`; the \
                 connection is closed"
            }
            Self::Conflict => "conflicts with the current state",
            Self::InsufficientStock => {
                "insufficient stock: `data.shortages` = `[{product_id, name, requested, \
                 available}]`; nothing reserved"
            }
            Self::InvalidState => "the order (or stock) is not in a state that allows this",
            Self::Busy => {
                "too many concurrent changes to the same items, or the same Idempotency-Key \
                 still running; retry after Retry-After"
            }
            Self::PurchaseLimit => {
                "past a product's purchase limit: `data.limits` = `[{product_id, limit, \
                 already, requested}]`; nothing reserved"
            }
            Self::TooManyUnpaid => {
                "the shopper already has `ORDO_MAX_UNPAID_ORDERS` unpaid orders \
                 (`data.max_unpaid_orders`): pay or cancel one first"
            }
            Self::PayloadTooLarge => "body over 256 KiB (an image upload: a file over 5 MiB)",
            Self::UnsupportedMediaType => {
                "an upload that is not a JPEG, PNG or WebP image (judged by its content)"
            }
            Self::Validation => "a field is invalid: `data.errors` names every one",
            Self::RateLimited => "rate limited (per IP and per user); retry after Retry-After",
            Self::Internal => "a fault on our side, logged",
            Self::Upstream => "WeChat failed or did not answer in time",
            Self::Unavailable => "the database is unavailable; retry after Retry-After",
        }
    }

    /// The codes as a Markdown table: `| code | HTTP | meaning |`.
    pub fn table() -> String {
        let mut table = String::from("| code | HTTP | meaning |\n|---|---|---|\n");
        for code in Self::ALL {
            table.push_str(&format!(
                "| {} | {} | {} |\n",
                code as u32,
                code.status().as_u16(),
                code.meaning()
            ));
        }
        table
    }
}

/// An error answer; its status is its code's.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub data: Value,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<Cow<'static, str>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: Value::Null,
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 40903: lost to concurrent changes (or the same key still running); retry in
    /// `retry_after` seconds.
    pub fn busy(message: impl Into<String>, retry_after: &'static str) -> Self {
        let mut busy = Self::new(ErrorCode::Busy, message);
        busy.retry_after = Some(retry_after.into());
        busy
    }

    /// 42900: over an allowance (`what`); retry after `wait`, in whole seconds, at least 1.
    pub fn rate_limited(what: &str, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs().max(1);
        let mut error = Self::new(
            ErrorCode::RateLimited,
            format!("{what}; retry in {seconds} s"),
        );
        error.retry_after = Some(seconds.to_string().into());
        error
    }

    pub fn payload_too_large() -> Self {
        Self::new(ErrorCode::PayloadTooLarge, "the request body is too large")
    }

    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).unwrap_or(Value::Null);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// A 409: the order, product or stock is not in a state that allows this.
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorCode::Unavailable, message);
        error.retry_after = Some(RETRY_AFTER_UNAVAILABLE_SECS.into());
        error
    }

    /// A 422 naming every invalid field, `data.errors = [{field, message}]`: the one way a
    /// field is refused, whether a command or the door found it wrong.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self::new(
            ErrorCode::Validation,
            format!("invalid request: {}", aggregates::describe(&errors)),
        )
        .with_data(json!({ "errors": errors }))
    }

    /// A 400 naming the field that could not be read.
    pub fn malformed_field(field: &str, message: &str) -> Self {
        Self::new(ErrorCode::Malformed, format!("{field}: {message}"))
            .with_data(json!({"errors": [{"field": field, "message": message}]}))
    }

    /// The envelope as JSON, as the client receives it.
    pub fn envelope(&self) -> Value {
        json!({"code": self.code as u32, "message": self.message, "data": self.data})
    }

    /// A failure the client cannot fix: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error; it has been logged")
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        let message = err.to_string();
        match err {
            WriteError::Invalid(errors) => Self::invalid(errors),
            WriteError::ProductNotFound => Self::not_found("product"),
            WriteError::SkuNotFound => Self::not_found("SKU"),
            WriteError::OrderNotFound => Self::not_found("order"),
            WriteError::UserNotFound => Self::not_found("user"),
            WriteError::InsufficientStock(shortages) => {
                Self::new(ErrorCode::InsufficientStock, message)
                    .with_data(json!({ "shortages": shortages }))
            }
            WriteError::LimitExceeded(breaches) => Self::new(ErrorCode::PurchaseLimit, message)
                .with_data(json!({ "limits": breaches })),
            WriteError::TooManyUnpaid { max } => Self::new(ErrorCode::TooManyUnpaid, message)
                .with_data(json!({ "max_unpaid_orders": max })),
            WriteError::Product(ProductError::ImageNotFound) => Self::not_found("image"),
            WriteError::Product(_) => Self::new(ErrorCode::Conflict, message),
            WriteError::Stock(
                StockError::NonPositiveQuantity | StockError::AdjustmentTooLarge { .. },
            ) => Self::new(ErrorCode::Validation, message.clone())
                .with_data(json!({"errors": [{"field": "quantity", "message": message}]})),
            WriteError::Stock(_) | WriteError::Order(_) => Self::invalid_state(message),
            WriteError::Busy => ApiError::busy(message, RETRY_AFTER_BUSY_SECS),
            WriteError::Append(AppendError::Database(db)) => {
                DatabaseError::from(db.as_ref()).into()
            }
            WriteError::Unavailable(cause) => {
                tracing::warn!(%cause, "write failed");
                Self::unavailable("the order could not be written; retry shortly")
            }
            WriteError::Load(load) => load.into(),
            WriteError::Append(_) | WriteError::Serialize(_) => Self::internal(&message),
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(err: LoadError) -> Self {
        match &err.cause {
            // An outage met while loading is the same 503 as anywhere else.
            LoadFailure::Database(db) if projections::failure::is_unavailable(db) => {
                DatabaseError::from(db).into()
            }
            _ => Self::internal(&err),
        }
    }
}

impl From<DatabaseError> for ApiError {
    fn from(err: DatabaseError) -> Self {
        // The database being away (connection, resources, shutting down) is a 503 the
        // client may retry, not a broken server.
        if err.is_unavailable() {
            tracing::warn!(%err, "database unavailable");
            return Self::unavailable("the database is unavailable; retry shortly");
        }
        Self::internal(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code as u32,
            message: self.message,
            data: self.data,
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(seconds) = HeaderValue::from_str(&seconds)
        {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_decides_the_status() {
        assert_eq!(ErrorCode::Busy.status(), StatusCode::CONFLICT);
        assert_eq!(
            ErrorCode::Validation.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        for code in ErrorCode::ALL {
            assert_eq!(u32::from(code.status().as_u16()), code as u32 / 100);
        }
    }

    #[test]
    fn the_http_doc_shows_the_error_codes_as_the_code_defines_them() {
        let doc = include_str!("../../docs/http.md");
        let table = ErrorCode::table();
        assert!(
            doc.contains(&table),
            "docs/http.md's error codes differ from ErrorCode; put this table under \
             \"## Error codes\":\n{table}"
        );
    }
}
