//! `Storage::delete` is a write in every respect but its effect: it takes the
//! write latency and the write faults, it is in the ledger as `delete`, and
//! what it removes is gone from the stored keys the checks compare gauges
//! with.

use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::madsim;
use obsim::faults::{Effect, Fault};
use obsim::{ClientContext, NodeContext, Run, Sim, System};

/// Each server writes three keys at boot, then deletes one.
#[derive(Clone)]
struct Deleter;

impl System for Deleter {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            for key in ["a", "b", "c"] {
                let _ = node.storage.put(key, vec![1]).await;
            }
            let _ = node.storage.delete("b").await;
            std::future::pending::<()>().await;
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            madsim::time::sleep(Duration::from_millis(500)).await;
            client.record_outcome("ok");
        })
    }
}

fn run(fault: Option<Fault>) -> Run {
    let mut builder = Sim::builder("delete")
        .servers(1)
        .duration(Duration::from_secs(1))
        .every_fault_fires(false)
        .artifacts_dir(None);
    if let Some(fault) = fault {
        builder = builder.fault(fault);
    }
    builder.build(|| Deleter).unwrap().run(3).unwrap()
}

fn deletes(run: &Run) -> Vec<(bool, String)> {
    let ops = run.storage_ops.iter().filter(|op| op.operation == "delete");
    ops.map(|op| (op.failure.is_none(), op.node.to_string()))
        .collect()
}

#[test]
fn a_delete_removes_its_key_and_is_in_the_ledger_as_delete() {
    let run = run(None);
    assert_eq!(deletes(&run), [(true, "server-0".to_string())]);
    let server = &run.incarnations[0];
    assert_eq!(server.stored_keys, Some(2), "a, c");
}

#[test]
fn a_failed_delete_leaves_its_key() {
    // Every write fails from the instant the delete starts (the same instant
    // with or without the fault: the puts before it are not failed).
    let clean = run(None);
    let delete = clean.storage_ops.iter().find(|op| op.operation == "delete");
    let fault = Fault::new(Effect::StorageWriteFailure).at(delete.unwrap().started_at);
    let run = run(Some(fault));
    assert_eq!(deletes(&run), [(false, "server-0".to_string())]);
    assert_eq!(run.incarnations[0].stored_keys, Some(3));
}
