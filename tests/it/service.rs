//! The service as infrastructure sees it: health, reflection, request ids, limits.

use liaison_server::pb;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::common::{Backend, TestServer, World};
use crate::on_both_databases;

on_both_databases!(
    health_reflection_and_request_ids,
    oversized_requests_are_refused
);

async fn health_reflection_and_request_ids(backend: Backend) {
    let server = TestServer::start(&backend).await;
    let mut health = HealthClient::new(server.channel());
    for service in ["", "liaison.v1.CaseService", "liaison.v1.AuditService"] {
        let mut status = ServingStatus::Unknown;
        for _ in 0..50 {
            match health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
            {
                Ok(r) if r.get_ref().status == ServingStatus::Serving as i32 => {
                    status = ServingStatus::Serving;
                    break;
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut reflection = ServerReflectionClient::new(server.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "liaison.v1.AuthService",
        "liaison.v1.CaseService",
        "liaison.v1.AuditService",
        "liaison.v1.StatsService",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }

    // The older v1alpha protocol too, which grpcurl before 1.9 and grpcio-reflection speak: the
    // services, and the file that defines one (what `grpcurl describe` asks for).
    {
        use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
        let ask = |message| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        };
        let mut reflection = ServerReflectionClient::new(server.channel());
        let mut stream = reflection
            .server_reflection_info(tokio_stream::iter(vec![
                ask(MessageRequest::ListServices(String::new())),
                ask(MessageRequest::FileContainingSymbol(
                    "liaison.v1.CaseService".into(),
                )),
            ]))
            .await
            .unwrap()
            .into_inner();
        let listed = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = listed.message_response else {
            panic!("unexpected v1alpha reflection answer");
        };
        assert!(list
            .service
            .iter()
            .any(|s| s.name == "liaison.v1.CaseService"));
        let file = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(files)) = file.message_response else {
            panic!("no file descriptor over v1alpha");
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }

    // A request id sent by the client comes back, on success and on failure.
    let mut request = tonic::Request::new(pb::LoginRequest {
        username: "nobody".into(),
        password: "x".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "trace-123".parse().unwrap());
    let status = server.anonymous().auth().login(request).await.unwrap_err();
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "trace-123");
    server.stop().await;
}

async fn oversized_requests_are_refused(backend: Backend) {
    let w = World::new(backend).await;
    let mut huge = w.referral("Huge", pb::Priority::Routine);
    huge.summary = "x".repeat(2 * 1024 * 1024);
    let status = w.officer_in.cases().file_referral(huge).await.unwrap_err();
    // tonic answers an oversized message with OUT_OF_RANGE, naming the size and the limit.
    assert_eq!(
        status.code(),
        tonic::Code::OutOfRange,
        "{}",
        status.message()
    );
    assert!(status.message().contains("1048576"), "{}", status.message());
    // The server is still fine.
    w.file(&w.officer_in, "After the huge one", pb::Priority::Routine)
        .await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_and_audit_appends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config: &mut liaison_server::config::Config| config.metrics_listen = Some(metrics_addr),
        None,
    )
    .await;
    let denied = server
        .anonymous()
        .cases()
        .get_case(pb::GetCaseRequest { id: "x".into() })
        .await;
    assert!(denied.is_err());
    server
        .anonymous()
        .auth()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap();

    let mut body = String::new();
    for _ in 0..50 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(metrics_addr).await {
            stream
                .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            stream.read_to_string(&mut body).await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    for expected in [
        r#"liaison_calls_total{code="Unauthenticated",method="liaison.v1.CaseService/GetCase"} 1"#,
        r#"liaison_calls_total{code="Ok",method="liaison.v1.AuthService/GetPublicKeys"} 1"#,
        "liaison_call_duration_seconds_bucket",
        r#"liaison_audit_refusals_counted_total{code="Unauthenticated",method="liaison.v1.CaseService/GetCase"} 1"#,
        r#"liaison_audit_append_seconds_count{outcome="ALLOWED"}"#,
        r#"liaison_db_pool_connections{state="open"} 1"#,
    ] {
        assert!(body.contains(expected), "missing {expected} in:\n{body}");
    }
    server.stop().await;
}
