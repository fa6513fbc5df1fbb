use super::*;
use std::collections::BTreeMap;

fn entity(name: &str) -> Node {
    Node {
        entity_id: name.to_owned(),
        entity_type: "concept".to_owned(),
        description: format!("about {name}"),
        source_id: "chunk-1".to_owned(),
        file_path: "a.txt".to_owned(),
        created_at: 1,
        truncate: String::new(),
    }
}

fn relation(a: &str, b: &str) -> Edge {
    Edge {
        source: a.to_owned(),
        target: b.to_owned(),
        weight: 1.0,
        description: format!("{a} and {b}"),
        keywords: "related".to_owned(),
        source_id: "chunk-1".to_owned(),
        file_path: "a.txt".to_owned(),
        created_at: 1,
        truncate: String::new(),
    }
}

/// A graph with the given nodes and edges (edges given as "a-b").
fn graph(nodes: &[&str], edges: &[&str]) -> Graph {
    let mut graph = Graph::new();
    for name in nodes {
        graph.upsert_node(entity(name));
    }
    for pair in edges {
        let (a, b) = pair.split_once('-').expect("edge as a-b");
        assert!(graph.upsert_edge(relation(a, b)), "edge {pair}");
    }
    graph
}

fn names(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.entity_id.as_str()).collect()
}

fn keys(edges: &[Edge]) -> Vec<(&str, &str)> {
    edges
        .iter()
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect()
}

#[test]
fn upsert_node_inserts_then_replaces_keeping_edges() {
    let mut g = graph(&["a", "b"], &["a-b"]);
    assert_eq!(g.node("a"), Some(&entity("a")));
    assert_eq!(g.node("zzz"), None);
    let mut replaced = entity("a");
    replaced.description = "new".to_owned();
    g.upsert_node(replaced.clone());
    assert_eq!(g.node("a"), Some(&replaced));
    assert_eq!(g.node_count(), 2);
    assert_eq!(g.degree("a"), 1);
    assert!(g.edge("a", "b").is_some());
}

#[test]
fn remove_node_removes_incident_edges_and_updates_degrees() {
    let mut g = graph(
        &["hub", "a", "z", "m", "x"],
        &["hub-z", "a-hub", "hub-m", "x-z"],
    );
    assert_eq!(g.degree("hub"), 3);
    assert_eq!(g.degree("z"), 2);
    let removed = g.remove_node("hub");
    assert_eq!(
        removed,
        vec![
            ("a".to_owned(), "hub".to_owned()),
            ("hub".to_owned(), "m".to_owned()),
            ("hub".to_owned(), "z".to_owned()),
        ]
    );
    assert_eq!(g.node("hub"), None);
    assert_eq!((g.node_count(), g.edge_count()), (4, 1));
    assert_eq!((g.degree("a"), g.degree("m"), g.degree("z")), (0, 0, 1));
    assert_eq!(g.degree("hub"), 0);
    assert!(g.edges_of("hub").is_empty());
    assert_eq!(g.remove_node("hub"), Vec::<(String, String)>::new());
    // Re-creating the node (reusing its slot) must not resurrect old edges.
    g.upsert_node(entity("hub"));
    g.upsert_node(entity("new"));
    assert_eq!(g.degree("hub"), 0);
    assert!(g.upsert_edge(relation("new", "hub")));
    assert_eq!(
        keys(&g.edges_of("hub").into_iter().cloned().collect::<Vec<_>>()),
        [("hub", "new")]
    );
    assert_eq!(g.edge_count(), 2);
}

#[test]
fn edge_keys_are_order_independent() {
    let mut g = graph(&["b", "a"], &[]);
    assert!(g.upsert_edge(relation("b", "a")));
    let stored = g.edge("a", "b").expect("stored");
    assert_eq!((stored.source.as_str(), stored.target.as_str()), ("a", "b"));
    assert_eq!(g.edge("b", "a"), Some(stored));
    // Upserting again in either order replaces the one edge.
    let mut again = relation("a", "b");
    again.weight = 2.5;
    assert!(g.upsert_edge(again));
    let mut reversed = relation("b", "a");
    reversed.weight = 3.0;
    assert!(g.upsert_edge(reversed));
    assert_eq!(g.edge_count(), 1);
    assert_eq!(g.degree("a"), 1);
    assert_eq!(g.edge("a", "b").map(|e| e.weight), Some(3.0));
    assert_eq!(g.edges().count(), 1);
    let removed = g.remove_edge("b", "a").expect("removed");
    assert_eq!(
        (removed.source.as_str(), removed.target.as_str()),
        ("a", "b")
    );
    assert_eq!(g.remove_edge("a", "b"), None);
    assert_eq!((g.edge_count(), g.degree("a"), g.degree("b")), (0, 0, 0));
}

