//! The house stays layered: in the server and in the engine, no source file depends
//! (through the paths it names) on a file that depends back on it, so every import
//! points down the layers.
//!
//! An edge A -> B means file A names an item of module B: `crate::x::y`, `super::y`,
//! `self::y`, a group `crate::{x, y::z}`, or, in a parent, a bare `child::y`. A path
//! resolves to the deepest module file it names. A parent's `mod child;` and
//! `pub use child::…` (declaring and re-exporting) are not edges. Test code
//! (`#[cfg(test)]` onwards) is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `src`, by module path.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                module.clear();
            }
            out.insert(module, path);
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The line around byte `at`.
fn line_at(src: &str, at: usize) -> &str {
    let start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = src[at..].find('\n').map_or(src.len(), |i| at + i);
    &src[start..end]
}

fn is_reexport(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("pub use ") || line.starts_with("pub(crate) use ")
}

/// The paths after `prefix::` at byte `at`: one, or several for a `{…}` group.
fn paths_after(src: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &src[at..];
    if let Some(group) = rest.strip_prefix('{') {
        let group = &group[..group.find('}').unwrap_or(group.len())];
        return group
            .split(',')
            .map(|item| {
                item.trim()
                    .split("::")
                    .map(|s| s.chars().take_while(|&c| is_ident(c)).collect::<String>())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .collect();
    }
    let mut segments = Vec::new();
    let mut rest = rest;
    loop {
        let ident: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        segments.push(ident);
        match rest.strip_prefix("::") {
            Some(next) if next.starts_with(|c: char| is_ident(c)) => rest = next,
            _ => break,
        }
    }
    vec![segments]
}

/// The deepest module file named by `base` + `segments`.
fn resolve(
    files: &BTreeMap<Module, PathBuf>,
    base: &[String],
    segments: &[String],
) -> Option<Module> {
    (0..=segments.len())
        .rev()
        .map(|n| [base, &segments[..n]].concat())
        .find(|m| files.contains_key(m))
}

fn edges(files: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut graph = BTreeMap::new();
    for (module, path) in files {
        let text = std::fs::read_to_string(path).unwrap();
        let src = text.split("#[cfg(test)]").next().unwrap();
        let mut deps = BTreeSet::new();
        let mut add = |target: Option<Module>, at: usize| {
            let Some(target) = target else { return };
            if &target == module {
                return;
            }
            let child_of_mine = target.starts_with(module);
            if child_of_mine && is_reexport(line_at(src, at)) {
                return;
            }
            deps.insert(target);
        };
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", module[..module.len().saturating_sub(1)].to_vec()),
            ("self::", module.clone()),
        ] {
            for (at, _) in src.match_indices(prefix) {
                if src[..at].ends_with(|c: char| is_ident(c) || c == ':') {
                    continue;
                }
                for segments in paths_after(src, at + prefix.len()) {
                    add(resolve(files, &base, &segments), at);
                }
            }
        }
        // A parent naming a child it declared, by a bare path.
        for line in src.lines() {
            let declared = line
                .trim_start()
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            let Some(child) = declared else { continue };
            let target = [module.clone(), vec![child.to_string()]].concat();
            if !files.contains_key(&target) {
                continue;
            }
            let needle = format!("{child}::");
            for (at, _) in src.match_indices(&needle) {
                if !src[..at].ends_with(|c: char| is_ident(c) || c == ':') {
                    add(Some(target.clone()), at);
                }
            }
        }
        graph.insert(module.clone(), deps);
    }
    graph
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in &self.graph[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.join("/"));
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn check(crate_src: &str) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(crate_src);
    let files = modules(&src);
    assert!(files.len() > 10, "no sources under {}", src.display());
    let found = cycles(&edges(&files));
    assert!(found.is_empty(), "import cycles in {crate_src}: {found:?}");
}

#[test]
fn the_server_has_no_import_cycle() {
    check("src");
}

#[test]
fn the_engine_has_no_import_cycle() {
    check("../guest/src");
}

/// The checker itself finds a cycle where there is one.
#[test]
fn a_cycle_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\nmod c;\n");
    write("a.rs", "use crate::b::Thing;\n");
    write("b.rs", "pub struct Thing(crate::c::Other);\n");
    write("c.rs", "pub struct Other;\nfn f() { super::a::g() }\n");
    let found = cycles(&edges(&modules(dir.path())));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].len(), 3);
    write("c.rs", "pub struct Other;\n");
    assert!(cycles(&edges(&modules(dir.path()))).is_empty());
}
