//! `liaisond health`: ask a running server's gRPC health service, for container health checks.

use liaison_server::config::Config;

/// Exits 0 when the server at `address` (default: the configured listen address) is SERVING.
pub async fn check(config: &Config, address: Option<String>) -> Result<(), String> {
    let address = address.unwrap_or_else(|| {
        // A wildcard listen address is reached on loopback.
        let mut addr = config.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        addr.to_string()
    });
    ask(&address).await
}

async fn ask(address: &str) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("bad address {address}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(3));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|e| format!("health check failed: {}", e.message()))?
        .into_inner()
        .status;
    if status == ServingStatus::Serving as i32 {
        println!("SERVING");
        Ok(())
    } else {
        Err(format!("not serving (status {status})"))
    }
}
