//! Reading JSON bodies so that every mistake gets a 4xx naming what is wrong:
//! 400 for JSON that cannot be read, 422 naming the field for a value of the wrong
//! shape, 413 for a body over the limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::http::error::{ApiError, ErrorCode};

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::Malformed,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(Self)
    }
}

/// The whole body, up to the limit: over it, a 413.
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::new(ErrorCode::Malformed, rejection.body_text())
            }
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if field == "." {
                    "body".to_owned()
                } else {
                    field
                };
                ApiError::new(ErrorCode::Validation, format!("{field}: {inner}"))
                    .with_data(json!({"errors": [{"field": field, "message": inner.to_string()}]}))
            }
            _ => ApiError::new(ErrorCode::Malformed, format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::new(ErrorCode::Malformed, format!("malformed JSON: {err}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Line {
        quantity: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        lines: Vec<Line>,
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err =
            parse::<Body>(br#"{"lines":[{"quantity":1},{"quantity":"two"}]}"#).expect_err("type");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.data["errors"][0]["field"], "lines[1].quantity");
    }

    #[test]
    fn a_missing_field_names_where_it_is_missing() {
        let err = parse::<Body>(br#"{"lines":[{}]}"#).expect_err("missing");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.message.contains("quantity"), "{}", err.message);
    }

    #[test]
    fn broken_json_is_malformed() {
        let err = parse::<Body>(br#"{"lines": ["#).expect_err("syntax");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let err = parse::<Body>(br#"{"lines": []} trailing"#).expect_err("trailing");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