#[test]
fn edge_with_a_missing_endpoint_or_a_self_loop_is_refused() {
    let mut g = graph(&["a"], &[]);
    assert!(!g.upsert_edge(relation("a", "ghost")));
    assert!(!g.upsert_edge(relation("ghost", "a")));
    assert!(!g.upsert_edge(relation("a", "a")));
    assert_eq!((g.edge_count(), g.degree("a")), (0, 0));
    assert_eq!(g.edge("a", "ghost"), None);
    assert_eq!(g.remove_edge("a", "ghost"), None);
}

#[test]
fn edges_of_is_ordered_by_the_other_endpoint() {
    let g = graph(&["m", "a", "z", "b"], &["z-m", "m-a", "b-m", "a-z"]);
    let of_m: Vec<(&str, &str)> = g
        .edges_of("m")
        .iter()
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(of_m, [("a", "m"), ("b", "m"), ("m", "z")]);
    assert!(g.edges_of("unknown").is_empty());
}

/// `ranked_edges_around` as first written: each name's edges in `edges_of` order,
/// the first occurrence kept, then a stable sort by degree sum and weight.
fn ranked_by_reference<'g>(g: &'g Graph, names: &[&str]) -> Vec<&'g Edge> {
    let mut seen = HashSet::new();
    let mut edges = Vec::new();
    for name in names {
        for edge in g.edges_of(name) {
            if seen.insert((edge.source.clone(), edge.target.clone())) {
                let rank = g.degree(&edge.source) + g.degree(&edge.target);
                edges.push((rank, edge.weight, edge));
            }
        }
    }
    edges.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
    edges.into_iter().map(|(_, _, e)| e).collect()
}

#[test]
fn edges_around_rank_by_degree_sum_then_weight_then_first_meeting() {
    // Degrees: m 4, a 2, z 2, b 2, c 1, y 1.
    let mut g = graph(
        &["m", "a", "z", "b", "c", "y"],
        &["z-m", "m-a", "b-m", "a-z", "m-c", "b-y"],
    );
    let mut heavy = relation("b", "y");
    heavy.weight = 3.0;
    g.upsert_edge(heavy);
    let ranked: Vec<(&str, &str)> = g
        .ranked_edges_around(&["b", "nobody", "m"])
        .iter()
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    // Sums: a-m 6, b-m 6, m-z 6, c-m 5, b-y 3. Among the sixes, b-m is met first
    // (through b), then m's others by name.
    assert_eq!(
        ranked,
        [("b", "m"), ("a", "m"), ("m", "z"), ("c", "m"), ("b", "y")]
    );
    assert_eq!(
        g.ranked_edges_around(&["b", "nobody", "m"]),
        ranked_by_reference(&g, &["b", "nobody", "m"])
    );
    assert!(g.ranked_edges_around(&["nobody"]).is_empty());
}

#[test]
fn labels_are_sorted_and_clear_empties() {
    let mut g = graph(&["beta", "Alpha", "alpha", "Ω", "_x"], &["beta-alpha"]);
    assert_eq!(g.labels(), ["Alpha", "_x", "alpha", "beta", "Ω"]);
    g.clear();
    assert_eq!((g.node_count(), g.edge_count()), (0, 0));
    assert!(g.labels().is_empty());
    assert_eq!(g.nodes().count(), 0);
}

