//! The people the load is made of: the users `liaison-bench seed` created, signed in.

use std::collections::HashMap;

use liaison_proto as pb;
use serde::Deserialize;
use tonic::transport::Channel;

use crate::BenchResult;

/// What `liaison-bench seed` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Seeded {
    pub channels: Vec<SeededChannel>,
    pub users: Vec<SeededUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeededChannel {
    pub id: String,
    pub agency_codes: Vec<String>,
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeededUser {
    pub id: String,
    pub username: String,
    pub agency_code: String,
    pub role: String,
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub agency_code: String,
    pub bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

/// A channel an officer may file on, with a category it covers.
#[derive(Debug, Clone)]
pub struct Route {
    pub channel_id: String,
    pub category: pb::Category,
}

/// Everyone signed in, by role, and where each agency may file.
#[derive(Debug, Clone)]
pub struct Population {
    pub officers: Vec<Session>,
    pub supervisors: Vec<Session>,
    pub auditors: Vec<Session>,
    /// Officers' user ids by agency code (assignees).
    pub officer_ids: HashMap<String, Vec<String>>,
    /// Where each agency may file.
    pub routes: HashMap<String, Vec<Route>>,
}

fn category(name: &str) -> Option<pb::Category> {
    let name = name.trim().to_ascii_uppercase();
    pb::Category::from_str_name(&name)
        .or_else(|| pb::Category::from_str_name(&format!("CATEGORY_{name}")))
}

fn role_is(user: &SeededUser, role: &str) -> bool {
    let r = user.role.to_ascii_uppercase();
    r == role || r == format!("ROLE_{role}")
}

/// Signs every seeded officer, supervisor and auditor in.
pub async fn sign_in(
    channel: &Channel,
    seeded: &Seeded,
    password: &str,
) -> BenchResult<Population> {
    let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
    for ch in &seeded.channels {
        for code in &ch.agency_codes {
            for c in ch.categories.iter().filter_map(|c| category(c)) {
                routes.entry(code.clone()).or_default().push(Route {
                    channel_id: ch.id.clone(),
                    category: c,
                });
            }
        }
    }
    let mut officer_ids: HashMap<String, Vec<String>> = HashMap::new();
    for u in seeded.users.iter().filter(|u| role_is(u, "OFFICER")) {
        officer_ids
            .entry(u.agency_code.clone())
            .or_default()
            .push(u.id.clone());
    }
    let wanted: Vec<&SeededUser> = seeded
        .users
        .iter()
        .filter(|u| {
            ["OFFICER", "SUPERVISOR", "AUDITOR"]
                .iter()
                .any(|r| role_is(u, r))
        })
        .collect();
    let mut sessions = Vec::with_capacity(wanted.len());
    for user in wanted {
        sessions.push((user.clone(), login(channel, user, password).await?));
    }
    let by_role = |role: &str| -> Vec<Session> {
        sessions
            .iter()
            .filter(|(u, _)| role_is(u, role))
            .map(|(_, s)| s.clone())
            .collect()
    };
    let population = Population {
        officers: by_role("OFFICER"),
        supervisors: by_role("SUPERVISOR"),
        auditors: by_role("AUDITOR"),
        officer_ids,
        routes,
    };
    if population.officers.is_empty() || population.supervisors.is_empty() {
        return Err("the seeded population has no officers or no supervisors".into());
    }
    Ok(population)
}

/// Signs `user` in, waiting and trying again while the server is taking as many sign-ins as it
/// may (it starts at most `--max-sign-ins-per-second`), as a patient client would.
pub async fn login(channel: &Channel, user: &SeededUser, password: &str) -> BenchResult<Session> {
    let request = pb::LoginRequest {
        username: user.username.clone(),
        password: password.to_string(),
    };
    let mut attempts = 0;
    let tokens = loop {
        let answer = pb::auth_service_client::AuthServiceClient::new(channel.clone())
            .login(request.clone())
            .await;
        match answer {
            Ok(tokens) => break tokens.into_inner(),
            Err(s) if s.code() == tonic::Code::ResourceExhausted && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(s) => return Err(format!("sign-in of {}: {}", user.username, s.message())),
        }
    };
    Ok(Session {
        agency_code: user.agency_code.clone(),
        bearer: format!("Bearer {}", tokens.access_token)
            .parse()
            .map_err(|e| format!("token: {e}"))?,
    })
}
