//! Shoppers' openids by user id, for calls that name the shopper to WeChat: a user's id
//! is derived from their openid, so an openid once read never changes, and a burst of
//! one shop's calls reads each from the log once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aggregates::user::User;
use uuid::Uuid;

use crate::event_store::EventStore;

/// The most openids kept; past it the cache starts afresh.
const MAX_OPENIDS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct Openids {
    events: EventStore,
    cache: Arc<Mutex<HashMap<String, String>>>,
}

impl Openids {
    pub fn new(events: EventStore) -> Self {
        Self {
            events,
            cache: Arc::default(),
        }
    }

    /// The openid of the shopper `user_id` (empty when they never logged in).
    pub async fn of(&self, user_id: &str) -> Result<String, String> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(user_id).cloned());
        if let Some(openid) = cached {
            return Ok(openid);
        }
        let Ok(id) = Uuid::parse_str(user_id) else {
            return Ok(String::new());
        };
        let openid = self
            .events
            .load::<User>(&id.to_string())
            .await
            .map_err(|err| err.to_string())?
            .aggregate
            .openid;
        if !openid.is_empty()
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() >= MAX_OPENIDS {
                cache.clear();
            }
            cache.insert(user_id.to_owned(), openid.clone());
        }
        Ok(openid)
    }
}
