//! WeChat's delivery companies (`get_delivery_list`): the ids a shipment's
//! `express_company` may name. A list of the common ones is bundled (so a fresh shop can
//! ship at once), the whole list is fetched from WeChat at start and daily, and an id
//! WeChat does not know is refused before anything is written.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

use crate::database::DatabaseError;
use crate::wechat::{Platform, PlatformError};

/// Carriers every shop uses, with WeChat's ids for them (the ids of `get_delivery_list`,
/// not those of the older logistics assistant: 韵达 is `YD` here).
pub const BUNDLED: [(&str, &str); 12] = [
    ("SF", "顺丰速运"),
    ("ZTO", "中通快递"),
    ("YTO", "圆通速递"),
    ("STO", "申通快递"),
    ("YD", "韵达速递"),
    ("JTSD", "极兔速递"),
    ("JD", "京东快递"),
    ("EMS", "EMS"),
    ("EMS2", "EMS国内"),
    ("NSF", "新顺丰"),
    ("SFB2C", "顺丰国际"),
    ("DHL", "DHL"),
];

/// How often the list is fetched again from WeChat.
pub const REFRESH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Deserialize)]
struct DeliveryList {
    #[serde(default)]
    delivery_list: Vec<Company>,
}

#[derive(Debug, Deserialize)]
struct Company {
    delivery_id: String,
    delivery_name: String,
}

/// The table of delivery companies.
#[derive(Debug, Clone)]
pub struct DeliveryCompanies {
    pool: PgPool,
}

impl DeliveryCompanies {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The name of delivery company `id`, if WeChat knows it (the bundled list is added
    /// the first time it is asked).
    pub async fn name_of(&self, id: &str) -> Result<Option<String>, DatabaseError> {
        let name = self.stored_name(id).await?;
        if name.is_some() {
            return Ok(name);
        }
        // Added by this call or by a concurrent one: either way, there now.
        self.add_bundled().await?;
        self.stored_name(id).await
    }

    async fn stored_name(&self, id: &str) -> Result<Option<String>, DatabaseError> {
        Ok(sqlx::query_scalar(
            "SELECT delivery_name FROM delivery_companies WHERE delivery_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every company, by id.
    pub async fn all(&self) -> Result<Vec<(String, String)>, DatabaseError> {
        self.add_bundled().await?;
        Ok(sqlx::query_as(
            "SELECT delivery_id, delivery_name FROM delivery_companies ORDER BY delivery_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds the bundled list if the table is empty; whether it added it.
    async fn add_bundled(&self) -> Result<bool, DatabaseError> {
        let (ids, names): (Vec<&str>, Vec<&str>) = BUNDLED.iter().copied().unzip();
        let added = sqlx::query(
            "INSERT INTO delivery_companies (delivery_id, delivery_name)
             SELECT * FROM unnest($1::text[], $2::text[])
              WHERE NOT EXISTS (SELECT 1 FROM delivery_companies)
             ON CONFLICT DO NOTHING",
        )
        .bind(ids)
        .bind(names)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(added > 0)
    }

    /// Replaces the list with WeChat's: how many companies it holds. Ids WeChat no longer
    /// lists are kept (an old shipment still names its carrier).
    pub async fn refresh(&self, platform: &Platform) -> Result<usize, RefreshError> {
        let list: DeliveryList = platform
            .call(
                "/cgi-bin/express/delivery/open_msg/get_delivery_list",
                &json!({}),
            )
            .await?;
        let (ids, names): (Vec<String>, Vec<String>) = list
            .delivery_list
            .into_iter()
            .filter(|company| !company.delivery_id.trim().is_empty())
            .map(|company| (company.delivery_id, company.delivery_name))
            .unzip();
        sqlx::query(
            "INSERT INTO delivery_companies (delivery_id, delivery_name)
             SELECT * FROM unnest($1::text[], $2::text[])
             ON CONFLICT (delivery_id) DO UPDATE
                SET delivery_name = EXCLUDED.delivery_name, refreshed_at = now()",
        )
        .bind(&ids)
        .bind(&names)
        .execute(&self.pool)
        .await
        .map_err(DatabaseError::from)?;
        Ok(ids.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
}
