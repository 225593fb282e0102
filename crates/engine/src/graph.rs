//! The apply graph, built from a plan and nothing else.
//!
//! Owns [`ApplyGraph`]: one node per operation ([`Step`]) on one address, an edge `a -> b`
//! meaning `a` must finish before `b` starts. Invariants: creates and updates follow the
//! desired dependencies; deletes run in reverse dependency order (a VPC goes after its
//! subnets) and pure deletes (orphans, duplicates, strays) after every create and update; a
//! replace is two nodes on one address, ordered as the plan says (old copy first unless
//! the plan says create-before-destroy); operations
//! on one address are always ordered, never concurrent; the graph is acyclic (building it
//! fails with the addresses of a cycle otherwise); changes that take instances of one group
//! down (a resize, a replacement) go in batches of at most `max_unavailable`, each batch
//! starting only once the previous one is back.

use std::collections::BTreeMap;

use envctl_spec::{Address, ResourceKind};
use petgraph::algo::{has_path_connecting, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::plan::{Change, Plan};
use crate::provider::ReplaceOrder;

/// One cloud operation of an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Create,
    Update,
    Delete,
}

impl Step {
    /// The verb shown in progress lines.
    pub fn verb(self) -> &'static str {
        match self {
            Step::Create => "create",
            Step::Update => "update",
            Step::Delete => "delete",
        }
    }
}

/// A node: `step` on the change at `change_index` of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub change_index: usize,
    pub address: Address,
    pub step: Step,
}

/// Why no apply graph could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The resources depend on each other in a loop; the addresses are those in the loop.
    #[error("the resources depend on each other in a cycle: {}", addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle { addresses: Vec<Address> },
}

/// Operations and the order constraints between them.
#[derive(Debug)]
pub struct ApplyGraph {
    pub graph: DiGraph<Operation, ()>,
}

/// How many instances of one group may be down at once by default: a quarter of the group,
/// rounded up (so one for groups of up to four).
pub fn default_max_unavailable(group_size: usize) -> usize {
    group_size.div_ceil(4).max(1)
}

impl ApplyGraph {
    /// Builds the graph for `plan`, from the plan alone, with the default batch size for
    /// changes that take instances down.
    pub fn from_plan(plan: &Plan) -> Result<Self, GraphError> {
        Self::from_plan_rolling(plan, None)
    }

    /// Builds the graph for `plan`; changes that take an instance down are rolled through
    /// each group `max_unavailable` at a time (default: [`default_max_unavailable`]).
    pub fn from_plan_rolling(
        plan: &Plan,
        max_unavailable: Option<usize>,
    ) -> Result<Self, GraphError> {
        let mut built = Self::unbatched(plan)?;
        built.roll_out(plan, max_unavailable);
        built.check_acyclic()?;
        Ok(built)
    }

    /// Orders the disruptive changes of each instance group in batches.
    fn roll_out(&mut self, plan: &Plan, max_unavailable: Option<usize>) {
        let graph = &mut self.graph;
        // (first node, last node) of each disruptive change, by group name and index.
        let mut groups: BTreeMap<String, Vec<(Option<u32>, NodeIndex, NodeIndex)>> =
            BTreeMap::new();
        for (index, change) in plan.changes.iter().enumerate() {
            if change.kind != ResourceKind::Instance {
                continue;
            }
            let step_node = |step| {
                graph
                    .node_indices()
                    .find(|&n| graph[n].change_index == index && graph[n].step == step)
            };
            // A resize or a replacement takes the instance down; nothing else does.
            let (first, last) = match &change.change {
                Change::Update { fields, .. }
                    if fields.iter().any(|f| f.field == "instance_type") =>
                {
                    match step_node(Step::Update) {
                        Some(n) => (n, n),
                        None => continue,
                    }
                }
                Change::Replace {
                    order: ReplaceOrder::CreateBeforeDestroy,
                    ..
                } => match (step_node(Step::Create), step_node(Step::Delete)) {
                    (Some(c), Some(d)) => (c, d),
                    _ => continue,
                },
                Change::Replace {
                    order: ReplaceOrder::DestroyBeforeCreate,
                    ..
                } => match (step_node(Step::Delete), step_node(Step::Create)) {
                    (Some(d), Some(c)) => (d, c),
                    _ => continue,
                },
                Change::Create { .. } | Change::Update { .. } | Change::Delete { .. } => continue,
            };
            groups
                .entry(change.address.name.clone())
                .or_default()
                .push((change.address.index, first, last));
        }
        for (name, mut members) in groups {
            let group_size = plan
                .live_ids
                .keys()
                .filter(|a| a.kind == ResourceKind::Instance && a.name == name)
                .count()
                .max(members.len());
            let batch = max_unavailable
                .unwrap_or_else(|| default_max_unavailable(group_size))
                .max(1);
            members.sort_by_key(|(index, _, _)| *index);
            let batches: Vec<&[(Option<u32>, NodeIndex, NodeIndex)]> =
                members.chunks(batch).collect();
            for pair in batches.windows(2) {
                for &(_, _, last) in pair[0] {
                    for &(_, first, _) in pair[1] {
                        // Never at the price of a cycle: what must happen together does.
                        if !has_path_connecting(&*graph, first, last, None) {
                            graph.update_edge(last, first, ());
                        }
                    }
                }
            }
        }
    }