#[test]
fn popular_orders_by_degree_then_name() {
    let g = graph(
        &["a", "b", "c", "d", "e", "lonely"],
        &["a-b", "c-a", "d-c", "b-c", "e-d", "e-b"],
    );
    // Degrees: a 2, b 3, c 3, d 2, e 2, lonely 0.
    assert_eq!(g.popular(100), ["b", "c", "a", "d", "e", "lonely"]);
    assert_eq!(g.popular(3), ["b", "c", "a"]);
    assert_eq!(g.popular(1), ["b"]);
    assert!(g.popular(0).is_empty());
    assert!(Graph::new().popular(5).is_empty());
}

fn search_graph() -> Graph {
    graph(
        &[
            "Apple",
            "apple pie",
            "Big Apple",
            "green_apple",
            "Über_apple",
            "pineapple",
            "crabapples",
            "snapple",
            "grapple",
            "banana",
        ],
        &[],
    )
}

#[test]
fn search_scores_exact_then_prefix_then_word_start_then_length() {
    let g = search_graph();
    assert_eq!(
        g.search("apple", 100),
        [
            "Apple",       // exact, 1000
            "apple pie",   // prefix, 500
            "Big Apple",   // 100 - 9 + 50 (after a space)
            "Über_apple",  // 100 - 10 + 50 (after '_'; 10 chars, 11 bytes)
            "green_apple", // 100 - 11 + 50
            "grapple",     // 100 - 7, ties by name
            "snapple",     // 100 - 7
            "pineapple",   // 100 - 9
            "crabapples",  // 100 - 10
        ]
    );
}

#[test]
fn search_is_case_insensitive_trimmed_and_limited() {
    let g = search_graph();
    assert_eq!(g.search("  APPLE\t", 2), ["Apple", "apple pie"]);
    assert_eq!(g.search("BIG apple", 10), ["Big Apple"]);
    assert_eq!(g.search("ÜBER", 10), ["Über_apple"]);
    assert_eq!(g.search("PLE P", 10), ["apple pie"]);
    assert!(g.search("apple", 0).is_empty());
    assert!(g.search("   ", 10).is_empty());
    assert!(g.search("", 10).is_empty());
    assert!(g.search("cherry", 10).is_empty());
    // Exact matches differing only in case all score 1000 and sort by name.
    let g = graph(&["apple", "APPLE", "Apple", "apples"], &[]);
    assert_eq!(g.search("aPPle", 10), ["APPLE", "Apple", "apple", "apples"]);
}

/// S is the start. Level 1: A (degree 3), C (3), B (1). Level 2: D (2), E, F, G (1).
/// Level 3: H. Z is isolated; X-Y is another component.
fn bfs_graph() -> Graph {
    graph(
        &["S", "A", "B", "C", "D", "E", "F", "G", "H", "Z", "X", "Y"],
        &[
            "S-A", "S-B", "S-C", "A-D", "A-E", "C-F", "C-G", "D-H", "X-Y",
        ],
    )
}

#[test]
fn bfs_visits_level_by_level_highest_degree_first() {
    let g = bfs_graph();
    let sub = g.subgraph("S", 10, 100);
    assert_eq!(
        names(&sub.nodes),
        ["S", "A", "C", "B", "D", "E", "F", "G", "H"]
    );
    assert!(!sub.is_truncated);
    assert_eq!(
        keys(&sub.edges),
        [
            ("A", "D"),
            ("A", "E"),
            ("A", "S"),
            ("B", "S"),
            ("C", "F"),
            ("C", "G"),
            ("C", "S"),
            ("D", "H"),
        ]
    );
    // From a leaf: H; D; A; S and E (S has the higher degree); C and B; F and G.
    let sub = g.subgraph("H", 10, 100);
    assert_eq!(
        names(&sub.nodes),
        ["H", "D", "A", "S", "E", "C", "B", "F", "G"]
    );
    let sub = g.subgraph("Z", 3, 100);
    assert_eq!(names(&sub.nodes), ["Z"]);
    assert!(sub.edges.is_empty() && !sub.is_truncated);
}

#[test]
fn bfs_respects_max_depth() {
    let g = bfs_graph();
    let sub = g.subgraph("S", 0, 100);
    assert_eq!(names(&sub.nodes), ["S"]);
    assert!(sub.edges.is_empty() && !sub.is_truncated);
    let sub = g.subgraph("S", 1, 100);
    assert_eq!(names(&sub.nodes), ["S", "A", "C", "B"]);
    assert_eq!(keys(&sub.edges), [("A", "S"), ("B", "S"), ("C", "S")]);
    assert!(!sub.is_truncated);
    let sub = g.subgraph("S", 2, 100);
    assert_eq!(names(&sub.nodes), ["S", "A", "C", "B", "D", "E", "F", "G"]);
    assert!(!sub.is_truncated);
}

