use obsim::adapters::MetricsRecorders;
use obsim::deps::futures::future::BoxFuture;
use obsim::{ClientContext, Contract, Invocation, MetricsResponse, NodeContext, Spans, System};
use obsim_example_http_gateway::{self as gw, TaskRequest::Get, TaskRequest::Put};

struct SimStore(obsim::Storage); // the gateway's store on obsim's disk: faults and ground truth
impl gw::TaskStore for SimStore {
    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(id).await.map_err(|e| e.to_string())
    }
    async fn put(&self, id: &str, task: Vec<u8>) -> Result<(), String> {
        self.0.put(id, task).await.map_err(|e| e.to_string())
    }
}

pub struct Gateway(pub gw::Config, MetricsRecorders); // a `metrics` recorder per node incarnation
pub fn new(config: gw::Config) -> Gateway {
    Gateway(
        config,
        MetricsRecorders::with_buckets(&gw::metrics::BUCKETS_SECONDS),
    )
}

impl System for Gateway {
    fn run_scope(&self, run: &mut dyn FnMut()) {
        self.1.scope(run)
    }
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let (handle, store) = (self.1.for_this_node(), SimStore(node.storage.clone()));
        let gateway = gw::Gateway::new(store, self.0.clone(), handle.clone());
        node.serve_metrics(move || MetricsResponse::prometheus_text(handle.render())); // at a crash
        Box::pin(async move { gw::serve(gateway, node.addr).await.expect("serving") })
    }
    fn drive(&self, mut client: ClientContext) -> BoxFuture<'static, ()> {
        let handle = self.1.for_this_node();
        client.serve_metrics(move || MetricsResponse::prometheus_text(handle.render()));
        let gateway = gw::GatewayClient::new(client.servers.clone(), self.0.clone());
        Box::pin(async move {
            let task = |c: Invocation| {
                let (id, task) = (format!("task-{}", c.key), gw::Task::new("t"));
                let put = c.operation == "put";
                gateway.send(c.number as usize, if put { Put(id, task) } else { Get(id) })
            };
            client.run_requests("task", task).await
        })
    }
    fn contract(&self) -> Contract {
        let server = Spans::of_kind("server"); // ground truth on TCP; labels match attributes by name
        let answered = server.clone().having("http.response.status_code");
        let (task, attempts) = (
            Spans::named("task"),
            Spans::of_kind("client").having("url.full"),
        );
        Contract::new()
            .operations(["get", "put"])
            .outcomes(["ok", "error"])
            .storage_counter("gateway_store_operations_total", "operation", "status")
            .storage_timing("gateway_store_operation_duration_seconds", "operation")
            .storage_spans("db.operation.name")
            .request_span("task")
            .call_timing("gateway_client_request_duration_seconds", "")
            .span_histogram("http_server_request_duration_seconds", answered.clone())
            .span_counter("gateway_requests_total", answered.status_label("status"))
            .span_gauge("http_server_active_requests", server)
            .span_counter("gateway_client_requests_total", task.status_label("status"))
            .span_counter("gateway_client_attempts_total", attempts)
            .metrics_route(obsim::APP_PORT, gw::METRICS_ROUTE) // scraped over HTTP, as Prometheus does
            .background_logs(gw::STARTUP_TARGET) // start-up lines belong to no request
    }
}
