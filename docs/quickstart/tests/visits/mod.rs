use obsim::deps::futures::future::BoxFuture;
use obsim::{ClientContext, Contract, Invocation, MetricsResponse, NodeContext, Storage, System};
use quickstart::{Config, Store, VisitClient, VisitServer};

struct SimStore(Storage); // the service's store on obsim's disk: faults and ground truth
impl Store for SimStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).await.map_err(|e| e.to_string())
    }
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        self.0.put(key, value).await.map_err(|e| e.to_string())
    }
}

pub struct Visits(pub Config);
impl System for Visits {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let server = VisitServer::new(SimStore(node.storage.clone()), self.0.clone());
        let (route, probed) = (server.clone(), server.clone());
        node.serve_metrics(move || MetricsResponse::prometheus_text(route.metrics_body()));
        node.probe("cached_keys", move || probed.cached_keys() as f64);
        Box::pin(async move { server.serve(node.addr).await.expect("serving") })
    }

    fn drive(&self, mut client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let visits = VisitClient::new(client.servers.clone());
            let visit = |c: Invocation| visits.visit(c.number as usize, format!("page-{}", c.key));
            client.run_requests("visit", visit).await
        })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            .accurate(r#"final(visits_total{status="ok"}) == storage.ok{operation="put"}"#)
            .accurate(r#"final(visits_total{status="error"}) == storage.failed"#)
            .storage_counter("visit_storage_operations_total", "operation", "status")
            .storage_timing("visit_storage_operation_duration_seconds", "operation")
            .storage_spans("db.operation.name")
            .probe("visit_cache_entries", "cached_keys")
            .request_span("visit")
    }
}