#[test]
fn bfs_flags_truncation_only_when_max_nodes_left_nodes_out() {
    let g = bfs_graph();
    // Cut inside level 1: B is left out.
    let sub = g.subgraph("S", 10, 3);
    assert_eq!(names(&sub.nodes), ["S", "A", "C"]);
    assert_eq!(keys(&sub.edges), [("A", "S"), ("C", "S")]);
    assert!(sub.is_truncated);
    // Level 1 fills max_nodes exactly and max_depth stops there: nothing left out.
    assert!(!g.subgraph("S", 1, 4).is_truncated);
    // Same cut, but level 2 is within max_depth: it was left out.
    let sub = g.subgraph("S", 2, 4);
    assert_eq!(names(&sub.nodes), ["S", "A", "C", "B"]);
    assert!(sub.is_truncated);
    // Only H is left out.
    let sub = g.subgraph("S", 10, 8);
    assert_eq!(sub.nodes.len(), 8);
    assert!(sub.is_truncated);
    // Exactly everything reachable: nothing left out.
    assert!(!g.subgraph("S", 10, 9).is_truncated);
    // A component that ends exactly at max_nodes.
    let sub = g.subgraph("X", 5, 2);
    assert_eq!(names(&sub.nodes), ["X", "Y"]);
    assert_eq!(keys(&sub.edges), [("X", "Y")]);
    assert!(!sub.is_truncated);
}

#[test]
fn star_takes_the_highest_degree_nodes() {
    let g = bfs_graph();
    // Degrees: A 3, C 3, S 3, D 2, then the degree-1 nodes by name, Z 0.
    let sub = g.subgraph("*", 1, 4);
    assert_eq!(names(&sub.nodes), ["A", "C", "S", "D"]);
    assert_eq!(keys(&sub.edges), [("A", "D"), ("A", "S"), ("C", "S")]);
    assert!(sub.is_truncated);
    let sub = g.subgraph("*", 0, 12);
    assert_eq!(
        names(&sub.nodes),
        ["A", "C", "S", "D", "B", "E", "F", "G", "H", "X", "Y", "Z"]
    );
    assert_eq!(sub.edges.len(), g.edge_count());
    assert!(!sub.is_truncated);
    assert!(!g.subgraph("*", 3, 1000).is_truncated);
    let empty = Graph::new().subgraph("*", 3, 10);
    assert_eq!(empty, Subgraph::default());
}

#[test]
fn unknown_label_and_zero_max_nodes_give_empty_subgraphs() {
    let g = bfs_graph();
    assert_eq!(g.subgraph("nobody", 3, 10), Subgraph::default());
    assert_eq!(Graph::new().subgraph("S", 3, 10), Subgraph::default());
    let sub = g.subgraph("S", 3, 0);
    assert!(sub.nodes.is_empty() && sub.edges.is_empty());
    assert!(sub.is_truncated, "the start node was left out");
    let sub = g.subgraph("*", 3, 0);
    assert!(sub.nodes.is_empty() && sub.edges.is_empty() && sub.is_truncated);
    assert!(!Graph::new().subgraph("*", 3, 0).is_truncated);
}

/// Every read of the graph, in a comparable form.
#[derive(Debug, PartialEq)]
struct Reads {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    labels: Vec<String>,
    popular: Vec<String>,
    degrees: Vec<usize>,
    edges_of: Vec<Vec<Edge>>,
    search: Vec<String>,
    subgraphs: Vec<Subgraph>,
    counts: (usize, usize),
}

fn reads(g: &Graph) -> Reads {
    let labels = g.labels();
    let mut subgraphs = vec![g.subgraph("*", 2, 5)];
    for label in &labels {
        subgraphs.push(g.subgraph(label, 2, 5));
    }
    Reads {
        nodes: g.nodes().cloned().collect(),
        edges: g.edges().cloned().collect(),
        popular: g.popular(1000),
        degrees: labels.iter().map(|l| g.degree(l)).collect(),
        edges_of: labels
            .iter()
            .map(|l| g.edges_of(l).into_iter().cloned().collect())
            .collect(),
        search: g.search("a", 1000),
        subgraphs,
        counts: (g.node_count(), g.edge_count()),
        labels,
    }
}

