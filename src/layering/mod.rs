//! The rules of the crate's layout, checked on its source text:
//! - The top-level modules form layers: none reaches, through its `crate::` imports
//!   (grouped `use crate::{…}` ones too), back to itself. A loop makes modules that can
//!   only be understood (and changed) together. From the top: `main` → `commands` →
//!   `server` → `http` → `state` → the services (`write`, `payments`, `reads`, `audit`,
//!   `auth`, `idempotency`, ...) → `event_store`, `database` → `config` → `secret`.
//!   One sideways reach stays, as no loop: `config` takes each flag's default from the
//!   settings type it fills (`WriteSettings`, `RetentionSettings`, `RateLimits`, ...),
//!   which never read `config`, so each default is declared once.
//! - `http/` adapts requests to services: no `sqlx` and no pool in it.
//! - A route file (one that declares routes) never imports another route file: what two
//!   of them share lives in `extract/`, `views/`, `middleware/` or a service.
//! - SQL on `events` lives in the event store, the feed reader and the audit reader only.

mod source;

use std::collections::{BTreeMap, BTreeSet};

use source::{SourceFile, crate_paths, workspace_files};

/// Top-level module → the top-level modules its files name as `crate::<module>`.
fn imports(files: &[SourceFile]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|file| file.in_crate_src()) {
        let module = file.top_module();
        let used = graph.entry(module.clone()).or_default();
        for path in crate_paths(&file.text) {
            let first = path.split("::").next().unwrap_or_default().to_owned();
            if first != module && !first.is_empty() {
                used.insert(first);
            }
        }
    }
    graph
}

/// A path from `from` back to itself, if there is one.
fn loop_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("non-empty");
        for next in graph.get(last).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_itself_back() {
    let graph = imports(&workspace_files());
    assert!(graph.contains_key("http") && graph.contains_key("state"));
    for module in graph.keys() {
        if let Some(cycle) = loop_through(&graph, module) {
            panic!("module loop: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn http_reaches_the_database_only_through_services() {
    let offenders: Vec<String> = workspace_files()
        .iter()
        .filter(|file| file.module_path().starts_with("http::") || file.module_path() == "http")
        .filter(|file| file.code().contains("sqlx") || file.code().contains(".pool"))
        .map(|file| file.relative.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "sqlx or the pool in http/ (give the handler a typed service or query): {offenders:?}"
    );
}

#[test]
fn no_route_file_imports_another() {
    let files = workspace_files();
    let routes: BTreeSet<String> = files
        .iter()
        .filter(|file| file.declares_routes())
        .map(SourceFile::module_path)
        .collect();
    assert!(routes.len() > 10, "route files found: {routes:?}");
    let mut offenders = Vec::new();
    for file in files.iter().filter(|file| file.declares_routes()) {
        let own = file.module_path();
        for path in crate_paths(&file.code()) {
            // The longest route module the path names, if any.
            let named = routes
                .iter()
                .filter(|route| path == **route || path.starts_with(&format!("{route}::")))
                .max_by_key(|route| route.len());
            if let Some(named) = named
                && *named != own
                && !named.starts_with(&format!("{own}::"))
            {
                offenders.push(format!("{} imports {named}", file.relative));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "route files importing route files: {offenders:?}"
    );
}

#[test]
fn sql_on_events_stays_in_the_event_store_the_feed_and_the_audit() {
    let allowed = ["src/event_store/", "src/audit/", "event_log/src/"];
    let offenders: Vec<String> = workspace_files()
        .iter()
        .filter(|file| !allowed.iter().any(|dir| file.relative.starts_with(dir)))
        .filter(|file| file.has_sql_on_events())
        .map(|file| file.relative.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "SQL on `events` outside the event store, the feed reader and the audit: {offenders:?}"
    );
}

#[test]
fn the_checks_find_what_they_look_for() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        loop_through(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert("c".to_owned(), BTreeSet::new());
    assert_eq!(loop_through(&graph, "a"), None);

    let grouped = "use crate::{\n    http::views::order::OrderView,\n    state::{AppState, X},\n};\nfn f() { crate::write::go(); }";
    assert_eq!(
        crate_paths(grouped),
        vec![
            "http::views::order::OrderView".to_owned(),
            "state::AppState".to_owned(),
            "state::X".to_owned(),
            "write::go".to_owned(),
        ]
    );
    let sql = SourceFile::in_memory("src/x.rs", "let q = \"SELECT 1 FROM  events WHERE\";");
    assert!(sql.has_sql_on_events());
    let other = SourceFile::in_memory("src/x.rs", "// the events a write records");
    assert!(!other.has_sql_on_events());
}
