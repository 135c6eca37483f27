use obsim::adapters::MetricsRecorders;
use obsim::deps::futures::future::BoxFuture;
use obsim::{ClientContext, Contract, Invocation, MetricsResponse, NodeContext, Storage, System};
use obsim_example_http_gateway::{self as gw, metrics::DURATION_BUCKETS_SECONDS as BUCKETS};

struct SimStore(Storage); // the gateway's store on obsim's disk: faults and ground truth
impl gw::TaskStore for SimStore {
    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(id).await.map_err(|e| e.to_string())
    }
    async fn put(&self, id: &str, task: Vec<u8>) -> Result<(), String> {
        self.0.put(id, task).await.map_err(|e| e.to_string())
    }
}

pub struct Gateway(gw::Config, MetricsRecorders); // a `metrics` recorder per node incarnation
pub fn new(config: gw::Config) -> Gateway {
    Gateway(config, MetricsRecorders::with_buckets(&BUCKETS))
}

impl System for Gateway {
    fn run_scope(&self, run: &mut dyn FnMut()) {
        self.1.scope(run)
    }

    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let handle = self.1.for_this_node(); // what the gateway's own `/metrics` renders
        let store = SimStore(node.storage.clone());
        let gateway = gw::Gateway::new(store, self.0.clone(), handle.clone());
        node.serve_metrics(move || MetricsResponse::prometheus_text(handle.render()));
        Box::pin(async move { gw::serve(gateway, node.addr).await.expect("serving") })
    }

    fn drive(&self, mut client: ClientContext) -> BoxFuture<'static, ()> {
        let handle = self.1.for_this_node();
        client.serve_metrics(move || MetricsResponse::prometheus_text(handle.render()));
        let gateway = gw::GatewayClient::new(client.servers.clone(), self.0.clone());
        Box::pin(async move {
            let task = |c: Invocation| {
                let id = format!("task-{}", c.key);
                let request = match c.operation.as_str() {
                    "put" => gw::TaskRequest::Put(id, gw::Task::new(format!("#{}", c.number))),
                    _ => gw::TaskRequest::Get(id),
                };
                gateway.send(c.number as usize, request)
            };
            client.run_requests("task", task).await
        })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            .operations(["get", "put"])
            .outcomes(["ok", "error"])
            .storage_counter("gateway_store_operations_total", "operation", "status")
            .storage_timing("gateway_store_operation_duration_seconds", "operation")
            .storage_spans("db.operation.name")
            .request_span("task")
            .call_timing("gateway_client_request_duration_seconds", "")
            .accurate(r#"final(gateway_client_requests_total{status="ok"}) == outcomes.ok"#)
            .accurate(r#"final(gateway_client_requests_total{status="error"}) == outcomes.error"#)
            .accurate(r#"final(gateway_requests_total{route="/v1/tasks/{id}",status="ok"}) == storage.ok"#)
            .accurate(r#"final(gateway_requests_total{route="/v1/tasks/{id}",status="error"}) == storage.failed"#)
            .non_negative("http_server_active_requests")
            // TODO(span-ties): the metrics tied to spans, and `/metrics` scraped over HTTP, go here.
            .unchecked("http_server_request_duration_seconds", NEXT)
            .unchecked("gateway_client_attempts_total", NEXT)
    }
}

const NEXT: &str = "tied to the spans in the next step";
