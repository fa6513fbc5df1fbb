//! Editing the knowledge graph by hand: LightRAG's entity and relation create, edit
//! (with rename and merge), merge and delete.
//!
//! Every edit runs under the merge lock, is refused while the pipeline runs (as in
//! LightRAG), re-embeds what it changed through the task protocol, and commits all
//! of its changes — graph, vectors, chunk tracking, per-document records — as one
//! transaction, so an acknowledged edit is on disk and a failed one left nothing.

use crate::executor::{Io, TaskResult};
use crate::graph::{Edge, Node};
use crate::ids::{SEP, sorted, split_sep};
use crate::kg::{entity_vector_text, relation_vector_text};
use crate::provenance::{self, shown_paths};
use crate::shared::Shared;
use crate::state::{DocGraph, Op, State};
use crate::util::unix_now;
use crate::vectors::Embedding;
use crate::wit::{
    Config, EmbedKind, EntityEdit, EntityInput, Error, GraphEdge, GraphEdit, GraphEditResult,
    GraphNode, RelationFields, RelationInput, TaskOutput,
};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// LightRAG's refusal while documents are processed.
const BUSY: &str = "Pipeline is busy with another operation. Wait for the running job to finish before editing the knowledge graph.";
/// Source ids that do not count as real sources for weights.
const NOT_REAL_SOURCES: [&str; 2] = ["manual_creation", "UNKNOWN"];

/// Runs one edit.
pub async fn run(shared: Rc<Shared>, io: Io, edit: GraphEdit) -> TaskResult {
    let _merging = shared.merge_lock.lock().await;
    if shared.pipeline.borrow().busy {
        return Err(Error::Busy(BUSY.into()));
    }
    let plan = {
        let store = shared.store.borrow();
        let state = store.state();
        let mut plan = plan(state, edit)?;
        provenance_of(&shared.config, state, &mut plan);
        plan
    };
    // Re-embed every node and edge the edit writes, in one request.
    let texts: Vec<String> = plan
        .nodes
        .iter()
        .map(entity_vector_text)
        .chain(plan.edges.iter().map(relation_vector_text))
        .collect();
    let mut vectors = io
        .embed(EmbedKind::Document, texts)
        .await
        .map_err(|e| Error::Unavailable(format!("embedding the edited graph failed: {e}")))?
        .into_iter();
    let mut ops = plan.removals;
    for node in &plan.nodes {
        ops.push(Op::PutEntityVector(
            node.entity_id.clone(),
            Embedding::new(&vectors.next().unwrap_or_default()),
        ));
        if let Some(list) = plan.entity_lists.get(&node.entity_id) {
            ops.push(Op::SetEntityChunks(node.entity_id.clone(), list.clone()));
        }
        ops.push(Op::PutNode(node.clone()));
    }
    for edge in &plan.edges {
        ops.push(Op::PutRelationVector(
            edge.source.clone(),
            edge.target.clone(),
            Embedding::new(&vectors.next().unwrap_or_default()),
        ));
        let pair = (edge.source.clone(), edge.target.clone());
        if let Some(list) = plan.relation_lists.get(&pair) {
            ops.push(Op::SetRelationChunks(pair.0, pair.1, list.clone()));
        }
        ops.push(Op::PutEdge(edge.clone()));
    }
    ops.extend(plan.bookkeeping);
    shared.commit(ops)?;
    let result = GraphEditResult {
        message: plan.message,
        node: plan.result_node.map(to_wit_node),
        edge: plan.result_edge.map(to_wit_edge),
        merged: plan.merged,
        renamed: plan.renamed,
    };
    Ok(TaskOutput::GraphEdited(result))
}

/// Everything an edit writes, decided from one read of the state.
#[derive(Default)]
struct Plan {
    /// Removals, applied first.
    removals: Vec<Op>,
    /// Nodes to (re)write and re-embed.
    nodes: Vec<Node>,
    /// Edges to (re)write and re-embed, written after the nodes.
    edges: Vec<Edge>,
    /// Per-document record updates, applied last.
    bookkeeping: Vec<Op>,
    message: String,
    result_node: Option<Node>,
    result_edge: Option<Edge>,
    merged: bool,
    renamed: bool,
    /// Full chunk lists of written nodes and edges, where the edit changes them.
    entity_lists: BTreeMap<String, Vec<String>>,
    relation_lists: BTreeMap<(String, String), Vec<String>>,
}

