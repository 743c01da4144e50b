//! People by name for the ids a response carries (who filed a case, works it, wrote a note, made
//! a change), so that clients show "Asha Rao (officer.in, IN-NCB)" rather than a UUID.
//!
//! Names are read after the call, on a reader, and kept a minute per server: a response names a
//! handful of people, mostly the same ones, and a page of cases would otherwise cost a query more.
//! A rename shows at once on the server that made it and within [`repo::people::FRESH`] on the others. A name
//! that cannot be read leaves the person unnamed (the id is still there); it never fails the call.

use std::collections::HashMap;

use crate::model::{Person, UserId};
use crate::repo;
use crate::state::AppState;

/// The people among `ids` (empty ids and ids of no user are left out).
pub async fn named(state: &AppState, ids: Vec<UserId>) -> HashMap<UserId, Person> {
    let mut ids: Vec<UserId> = ids
        .into_iter()
        .filter(|id| !id.as_str().is_empty())
        .collect();
    ids.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.dedup();
    let (mut found, missing) = state.people.fresh(&ids);
    if missing.is_empty() {
        return found;
    }
    let read = async {
        let tx = state.db.begin_read().await?;
        let people = repo::users::people(&tx, &missing).await?;
        tx.commit().await?;
        Ok::<_, crate::error::AppError>(people)
    };
    match read.await {
        Ok(people) => {
            state.people.keep(&people);
            found.extend(people.into_iter().map(|p| (p.id.clone(), p)));
        }
        Err(e) => tracing::warn!(error = %e, "could not read the names of people in a response"),
    }
    found
}
