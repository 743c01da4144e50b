//! The seeded world: two countries, four agencies, three ACTIVE channels, and each agency's
//! officers, supervisors, auditors and admin.

use super::rng::Rng;
use liaison_server::model::{
    Agency, Categories, Category, Channel, ChannelStatus, Role, Roles, Timestamp, User,
};

/// Code, name and country of each seeded agency.
const AGENCIES: [(&str, &str, &str); 4] = [
    ("IN-NCB", "Narcotics Control Bureau", "IN"),
    ("IN-CBI", "Central Bureau of Investigation", "IN"),
    ("CA-RCMP", "Royal Canadian Mounted Police", "CA"),
    ("CA-CBSA", "Canada Border Services Agency", "CA"),
];

/// The Indian agency (which proposed the channel), the Canadian one (which approved it), the
/// categories covered, and the channel's share of the cases.
const CHANNELS: [(usize, usize, &[Category], u32); 3] = [
    (
        0,
        2,
        &[Category::Drugs, Category::Fraud, Category::Cyber],
        50,
    ),
    (1, 2, &[Category::Fraud, Category::Cyber], 25),
    (0, 3, &[Category::Drugs, Category::Fraud], 25),
];

/// Share of the cases an Indian agency files (the rest go the other way).
pub const FILED_FROM_INDIA: f64 = 0.6;

/// The stream of random numbers the world draws from.
const WORLD_STREAM: u64 = 1;

/// How long before the first case the agencies, users and channels were set up.
const SETUP_DAYS_BEFORE: i64 = 30;

#[derive(Debug, Clone, Copy)]
pub struct Staffing {
    pub officers: usize,
    pub supervisors: usize,
    pub auditors: usize,
}

#[derive(Debug, Clone)]
pub struct SeededUser {
    pub user: User,
    pub agency: usize,
    pub role: Role,
    /// The host the user's calls come from.
    pub host: String,
}

#[derive(Debug, Clone)]
pub struct SeededChannel {
    pub channel: Channel,
    /// The Indian agency, then the Canadian one.
    pub parties: [usize; 2],
    pub categories: Vec<Category>,
    pub weight: u32,
}

#[derive(Debug, Clone)]
pub struct World {
    pub agencies: Vec<Agency>,
    pub users: Vec<SeededUser>,
    /// Per agency, indices into `users`.
    pub officers: Vec<Vec<usize>>,
    pub supervisors: Vec<Vec<usize>>,
    pub auditors: Vec<Vec<usize>>,
    pub admins: Vec<usize>,
    pub channels: Vec<SeededChannel>,
}

impl World {
    /// The world for `seed`, set up `SETUP_DAYS_BEFORE` days before `first_case`.
    pub fn generate(seed: u64, first_case: Timestamp, staffing: Staffing) -> World {
        let mut rng = Rng::for_item(seed, WORLD_STREAM, 0);
        let set_up = first_case - chrono::Duration::days(SETUP_DAYS_BEFORE);
        let agencies: Vec<Agency> = AGENCIES
            .iter()
            .map(|(code, name, country)| Agency {
                id: rng.uuid_v7(set_up).to_string().into(),
                code: code.to_string(),
                name: name.to_string(),
                country: country.to_string(),
                time_zone: match *country {
                    "IN" => "Asia/Kolkata",
                    _ => "America/Vancouver",
                }
                .to_string(),
                holidays: Vec::new(),
            })
            .collect();

        let mut world = World {
            officers: vec![Vec::new(); agencies.len()],
            supervisors: vec![Vec::new(); agencies.len()],
            auditors: vec![Vec::new(); agencies.len()],
            admins: Vec::new(),
            users: Vec::new(),
            channels: Vec::new(),
            agencies,
        };
        for agency in 0..world.agencies.len() {
            let staff = [
                (Role::Officer, "officer", staffing.officers),
                (Role::Supervisor, "supervisor", staffing.supervisors),
                (Role::Auditor, "auditor", staffing.auditors),
            ];
            for (role, title, count) in staff {
                for i in 0..count {
                    let index = world.add_user(&mut rng, agency, role, Some((title, i)), set_up);
                    match role {
                        Role::Officer => world.officers[agency].push(index),
                        Role::Supervisor => world.supervisors[agency].push(index),
                        _ => world.auditors[agency].push(index),
                    }
                }
            }
            let admin = world.add_user(&mut rng, agency, Role::Admin, None, set_up);
            world.admins.push(admin);
        }

        for (first, second, categories, weight) in CHANNELS {
            let proposed_by = world.admin_id(first);
            let approved_by = world.admin_id(second);
            let channel = Channel {
                id: rng.uuid_v7(set_up).to_string().into(),
                proposing_agency_id: world.agencies[first].id.clone(),
                partner_agency_id: world.agencies[second].id.clone(),
                categories: categories.iter().copied().collect::<Categories>(),
                status: ChannelStatus::Active,
                proposed_by: proposed_by.into(),
                approved_by: Some(approved_by.into()),
                suspended_by_agency_id: None,
                created_at: set_up,
                // Proposed, then approved by the partner's admin: version 2.
                updated_at: set_up + chrono::Duration::hours(1),
                version: 2,
            };
            world.channels.push(SeededChannel {
                channel,
                parties: [first, second],
                categories: categories.to_vec(),
                weight,
            });
        }
        world
    }

    fn add_user(
        &mut self,
        rng: &mut Rng,
        agency: usize,
        role: Role,
        numbered: Option<(&str, usize)>,
        created_at: Timestamp,
    ) -> usize {
        let code = self.agencies[agency].code.to_lowercase();
        let username = match numbered {
            Some((title, i)) => format!("{code}.{title}.{i}"),
            None => format!("{code}.admin"),
        };
        let index = self.users.len();
        let user = User {
            id: rng.uuid_v7(created_at).to_string().into(),
            username,
            display_name: super::text::person(rng, &self.agencies[agency].country),
            agency_id: self.agencies[agency].id.clone(),
            roles: [role].into_iter().collect::<Roles>(),
            disabled: false,
            must_change_password: false,
            created_at,
            updated_at: created_at,
        };
        self.users.push(SeededUser {
            user,
            agency,
            role,
            host: format!("10.{}.{}.{}", agency + 1, index / 250, index % 250 + 1),
        });
        index
    }

    fn admin_id(&self, agency: usize) -> String {
        self.admins
            .get(agency)
            .and_then(|&i| self.users.get(i))
            .map(|u| u.user.id.to_string())
            .unwrap_or_default()
    }

    pub fn user(&self, index: usize) -> &SeededUser {
        &self.users[index]
    }

    /// Each channel's index and share of the cases.
    pub fn channel_weights(&self) -> Vec<(usize, u32)> {
        self.channels
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.weight))
            .collect()
    }

    /// Every user who works cases (officers and supervisors), for calls not about one case.
    pub fn case_workers(&self) -> Vec<usize> {
        self.officers
            .iter()
            .chain(self.supervisors.iter())
            .flatten()
            .copied()
            .collect()
    }
}
