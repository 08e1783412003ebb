//! The merchant's orders: every order of the shop by status and time, searched, in keyset
//! pages (newest first: the 10,000th page costs what the first does), with the counts per
//! status the tabs show. Each filter combination gets its own statement, so every one
//! is planned on the index that matches it (`order_views_by_status`, `_by_created`,
//! `_by_user_status`, the trigram index on `search`, the primary key for an id prefix).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{Arguments, PgPool, Postgres};
use uuid::Uuid;

use super::query::{COLUMNS, OrderRow};

/// Which orders a page shows; `None`: any.
#[derive(Debug, Clone, Default)]
pub struct ShopFilter {
    pub status: Option<String>,
    /// Placed at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub created_to: Option<DateTime<Utc>>,
    /// An order id prefix, or part of the receiver's name or phone or a product's name.
    pub q: Option<String>,
    pub user_id: Option<String>,
}

/// Where a page starts: after this order (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub order_id: Uuid,
}

impl Cursor {
    /// The cursor as the API hands it out: opaque to clients, `<micros>_<order id>`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.order_id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            order_id: id.parse().ok()?,
        })
    }
}

/// An order of the shop and its shopper.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShopOrderRow {
    #[sqlx(flatten)]
    pub order: OrderRow,
    pub user_id: String,
}

/// One page of the shop's orders and where the next starts (`None`: this was the last).
pub async fn page(
    pool: &PgPool,
    filter: &ShopFilter,
    after: Option<Cursor>,
    size: i64,
) -> Result<(Vec<ShopOrderRow>, Option<Cursor>), sqlx::Error> {
    let mut conditions = Conditions::of(filter, true);
    if let Some(after) = after {
        let (at, id) = (
            conditions.bind(after.created_at),
            conditions.bind(after.order_id),
        );
        conditions.push(format!("(created_at, order_id) < (${at}, ${id})"));
    }
    let size = size.clamp(1, 1_000);
    let limit = conditions.bind(size + 1);
    let sql = format!(
        "SELECT {COLUMNS}, user_id FROM order_views {}
          ORDER BY created_at DESC, order_id DESC LIMIT ${limit}",
        conditions.clause()
    );
    let query: QueryAs<'_, Postgres, ShopOrderRow, PgArguments> =
        sqlx::query_as_with(&sql, conditions.arguments);
    let mut rows = query.fetch_all(pool).await?;
    let more = rows.len() > usize::try_from(size).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last()).flatten().map(|row| Cursor {
        created_at: row.order.created_at,
        order_id: row.order.order_id,
    });
    let rows = rows
        .into_iter()
        .map(|row| ShopOrderRow {
            order: row.order.unescaped(),
            ..row
        })
        .collect();
    Ok((rows, next))
}

/// How many orders match the filter in each status (the status filter aside: the tabs
/// show every status). The whole shop's and a shopper's counts are kept by the
/// projection; other filters count the orders they select.
pub async fn counts(
    pool: &PgPool,
    filter: &ShopFilter,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let narrowed =
        filter.created_from.is_some() || filter.created_to.is_some() || filter.q.is_some();
    let rows: Vec<(String, i64)> = match (&filter.user_id, narrowed) {
        (None, false) => {
            sqlx::query_as("SELECT status, orders FROM order_status_counts")
                .fetch_all(pool)
                .await?
        }
        (Some(user_id), false) => {
            sqlx::query_as("SELECT status, orders FROM order_counts WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }
        _ => {
            let conditions = Conditions::of(filter, false);
            let sql = format!(
                "SELECT status, count(*) FROM order_views {} GROUP BY status",
                conditions.clause()
            );
            sqlx::query_as_with(&sql, conditions.arguments)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(rows.into_iter().collect())
}

/// A WHERE clause and its arguments, numbered as they are added.
struct Conditions {
    parts: Vec<String>,
    arguments: PgArguments,
    count: usize,
}

impl Conditions {
    /// The filter's conditions (its status too, if `with_status`).
    fn of(filter: &ShopFilter, with_status: bool) -> Self {
        let mut this = Self {
            parts: Vec::new(),
            arguments: PgArguments::default(),
            count: 0,
        };
        if with_status && let Some(status) = &filter.status {
            let n = this.bind(status.clone());
            this.push(format!("status = ${n}"));
        }
        if let Some(from) = filter.created_from {
            let n = this.bind(from);
            this.push(format!("created_at >= ${n}"));
        }
        if let Some(to) = filter.created_to {
            let n = this.bind(to);
            this.push(format!("created_at < ${n}"));
        }
        if let Some(user_id) = &filter.user_id {
            let n = this.bind(user_id.clone());
            this.push(format!("user_id = ${n}"));
        }
        if let Some(q) = &filter.q {
            let n = this.bind(contains(q));
            // Lower-cased as the column is, by PostgreSQL.
            let mut matches = format!("search LIKE lower(${n})");
            if let Some((low, high)) = id_range(q) {
                let (low, high) = (this.bind(low), this.bind(high));
                matches = format!("({matches} OR order_id BETWEEN ${low} AND ${high})");
            }
            this.push(matches);
        }
        this
    }

    fn bind<'q, T>(&mut self, value: T) -> usize
    where
        T: 'q + sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send,
    {
        // Encoding a value of a known type into a buffer cannot fail short of memory.
        let _ = self.arguments.add(value);
        self.count += 1;
        self.count
    }

    fn push(&mut self, part: String) {
        self.parts.push(part);
    }

    fn clause(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.parts.join(" AND "))
        }
    }
}

/// `%q%` for LIKE over the lower-cased search text, its wildcards matched literally.
fn contains(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The ids `q` is a prefix of, if it can be one (hex digits and dashes, at least 4 digits):
/// the lowest and highest UUID starting with it.
fn id_range(q: &str) -> Option<(Uuid, Uuid)> {
    let digits: String = q.chars().filter(|c| *c != '-').collect();
    if digits.len() < 4 || digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pad = |fill: char| {
        let mut hex = digits.to_ascii_lowercase();
        hex.extend(std::iter::repeat_n(fill, 32 - digits.len()));
        Uuid::parse_str(&hex).ok()
    };
    Some((pad('0')?, pad('f')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_prefix_spans_the_ids_it_starts() {
        let (low, high) = id_range("0191B4A0-00").expect("a prefix");
        assert_eq!(low.to_string(), "0191b4a0-0000-0000-0000-000000000000");
        assert_eq!(high.to_string(), "0191b4a0-00ff-ffff-ffff-ffffffffffff");
        assert_eq!(id_range("abc"), None, "too short to be worth a range");
        assert_eq!(id_range("Mei Han"), None);
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_refuses_anything_else() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_765_000_000_123_456).expect("time"),
            order_id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("yesterday"), None);
        assert_eq!(Cursor::decode("1_not-an-id"), None);
    }

    #[test]
    fn like_wildcards_in_a_search_are_literal() {
        assert_eq!(contains("50%_Off\\"), "%50\\%\\_Off\\\\%");
    }
}
