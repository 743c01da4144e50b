//! Trace export: `liaisond --otlp-endpoint` sends its handlers' spans to an OTLP/gRPC collector
//! (here, a fake one on a free port), named by the service, without request content.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liaison_server::pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::{Request, Response, Status};

/// A collector that keeps what it is sent.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_without_request_content() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .current_dir(dir.path())
        .env_remove("LIAISON_DATABASE_URL")
        .env("LIAISON_LOG_FORMAT", "json")
        .env("LIAISON_LISTEN", "127.0.0.1:0")
        .env("LIAISON_OTLP_ENDPOINT", format!("http://{collector_addr}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if json["fields"]["message"] == "liaisond serving" {
            break json["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let secret = "a password that must never leave the server";
    let refused = pb::auth_service_client::AuthServiceClient::new(channel)
        .login(pb::LoginRequest {
            username: "nobody.here".into(),
            password: secret.into(),
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);

    // A graceful stop flushes the spans still batched.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.wait().unwrap().success());

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (names, services, text) = loop {
        let received = collector.received.lock().unwrap().clone();
        let mut names = Vec::new();
        let mut services = Vec::new();
        for request in &received {
            for resource_spans in &request.resource_spans {
                if let Some(resource) = &resource_spans.resource {
                    for attribute in &resource.attributes {
                        if attribute.key == "service.name" {
                            services.push(format!("{:?}", attribute.value));
                        }
                    }
                }
                for scope in &resource_spans.scope_spans {
                    names.extend(scope.spans.iter().map(|s| s.name.clone()));
                }
            }
        }
        if names.iter().any(|n| n == "login") || std::time::Instant::now() > deadline {
            break (names, services, format!("{received:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(names.iter().any(|n| n == "login"), "spans: {names:?}");
    assert!(
        services.iter().all(|s| s.contains("liaisond")),
        "{services:?}"
    );
    assert!(!services.is_empty());
    assert!(!text.contains(secret), "the password reached a span");
    assert!(!text.contains("nobody.here"), "the username reached a span");
}
