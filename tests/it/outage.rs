//! A database outage: calls answer UNAVAILABLE, health reports NOT_SERVING, and both recover when
//! the database comes back. PostgreSQL is reached through a proxy the test can cut.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liaison_server::pb;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::common::{Backend, TestServer};

/// Forwards TCP to `target` while up; while down, drops every connection.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    pub(crate) accept: JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let (accept_up, accept_links) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                            .await
                            .ok();
                    }
                });
                accept_links.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    pub(crate) fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub(crate) fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn health_becomes(server: &TestServer, wanted: ServingStatus) {
    let mut health = HealthClient::new(server.channel());
    for _ in 0..150 {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        if status == wanted as i32 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health never became {wanted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
async fn postgres_outage_answers_unavailable_and_recovers() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let Backend::Postgres(admin_url) = &backend else {
        unreachable!()
    };
    let target = admin_url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let proxy = Proxy::start(target).await;
    let server = TestServer::start_through(&backend, Some(proxy.addr)).await;
    liaison_server::ops::add_agency(&server.state, "IN-NCB", "Narcotics Control Bureau", "IN")
        .await
        .unwrap();
    let officer = server
        .user(
            "IN-NCB",
            "officer.in",
            &[liaison_server::model::Role::Officer],
        )
        .await;
    health_becomes(&server, ServingStatus::Serving).await;
    officer
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap();

    proxy.cut();
    let status = officer
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::Unavailable,
        "{}",
        status.message()
    );
    assert!(
        !status.message().contains("127.0.0.1"),
        "no connection details leak: {}",
        status.message()
    );
    health_becomes(&server, ServingStatus::NotServing).await;

    proxy.restore();
    health_becomes(&server, ServingStatus::Serving).await;
    officer
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap();
    server.stop().await;
    proxy.accept.abort();
}
