//! User use cases: registering on first login, changing the profile.

use aggregates::user::{ProfileChanges, User, UserCommand};
use chrono::Utc;
use uuid::Uuid;

use super::attempt::{Attempts, append_for, decide};
use super::{WriteError, WriteModel};
use crate::event_store::{AppendError, EventMetadata};

/// The namespace of user ids: a user's id is derived from their openid, so the first
/// login of two devices at once races for the same stream and the event store keeps one.
const USER_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_646f_2d75_7365_722d_6964_732d_0001);

/// The id of the user with this openid.
pub fn user_id_for(openid: &str) -> Uuid {
    Uuid::new_v5(&USER_NAMESPACE, openid.as_bytes())
}

impl WriteModel {
    /// The user with this openid, registered now if this is their first login.
    pub async fn login(
        &self,
        openid: &str,
        nickname: &str,
        metadata: &EventMetadata,
    ) -> Result<(Uuid, User), WriteError> {
        let id = user_id_for(openid);
        let key = id.to_string();
        let mut slot = self.users.lock(&key).await;
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        loop {
            let current = &slot.current(&self.store).await?.loaded;
            if current.aggregate.registered {
                return Ok((id, current.aggregate.clone()));
            }
            let register = UserCommand::RegisterUser {
                openid: openid.to_owned(),
                nickname: nickname.to_owned(),
                registered_at: Utc::now(),
            };
            // An openid or name the log cannot hold is the caller's to fix (422).
            let (user, events) = decide(&current.aggregate, register).await?;
            let appends: Vec<_> = append_for::<User>(&key, 0, &events)?.into_iter().collect();
            let mut metadata = metadata.clone();
            metadata.actor_id = Some(key.clone());
            match self.store.append(&appends, &metadata).await {
                Ok(_) => {
                    let next = i64::try_from(events.len()).unwrap_or_default();
                    slot.store(&self.store, user.clone(), next).await;
                    return Ok((id, user));
                }
                // Another device registered the same user first: reload and use it.
                Err(AppendError::Conflict { .. }) => {
                    slot.invalidate();
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// The user, as their events make them; `None` when there is no such user.
    pub async fn user(&self, id: Uuid) -> Result<Option<User>, WriteError> {
        let user = self.store.load::<User>(&id.to_string()).await?.aggregate;
        Ok(user.registered.then_some(user))
    }

    /// Changes the user's profile.
    pub async fn update_profile(
        &self,
        id: Uuid,
        changes: ProfileChanges,
        metadata: &EventMetadata,
    ) -> Result<User, WriteError> {
        self.change_user(id, UserCommand::UpdateProfile(changes), metadata)
            .await
    }

    /// Records the phone WeChat verified for the user.
    pub async fn verify_phone(
        &self,
        id: Uuid,
        phone: String,
        metadata: &EventMetadata,
    ) -> Result<User, WriteError> {
        let command = UserCommand::VerifyPhone {
            phone,
            verified_at: Utc::now(),
        };
        self.change_user(id, command, metadata).await
    }

    /// Applies `command` to a registered user.
    async fn change_user(
        &self,
        id: Uuid,
        command: UserCommand,
        metadata: &EventMetadata,
    ) -> Result<User, WriteError> {
        let key = id.to_string();
        let mut slot = self.users.lock(&key).await;
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        loop {
            let current = &slot.current(&self.store).await?.loaded;
            let sequence = current.sequence;
            let (user, events) = decide(&current.aggregate, command.clone()).await?;
            // The profile as it was: nothing to write (the User decided it).
            if events.is_empty() {
                return Ok(user);
            }
            let appends: Vec<_> = append_for::<User>(&key, sequence, &events)?
                .into_iter()
                .collect();
            match self.store.append(&appends, metadata).await {
                Ok(_) => {
                    // Snapshots every SNAPSHOT_EVERY events, like every other stream, so
                    // a user who edits their profile often still loads in a few events.
                    let next = sequence + i64::try_from(events.len()).unwrap_or_default();
                    slot.store(&self.store, user.clone(), next).await;
                    return Ok(user);
                }
                Err(AppendError::Conflict { .. }) => {
                    slot.invalidate();
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}
