//! Integers in request bodies as JSON Schema counts them: a number whose fraction is
//! zero is an integer, so `3.0` is 3. Serde alone refuses `3.0` for an `i64`, which would
//! refuse what the document accepts (and what some JSON encoders write for whole
//! numbers). A fraction, or a number beyond 64 bits, is still refused, naming the field.
//!
//! Use with `#[serde(deserialize_with = "whole_number::exact")]` and friends.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

struct WholeNumber;

/// 2^63: the first whole `f64` past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i64, E> {
        Ok(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i64, E> {
        i64::try_from(value).map_err(|_| E::custom(format!("{value} is out of range")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i64, E> {
        if value.fract() != 0.0 || !value.is_finite() {
            return Err(E::invalid_value(de::Unexpected::Float(value), &self));
        }
        if !(-TWO_POW_63..TWO_POW_63).contains(&value) {
            return Err(E::custom(format!("{value} is out of range")));
        }
        // Whole and in range: the cast is exact.
        Ok(value as i64)
    }
}

/// An `i64` field.
pub fn exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_any(WholeNumber)
}

/// An `Option<i64>` field: null or absent (with `#[serde(default)]`) is `None`.
pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct Optional;

    impl<'de> Visitor<'de> for Optional {
        type Value = Option<i64>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a whole number or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            exact(deserializer).map(Some)
        }
    }

    deserializer.deserialize_option(Optional)
}

/// A field that may be absent (`None`, with `#[serde(default)]`), null (`Some(None)`)
/// or a whole number (`Some(Some(_))`).
pub fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    optional(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::exact")]
        n: i64,
        #[serde(default, deserialize_with = "super::optional")]
        maybe: Option<i64>,
        #[serde(default, deserialize_with = "super::present")]
        change: Option<Option<i64>>,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|err| err.to_string())
    }

    #[test]
    fn whole_floats_are_integers() {
        let body = parse(r#"{"n": 288.0, "maybe": -3.0, "change": 1e3}"#).expect("whole");
        assert_eq!(
            (body.n, body.maybe, body.change),
            (288, Some(-3), Some(Some(1000)))
        );
    }

    #[test]
    fn absent_null_and_set_are_told_apart() {
        let absent = parse(r#"{"n": 1}"#).expect("absent");
        assert_eq!((absent.maybe, absent.change), (None, None));
        let null = parse(r#"{"n": 1, "maybe": null, "change": null}"#).expect("null");
        assert_eq!((null.maybe, null.change), (None, Some(None)));
    }

    #[test]
    fn fractions_strings_and_out_of_range_numbers_are_refused() {
        for json in [
            r#"{"n": 1.5}"#,
            r#"{"n": "1"}"#,
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": 1e19}"#,
            r#"{"n": -1e19}"#,
            r#"{"n": null}"#,
            r#"{"n": 1, "maybe": 0.1}"#,
        ] {
            assert!(parse(json).is_err(), "{json} was accepted");
        }
        assert_eq!(
            parse(r#"{"n": -9223372036854775808}"#).expect("min").n,
            i64::MIN
        );
    }
}
