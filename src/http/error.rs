//! ordo's HTTP errors: the one place where failures become statuses, stable codes and
//! readable messages. Internal causes are logged, never shown to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use aggregates::FieldError;
use aggregates::stock::StockError;

use crate::event_store::AppendError;
use crate::write::WriteError;

use super::envelope::ErrorBody;

/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_UNAVAILABLE_SECS: &str = "5";
/// Seconds a client should wait before retrying a write that lost to concurrent ones.
const RETRY_AFTER_BUSY_SECS: &str = "1";

/// Stable error codes (the envelope's `code`), one per kind of failure. Clients match on
/// them; never renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the request could not be read (malformed JSON, bad query string).
    Malformed = 40000,
    /// 401: no valid access token.
    Unauthorized = 40100,
    /// 403: the token's role may not do this.
    Forbidden = 40300,
    /// 404: no such resource (or not yours).
    NotFound = 40400,
    /// 409: the request conflicts with the current state (e.g. the product exists).
    Conflict = 40900,
    /// 409: not enough stock; `data.shortages` names each short product.
    InsufficientStock = 40901,
    /// 409: the order (or stock) is not in a state that allows this.
    InvalidState = 40902,
    /// 409: too many concurrent changes to the same items; retry.
    Busy = 40903,
    /// 409: past a product's purchase limit; `data.limits` names each product.
    PurchaseLimit = 40904,
    /// 409: the shopper already has the most unpaid orders allowed.
    TooManyUnpaid = 40905,
    /// 413: the body is too large.
    PayloadTooLarge = 41300,
    /// 422: the request was read but a field is invalid.
    Validation = 42200,
    /// 429: too many requests.
    RateLimited = 42900,
    /// 500: a fault on our side.
    Internal = 50000,
    /// 502: WeChat (or another outside party) failed or did not answer in time.
    Upstream = 50200,
    /// 503: the database (or another dependency) is unavailable; retry later.
    Unavailable = 50300,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub data: Value,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: Value::Null,
            retry_after: None,
        }
    }

    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).unwrap_or(Value::Null);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        );
        error.retry_after = Some(RETRY_AFTER_UNAVAILABLE_SECS);
        error
    }

    /// A 422 naming every invalid field, `data.errors = [{field, message}]`: the one way a
    /// field is refused, whether a command or the door found it wrong.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Validation,
            format!("invalid request: {}", aggregates::describe(&errors)),
        )
        .with_data(json!({ "errors": errors }))
    }

    /// A 400 naming the field that could not be read.
    pub fn malformed_field(field: &str, message: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
            format!("{field}: {message}"),
        )
        .with_data(json!({"errors": [{"field": field, "message": message}]}))
    }

    /// The envelope as JSON, as the client receives it.
    pub fn envelope(&self) -> Value {
        json!({"code": self.code as u32, "message": self.message, "data": self.data})
    }

    /// A failure the client cannot fix: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; it has been logged",
        )
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        use StatusCode as S;
        let message = err.to_string();
        match err {
            WriteError::Invalid(errors) => Self::invalid(errors),
            WriteError::ProductNotFound => Self::not_found("product"),
            WriteError::OrderNotFound => Self::not_found("order"),
            WriteError::UserNotFound => Self::not_found("user"),
            WriteError::InsufficientStock(shortages) => {
                Self::new(S::CONFLICT, ErrorCode::InsufficientStock, message)
                    .with_data(json!({ "shortages": shortages }))
            }
            WriteError::LimitExceeded(breaches) => {
                Self::new(S::CONFLICT, ErrorCode::PurchaseLimit, message)
                    .with_data(json!({ "limits": breaches }))
            }
            WriteError::TooManyUnpaid { max } => {
                Self::new(S::CONFLICT, ErrorCode::TooManyUnpaid, message)
                    .with_data(json!({ "max_unpaid_orders": max }))
            }
            WriteError::Product(_) => Self::new(S::CONFLICT, ErrorCode::Conflict, message),
            WriteError::Stock(
                StockError::NonPositiveQuantity | StockError::AdjustmentTooLarge { .. },
            ) => Self::new(
                S::UNPROCESSABLE_ENTITY,
                ErrorCode::Validation,
                message.clone(),
            )
            .with_data(json!({"errors": [{"field": "quantity", "message": message}]})),
            WriteError::Stock(_) | WriteError::Order(_) => {
                Self::new(S::CONFLICT, ErrorCode::InvalidState, message)
            }
            WriteError::Busy => {
                let mut busy = Self::new(S::CONFLICT, ErrorCode::Busy, message);
                busy.retry_after = Some(RETRY_AFTER_BUSY_SECS);
                busy
            }
            WriteError::Append(AppendError::Database(db)) => db.as_ref().into(),
            WriteError::Unavailable(cause) => {
                tracing::warn!(%cause, "write failed");
                Self::unavailable("the order could not be written; retry shortly")
            }
            WriteError::Load(_) | WriteError::Append(_) | WriteError::Serialize(_) => {
                Self::internal(&message)
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::from(&err)
    }
}

impl From<&sqlx::Error> for ApiError {
    fn from(err: &sqlx::Error) -> Self {
        // The database being away (connection, resources, shutting down) is a 503 the
        // client may retry, not a broken server.
        if projections::failure::is_unavailable(err) {
            tracing::warn!(%err, "database unavailable");
            return Self::unavailable("the database is unavailable; retry shortly");
        }
        Self::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code as u32,
            message: self.message,
            data: self.data,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}
