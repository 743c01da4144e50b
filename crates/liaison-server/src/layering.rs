//! The server library's layers, checked: every top-level module sits in one layer and may import
//! only modules of the layers below it, and the two foreign vocabularies stay in their rooms (sea-orm
//! in `repo`, the generated protobuf types in `api`). Crate boundaries keep the other programs apart;
//! this test keeps the layers inside this crate from reaching up, so no import cycle can come back.
//!
//! The layers follow what each module needs, lowest first. `authz` sits below `repo` and `domain`
//! although a request meets it after `authn`: the repository's reads and the domain's moves *take*
//! its capability values, so they import it, and it imports only the vocabulary below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module may import its own layer's *other* modules only where they are listed
/// together as leaves (the first layer, which imports nothing of the crate).
const LAYERS: &[&[&str]] = &[
    &[
        "clock",
        "config",
        "hub",
        "ids",
        "limits",
        "sync",
        "telemetry",
        "pb",
    ],
    &["rate"],
    &["error"],
    &["model"],
    &["chain"],
    &["authz"],
    &["repo"],
    &["authn"],
    &["audit"],
    &["metrics"],
    &["state"],
    &["validate"],
    &["domain"],
    &["api", "jobs", "ops"],
    &["fuzzing"],
];

/// Foreign crates that only some modules may name.
const WALLS: &[(&str, &[&str])] = &[
    ("sea_orm", &["repo"]),
    ("prost", &["api", "fuzzing"]),
    ("crate::pb", &["api", "fuzzing"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without its unit tests (`#[cfg(test)] mod tests { .. }` closes every file that
/// has one) and without comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| {
            let line = line.trim_start();
            !(line.starts_with("//") || line.starts_with("/*") || line.starts_with('*'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`, including inside `use crate::{a, b::c}`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                found.insert(head);
            }
        }
    }
    found
}

/// The first name of each item of a `use crate::{..}` group (`group` starts after the brace); nested
/// groups belong to their item.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut item_start) = (0usize, true);
    let mut head = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !head.is_empty() {
                    heads.push(std::mem::take(&mut head));
                }
                item_start = true;
            }
            c if depth == 0 && item_start && (c.is_ascii_alphanumeric() || c == '_') => {
                head.push(c)
            }
            _ if depth == 0 && item_start && !head.is_empty() => {
                heads.push(std::mem::take(&mut head));
                item_start = false;
            }
            _ => {}
        }
    }
    if !head.is_empty() {
        heads.push(head);
    }
    heads
}

/// Each top-level module of `src` and the code of its files.
fn modules(src: &Path) -> BTreeMap<String, Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for path in files {
        let relative = path.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap();
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "layering" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        modules.entry(module).or_default().push((path, code));
    }
    modules
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<_> = modules(&src_dir())
        .into_keys()
        .filter(|m| layer_of(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "place these modules in a layer of layering.rs: {unplaced:?}"
    );
}

#[test]
fn no_layer_imports_one_above_it_or_beside_it() {
    let mut wrong = Vec::new();
    for (module, files) in modules(&src_dir()) {
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for (path, code) in &files {
            for target in imports(code) {
                if target == module || target == "self" || target == "super" {
                    continue;
                }
                let leaves = own == 0 && LAYERS[0].contains(&target.as_str());
                match layer_of(&target) {
                    Some(layer) if layer < own && !leaves => {}
                    Some(layer) => wrong.push(format!(
                        "{} ({module}, layer {own}) imports {target} (layer {layer})",
                        path.display()
                    )),
                    None => wrong.push(format!(
                        "{} ({module}) imports {target}, which has no layer",
                        path.display()
                    )),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "layers reaching up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn foreign_types_stay_in_their_rooms() {
    let mut wrong = Vec::new();
    for (module, files) in modules(&src_dir()) {
        for (path, code) in &files {
            for (name, allowed) in WALLS {
                let named = code.match_indices(name).any(|(at, _)| {
                    let before = code[..at].chars().next_back();
                    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                        && code[at + name.len()..].starts_with("::")
                });
                if named && !allowed.contains(&module.as_str()) {
                    wrong.push(format!("{} ({module}) names {name}", path.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "foreign types out of their rooms:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_sees_paths_and_groups() {
    let code = "use crate::a::B;\nuse crate::{c, d::E, f::{G, H}};\nfn x() { crate::g::h(); }";
    let found: Vec<_> = imports(code).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "f", "g"]);
}

#[test]
fn a_module_reaching_up_is_caught() {
    // The check itself must be able to fail: a repository file importing the domain.
    let code =
        code_of("//! repo\nuse crate::domain::cases;\n#[cfg(test)]\nmod tests { use crate::api; }");
    let found = imports(&code);
    assert!(found.contains("domain") && !found.contains("api"));
    assert!(layer_of("domain") > layer_of("repo"));
}
