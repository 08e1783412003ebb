//! `?status=` of an order list.

use aggregates::order::OrderStatus;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::error::ApiError;
use crate::http::extract::params::{QueryRules, one_of};

/// `?status=` of an order list (a shopper's own, an operator's of one shopper).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Only orders in this status (empty: all).
    #[param(pattern = "^(|awaiting_payment|paid|shipped|completed|cancelled|refunding|refunded)$")]
    status: Option<String>,
}

impl QueryRules for StatusQuery {
    fn check(&self) -> Result<(), ApiError> {
        one_of("status", self.status.as_deref(), &OrderStatus::NAMES).map(drop)
    }
}

impl StatusQuery {
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref().filter(|status| !status.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_status_filter_names_every_status() {
        let pattern = format!("^(|{})$", OrderStatus::NAMES.join("|"));
        let documented =
            StatusQuery::into_params(|| None)
                .into_iter()
                .find_map(|param| match param.schema {
                    Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(object))) => {
                        object.pattern
                    }
                    _ => None,
                });
        assert_eq!(documented, Some(pattern));
    }
}