/// The full chunk list of stored node `name`, or what `node` shows when it is not
/// stored as it reads now (a new node, or one whose `source_id` the edit set).
fn entity_list(state: &State, node: &Node) -> Vec<String> {
    match (
        state.graph.node(&node.entity_id),
        state.entity_chunks.get(&node.entity_id),
    ) {
        (Some(stored), Some(list)) if stored.source_id == node.source_id => list.to_vec(),
        _ => split_sep(&node.source_id),
    }
}

/// Like [`entity_list`] for a relation as it is stored under (`a`, `b`).
fn relation_list(state: &State, a: &str, b: &str, edge: &Edge) -> Vec<String> {
    let key = (a.to_string(), b.to_string());
    match (state.graph.edge(a, b), state.relation_chunks.get(&key)) {
        (Some(stored), Some(list)) if stored.source_id == edge.source_id => list.to_vec(),
        _ => split_sep(&edge.source_id),
    }
}

/// Gives every written node and edge its full chunk list where the edit changes it,
/// and shows its `source_id` and `file_path` within LightRAG's limits.
fn provenance_of(config: &Config, state: &State, plan: &mut Plan) {
    let method = config.source_ids_limit;
    let paths = config.max_file_paths as usize;
    for node in &mut plan.nodes {
        if !plan.entity_lists.contains_key(&node.entity_id)
            && state
                .graph
                .node(&node.entity_id)
                .is_none_or(|stored| stored.source_id != node.source_id)
        {
            plan.entity_lists
                .insert(node.entity_id.clone(), split_sep(&node.source_id));
        }
        if let Some(list) = plan.entity_lists.get(&node.entity_id) {
            let limit = config.max_source_ids_per_entity as usize;
            (node.source_id, node.truncate) = provenance::source_id(list, limit, method);
        }
        node.file_path = provenance::file_path(&shown_paths(&node.file_path), paths, method);
    }
    for edge in &mut plan.edges {
        let pair = (edge.source.clone(), edge.target.clone());
        if !plan.relation_lists.contains_key(&pair)
            && state
                .graph
                .edge(&edge.source, &edge.target)
                .is_none_or(|stored| stored.source_id != edge.source_id)
        {
            plan.relation_lists
                .insert(pair.clone(), split_sep(&edge.source_id));
        }
        if let Some(list) = plan.relation_lists.get(&pair) {
            let limit = config.max_source_ids_per_relation as usize;
            (edge.source_id, edge.truncate) = provenance::source_id(list, limit, method);
        }
        edge.file_path = provenance::file_path(&shown_paths(&edge.file_path), paths, method);
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::BadInput(message.into())
}

/// Trims a name; blank is LightRAG's 400.
fn name(raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(bad("Entity name cannot be empty"));
    }
    Ok(trimmed.to_string())
}

fn plan(state: &State, edit: GraphEdit) -> Result<Plan, Error> {
    match edit {
        GraphEdit::CreateEntity(input) => create_entity(state, input),
        GraphEdit::EditEntity(edit) => edit_entity(state, edit),
        GraphEdit::MergeEntities((sources, target)) => merge_entities(state, &sources, &target),
        GraphEdit::DeleteEntity(entity) => delete_entity(state, &entity),
        GraphEdit::CreateRelation(input) => create_relation(state, input),
        GraphEdit::EditRelation((a, b, fields)) => edit_relation(state, &a, &b, fields),
        GraphEdit::DeleteRelation((a, b)) => delete_relation(state, &a, &b),
    }
}

fn or_default(value: &str, default: &str) -> String {
    if value.trim().is_empty() {
        default.to_string()
    } else {
        value.trim().to_string()
    }
}

fn create_entity(state: &State, input: EntityInput) -> Result<Plan, Error> {
    let entity = name(&input.name)?;
    if state.graph.node(&entity).is_some() {
        return Err(bad(format!("Entity '{entity}' already exists")));
    }
    if input.description.trim().is_empty() {
        return Err(bad("Entity description cannot be empty"));
    }
    let node = Node {
        entity_id: entity.clone(),
        entity_type: or_default(&input.entity_type, "UNKNOWN"),
        description: input.description.trim().to_string(),
        source_id: or_default(&input.source_id, "manual_creation"),
        file_path: or_default(&input.file_path, "manual_creation"),
        created_at: unix_now(),
        truncate: String::new(),
    };
    Ok(Plan {
        message: format!("Entity '{entity}' created successfully"),
        result_node: Some(node.clone()),
        nodes: vec![node],
        ..Plan::default()
    })
}