#[test]
fn postcard_round_trip_preserves_every_read() {
    let mut g = bfs_graph();
    // Leave free slots behind so the snapshot skips holes.
    g.remove_node("E");
    g.remove_edge("S", "B");
    g.upsert_node(entity("Abe"));
    g.upsert_edge(relation("Abe", "S"));
    let mut described = entity("S");
    described.created_at = -7;
    described.truncate = "FIFO 3/5".to_owned();
    g.upsert_node(described);
    let bytes = postcard::to_allocvec(&g).expect("serialise");
    let back: Graph = postcard::from_bytes(&bytes).expect("deserialise");
    assert_eq!(reads(&back), reads(&g));
    // The copy keeps working like the original.
    let mut back = back;
    g.remove_node("A");
    back.remove_node("A");
    assert_eq!(reads(&back), reads(&g));
    // An empty graph round-trips too.
    let bytes = postcard::to_allocvec(&Graph::new()).expect("serialise");
    let empty: Graph = postcard::from_bytes(&bytes).expect("deserialise");
    assert_eq!(reads(&empty), reads(&Graph::new()));
}

/// A deliberately naive model of the graph: sorted maps and full scans.
#[derive(Default)]
struct Naive {
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<(String, String), Edge>,
}

impl Naive {
    fn key(a: &str, b: &str) -> (String, String) {
        if a < b {
            (a.to_owned(), b.to_owned())
        } else {
            (b.to_owned(), a.to_owned())
        }
    }

    fn degree(&self, name: &str) -> usize {
        self.edges
            .keys()
            .filter(|(a, b)| a == name || b == name)
            .count()
    }

    /// All names, sorted by degree descending then name.
    fn ranked(&self) -> Vec<String> {
        let mut all: Vec<(usize, String)> = self
            .nodes
            .keys()
            .map(|n| (self.degree(n), n.clone()))
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().map(|(_, n)| n).collect()
    }

    fn popular(&self, limit: usize) -> Vec<String> {
        self.ranked().into_iter().take(limit).collect()
    }

    fn subgraph(&self, label: &str, max_depth: usize, max_nodes: usize) -> Subgraph {
        let (chosen, is_truncated) = if label == "*" {
            (self.popular(max_nodes), self.nodes.len() > max_nodes)
        } else {
            if !self.nodes.contains_key(label) {
                return Subgraph::default();
            }
            // Hop distances by relaxing every edge until nothing changes.
            let mut distance: BTreeMap<&str, usize> = BTreeMap::from([(label, 0)]);
            loop {
                let mut changed = false;
                for (a, b) in self.edges.keys() {
                    for (from, to) in [(a, b), (b, a)] {
                        if let Some(&d) = distance.get(from.as_str()) {
                            let old = distance.get(to.as_str()).copied();
                            if old.is_none_or(|old| old > d + 1) {
                                distance.insert(to, d + 1);
                                changed = true;
                            }
                        }
                    }
                }
                if !changed {
                    break;
                }
            }
            let mut reachable: Vec<(usize, usize, &str)> = distance
                .into_iter()
                .filter(|&(_, d)| d <= max_depth)
                .map(|(n, d)| (d, self.degree(n), n))
                .collect();
            reachable.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
            let is_truncated = reachable.len() > max_nodes;
            let chosen = reachable
                .into_iter()
                .take(max_nodes)
                .map(|(_, _, n)| n.to_owned())
                .collect();
            (chosen, is_truncated)
        };
        let edges = self
            .edges
            .iter()
            .filter(|((a, b), _)| chosen.contains(a) && chosen.contains(b))
            .map(|(_, e)| e.clone())
            .collect();
        Subgraph {
            nodes: chosen.iter().map(|n| self.nodes[n].clone()).collect(),
            edges,
            is_truncated,
        }
    }
}

