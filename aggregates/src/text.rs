//! Free text as ordo accepts it: one rule for every field a person types, checked where
//! commands are decided and at the HTTP door for what no command carries.
//!
//! Why: PostgreSQL cannot hold U+0000 in `text` or `jsonb`, so one NUL that reaches the
//! event log stops the read side; other control characters corrupt logs, exports and
//! the screens that show them; and ordo's storage uses U+FFFF as an escape introducer,
//! so it must never arrive from a client. Refusing them at the door keeps the log clean.

use crate::FieldError;

/// Whether a field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, codes, labels: no tab, no line break.
    Single,
    /// Prose (an order remark, a product description): tab, line feed and carriage
    /// return are allowed, so `\r\n` from any keyboard is kept as typed.
    Multi,
}

/// What one free-text field may hold: its lines, its longest length in characters
/// (Unicode scalar values, as the API counts them) and whether it may be empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub lines: Lines,
    pub max_chars: usize,
    pub required: bool,
}

impl TextRule {
    /// A single-line field of at most `max_chars` characters, possibly empty.
    pub const fn single_line(max_chars: usize) -> Self {
        Self {
            lines: Lines::Single,
            max_chars,
            required: false,
        }
    }

    /// A multi-line field of at most `max_chars` characters, possibly empty.
    pub const fn multi_line(max_chars: usize) -> Self {
        Self {
            lines: Lines::Multi,
            max_chars,
            required: false,
        }
    }

    /// The same rule, but blank (empty or only whitespace) is refused.
    pub const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    /// The first problem of `value` as the field the API calls `field`, if any: a
    /// forbidden character (named with its position, counted from 1), then blankness,
    /// then length. One problem per field keeps the answer readable.
    pub fn check(&self, field: &str, value: &str) -> Option<FieldError> {
        if let Some((position, c)) = value.chars().enumerate().find(|&(_, c)| !self.allows(c)) {
            let what = if is_noncharacter(c) {
                "noncharacters"
            } else if is_line_break_or_tab(c) || is_line_separator(c) {
                "line breaks or tabs"
            } else if is_bidi_control(c) {
                "bidirectional overrides or isolates"
            } else {
                "control characters"
            };
            return Some(FieldError::new(
                field,
                format!(
                    "must not contain {what} (U+{:04X} at character {})",
                    u32::from(c),
                    position + 1
                ),
            ));
        }
        if self.required && value.trim().is_empty() {
            return Some(FieldError::new(field, "must not be empty"));
        }
        // Text only of zero-width and other invisible characters looks empty wherever it
        // is shown: a name nobody can read.
        if self.required && value.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            return Some(FieldError::new(
                field,
                "must hold visible text, not only invisible characters (such as U+200B)",
            ));
        }
        if value.chars().nth(self.max_chars).is_some() {
            return Some(FieldError::new(
                field,
                format!("must be at most {} characters", self.max_chars),
            ));
        }
        None
    }

    /// Checks `value` and adds its problem, if any, to `errors`, so that a command can
    /// report every field at once.
    pub fn check_into(&self, field: &str, value: &str, errors: &mut Vec<FieldError>) {
        errors.extend(self.check(field, value));
    }

    /// The rule's characters and blankness as a regular expression, for API documents
    /// (JSON Schema `pattern`; the length goes in `maxLength`). Written so that ECMA-262
    /// and Python, which validators and fuzzers use, read it alike: no `\s` (they differ),
    /// and `$` guarded against Python's match before a final line feed.
    pub fn pattern(&self) -> String {
        // What `allows` refuses. Lone surrogates are left out: no UTF-8 text holds
        // them, and validators built on Rust's `regex` refuse a pattern naming them.
        let forbidden = match self.lines {
            Lines::Single => {
                r"\x00-\x1F\x7F-\x9F\u2028\u2029\u202A-\u202E\u2066-\u2069\uFFFE\uFFFF"
            }
            Lines::Multi => {
                r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\u202A-\u202E\u2066-\u2069\uFFFE\uFFFF"
            }
        };
        // `char::is_whitespace` beyond the forbidden characters, and `is_invisible`: a
        // required field needs one character that is neither.
        let white = concat!(
            r"\t\n\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000",
            r"\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F",
            r"\u2060-\u2064\u3164\uFE00-\uFE0F\uFEFF\uFFA0"
        );
        let end = match self.lines {
            Lines::Single => r"(?!\n)$",
            Lines::Multi => "$",
        };
        if self.required {
            format!("^[^{forbidden}]*[^{forbidden}{white}][^{forbidden}]*{end}")
        } else {
            format!("^[^{forbidden}]*{end}")
        }
    }

    /// Whether `c` may appear in a field of this rule.
    pub fn allows(&self, c: char) -> bool {
        if is_noncharacter(c) || is_bidi_control(c) {
            return false;
        }
        if is_line_break_or_tab(c) {
            return self.lines == Lines::Multi;
        }
        // A line break to any renderer: a one-line field would show two.
        if is_line_separator(c) {
            return self.lines == Lines::Multi;
        }
        // `is_control` is exactly C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F).
        !c.is_control()
    }
}