fn edit_entity(state: &State, edit: EntityEdit) -> Result<Plan, Error> {
    let entity = name(&edit.name)?;
    let old = state
        .graph
        .node(&entity)
        .ok_or_else(|| Error::NotFound(format!("Entity '{entity}' not found.")))?;
    let mut node = old.clone();
    if let Some(t) = &edit.fields.entity_type {
        node.entity_type = t.trim().to_string();
    }
    if let Some(d) = &edit.fields.description {
        node.description = d.trim().to_string();
    }
    if let Some(s) = &edit.fields.source_id {
        node.source_id = s.trim().to_string();
    }
    if let Some(f) = &edit.fields.file_path {
        node.file_path = f.trim().to_string();
    }
    let new_name = match &edit.new_name {
        Some(raw) => Some(name(raw)?).filter(|n| *n != entity),
        None => None,
    };
    let Some(new_name) = new_name else {
        return Ok(Plan {
            message: "Entity updated successfully".into(),
            result_node: Some(node.clone()),
            nodes: vec![node],
            ..Plan::default()
        });
    };
    if !edit.allow_rename {
        return Err(bad(format!(
            "Entity renaming is not allowed. Set allow_rename to true to rename '{entity}' to '{new_name}'"
        )));
    }
    if state.graph.node(&new_name).is_some() {
        if !edit.allow_merge {
            return Err(bad(format!(
                "Entity name '{new_name}' already exists; set allow_merge to true to merge '{entity}' into it"
            )));
        }
        // The edited entity (with its new fields) merges into the existing one.
        let mut plan = merge_into(state, &[node], &new_name)?;
        plan.message = format!("Entity merged successfully into '{new_name}'");
        plan.merged = true;
        plan.renamed = true;
        return Ok(plan);
    }
    let mut plan = merge_into(state, &[node], &new_name)?;
    plan.message = "Entity updated successfully".into();
    plan.renamed = true;
    Ok(plan)
}

fn merge_entities(state: &State, sources: &[String], target: &str) -> Result<Plan, Error> {
    let target = name(target)?;
    if sources.is_empty() {
        return Err(bad("entities_to_change must name at least one entity"));
    }
    let mut nodes = Vec::new();
    for source in sources {
        let source = name(source)?;
        if source == target {
            continue;
        }
        let node = state
            .graph
            .node(&source)
            .ok_or_else(|| Error::NotFound(format!("Entity '{source}' not found.")))?;
        nodes.push(node.clone());
    }
    let count = nodes.len();
    let mut plan = merge_into(state, &nodes, &target)?;
    plan.message = format!("Successfully merged {count} entities into '{target}'");
    plan.merged = true;
    Ok(plan)
}

/// Joins `<SEP>` lists without duplicates, first-seen order.
fn join_unique<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        for part in split_sep(value) {
            if !out.contains(&part) {
                out.push(part);
            }
        }
    }
    out.join(SEP)
}

