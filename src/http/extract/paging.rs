//! `?page=1&size=20` in, `{"list": [...], "pagination": {...}}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;
use crate::http::extract::params::QueryRules;

/// The largest page a client may ask for.
pub const MAX_SIZE: i64 = 100;
/// The last page a client may ask for (what the document states).
const MAX_PAGE: i64 = i32::MAX as i64;
const DEFAULT_SIZE: i64 = 20;

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub size: i64,
}

impl Paging {
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.size)
    }
}

/// `?page&size` of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagingQuery {
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 2_147_483_647)]
    page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

impl QueryRules for PagingQuery {
    fn check(&self) -> Result<(), ApiError> {
        for (field, value, max) in [("page", self.page, MAX_PAGE), ("size", self.size, MAX_SIZE)] {
            if value.is_some_and(|n| !(1..=max).contains(&n)) {
                return Err(ApiError::malformed_field(
                    field,
                    &format!("must be a whole number from 1 to {max}"),
                ));
            }
        }
        Ok(())
    }
}

impl PagingQuery {
    pub fn paging(&self) -> Paging {
        Paging {
            page: self.page.unwrap_or(1),
            size: self.size.unwrap_or(DEFAULT_SIZE),
        }
    }
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

    fn query(page: Option<i64>, size: Option<i64>) -> PagingQuery {
        PagingQuery { page, size }
    }

    #[test]
    fn defaults_are_the_first_page_of_twenty() {
        assert_eq!(query(None, None).paging(), Paging { page: 1, size: 20 });
    }

    #[test]
    fn sizes_above_a_hundred_and_pages_below_one_are_refused_by_name() {
        let err = query(None, Some(101)).check().expect_err("too big");
        assert_eq!(err.data["errors"][0]["field"], "size");
        let err = query(Some(0), None).check().expect_err("too small");
        assert_eq!(err.data["errors"][0]["field"], "page");
        assert!(query(Some(MAX_PAGE), Some(MAX_SIZE)).check().is_ok());
    }

    #[test]
    fn total_pages_round_up() {
        let page: Page<()> = Page::new(vec![], 41, Paging { page: 1, size: 20 });
        assert_eq!(page.pagination.total_pages, 3);
    }
}
