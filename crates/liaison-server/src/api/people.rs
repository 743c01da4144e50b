//! Responses name the people they mention: each message lists the ids it carries and takes their
//! names, read once for the whole response (see `domain::people`).

use std::collections::HashMap;

use crate::domain::people;
use crate::model::{Person, UserId};
use crate::pb;
use crate::state::AppState;

/// A message that mentions people by id.
pub trait Mentions {
    /// The ids it mentions.
    fn mentioned(&self, ids: &mut Vec<UserId>);
    /// Fills in the names of the people it mentions.
    fn name(&mut self, people: &HashMap<UserId, Person>);
}

fn person(people: &HashMap<UserId, Person>, id: &str) -> Option<pb::Person> {
    people.get(&UserId::from(id)).map(|p| pb::Person {
        id: p.id.to_string(),
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        agency_code: p.agency_code.clone(),
    })
}

impl Mentions for pb::Case {
    fn mentioned(&self, ids: &mut Vec<UserId>) {
        ids.push(self.filed_by.as_str().into());
        ids.push(self.assignee_id.as_str().into());
    }

    fn name(&mut self, people: &HashMap<UserId, Person>) {
        self.filer = person(people, &self.filed_by);
        self.assignee = person(people, &self.assignee_id);
    }
}

impl Mentions for pb::Note {
    fn mentioned(&self, ids: &mut Vec<UserId>) {
        ids.push(self.author_id.as_str().into());
    }

    fn name(&mut self, people: &HashMap<UserId, Person>) {
        self.author = person(people, &self.author_id);
    }
}

impl Mentions for pb::CaseEvent {
    fn mentioned(&self, ids: &mut Vec<UserId>) {
        ids.push(self.actor_id.as_str().into());
        ids.push(self.assignee_id.as_str().into());
    }

    fn name(&mut self, people: &HashMap<UserId, Person>) {
        self.actor = person(people, &self.actor_id);
        self.assignee = person(people, &self.assignee_id);
    }
}

impl<T: Mentions> Mentions for Vec<T> {
    fn mentioned(&self, ids: &mut Vec<UserId>) {
        for item in self {
            item.mentioned(ids);
        }
    }

    fn name(&mut self, people: &HashMap<UserId, Person>) {
        for item in self {
            item.name(people);
        }
    }
}

impl<A: Mentions, B: Mentions> Mentions for (A, B) {
    fn mentioned(&self, ids: &mut Vec<UserId>) {
        self.0.mentioned(ids);
        self.1.mentioned(ids);
    }

    fn name(&mut self, people: &HashMap<UserId, Person>) {
        self.0.name(people);
        self.1.name(people);
    }
}

/// `message` with the people it mentions named.
pub async fn named<T: Mentions>(state: &AppState, mut message: T) -> T {
    let mut ids = Vec::new();
    message.mentioned(&mut ids);
    let people = people::named(state, ids).await;
    message.name(&people);
    message
}
