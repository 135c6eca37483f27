//! How the harness names nodes, in run records, reports and checks alike.

// Moved here from sim's world: checks name nodes too, and checks may not reach sim.
pub(crate) fn server_name(node: usize) -> String {
    format!("server-{node}")
}