/// Moves `sources` (nodes as they should read now) into entity `target`: the target
/// keeps its type (or takes the first source's), gets every description, source and
/// path; every relation of a source moves to the target (relations between merged
/// entities disappear; two relations to the same neighbour become one); the sources
/// are deleted; documents that contributed a source now point at the target.
fn merge_into(state: &State, sources: &[Node], target: &str) -> Result<Plan, Error> {
    let existing = state.graph.node(target).cloned();
    let merged_names: BTreeSet<&str> = sources
        .iter()
        .map(|n| n.entity_id.as_str())
        .chain(std::iter::once(target))
        .collect();
    let parts: Vec<&Node> = existing.iter().chain(sources.iter()).collect();
    let node = Node {
        entity_id: target.to_string(),
        entity_type: parts
            .iter()
            .map(|n| n.entity_type.clone())
            .find(|t| !t.is_empty() && t != "UNKNOWN")
            .or_else(|| parts.first().map(|n| n.entity_type.clone()))
            .unwrap_or_else(|| "UNKNOWN".into()),
        description: join_unique(parts.iter().map(|n| n.description.as_str())),
        source_id: join_unique(parts.iter().map(|n| n.source_id.as_str())),
        file_path: join_unique(parts.iter().map(|n| n.file_path.as_str())),
        created_at: unix_now(),
        truncate: String::new(),
    };
    let mut plan = Plan::default();
    // The target's full list: every merged entity's.
    let mut list: Vec<String> = Vec::new();
    for part in &parts {
        for id in entity_list(state, part) {
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }
    plan.entity_lists.insert(target.to_string(), list);
    // Relations of every merged entity, re-pointed at the target.
    let mut moved: Vec<Edge> = Vec::new();
    for name in &merged_names {
        for edge in state.graph.edges_of(name) {
            let removal = (edge.source.clone(), edge.target.clone());
            if !plan
                .removals
                .iter()
                .any(|op| matches!(op, Op::DelEdge(a, b) if (a, b) == (&removal.0, &removal.1)))
            {
                plan.removals
                    .push(Op::DelRelationVector(removal.0.clone(), removal.1.clone()));
                plan.removals
                    .push(Op::DelRelationChunks(removal.0.clone(), removal.1.clone()));
                plan.removals.push(Op::DelEdge(removal.0, removal.1));
            }
            let other = if edge.source == *name {
                &edge.target
            } else {
                &edge.source
            };
            if merged_names.contains(other.as_str()) {
                continue; // between merged entities: would become a self-loop
            }
            let (a, b) = sorted(target, other);
            let pair = (a.to_string(), b.to_string());
            let moved_list = relation_list(state, &edge.source, &edge.target, edge);
            let list = plan.relation_lists.entry(pair).or_default();
            for id in moved_list {
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            let mut edge = edge.clone();
            edge.source = a.to_string();
            edge.target = b.to_string();
            match moved.iter_mut().find(|e| e.source == a && e.target == b) {
                Some(into) => {
                    into.description =
                        join_unique([into.description.as_str(), edge.description.as_str()]);
                    into.source_id =
                        join_unique([into.source_id.as_str(), edge.source_id.as_str()]);
                    into.file_path =
                        join_unique([into.file_path.as_str(), edge.file_path.as_str()]);
                    let keywords: BTreeSet<&str> = into
                        .keywords
                        .split(',')
                        .chain(edge.keywords.split(','))
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .collect();
                    into.keywords = keywords.into_iter().collect::<Vec<_>>().join(",");
                    into.weight += edge.weight;
                }
                None => moved.push(edge),
            }
        }
    }
    for source in sources {
        if source.entity_id != target {
            plan.removals
                .push(Op::DelEntityVector(source.entity_id.clone()));
            plan.removals
                .push(Op::DelEntityChunks(source.entity_id.clone()));
            plan.removals.push(Op::DelNode(source.entity_id.clone()));
        }
    }
    plan.bookkeeping = repoint_documents(state, &merged_names, target);
    plan.result_node = Some(node.clone());
    plan.nodes = vec![node];
    plan.edges = moved;
    Ok(plan)
}

/// Per-document records that name a merged entity now name the target.
fn repoint_documents(state: &State, merged: &BTreeSet<&str>, target: &str) -> Vec<Op> {
    let rename = |name: &str| -> String {
        if merged.contains(name) {
            target.to_string()
        } else {
            name.to_string()
        }
    };
    let mut ops = Vec::new();
    for (doc, graph) in &state.doc_graph {
        // Every relation endpoint is among the entities.
        if !graph.entities().any(|e| merged.contains(e)) {
            continue;
        }
        let mut renamed = DocGraph::default();
        for e in graph.entities() {
            renamed.add_entity(&rename(e));
        }
        for (a, b) in graph.relations() {
            let (a, b) = (rename(a), rename(b));
            if a != b {
                renamed.add_relation(&a, &b);
            }
        }
        ops.push(Op::SetDocGraph(doc.clone(), renamed));
    }
    ops
}

fn delete_entity(state: &State, entity: &str) -> Result<Plan, Error> {
    let entity = name(entity)?;
    if state.graph.node(&entity).is_none() {
        return Err(Error::NotFound(format!("Entity '{entity}' not found.")));
    }
    let mut plan = Plan::default();
    for edge in state.graph.edges_of(&entity) {
        plan.removals.push(Op::DelRelationVector(
            edge.source.clone(),
            edge.target.clone(),
        ));
        plan.removals.push(Op::DelRelationChunks(
            edge.source.clone(),
            edge.target.clone(),
        ));
    }
    plan.removals.push(Op::DelEntityVector(entity.clone()));
    plan.removals.push(Op::DelEntityChunks(entity.clone()));
    plan.removals.push(Op::DelNode(entity.clone()));
    plan.message = format!("Entity '{entity}' deleted successfully");
    Ok(plan)
}

fn check_weight(weight: f64, source_id: &str) -> Result<(), Error> {
    let real = split_sep(source_id)
        .iter()
        .filter(|s| !NOT_REAL_SOURCES.contains(&s.as_str()))
        .count();
    if !weight.is_finite() || weight < 0.0 {
        return Err(bad("Relation weight must be a number of at least 0"));
    }
    if weight < real as f64 {
        return Err(bad(format!(
            "Relation weight {weight} is smaller than its number of sources ({real})"
        )));
    }
    Ok(())
}

fn create_relation(state: &State, input: RelationInput) -> Result<Plan, Error> {
    let (a, b) = (name(&input.source)?, name(&input.target)?);
    if a == b {
        return Err(bad("Cannot create a relation from an entity to itself"));
    }
    for endpoint in [&a, &b] {
        if state.graph.node(endpoint).is_none() {
            return Err(bad(format!("Entity '{endpoint}' does not exist")));
        }
    }
    if state.graph.edge(&a, &b).is_some() {
        return Err(bad(format!(
            "Relation between '{a}' and '{b}' already exists"
        )));
    }
    if input.description.trim().is_empty() {
        return Err(bad("Relation description cannot be empty"));
    }
    check_weight(input.weight, &input.source_id)?;
    let (source, target) = sorted(&a, &b);
    let edge = Edge {
        source: source.to_string(),
        target: target.to_string(),
        weight: input.weight,
        description: input.description.trim().to_string(),
        keywords: input.keywords.trim().to_string(),
        source_id: input.source_id.trim().to_string(),
        file_path: or_default(&input.file_path, "manual_creation"),
        created_at: unix_now(),
        truncate: String::new(),
    };
    Ok(Plan {
        message: format!("Relation created successfully between '{a}' and '{b}'"),
        result_edge: Some(edge.clone()),
        edges: vec![edge],
        ..Plan::default()
    })
}

fn edit_relation(state: &State, a: &str, b: &str, fields: RelationFields) -> Result<Plan, Error> {
    let (a, b) = (name(a)?, name(b)?);
    let mut edge = state
        .graph
        .edge(&a, &b)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("Relation from '{a}' to '{b}' not found.")))?;
    if let Some(d) = fields.description {
        edge.description = d.trim().to_string();
    }
    if let Some(k) = fields.keywords {
        edge.keywords = k.trim().to_string();
    }
    if let Some(s) = fields.source_id {
        edge.source_id = s.trim().to_string();
    }
    if let Some(f) = fields.file_path {
        edge.file_path = f.trim().to_string();
    }
    if let Some(w) = fields.weight {
        edge.weight = w;
    }
    check_weight(edge.weight, &edge.source_id)?;
    Ok(Plan {
        message: "Relation updated successfully".into(),
        result_edge: Some(edge.clone()),
        edges: vec![edge],
        ..Plan::default()
    })
}

