//! The names of people recently read, per server (see `domain::people`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::{Person, UserId};
use crate::sync::lock;

/// How long a name is reused before it is read again.
pub const FRESH: Duration = Duration::from_secs(60);

/// The most names kept; beyond it the oldest half is dropped.
const MOST: usize = 10_000;

/// Names this server read recently.
#[derive(Debug, Default)]
pub struct PeopleCache {
    entries: Mutex<HashMap<UserId, (Person, Instant)>>,
}

impl PeopleCache {
    /// Forgets a person whose name or username just changed.
    pub fn forget(&self, id: &UserId) {
        lock(&self.entries).remove(id);
    }

    pub fn fresh(&self, ids: &[UserId]) -> (HashMap<UserId, Person>, Vec<UserId>) {
        let entries = lock(&self.entries);
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for id in ids {
            match entries.get(id) {
                Some((person, read)) if read.elapsed() < FRESH => {
                    found.insert(id.clone(), person.clone());
                }
                _ => missing.push(id.clone()),
            }
        }
        (found, missing)
    }

    pub fn keep(&self, people: &[Person]) {
        let mut entries = lock(&self.entries);
        if entries.len() + people.len() > MOST {
            let mut by_age: Vec<(UserId, Instant)> = entries
                .iter()
                .map(|(id, (_, at))| (id.clone(), *at))
                .collect();
            by_age.sort_by_key(|(_, at)| *at);
            for (id, _) in by_age.into_iter().take(MOST / 2) {
                entries.remove(&id);
            }
        }
        let now = Instant::now();
        for person in people {
            entries.insert(person.id.clone(), (person.clone(), now));
        }
    }
}
