//! The workspace's knowledge graph: entities joined by undirected relations.
//!
//! LightRAG keeps this graph in NetworkX and answers the WebUI's graph routes
//! (`/graph/label/list`, `/graph/label/popular`, `/graph/label/search`, `/graphs`)
//! from it. This module holds the same graph in memory and answers those reads in the
//! order LightRAG's NetworkX storage does, with every tie broken by name so that the
//! answers never depend on insertion history or hashing.
//!
//! # Layout
//!
//! A workspace may hold ~100 k entities and relations, and their strings (descriptions,
//! source chunk ids, file paths) are most of the memory. So each [`Edge`] is stored
//! once, in a slab, and nodes refer to each other by small integer slots:
//!
//! * `index` maps an entity name to its node slot (the only second copy of a name);
//! * each node slot holds the [`Node`] and its adjacency: neighbour slot → edge slot.
//!   The degree is the adjacency's length, and the incident edges are a walk over it;
//! * freed slots are reused, so long-lived graphs do not grow holes without bound.
//!
//! Slots are an in-memory detail: a snapshot holds only the nodes and the edges (see
//! the `Serialize` impl), and deserialising rebuilds the slots and the index, so a
//! deserialised graph is immediately ready to use.

use crate::util::{Map, Set};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::HashSet;

/// An entity: LightRAG's node attributes. `entity_id` is the node's name and key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub entity_id: String,
    pub entity_type: String,
    pub description: String,
    pub source_id: String,
    pub file_path: String,
    pub created_at: i64,
    pub truncate: String,
}

/// A relation between two entities. The graph is undirected, so a stored edge always
/// has `source < target` (byte order) and `(source, target)` is its unique key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub weight: f64,
    pub description: String,
    pub keywords: String,
    pub source_id: String,
    pub file_path: String,
    pub created_at: i64,
    pub truncate: String,
}

/// The answer to a `/graphs` request: the chosen nodes in visit order, the edges among
/// them sorted by `(source, target)`, and whether `max_nodes` left nodes out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subgraph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub is_truncated: bool,
}

/// A node and its adjacency (neighbour slot → edge slot).
#[derive(Debug, Clone)]
struct NodeSlot {
    node: Node,
    adjacent: Map<u32, u32>,
}

/// An undirected knowledge graph with O(1) lookups by name and O(1) degrees.
///
/// Serialises as `{ nodes: [Node], edges: [Edge] }`; deserialising rebuilds every index.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Entity name → node slot.
    index: Map<String, u32>,
    /// Node slots; `None` marks a free slot listed in `free_nodes`.
    nodes: Vec<Option<NodeSlot>>,
    free_nodes: Vec<u32>,
    /// Edge slots; `None` marks a free slot listed in `free_edges`.
    edges: Vec<Option<Edge>>,
    free_edges: Vec<u32>,
    edge_count: usize,
}

/// Converts a slab position to a slot number. Slots are `u32` to halve the adjacency
/// maps natively; four billion entities is far beyond what a workspace can hold.
fn slot_of(position: usize) -> u32 {
    u32::try_from(position).expect("graph slot beyond u32")
}

