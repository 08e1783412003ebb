//! `?page=1&size=20` in, `{"list": [...], "pagination": {...}}` out.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

/// The largest page a client may ask for.
pub const MAX_SIZE: i64 = 100;
const DEFAULT_SIZE: i64 = 20;

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub size: i64,
}

/// The query parameter `field` if given: one of `allowed`, else a 400 naming it.
pub fn one_of<'q>(
    query: &'q HashMap<String, String>,
    field: &str,
    allowed: &[&str],
) -> Result<Option<&'q String>, ApiError> {
    match query.get(field).filter(|value| !value.is_empty()) {
        None => Ok(None),
        Some(value) if allowed.contains(&value.as_str()) => Ok(Some(value)),
        Some(_) => Err(ApiError::malformed_field(
            field,
            &format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

impl Paging {
    /// Reads `page` (≥ 1, default 1) and `size` (1..=100, default 20), naming a bad one.
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let number = |field: &str, default: i64, max: i64| -> Result<i64, ApiError> {
            match query.get(field) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::malformed_field(
                            field,
                            &format!("must be a whole number from 1 to {max}"),
                        )
                    }),
            }
        };
        Ok(Self {
            page: number("page", 1, i64::from(i32::MAX))?,
            size: number("size", DEFAULT_SIZE, MAX_SIZE)?,
        })
    }

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.size)
    }
}

/// `?page&size` of a list (documentation; [`Paging::from_query`] reads them so that a
/// bad one is named).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PagingQuery {
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 2_147_483_647)]
    page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub total: i64,
    pub page: i64,
    pub size: i64,
    pub total_pages: i64,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub list: Vec<T>,
    pub pagination: Pagination,
}

impl<T> Page<T> {
    pub fn new(list: Vec<T>, total: i64, paging: Paging) -> Self {
        Self {
            list,
            pagination: Pagination {
                total,
                page: paging.page,
                size: paging.size,
                total_pages: (total + paging.size - 1) / paging.size,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_the_first_page_of_twenty() {
        assert_eq!(
            Paging::from_query(&query(&[])).expect("ok"),
            Paging { page: 1, size: 20 }
        );
    }

    #[test]
    fn sizes_above_a_hundred_and_pages_below_one_are_refused_by_name() {
        let err = Paging::from_query(&query(&[("size", "101")])).expect_err("too big");
        assert_eq!(err.data["errors"][0]["field"], "size");
        let err = Paging::from_query(&query(&[("page", "0")])).expect_err("too small");
        assert_eq!(err.data["errors"][0]["field"], "page");
        assert!(Paging::from_query(&query(&[("page", "two")])).is_err());
    }

    #[test]
    fn total_pages_round_up() {
        let page: Page<()> = Page::new(vec![], 41, Paging { page: 1, size: 20 });
        assert_eq!(page.pagination.total_pages, 3);
    }
}
