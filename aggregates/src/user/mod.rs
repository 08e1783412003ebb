//! User: a shopper of the mini program, keyed by their WeChat openid, with the profile
//! they show (nickname, avatar, phone).

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::text::TextRule;

/// Longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 64;
/// Longest avatar URL, in characters.
pub const MAX_AVATAR_URL_CHARS: usize = 1024;
/// Longest openid, in characters: WeChat's are 28; dev logins use the whole
/// `dev:<name>` code.
pub const MAX_OPENID_CHARS: usize = 128;
/// Longest phone number, in characters: `+` and 20 digits.
const MAX_PHONE_CHARS: usize = 21;

/// The shopper's openid: one line, required.
const OPENID: TextRule = TextRule::single_line(MAX_OPENID_CHARS).required();
/// The name a shopper shows: one line, required.
pub const NICKNAME: TextRule = TextRule::single_line(MAX_NICKNAME_CHARS).required();
/// An avatar URL: one line, may be empty (its shape is checked apart).
pub const AVATAR_URL: TextRule = TextRule::single_line(MAX_AVATAR_URL_CHARS);
/// A phone number: one line, may be empty (its shape is checked apart).
pub const PHONE: TextRule = TextRule::single_line(MAX_PHONE_CHARS);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub registered: bool,
    pub openid: String,
    pub nickname: String,
    pub avatar_url: String,
    pub phone: String,
    pub registered_at: Option<DateTime<Utc>>,
    /// Whether `phone` is the one WeChat verified (`getPhoneNumber`), not one typed in.
    #[serde(default)]
    pub phone_verified: bool,
}

/// Profile fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChanges {
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    /// First login: the user exists from now on.
    RegisterUser {
        openid: String,
        nickname: String,
        registered_at: DateTime<Utc>,
    },
    /// Changes the profile; one that leaves every field as it is records nothing.
    UpdateProfile(ProfileChanges),
    /// The phone WeChat verified for the user (exchanged for a `getPhoneNumber` code); the
    /// same verified phone again records nothing.
    VerifyPhone {
        phone: String,
        verified_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    UserRegistered {
        openid: String,
        nickname: String,
        registered_at: DateTime<Utc>,
    },
    /// The profile after a change (all fields). A phone typed in is not verified.
    ProfileUpdated {
        nickname: String,
        avatar_url: String,
        phone: String,
    },
    /// WeChat verified the user's phone.
    PhoneVerified {
        phone: String,
        verified_at: DateTime<Utc>,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::PhoneVerified { .. } => "PhoneVerified",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("the user is already registered")]
    AlreadyRegistered,
    #[error("the user does not exist")]
    NotFound,
    #[error("invalid profile: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
}

impl Aggregate for User {
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        let event = match command {
            UserCommand::RegisterUser {
                openid,
                nickname,
                registered_at,
            } => {
                if self.registered {
                    return Err(UserError::AlreadyRegistered);
                }
                // A first login must not fail on a long name, so it is cut to fit; what
                // is left must still be clean text.
                let nickname = truncate(&nickname, MAX_NICKNAME_CHARS);
                let mut errors = Vec::new();
                OPENID.check_into("openid", &openid, &mut errors);
                NICKNAME.check_into("nickname", &nickname, &mut errors);
                if !errors.is_empty() {
                    return Err(UserError::Invalid(errors));
                }
                UserEvent::UserRegistered {
                    openid,
                    nickname,
                    registered_at,
                }
            }
            UserCommand::UpdateProfile(changes) => {
                if !self.registered {
                    return Err(UserError::NotFound);
                }
                let nickname = changes.nickname.unwrap_or_else(|| self.nickname.clone());
                let avatar_url = changes
                    .avatar_url
                    .unwrap_or_else(|| self.avatar_url.clone());
                let phone = changes.phone.unwrap_or_else(|| self.phone.clone());
                // A form saved as it was (or an empty body) is not news: an event for it
                // would only lengthen the stream that every load replays. Asked before
                // validating, so a profile recorded under older rules is not re-judged.
                if (&nickname, &avatar_url, &phone)
                    == (&self.nickname, &self.avatar_url, &self.phone)
                {
                    return Ok(());
                }
                validate(&nickname, &avatar_url, &phone)?;
                UserEvent::ProfileUpdated {
                    nickname,
                    avatar_url,
                    phone,
                }
            }
            UserCommand::VerifyPhone { phone, verified_at } => {
                if !self.registered {
                    return Err(UserError::NotFound);
                }
                if self.phone_verified && self.phone == phone {
                    return Ok(());
                }
                let mut errors = Vec::new();
                check_phone(&phone, &mut errors);
                if !errors.is_empty() {
                    return Err(UserError::Invalid(errors));
                }
                UserEvent::PhoneVerified { phone, verified_at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered {
                openid,
                nickname,
                registered_at,
            } => {
                *self = Self {
                    registered: true,
                    openid,
                    nickname,
                    registered_at: Some(registered_at),
                    ..Self::default()
                };
            }
            UserEvent::ProfileUpdated {
                nickname,
                avatar_url,
                phone,
            } => {
                self.nickname = nickname;
                self.avatar_url = avatar_url;
                if self.phone != phone {
                    self.phone_verified = false;
                }
                self.phone = phone;
            }
            UserEvent::PhoneVerified { phone, .. } => {
                self.phone = phone;
                self.phone_verified = true;
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn validate(nickname: &str, avatar_url: &str, phone: &str) -> Result<(), UserError> {
    let mut errors = Vec::new();
    NICKNAME.check_into("nickname", nickname, &mut errors);
    if let Some(error) = AVATAR_URL.check("avatar_url", avatar_url) {
        errors.push(error);
    } else if !(avatar_url.is_empty() || avatar_url.starts_with("https://")) {
        errors.push(FieldError::new(
            "avatar_url",
            "must be an https:// URL of at most 1024 characters, or empty",
        ));
    }
    check_phone(phone, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(UserError::Invalid(errors))
    }
}

/// A phone: 5 to 20 digits, optionally after `+`, or empty.
fn check_phone(phone: &str, errors: &mut Vec<FieldError>) {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if let Some(error) = PHONE.check("phone", phone) {
        errors.push(error);
    } else if !(phone.is_empty()
        || (5..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
    {
        errors.push(FieldError::new(
            "phone",
            "must be 5 to 20 digits, optionally after +, or empty",
        ));
    }
}
