//! `?as_of=` of the audit's state reads.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::error::ApiError;
use crate::http::extract::params::{QueryRules, rfc3339};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The instant, RFC 3339 (e.g. 2026-11-24T12:00:00Z).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(required, value_type = String, format = DateTime)]
    as_of: Option<DateTime<Utc>>,
}

impl QueryRules for AsOfQuery {
    fn check(&self) -> Result<(), ApiError> {
        self.instant().map(drop)
    }
}

impl AsOfQuery {
    pub fn instant(&self) -> Result<DateTime<Utc>, ApiError> {
        self.as_of
            .ok_or_else(|| ApiError::malformed_field("as_of", "required: an RFC 3339 instant"))
    }
}