/// U+FFFE and U+FFFF: never text, and U+FFFF is ordo's storage escape introducer.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

fn is_line_break_or_tab(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
}

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// The embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they
/// reorder the text around them wherever it is shown, so what an operator reads in a
/// name, an address or a log is not what was written ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: soft hyphen, joiners and zero-width spaces, direction
/// marks, invisible operators, fillers, variation selectors, the BOM. Allowed inside
/// text (emoji and scripts need some), but text of these alone is blank.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: TextRule = TextRule::single_line(5).required();
    const REMARK: TextRule = TextRule::multi_line(5);

    fn message(rule: TextRule, value: &str) -> Option<String> {
        rule.check("f", value).map(|error| error.message)
    }

    #[test]
    fn every_c0_c1_and_del_character_is_refused_in_both_kinds_of_field() {
        let controls = (0x00..=0x1F_u32)
            .chain([0x7F])
            .chain(0x80..=0x9F)
            .filter_map(char::from_u32)
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'));
        for c in controls {
            let value = format!("a{c}");
            assert_eq!(
                message(NAME, &value),
                Some(format!(
                    "must not contain control characters (U+{:04X} at character 2)",
                    u32::from(c)
                ))
            );
            assert!(message(REMARK, &value).is_some(), "{c:?}");
        }
    }

    #[test]
    fn a_nul_is_named_with_its_position_counted_in_characters() {
        assert_eq!(
            TextRule::multi_line(200).check("remark", "hi\u{0}there"),
            Some(FieldError::new(
                "remark",
                "must not contain control characters (U+0000 at character 3)"
            ))
        );
        assert_eq!(
            message(REMARK, "茶\u{1}"),
            Some("must not contain control characters (U+0001 at character 2)".into())
        );
    }

    #[test]
    fn the_two_noncharacters_are_refused_everywhere() {
        for c in ['\u{FFFE}', '\u{FFFF}'] {
            assert_eq!(
                message(REMARK, &c.to_string()),
                Some(format!(
                    "must not contain noncharacters (U+{:04X} at character 1)",
                    u32::from(c)
                ))
            );
        }
    }

    #[test]
    fn tab_and_line_breaks_are_prose_only() {
        for value in ["a\tb", "a\nb", "a\r\nb"] {
            assert_eq!(message(REMARK, value), None, "{value:?}");
            assert!(
                message(NAME, value)
                    .is_some_and(|m| m.starts_with("must not contain line breaks or tabs")),
                "{value:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_of_any_script_is_accepted() {
        for value in ["Mei", "李小龙", "café", "🍵👍", "a b"] {
            assert_eq!(message(NAME, value), None, "{value:?}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(message(NAME, "茶茶茶茶茶"), None);
        assert_eq!(
            message(NAME, "茶茶茶茶茶茶"),
            Some("must be at most 5 characters".into())
        );
    }

    #[test]
    fn blank_is_refused_only_where_required() {
        assert_eq!(message(NAME, " "), Some("must not be empty".into()));
        assert_eq!(message(REMARK, ""), None);
    }

    #[test]
    fn problems_are_collected_field_by_field() {
        let mut errors = Vec::new();
        NAME.check_into("name", "", &mut errors);
        REMARK.check_into("remark", "ok", &mut errors);
        REMARK.check_into("note", "\u{7F}", &mut errors);
        assert_eq!(
            errors,
            vec![
                FieldError::new("name", "must not be empty"),
                FieldError::new(
                    "note",
                    "must not contain control characters (U+007F at character 1)"
                ),
            ]
        );
    }

    #[test]
    fn only_invisible_text_is_blank_where_text_is_required() {
        for value in [
            "\u{200B}",
            " \u{200B}\u{FEFF} ",
            "\u{2060}\u{3164}",
            "\u{00AD}",
        ] {
            assert!(
                message(NAME, value).is_some_and(|m| m.starts_with("must hold visible text")),
                "{value:?}"
            );
            assert_eq!(message(REMARK, value), None, "not required: {value:?}");
        }
        // Inside visible text they stay: emoji sequences and scripts are built with them.
        assert_eq!(message(NAME, "👩\u{200D}🍳"), None);
        assert_eq!(message(NAME, "a\u{200B}b"), None);
    }

    #[test]
    fn bidi_overrides_and_isolates_are_refused_in_both_kinds_of_field() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let value = format!("a{c}");
            assert_eq!(
                message(NAME, &value),
                Some(format!(
                    "must not contain bidirectional overrides or isolates (U+{:04X} at character 2)",
                    u32::from(c)
                ))
            );
            assert!(message(REMARK, &value).is_some(), "{c:?}");
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_prose_only() {
        for c in ['\u{2028}', '\u{2029}'] {
            let value = format!("a{c}b");
            assert!(
                message(NAME, &value)
                    .is_some_and(|m| m.starts_with("must not contain line breaks or tabs")),
                "{c:?}"
            );
            assert_eq!(message(REMARK, &value), None, "{c:?}");
        }
    }
}