/// SplitMix64: a tiny fixed-seed generator, so the test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn check_against(g: &Graph, naive: &Naive, pool: &[String], rng: &mut Rng) {
    assert_eq!(g.node_count(), naive.nodes.len());
    assert_eq!(g.edge_count(), naive.edges.len());
    assert_eq!(g.labels(), naive.nodes.keys().cloned().collect::<Vec<_>>());
    for name in pool {
        assert_eq!(g.degree(name), naive.degree(name), "degree of {name}");
        assert_eq!(g.node(name), naive.nodes.get(name));
    }
    let limit = rng.below(pool.len() + 2);
    assert_eq!(g.popular(limit), naive.popular(limit), "popular({limit})");
    for _ in 0..3 {
        let label = match rng.below(6) {
            0 => "*".to_owned(),
            1 => "unknown".to_owned(),
            _ => pool[rng.below(pool.len())].clone(),
        };
        let depth = rng.below(5);
        let max_nodes = rng.below(14);
        assert_eq!(
            g.subgraph(&label, depth, max_nodes),
            naive.subgraph(&label, depth, max_nodes),
            "subgraph({label}, {depth}, {max_nodes})"
        );
    }
    let name = &pool[rng.below(pool.len())];
    let expected: Vec<&Edge> = naive
        .edges
        .iter()
        .filter(|((a, b), _)| a == name || b == name)
        .map(|(_, e)| e)
        .collect();
    let mut actual = g.edges_of(name);
    actual.sort_by(|x, y| (&x.source, &x.target).cmp(&(&y.source, &y.target)));
    assert_eq!(actual, expected, "edges_of({name})");
    let (a, b) = (&pool[rng.below(pool.len())], &pool[rng.below(pool.len())]);
    assert_eq!(g.edge(a, b), naive.edges.get(&Naive::key(a, b)));
    let around: Vec<&str> = (0..3)
        .map(|_| pool[rng.below(pool.len())].as_str())
        .collect();
    assert_eq!(
        g.ranked_edges_around(&around),
        ranked_by_reference(g, &around),
        "ranked_edges_around({around:?})"
    );
}

#[test]
fn randomized_operations_match_a_naive_model() {
    let mut rng = Rng(0x5EED_1234);
    let pool: Vec<String> = (0..24).map(|i| format!("n{i:02}")).collect();
    let mut g = Graph::new();
    let mut naive = Naive::default();
    for step in 0..4000 {
        let a = pool[rng.below(pool.len())].clone();
        let b = pool[rng.below(pool.len())].clone();
        match rng.below(20) {
            0..=5 => {
                let mut node = entity(&a);
                node.created_at = step;
                g.upsert_node(node.clone());
                naive.nodes.insert(a, node);
            }
            6..=14 => {
                let mut edge = relation(&a, &b);
                edge.created_at = step;
                let valid = a != b && naive.nodes.contains_key(&a) && naive.nodes.contains_key(&b);
                assert_eq!(g.upsert_edge(edge.clone()), valid);
                if valid {
                    let key = Naive::key(&a, &b);
                    edge.source = key.0.clone();
                    edge.target = key.1.clone();
                    naive.edges.insert(key, edge);
                }
            }
            15..=16 => {
                let expected: Vec<(String, String)> = {
                    let mut keys: Vec<(String, String)> = naive
                        .edges
                        .keys()
                        .filter(|(x, y)| *x == a || *y == a)
                        .cloned()
                        .collect();
                    keys.sort_by_key(|(x, y)| if *x == a { y.clone() } else { x.clone() });
                    keys
                };
                assert_eq!(g.remove_node(&a), expected);
                naive.nodes.remove(&a);
                naive.edges.retain(|(x, y), _| *x != a && *y != a);
            }
            17..=18 => {
                let expected = naive.edges.remove(&Naive::key(&a, &b));
                assert_eq!(g.remove_edge(&a, &b), expected);
            }
            _ => {
                // Continue from a snapshot now and then, holes and all.
                let bytes = postcard::to_allocvec(&g).expect("serialise");
                g = postcard::from_bytes(&bytes).expect("deserialise");
            }
        }
        check_against(&g, &naive, &pool, &mut rng);
    }
    assert!(
        g.edge_count() > 20,
        "the walk should build a non-trivial graph"
    );
}