    fn unbatched(plan: &Plan) -> Result<Self, GraphError> {
        let mut graph = DiGraph::new();
        // The node that brings each address to its desired state (create or update), and the
        // node that deletes its live copy or copies.
        let mut building: BTreeMap<&Address, NodeIndex> = BTreeMap::new();
        let mut deleting: BTreeMap<&Address, Vec<NodeIndex>> = BTreeMap::new();

        for (index, change) in plan.changes.iter().enumerate() {
            let mut add = |step| {
                graph.add_node(Operation {
                    change_index: index,
                    address: change.address.clone(),
                    step,
                })
            };
            match &change.change {
                Change::Create { .. } => {
                    building.insert(&change.address, add(Step::Create));
                }
                Change::Update { .. } => {
                    building.insert(&change.address, add(Step::Update));
                }
                Change::Delete { .. } => {
                    let node = add(Step::Delete);
                    deleting.entry(&change.address).or_default().push(node);
                }
                Change::Replace { order, .. } => {
                    let create = add(Step::Create);
                    let delete = add(Step::Delete);
                    match order {
                        ReplaceOrder::CreateBeforeDestroy => graph.add_edge(create, delete, ()),
                        ReplaceOrder::DestroyBeforeCreate => graph.add_edge(delete, create, ()),
                    };
                    building.insert(&change.address, create);
                    deleting.entry(&change.address).or_default().push(delete);
                }
            }
        }

        for change in &plan.changes {
            // Creates and updates (of a new copy too) wait for what they reference.
            if let (Some(desired), Some(&node)) = (change.desired(), building.get(&change.address))
            {
                for dependency in &desired.depends_on {
                    if let Some(&before) = building.get(dependency) {
                        graph.update_edge(before, node, ());
                    }
                }
            }
            // Deletes of what a live resource references wait for that resource to be deleted
            // or moved away (updated) first.
            let (live, update) = match &change.change {
                Change::Create { .. } => continue,
                Change::Update { live, .. } => (live, building.get(&change.address)),
                Change::Replace { live, .. } | Change::Delete { live } => (live, None),
            };
            for referenced in &live.depends_on {
                let Some(targets) = deleting.get(referenced) else {
                    continue;
                };
                let mut firsts: Vec<NodeIndex> = Vec::new();
                if let Some(own) = deleting.get(&change.address) {
                    firsts.extend(own);
                }
                firsts.extend(update);
                for &first in &firsts {
                    for &target in targets {
                        if first != target {
                            graph.update_edge(first, target, ());
                        }
                    }
                }
            }
        }

        // Two operations on one address never run at once: chain any left unordered, bringing
        // the address to its desired state before removing duplicates.
        let mut by_address: BTreeMap<&Address, Vec<NodeIndex>> = BTreeMap::new();
        for node in graph.node_indices() {
            by_address
                .entry(&graph[node].address)
                .or_default()
                .push(node);
        }
        let chains: Vec<(NodeIndex, NodeIndex)> = by_address
            .values()
            .flat_map(|nodes| nodes.windows(2).map(|w| (w[0], w[1])))
            .collect();
        for (a, b) in chains {
            let ordered =
                has_path_connecting(&graph, a, b, None) || has_path_connecting(&graph, b, a, None);
            if !ordered {
                let (first, second) = if graph[a].step == Step::Delete {
                    (b, a)
                } else {
                    (a, b)
                };
                graph.add_edge(first, second, ());
            }
        }

        // Pure deletes (orphans, duplicates, unmanaged) run last, only once everything else
        // succeeded; a delete that some build must wait for (it frees a name or a reference)
        // keeps its place.
        let builds: Vec<NodeIndex> = building.values().copied().collect();
        let pure_deletes: Vec<NodeIndex> = graph
            .node_indices()
            .filter(|&n| {
                graph[n].step == Step::Delete
                    && plan
                        .changes
                        .get(graph[n].change_index)
                        .is_some_and(|c| matches!(c.change, Change::Delete { .. }))
            })
            .collect();
        for &delete in &pure_deletes {
            for &build in &builds {
                if !has_path_connecting(&graph, delete, build, None) {
                    graph.update_edge(build, delete, ());
                }
            }
        }

        let built = ApplyGraph { graph };
        built.check_acyclic()?;
        Ok(built)
    }

    fn check_acyclic(&self) -> Result<(), GraphError> {
        match toposort(&self.graph, None) {
            Ok(_) => Ok(()),
            Err(cycle) => {
                let start = cycle.node_id();
                // Walk forward from the reported node until a node repeats: that is the loop.
                let mut path = vec![start];
                let mut current = start;
                loop {
                    let next = self.graph.edges(current).map(|e| e.target()).find(|t| {
                        petgraph::algo::has_path_connecting(&self.graph, *t, start, None)
                    });
                    match next {
                        Some(n) if n == start || path.contains(&n) => break,
                        Some(n) => {
                            path.push(n);
                            current = n;
                        }
                        None => break,
                    }
                }
                Err(GraphError::Cycle {
                    addresses: path
                        .into_iter()
                        .map(|n| self.graph[n].address.clone())
                        .collect(),
                })
            }
        }
    }

    /// Operations in an order that respects every edge (for dry listings and tests).
    pub fn ordered(&self) -> Vec<&Operation> {
        toposort(&self.graph, None)
            .unwrap_or_default()
            .into_iter()
            .map(|n| &self.graph[n])
            .collect()
    }
}