/// Puts `value` in a free slot of `slab` (or a new one) and returns the slot.
fn allocate<T>(slab: &mut Vec<Option<T>>, free: &mut Vec<u32>, value: T) -> u32 {
    match free.pop() {
        Some(slot) => {
            slab[slot as usize] = Some(value);
            slot
        }
        None => {
            slab.push(Some(value));
            slot_of(slab.len() - 1)
        }
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node slot of `slot`, which the caller knows to be live.
    fn slot(&self, slot: u32) -> &NodeSlot {
        self.nodes[slot as usize]
            .as_ref()
            .expect("graph index points at a free node slot")
    }

    fn slot_mut(&mut self, slot: u32) -> &mut NodeSlot {
        self.nodes[slot as usize]
            .as_mut()
            .expect("graph index points at a free node slot")
    }

    /// The edge in `slot`, which the caller knows to be live.
    fn edge_at(&self, slot: u32) -> &Edge {
        self.edges[slot as usize]
            .as_ref()
            .expect("graph adjacency points at a free edge slot")
    }

    fn name_of(&self, slot: u32) -> &str {
        &self.slot(slot).node.entity_id
    }

    fn degree_of(&self, slot: u32) -> usize {
        self.slot(slot).adjacent.len()
    }

    /// The entity named `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&slot| &self.slot(slot).node)
    }

    /// Inserts `node`, or replaces the attributes of the node with its `entity_id`,
    /// keeping that node's edges (NetworkX's `add_node` on an existing node).
    pub fn upsert_node(&mut self, node: Node) {
        if let Some(&slot) = self.index.get(node.entity_id.as_str()) {
            self.slot_mut(slot).node = node;
            return;
        }
        let name = node.entity_id.clone();
        let slot = allocate(
            &mut self.nodes,
            &mut self.free_nodes,
            NodeSlot {
                node,
                adjacent: Map::default(),
            },
        );
        self.index.insert(name, slot);
    }

    /// Removes the node and every incident edge; returns the removed edges'
    /// `(source, target)` keys, ordered by the other endpoint, so that the caller can
    /// drop the matching relation vectors. An unknown name removes nothing.
    pub fn remove_node(&mut self, name: &str) -> Vec<(String, String)> {
        let Some(slot) = self.index.remove(name) else {
            return Vec::new();
        };
        let removed = self.nodes[slot as usize]
            .take()
            .expect("graph index points at a free node slot");
        self.free_nodes.push(slot);
        let mut keys = Vec::with_capacity(removed.adjacent.len());
        for (&neighbour, &edge_slot) in &removed.adjacent {
            self.slot_mut(neighbour).adjacent.remove(&slot);
            let edge = self.edges[edge_slot as usize]
                .take()
                .expect("graph adjacency points at a free edge slot");
            self.free_edges.push(edge_slot);
            self.edge_count -= 1;
            keys.push((edge.source, edge.target));
        }
        // The other endpoint is whichever of the pair is not `name`.
        keys.sort_unstable_by(|a, b| other_end(a, name).cmp(other_end(b, name)));
        keys
    }

    /// The slots of `a` and `b`, when both exist.
    fn slots(&self, a: &str, b: &str) -> Option<(u32, u32)> {
        Some((*self.index.get(a)?, *self.index.get(b)?))
    }

    /// The relation between `a` and `b`, given in either order.
    pub fn edge(&self, a: &str, b: &str) -> Option<&Edge> {
        let (sa, sb) = self.slots(a, b)?;
        let edge_slot = *self.slot(sa).adjacent.get(&sb)?;
        Some(self.edge_at(edge_slot))
    }

    /// Inserts or replaces the relation between `edge.source` and `edge.target`,
    /// stored with `source < target` whatever order it was given in.
    ///
    /// Returns false, storing nothing, when an endpoint is not a node (NetworkX would
    /// create a bare node; LightRAG always upserts both entities first, so a missing
    /// one is a caller's bug best surfaced) or when both endpoints are the same node
    /// (a self-loop has no `source < target` key, and LightRAG discards them at
    /// extraction).
    pub fn upsert_edge(&mut self, mut edge: Edge) -> bool {
        match edge.source.cmp(&edge.target) {
            Ordering::Less => {}
            Ordering::Greater => std::mem::swap(&mut edge.source, &mut edge.target),
            Ordering::Equal => return false,
        }
        let Some((sa, sb)) = self.slots(&edge.source, &edge.target) else {
            return false;
        };
        if let Some(&edge_slot) = self.slot(sa).adjacent.get(&sb) {
            self.edges[edge_slot as usize] = Some(edge);
            return true;
        }
        let edge_slot = allocate(&mut self.edges, &mut self.free_edges, edge);
        self.slot_mut(sa).adjacent.insert(sb, edge_slot);
        self.slot_mut(sb).adjacent.insert(sa, edge_slot);
        self.edge_count += 1;
        true
    }

    /// Removes and returns the relation between `a` and `b`, given in either order.
    pub fn remove_edge(&mut self, a: &str, b: &str) -> Option<Edge> {
        let (sa, sb) = self.slots(a, b)?;
        let edge_slot = self.slot_mut(sa).adjacent.remove(&sb)?;
        self.slot_mut(sb).adjacent.remove(&sa);
        let edge = self.edges[edge_slot as usize].take();
        self.free_edges.push(edge_slot);
        self.edge_count -= 1;
        edge
    }

    /// The number of relations of `name` (0 for an unknown name, as LightRAG's
    /// `node_degree` answers).
    pub fn degree(&self, name: &str) -> usize {
        self.index.get(name).map_or(0, |&slot| self.degree_of(slot))
    }

    /// Edges incident to `name`, ordered by the other endpoint so that callers (and
    /// the prompts they build) are deterministic. Empty for an unknown name.
    pub fn edges_of(&self, name: &str) -> Vec<&Edge> {
        let Some(&slot) = self.index.get(name) else {
            return Vec::new();
        };
        let mut edges: Vec<(&str, &Edge)> = self
            .slot(slot)
            .adjacent
            .iter()
            .map(|(&neighbour, &edge_slot)| (self.name_of(neighbour), self.edge_at(edge_slot)))
            .collect();
        edges.sort_unstable_by(|a, b| a.0.cmp(b.0));
        edges.into_iter().map(|(_, edge)| edge).collect()
    }

    /// The relations incident to any of `names`, each once, ranked by the sum of
    /// their endpoints' degrees and then by weight, highest first; ties keep the order
    /// in which they are first met: by the name in `names` that brings them, then by
    /// its other endpoint, as [`Graph::edges_of`] lists them. Unknown names bring
    /// nothing.
    ///
    /// What a `local` query ranks. Popular entities have hundreds of relations, so
    /// this works on slots: no name is hashed, compared or looked up for an edge
    /// unless its rank and weight tie with another's.
    pub fn ranked_edges_around(&self, names: &[&str]) -> Vec<&Edge> {
        // (degree sum, weight, position of the name that brought it, other end, edge)
        let mut found: Vec<(usize, f64, usize, u32, u32)> = Vec::new();
        let mut seen: Set<u32> = Set::default();
        for (position, name) in names.iter().enumerate() {
            let Some(&slot) = self.index.get(*name) else {
                continue;
            };
            let degree = self.degree_of(slot);
            for (&neighbour, &edge_slot) in &self.slot(slot).adjacent {
                if seen.insert(edge_slot) {
                    let rank = degree + self.degree_of(neighbour);
                    let weight = self.edge_at(edge_slot).weight;
                    found.push((rank, weight, position, neighbour, edge_slot));
                }
            }
        }
        found.sort_unstable_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.total_cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then_with(|| self.name_of(a.3).cmp(self.name_of(b.3)))
        });
        found
            .into_iter()
            .map(|(.., edge_slot)| self.edge_at(edge_slot))
            .collect()
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.index.len()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// Every node, in storage order: deterministic for a given history of operations
    /// (and kept by a serialisation round trip), but not sorted.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten().map(|slot| &slot.node)
    }

    /// Every edge, in storage order (see [`Graph::nodes`]).
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.edges.iter().flatten()
    }

    /// Removes every node and edge.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// All node names sorted ascending (`GET /graph/label/list`).
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.index.keys().cloned().collect();
        labels.sort_unstable();
        labels
    }

    /// The order LightRAG ranks nodes in for `/graph/label/popular` and `/graphs?label=*`
    /// (and within a BFS level): degree descending. NetworkX breaks ties by insertion
    /// order, which a snapshot does not preserve, so ties go by name ascending instead.
    fn rank(&self, a: u32, b: u32) -> Ordering {
        self.degree_of(b)
            .cmp(&self.degree_of(a))
            .then_with(|| self.name_of(a).cmp(self.name_of(b)))
    }

    /// The `limit` best-ranked node slots, best first. Partitions before sorting, so
    /// asking for the top few of a large graph costs O(n), not O(n log n).
    fn top(&self, limit: usize) -> Vec<u32> {
        let mut slots: Vec<u32> = self.index.values().copied().collect();
        if limit == 0 {
            return Vec::new();
        }
        if limit < slots.len() {
            slots.select_nth_unstable_by(limit - 1, |&a, &b| self.rank(a, b));
            slots.truncate(limit);
        }
        slots.sort_unstable_by(|&a, &b| self.rank(a, b));
        slots
    }

    /// Node names by degree descending, ties by name ascending, at most `limit`
    /// (`/graph/label/popular`).
    pub fn popular(&self, limit: usize) -> Vec<String> {
        self.top(limit)
            .into_iter()
            .map(|slot| self.name_of(slot).to_owned())
            .collect()
    }

    /// Node names matching `query` for `/graph/label/search`, scored as LightRAG's
    /// NetworkX storage scores them so that the WebUI's suggestions come in the same
    /// order:
    ///
    /// * only names containing the trimmed query, case-insensitively, match (an empty
    ///   query matches nothing, rather than everything);
    /// * an exact match scores 1000 and a prefix match 500, so the label the user is
    ///   typing comes first;
    /// * any other match scores 100 minus the name's length in characters, so shorter
    ///   (more specific) names rank higher, plus 50 when the query also occurs right
    ///   after a space or `_`, i.e. at the start of a word.
    ///
    /// Sorted by score descending, then name ascending; at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<String> {
        let query = query.trim().to_lowercase();
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let after_space = format!(" {query}");
        let after_underscore = format!("_{query}");
        let mut matches: Vec<(i64, &str)> = self
            .index
            .keys()
            .filter_map(|name| {
                let lower = name.to_lowercase();
                if !lower.contains(&query) {
                    return None;
                }
                let score = if lower == query {
                    1000
                } else if lower.starts_with(&query) {
                    500
                } else {
                    let length = i64::try_from(name.chars().count()).unwrap_or(i64::MAX);
                    let word_start =
                        lower.contains(&after_space) || lower.contains(&after_underscore);
                    100 - length + if word_start { 50 } else { 0 }
                };
                Some((score, name.as_str()))
            })
            .collect();
        matches.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        matches
            .into_iter()
            .take(limit)
            .map(|(_, name)| name.to_owned())
            .collect()
    }

    /// The subgraph `/graphs` shows.
    ///
    /// * `label == "*"`: the `max_nodes` best-ranked nodes (degree descending, ties by
    ///   name), so the overview shows the hubs; truncated when the graph has more nodes.
    /// * otherwise: a breadth-first walk from `label`, level by level, visiting each
    ///   level's nodes in rank order so that when `max_nodes` cuts a level short the
    ///   best-connected nodes are the ones kept. At most `max_depth` hops from the start
    ///   and at most `max_nodes` nodes; truncated exactly when nodes within `max_depth`
    ///   were left out because of `max_nodes`. An unknown label gives an empty,
    ///   untruncated subgraph.
    ///
    /// The edges are all edges among the chosen nodes, sorted by `(source, target)`.
    /// `max_nodes == 0` chooses nothing; the result is truncated if that left a node out.
    pub fn subgraph(&self, label: &str, max_depth: usize, max_nodes: usize) -> Subgraph {
        let (chosen, is_truncated) = if label == "*" {
            (self.top(max_nodes), self.node_count() > max_nodes)
        } else {
            match self.index.get(label) {
                Some(&start) => self.walk(start, max_depth, max_nodes),
                None => return Subgraph::default(),
            }
        };
        let members: HashSet<u32> = chosen.iter().copied().collect();
        let mut edges: Vec<Edge> = Vec::new();
        for &slot in &chosen {
            for (&neighbour, &edge_slot) in &self.slot(slot).adjacent {
                // `slot < neighbour` takes each edge once, from one of its ends.
                if slot < neighbour && members.contains(&neighbour) {
                    edges.push(self.edge_at(edge_slot).clone());
                }
            }
        }
        edges.sort_unstable_by(|a, b| {
            (a.source.as_str(), a.target.as_str()).cmp(&(b.source.as_str(), b.target.as_str()))
        });
        Subgraph {
            nodes: chosen
                .iter()
                .map(|&slot| self.slot(slot).node.clone())
                .collect(),
            edges,
            is_truncated,
        }
    }

    /// The ranked breadth-first walk of [`Graph::subgraph`]: the visited slots in visit
    /// order, and whether `max_nodes` left reachable nodes out.
    ///
    /// Levels are built whole (every unseen neighbour of the previous level), which is
    /// what LightRAG's queue of `(node, depth)` pairs amounts to once its duplicates
    /// are skipped; sorting a whole level is what makes the cut deterministic.
    fn walk(&self, start: u32, max_depth: usize, max_nodes: usize) -> (Vec<u32>, bool) {
        let mut seen: HashSet<u32> = HashSet::from([start]);
        let mut visited: Vec<u32> = Vec::new();
        let mut level = vec![start];
        let mut depth = 0;
        loop {
            level.sort_unstable_by(|&a, &b| self.rank(a, b));
            let room = max_nodes - visited.len();
            if level.len() > room {
                visited.extend_from_slice(&level[..room]);
                return (visited, true);
            }
            visited.extend_from_slice(&level);
            if depth >= max_depth {
                return (visited, false);
            }
            let mut next = Vec::new();
            for &slot in &level {
                for &neighbour in self.slot(slot).adjacent.keys() {
                    if seen.insert(neighbour) {
                        next.push(neighbour);
                    }
                }
            }
            if next.is_empty() {
                return (visited, false);
            }
            if visited.len() == max_nodes {
                // The next level is within reach but there is no room for it.
                return (visited, true);
            }
            level = next;
            depth += 1;
        }
    }
}

