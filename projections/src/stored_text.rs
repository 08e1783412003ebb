//! Text as ordo stores it in its own tables.
//!
//! PostgreSQL's `text` and `jsonb` hold every Unicode character but one: U+0000. The
//! event log (`json`, kept verbatim) can hold it, so an event written before ordo refused
//! control characters at the door may carry one, and it must still reach the read models.
//! Every string a projection writes is therefore escaped, reversibly:
//!
//! - U+0000 is stored as U+FFFF followed by `0`;
//! - U+FFFF itself is stored as U+FFFF U+FFFF.
//!
//! U+FFFF is a Unicode noncharacter that clients may not send, so text without U+0000
//! is stored unchanged, and reading ([`unescape`]) gives back exactly what the event held.

use std::borrow::Cow;

use serde_json::Value;

/// Introduces an escape in stored text.
pub const ESCAPE: char = '\u{FFFF}';

/// `text` in a form PostgreSQL can store.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(text);
    }
    let mut stored = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => stored.extend([ESCAPE, '0']),
            ESCAPE => stored.extend([ESCAPE, ESCAPE]),
            c => stored.push(c),
        }
    }
    Cow::Owned(stored)
}

/// The text that [`escape`] stored as `stored`.
pub fn unescape(stored: &str) -> Cow<'_, str> {
    if !stored.contains(ESCAPE) {
        return Cow::Borrowed(stored);
    }
    let mut text = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => text.push('\0'),
            Some(ESCAPE) => text.push(ESCAPE),
            // Not written by `escape`: kept as it is.
            Some(other) => text.extend([ESCAPE, other]),
            None => text.push(ESCAPE),
        }
    }
    Cow::Owned(text)
}

/// Whether JSON text may hold a string [`escape`] changes. U+0000 can only be written
/// escaped (`\u0000`) in JSON, U+FFFF raw or escaped: text with neither a `\u` escape
/// nor a raw U+FFFF decodes to strings stored unchanged (most events: serde_json writes
/// every other character raw).
pub fn json_may_need_escape(json: &str) -> bool {
    json.contains("\\u") || json.contains(ESCAPE)
}

/// Escapes every string (and object key) in `value`, in place.
pub fn escape_json(value: &mut Value) {
    map_strings(value, &|text| escape(text).into_owned());
}

/// Undoes [`escape_json`], in place.
pub fn unescape_json(value: &mut Value) {
    map_strings(value, &|text| unescape(text).into_owned());
}

/// The stored form of an owned string (no copy when nothing needs escaping).
pub fn escaped(text: String) -> String {
    match escape(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(stored) => stored,
    }
}

/// The text of an owned stored string (no copy when nothing was escaped).
pub fn unescaped(stored: String) -> String {
    match unescape(&stored) {
        Cow::Borrowed(_) => stored,
        Cow::Owned(text) => text,
    }
}

fn map_strings(value: &mut Value, f: &dyn Fn(&str) -> String) {
    match value {
        Value::String(text) if text.contains(['\0', ESCAPE]) => *text = f(text),
        Value::Array(items) => items.iter_mut().for_each(|item| map_strings(item, f)),
        Value::Object(fields) => {
            let needs_key_change = fields.keys().any(|key| key.contains(['\0', ESCAPE]));
            if needs_key_change {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, value)| (f(&key), value))
                    .collect();
            }
            fields.values_mut().for_each(|item| map_strings(item, f));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_without_nul_or_the_escape_is_stored_as_it_is() {
        assert!(matches!(escape("héllo 🍵\n\t"), Cow::Borrowed(_)));
        assert!(matches!(unescape("héllo"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_text_comes_back_exactly_and_stores_without_nul() {
        for text in [
            "hi\0there",
            "\0",
            "\0\0",
            "\u{FFFF}",
            "\u{FFFF}0",
            "a\u{FFFF}\0b",
            "\u{FFFF}\u{FFFF}0\0",
            "",
        ] {
            let stored = escape(text);
            assert!(!stored.contains('\0'), "{stored:?}");
            assert_eq!(unescape(&stored), text, "{text:?}");
        }
    }

    #[test]
    fn json_strings_and_keys_are_escaped_and_restored() {
        let original = json!({"OrderPlaced": {"remark": "a\0b", "lines": [{"name": "\0"}],
                                               "k\0": 1, "n": 5}});
        let mut stored = original.clone();
        escape_json(&mut stored);
        assert!(!stored.to_string().contains("\\u0000"), "{stored}");
        unescape_json(&mut stored);
        assert_eq!(stored, original);
    }

    #[test]
    fn json_text_holding_a_string_escape_changes_is_always_noticed() {
        for value in [
            json!({"remark": "a\0b"}),
            json!({"remark": "\u{FFFF}"}),
            json!({"k\0": 1}),
            json!({"lines": [{"name": "x\u{FFFF}0"}]}),
        ] {
            let mut escaped = value.clone();
            escape_json(&mut escaped);
            assert_ne!(escaped, value);
            assert!(json_may_need_escape(&value.to_string()), "{value}");
        }
        // serde_json writes everything else raw: such text is read as it is.
        let plain = json!({"OrderPlaced": {"remark": "绿茶 🍵 \"quoted\"", "n": 5}});
        assert!(!json_may_need_escape(&plain.to_string()), "{plain}");
    }
}
