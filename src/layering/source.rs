//! The workspace's Rust files as the layering rules read them: where each sits in the
//! module tree, its code without comments and tests, and the `crate::` paths it names.

use std::path::Path;

/// Where the rules look: the crate and the workspace's library crates.
const ROOTS: [&str; 4] = ["src", "aggregates/src", "projections/src", "event_log/src"];
/// The rules' own files name what they look for.
const SKIPPED: &str = "src/layering/";

/// One source file.
pub struct SourceFile {
    /// Its path from the workspace's root, with `/`.
    pub relative: String,
    pub text: String,
}

/// Every Rust file under [`ROOTS`] but the rules' own.
pub fn workspace_files() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs: Vec<_> = ROOTS.iter().map(|dir| root.join(dir)).collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("read a source directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .expect("under the workspace")
                .to_string_lossy()
                .replace('\\', "/");
            if relative.starts_with(SKIPPED) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            files.push(SourceFile { relative, text });
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    files
}

impl SourceFile {
    #[cfg(test)]
    pub fn in_memory(relative: &str, text: &str) -> Self {
        Self {
            relative: relative.to_owned(),
            text: text.to_owned(),
        }
    }

    /// Whether it belongs to this crate (`src/`), not a library crate.
    pub fn in_crate_src(&self) -> bool {
        self.relative.starts_with("src/")
    }

    /// Its top-level module in this crate (`http` for `src/http/shop/me.rs`).
    pub fn top_module(&self) -> String {
        self.module_path()
            .split("::")
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Its module path in this crate: `http::shop::orders` for
    /// `src/http/shop/orders/mod.rs`, `http::shop::me` for `src/http/shop/me.rs`.
    pub fn module_path(&self) -> String {
        let inner = self.relative.strip_prefix("src/").unwrap_or(&self.relative);
        let inner = inner.trim_end_matches(".rs");
        let inner = inner.strip_suffix("/mod").unwrap_or(inner);
        if inner == "lib" || inner == "main" {
            return String::new();
        }
        inner.replace('/', "::")
    }

    /// The code without comment lines and without the unit tests at its end.
    pub fn code(&self) -> String {
        let text = self.text.split("#[cfg(test)]").next().unwrap_or_default();
        text.lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether it declares routes (a route file).
    pub fn declares_routes(&self) -> bool {
        self.code().contains("routes!(")
    }

    /// Whether its string literals hold SQL reading or writing the `events` table.
    pub fn has_sql_on_events(&self) -> bool {
        let words: Vec<String> = string_literals(&self.code())
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        words.windows(2).any(|pair| {
            pair[1] == "events"
                && ["from", "into", "update", "join", "table"].contains(&pair[0].as_str())
        })
    }
}

/// The text of the string literals in `code`, one after another.
fn string_literals(code: &str) -> String {
    let mut literals = String::new();
    let mut inside = false;
    let mut escaped = false;
    for c in code.chars() {
        if inside {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                inside = false;
                literals.push('\n');
                continue;
            }
            literals.push(c);
        } else if c == '"' {
            inside = true;
        }
    }
    literals
}

/// The paths named after `crate::`, a grouped `use crate::{a::B, c::{D, E}}` expanded
/// into `a::B`, `c::D`, `c::E`; sorted, each once.
pub fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (start, _) in text.match_indices("crate::") {
        let rest = &text[start + "crate::".len()..];
        if rest.starts_with('{') {
            expand("", group_of(rest), &mut paths);
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let path = path.trim_end_matches(':');
            if !path.is_empty() {
                paths.push(path.to_owned());
            }
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The text inside the braces `text` starts with.
fn group_of(text: &str) -> &str {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[1..at];
                }
            }
            _ => {}
        }
    }
    &text[1..]
}

/// Adds `prefix` joined to each item of a group's text (items nest).
fn expand(prefix: &str, group: &str, paths: &mut Vec<String>) {
    let mut depth = 0;
    let mut item_start = 0;
    let mut items = Vec::new();
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[item_start..at]);
                item_start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[item_start..]);
    for item in items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let item = item.split(" as ").next().unwrap_or(item).trim();
        if let Some(brace) = item.find('{') {
            let head = item[..brace].trim_end_matches(':');
            expand(&join(prefix, head), group_of(&item[brace..]), paths);
        } else if item == "self" {
            paths.push(prefix.to_owned());
        } else {
            paths.push(join(prefix, item));
        }
    }
}

fn join(prefix: &str, item: &str) -> String {
    if prefix.is_empty() {
        item.to_owned()
    } else {
        format!("{prefix}::{item}")
    }
}
