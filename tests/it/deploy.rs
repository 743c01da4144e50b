//! The deployment files agree with the code: they parse, name only settings the server has, and use
//! the same ports, paths and commands. (No container engine runs here, so the images themselves are
//! not built by the tests.)

use std::collections::BTreeSet;

use clap::Args;
use liaison_server::config::Config;
use serde_yaml::Value;

fn deploy(file: &str) -> String {
    std::fs::read_to_string(format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every `LIAISON_*` name the server reads.
fn known_variables() -> BTreeSet<String> {
    let command = Config::augment_args(clap::Command::new("liaisond"));
    let mut names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    // Read directly: the log filter, and the operator command's password.
    names.insert("LIAISON_LOG".into());
    names.insert("LIAISON_PASSWORD".into());
    names
}

fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("LIAISON_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        found.insert(name);
        rest = &rest[at + 8..];
    }
    found
}

fn port_of(address: &str) -> u64 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn deployment_files_name_only_real_settings() {
    let known = known_variables();
    assert!(known.contains("LIAISON_DATABASE_URL") && known.contains("LIAISON_KEY_DIR"));
    for file in [
        "Dockerfile",
        "docker-compose.yml",
        "kubernetes/liaisond.yaml",
        "liaisond.service",
    ] {
        for name in variables_in(&deploy(file)) {
            assert!(
                known.contains(&name),
                "{file} names {name}, which liaisond does not read"
            );
        }
    }
}

#[test]
fn the_image_exposes_the_default_port_and_checks_health() {
    let default_port = Config::for_data_dir("/tmp").listen.port();
    let dockerfile = deploy("Dockerfile");
    assert!(dockerfile.contains(&format!("EXPOSE {default_port}")));
    assert!(dockerfile.contains(&format!("LIAISON_LISTEN=0.0.0.0:{default_port}")));
    assert!(dockerfile.contains(r#"CMD ["liaisond", "health", "--address", "127.0.0.1:50051"]"#));
    assert!(
        dockerfile.contains("USER 10001"),
        "the runtime image runs as a non-root user"
    );
    assert!(dockerfile.contains("--bin liaisond"));
}

#[test]
fn compose_runs_postgres_and_the_server_on_one_port() {
    let compose: Value = serde_yaml::from_str(&deploy("docker-compose.yml")).unwrap();
    let server = &compose["services"]["liaisond"];
    let listen = server["environment"]["LIAISON_LISTEN"].as_str().unwrap();
    let port = port_of(listen);
    let published = server["ports"][0].as_str().unwrap();
    assert!(
        published.ends_with(&format!(":{port}")),
        "{published} publishes {port}"
    );
    let url = server["environment"]["LIAISON_DATABASE_URL"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with("postgres://") && url.contains("@postgres:5432/"),
        "{url}"
    );
    assert!(compose["services"]["postgres"].is_mapping());
    assert_eq!(
        server["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
}

#[test]
fn kubernetes_runs_two_replicas_with_probes_secrets_and_policies() {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&deploy("kubernetes/liaisond.yaml"))
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    use serde::Deserialize;
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let deployment = kind("Deployment");
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(2));
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let env = |name: &str| {
        container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
    };
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(port_of(&env("LIAISON_LISTEN").unwrap()), port);
    // The readiness probe asks the plaintext health listener the server is told to open.
    let probe: Vec<&str> = container["readinessProbe"]["exec"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        probe,
        [
            "liaisond",
            "health",
            "--address",
            env("LIAISON_HEALTH_LISTEN").unwrap().as_str()
        ]
    );
    // The signing keys come from a Secret mounted where the server looks for them.
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let keys_mount = mounts
        .iter()
        .find(|m| m["name"].as_str() == Some("keys"))
        .unwrap();
    assert_eq!(
        keys_mount["mountPath"].as_str().map(str::to_string),
        env("LIAISON_KEY_DIR")
    );
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    let keys_volume = volumes
        .iter()
        .find(|v| v["name"].as_str() == Some("keys"))
        .unwrap();
    assert!(keys_volume["secret"]["secretName"].is_string());
    assert_eq!(container["args"][1].as_str(), Some("--skip-migrations"));
    assert_eq!(
        kind("Service")["spec"]["ports"][0]["port"].as_u64(),
        Some(port)
    );
    assert_eq!(
        kind("PodDisruptionBudget")["spec"]["minAvailable"].as_u64(),
        Some(1)
    );
    let policy = kind("NetworkPolicy");
    assert_eq!(
        policy["spec"]["ingress"][0]["ports"][0]["port"].as_u64(),
        Some(port)
    );
}

#[test]
fn the_systemd_unit_starts_the_server() {
    let unit = deploy("liaisond.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/liaisond serve"));
    assert!(unit.contains("NoNewPrivileges=yes") && unit.contains("ProtectSystem=strict"));
}
