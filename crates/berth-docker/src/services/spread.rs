//! Spreading an app's dynos over the hosts. Each dyno is a service of its
//! own, and Swarm's scheduler balances a service's replicas, else all tasks
//! whatever their app: left alone it may put both web dynos of an app on
//! the host that runs the fewest tasks of other apps. So a new dyno is kept
//! off the hosts that run more dynos of its app, release and process type
//! than the emptiest host that takes tasks; Swarm picks among the rest.

use std::collections::HashMap;

use super::status::NodeView;

/// The ids of the nodes a new dyno is kept off, given the hosts (node
/// names) its running siblings are on. Never every node that takes tasks.
pub(super) fn crowded_nodes<'a>(
    nodes: &HashMap<String, NodeView>,
    sibling_hosts: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut siblings: HashMap<&str, usize> = HashMap::new();
    for host in sibling_hosts {
        *siblings.entry(host).or_default() += 1;
    }
    let count = |node: &NodeView| siblings.get(node.name.as_str()).copied().unwrap_or(0);
    let open = nodes.values().filter(|node| node.takes_tasks);
    let Some(fewest) = open.clone().map(count).min() else {
        return Vec::new();
    };
    let mut crowded: Vec<String> = nodes
        .iter()
        .filter(|(_, node)| node.takes_tasks && count(node) > fewest)
        .map(|(id, _)| id.clone())
        .collect();
    crowded.sort();
    crowded
}

#[cfg(test)]
mod tests {
    use bollard::models::NodeState;

    use super::*;
    use crate::services::status::tests::node;

    fn swarm(states: &[(&str, NodeState)]) -> HashMap<String, NodeView> {
        states
            .iter()
            .map(|(name, state)| (format!("id-{name}"), node(name, *state)))
            .collect()
    }

    #[test]
    fn a_new_dyno_goes_where_its_app_has_the_fewest() {
        let nodes = swarm(&[
            ("default", NodeState::READY),
            ("h2", NodeState::READY),
            ("h3", NodeState::READY),
        ]);
        assert!(crowded_nodes(&nodes, std::iter::empty()).is_empty());
        assert_eq!(
            crowded_nodes(&nodes, ["h2"].into_iter()),
            ["id-h2"],
            "the second dyno avoids the first one's host"
        );
        assert_eq!(
            crowded_nodes(&nodes, ["h2", "default"].into_iter()),
            ["id-default", "id-h2"]
        );
        assert!(
            crowded_nodes(&nodes, ["h2", "default", "h3"].into_iter()).is_empty(),
            "one on each: any host will do"
        );
    }

    #[test]
    fn hosts_that_take_no_tasks_neither_count_nor_are_avoided() {
        let nodes = swarm(&[("default", NodeState::READY), ("h2", NodeState::DOWN)]);
        assert!(
            crowded_nodes(&nodes, ["default"].into_iter()).is_empty(),
            "the only host that takes tasks is never avoided"
        );
        let mut paused = swarm(&[("default", NodeState::READY), ("h2", NodeState::READY)]);
        paused.get_mut("id-h2").unwrap().takes_tasks = false;
        assert!(crowded_nodes(&paused, ["default", "default"].into_iter()).is_empty());
    }
}
