//! Transport security: TLS, mutual TLS, the refusal to serve plaintext off loopback, and the bound on
//! concurrent calls.

use std::time::Duration;

use liaison_server::config::Config;
use liaison_server::pb;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::common::{Backend, TestServer};

/// A CA, a server certificate for localhost and a client certificate, as PEM.
pub(crate) struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub(crate) fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Liaison test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["officer.in".to_string()]).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "officer.in");
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

pub(crate) fn write(dir: &std::path::Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

async fn agencies(channel: Channel) -> Result<(), tonic::Status> {
    pb::auth_service_client::AuthServiceClient::new(channel)
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let pki = pki();
    let files = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (
        write(files.path(), "server.pem", &pki.server_cert),
        write(files.path(), "server.key", &pki.server_key),
        write(files.path(), "ca.pem", &pki.ca),
    );
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");

    // TLS: a TLS client gets in, a plaintext one does not.
    let (c, k) = (cert.clone(), key.clone());
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config: &mut Config| {
            config.tls_cert = Some(c);
            config.tls_key = Some(k);
        },
        Some(trust.clone()),
    )
    .await;
    agencies(server.channel()).await.unwrap();
    let plaintext = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_lazy();
    assert!(agencies(plaintext).await.is_err());
    server.stop().await;

    // Mutual TLS: without a client certificate the handshake fails; with one signed by the CA it works.
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config: &mut Config| {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
            config.client_ca = Some(ca);
        },
        Some(
            trust
                .clone()
                .identity(Identity::from_pem(&pki.client_cert, &pki.client_key)),
        ),
    )
    .await;
    agencies(server.channel()).await.unwrap();
    let anonymous = Channel::from_shared(format!("https://localhost:{}", server.addr.port()))
        .unwrap()
        .tls_config(trust)
        .unwrap()
        .connect_lazy();
    assert!(agencies(anonymous).await.is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_off_loopback_needs_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_data_dir(dir.path());
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = liaison_server::serve(config.clone(), listener, std::future::pending())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("--insecure"), "{refused}");

    let mut insecure = config;
    insecure.insecure = true;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(liaison_server::serve(insecure, listener, async {
        stopped.await.ok();
    }));
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let mut ok = false;
    for _ in 0..50 {
        if agencies(channel.clone()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "an explicitly insecure server serves");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();

    let mut half = Config::for_data_dir(dir.path());
    half.tls_cert = Some(dir.path().join("cert.pem"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = liaison_server::serve(half, listener, std::future::pending())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("go together"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_concurrency_bound_are_refused() {
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config: &mut Config| {
            config.max_concurrent_calls = 1;
            config.max_concurrent_hashes = 1;
        },
        None,
    )
    .await;
    // Logins take an argon2 hash each: several at once overlap, and only one fits.
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut auth = server.anonymous().auth();
        calls.push(tokio::spawn(async move {
            auth.login(pb::LoginRequest {
                username: "nobody".into(),
                password: "some password".into(),
            })
            .await
        }));
    }
    let mut busy = 0;
    for call in calls {
        let status = call.await.unwrap().unwrap_err();
        match status.code() {
            tonic::Code::ResourceExhausted => busy += 1,
            tonic::Code::Unauthenticated => {}
            other => panic!("unexpected {other:?}: {}", status.message()),
        }
    }
    assert!(busy > 0, "some calls were refused");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_health_listener_beside_a_tls_port() {
    let pki = pki();
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = (
        write(files.path(), "server.pem", &pki.server_cert),
        write(files.path(), "server.key", &pki.server_key),
    );
    // A free loopback port for the health listener.
    let health_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let trust = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca))
        .domain_name("localhost");
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config: &mut Config| {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
            config.health_listen = Some(health_addr);
        },
        Some(trust),
    )
    .await;
    let channel = Channel::from_shared(format!("http://{health_addr}"))
        .unwrap()
        .connect_lazy();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let mut serving = false;
    for _ in 0..50 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await;
        if status.is_ok_and(|s| {
            s.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        }) {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(serving);
    // Only health is served there.
    assert!(agencies(channel).await.is_err());
    server.stop().await;
}