fn delete_relation(state: &State, a: &str, b: &str) -> Result<Plan, Error> {
    let (a, b) = (name(a)?, name(b)?);
    let edge = state
        .graph
        .edge(&a, &b)
        .ok_or_else(|| Error::NotFound(format!("Relation from '{a}' to '{b}' not found.")))?;
    let (s, t) = (edge.source.clone(), edge.target.clone());
    Ok(Plan {
        removals: vec![
            Op::DelRelationVector(s.clone(), t.clone()),
            Op::DelRelationChunks(s.clone(), t.clone()),
            Op::DelEdge(s, t),
        ],
        message: format!("Relation from '{a}' to '{b}' deleted successfully"),
        ..Plan::default()
    })
}

/// A graph node in the contract's type.
pub fn to_wit_node(n: Node) -> GraphNode {
    GraphNode {
        entity_id: n.entity_id,
        entity_type: n.entity_type,
        description: n.description,
        source_id: n.source_id,
        file_path: n.file_path,
        created_at: n.created_at,
        truncate: n.truncate,
    }
}

/// A graph edge in the contract's type.
pub fn to_wit_edge(e: Edge) -> GraphEdge {
    GraphEdge {
        source: e.source,
        target: e.target,
        weight: e.weight,
        description: e.description,
        keywords: e.keywords,
        source_id: e.source_id,
        file_path: e.file_path,
        created_at: e.created_at,
        truncate: e.truncate,
    }
}