/// Of an edge key that has `name` at one end, the other end.
fn other_end<'a>(key: &'a (String, String), name: &str) -> &'a str {
    if key.0 == name { &key.1 } else { &key.0 }
}

/// Serialises only the nodes and edges (as `{ nodes, edges }`), borrowing them: the
/// slots and index are rebuilt on load, and a snapshot should not need a copy of the
/// graph in memory.
impl Serialize for Graph {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Graph", 2)?;
        state.serialize_field("nodes", &Items(self.node_count(), || self.nodes()))?;
        state.serialize_field("edges", &Items(self.edge_count(), || self.edges()))?;
        state.end()
    }
}

/// A sequence of known length produced by an iterator factory. The length must be
/// given up front: postcard writes it before the elements.
struct Items<F>(usize, F);

impl<'a, T, I, F> Serialize for Items<F>
where
    T: Serialize + 'a,
    I: Iterator<Item = &'a T>,
    F: Fn() -> I,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0))?;
        for item in (self.1)() {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// The persisted form of a [`Graph`], as its `Serialize` impl writes it.
#[derive(Deserialize)]
#[serde(rename = "Graph")]
struct StoredGraph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl From<StoredGraph> for Graph {
    /// Replays the stored nodes and edges through the upserts, which rebuilds every
    /// index and keeps the invariants even for a snapshot written by other code.
    fn from(stored: StoredGraph) -> Self {
        let mut graph = Graph {
            index: Map::with_capacity_and_hasher(stored.nodes.len(), Default::default()),
            nodes: Vec::with_capacity(stored.nodes.len()),
            edges: Vec::with_capacity(stored.edges.len()),
            ..Graph::default()
        };
        for node in stored.nodes {
            graph.upsert_node(node);
        }
        for edge in stored.edges {
            graph.upsert_edge(edge);
        }
        graph
    }
}

impl<'de> Deserialize<'de> for Graph {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StoredGraph::deserialize(deserializer).map(Graph::from)
    }
}

#[cfg(test)]
mod tests;
