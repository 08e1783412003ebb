//! What is recorded beside every event: who caused it and within which request.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Metadata of the events one command wrote. Stored as a flat JSON object of strings,
/// the shape cqrs-es gives `EventEnvelope::metadata`, so postgres-es can load it too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// The user (or operator) on whose behalf the events were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// That actor's role: `user`, `admin`, or `system` for ordo's own workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_role: Option<String>,
    /// The client's address (behind trusted proxies, the shopper's, not the proxy's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    /// The HTTP request id, to find the request in the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The client's `Idempotency-Key`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Shared by every event of one business flow (an order from placing to completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The event or command that directly caused these events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
}

impl EventMetadata {
    /// The map form cqrs-es uses for `EventEnvelope::metadata`.
    pub fn to_map(&self) -> HashMap<String, String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(fields)) => fields
                .into_iter()
                .filter_map(|(key, value)| match value {
                    serde_json::Value::String(text) => Some((key, text)),
                    _ => None,
                })
                .collect(),
            _ => HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_a_flat_map_of_strings_without_empty_fields() {
        let metadata = EventMetadata {
            actor_id: Some("u1".into()),
            request_id: Some("r1".into()),
            ..Default::default()
        };
        let json = serde_json::to_value(&metadata).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"actor_id": "u1", "request_id": "r1"})
        );
        let map: HashMap<String, String> = serde_json::from_value(json).expect("flat map");
        assert_eq!(map, metadata.to_map());
    }

    #[test]
    fn metadata_written_by_others_still_reads() {
        let metadata: EventMetadata =
            serde_json::from_value(serde_json::json!({"something_else": "x"})).expect("read");
        assert_eq!(metadata, EventMetadata::default());
    }
}
