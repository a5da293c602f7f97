//! The import rule of node-engine, checked on its sources: a top-level module
//! may use only modules of a lower layer. Back-edges that still exist are
//! listed in `KNOWN_BACK_EDGES` (the layering issue removes them); the test
//! fails on any new back-edge, and on a listed one that is gone, so the list
//! only ever shrinks.

use std::collections::BTreeSet;
use std::path::Path;

/// Layers, lowest first. A module may import any module of a lower layer.
const LAYERS: &[&[&str]] = &[
    &["util", "glob"],
    &["resp", "slot", "config"],
    &["keyspace", "script", "acl"],
    &["client"],
    &["persistence", "replication", "cluster"],
    &["node"],
    &["cmd"],
    &["server"],
];

/// Imports that break the rule today, as (from, to).
const KNOWN_BACK_EDGES: &[(&str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::<module>` a top-level module's files mention, as (from, to).
fn edges() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeSet::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let first = rel.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or_default();
            let from = first.trim_end_matches(".rs").to_string();
            if from == "lib" || from == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let to: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !to.is_empty() && to != from && to.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    out.insert((from.clone(), to));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_is_in_a_layer() {
    let modules: BTreeSet<String> = edges().into_iter().flat_map(|(a, b)| [a, b]).collect();
    let unplaced: Vec<&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "top-level modules missing from LAYERS in tests/layers.rs: {unplaced:?}");
}

#[test]
fn imports_point_down_except_the_known_back_edges() {
    let found = edges();
    let back: BTreeSet<(String, String)> = found
        .iter()
        .filter(|(from, to)| match (layer_of(from), layer_of(to)) {
            (Some(a), Some(b)) => b >= a,
            _ => false,
        })
        .cloned()
        .collect();
    let known: BTreeSet<(String, String)> = KNOWN_BACK_EDGES.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let new: Vec<_> = back.difference(&known).collect();
    assert!(new.is_empty(), "imports that point up or sideways (move the code down, or return an effect instead): {new:?}");
    let gone: Vec<_> = known.difference(&back).collect();
    assert!(gone.is_empty(), "back-edges that no longer exist: remove them from KNOWN_BACK_EDGES: {gone:?}");
}
