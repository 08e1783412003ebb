//! A shopper's phone number as WeChat verified it (`wxa/business/getuserphonenumber`):
//! the mini program's `getPhoneNumber` button hands it a code, ordo exchanges the code.

use serde::Deserialize;
use serde_json::{Value, json};

use super::platform::{Platform, PlatformError};

#[derive(Debug, Deserialize)]
struct PhoneAnswer {
    phone_info: PhoneInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    pure_phone_number: String,
    /// Documented as a string, answered as a number: either is read.
    #[serde(default)]
    country_code: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error(
        "the phone code is invalid, used or expired (WeChat's 40029): ask for a new one with getPhoneNumber"
    )]
    InvalidCode,
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

impl Platform {
    /// The phone number WeChat verified for the shopper who got `code`: the national
    /// number for China (+86), `+<country><number>` otherwise.
    pub async fn phone_number(&self, code: &str) -> Result<String, PhoneError> {
        let answer: PhoneAnswer = match self
            .call("/wxa/business/getuserphonenumber", &json!({ "code": code }))
            .await
        {
            Ok(answer) => answer,
            Err(PlatformError::Refused { errcode: 40029, .. }) => {
                return Err(PhoneError::InvalidCode);
            }
            Err(err) => return Err(err.into()),
        };
        let info = answer.phone_info;
        let country = match &info.country_code {
            Value::Number(number) => number.to_string(),
            Value::String(text) => text.trim_start_matches('+').to_owned(),
            _ => "86".to_owned(),
        };
        Ok(if country == "86" || country.is_empty() {
            info.pure_phone_number
        } else {
            format!("+{country}{}", info.pure_phone_number)
        })
    }
}
