//! The commands, grouped as people think of them; and what they share: pages, text and passwords
//! from the terminal, files or the environment, agency names.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod directory;
pub mod moves;
pub mod queue;
pub mod stats;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use liaison_proto as pb;
use serde_json::{json, Value};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::cli::Paging;
use crate::connection::Ctl;
use crate::error::CliError;
use crate::views::Agencies;

/// A list request the server pages.
pub trait PagedRequest: Clone {
    fn set_page(&mut self, size: i32, token: String);
}

/// One page of a list and the token for the next (empty on the last page).
pub trait PagedResponse {
    type Item;
    fn into_page(self) -> (Vec<Self::Item>, String);
}

macro_rules! paged {
    ($($request:ty => $response:ty, $items:ident: $item:ty;)+) => {
        $(
            impl PagedRequest for $request {
                fn set_page(&mut self, size: i32, token: String) {
                    self.page_size = size;
                    self.page_token = token;
                }
            }
            impl PagedResponse for $response {
                type Item = $item;
                fn into_page(self) -> (Vec<$item>, String) {
                    (self.$items, self.next_page_token)
                }
            }
        )+
    };
}

paged! {
    pb::ListCasesRequest => pb::ListCasesResponse, cases: pb::Case;
    pb::ListNotesRequest => pb::ListNotesResponse, notes: pb::Note;
    pb::ListCaseEventsRequest => pb::ListCaseEventsResponse, events: pb::CaseEvent;
    pb::QueryAuditLogRequest => pb::QueryAuditLogResponse, entries: pb::AuditEntry;
}

/// What a listing fetched, and where the next page starts (empty when nothing is left).
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

impl<T> Page<T> {
    /// `{"<name>": [...], "next_page_token": "..."}`.
    pub fn to_json(&self, name: &str, item: impl Fn(&T) -> Value) -> Value {
        json!({
            name: self.items.iter().map(item).collect::<Vec<_>>(),
            "next_page_token": self.next_page_token,
        })
    }

    /// For people: how to see the rest, on standard error.
    pub fn note_more(&self, ctl: &Ctl) {
        if !self.next_page_token.is_empty() && !ctl.out.json_mode() {
            ctl.out.note(&format!(
                "showing {}; more with --all, or from here with --page-token {}",
                self.items.len(),
                self.next_page_token
            ));
        }
    }
}

/// Fetches pages until `--limit` items are in (or, with `--all`, until the last page).
pub async fn fetch_pages<Req, Resp, F, Fut>(
    ctl: &mut Ctl,
    mut request: Req,
    paging: &Paging,
    rpc: F,
) -> Result<Page<Resp::Item>, CliError>
where
    Req: PagedRequest,
    Resp: PagedResponse,
    F: Fn(Channel, Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    let limit = paging.limit as usize;
    let mut items = Vec::new();
    let mut token = paging.page_token.clone().unwrap_or_default();
    loop {
        let size = if paging.all {
            paging.page_size as usize
        } else {
            (paging.page_size as usize).min(limit - items.len())
        };
        request.set_page(i32::try_from(size).unwrap_or(i32::MAX), token);
        let (page, next) = ctl.call(request.clone(), &rpc).await?.into_page();
        items.extend(page);
        token = next;
        if token.is_empty() || (!paging.all && items.len() >= limit) {
            break;
        }
    }
    Ok(Page {
        items,
        next_page_token: token,
    })
}

/// Text from a flag, a file, or standard input (to its end) when neither is given.
pub fn read_text(
    text: Option<String>,
    file: Option<&Path>,
    what: &str,
) -> Result<String, CliError> {
    if let Some(text) = text {
        return Ok(text);
    }
    if let Some(path) = file {
        return std::fs::read_to_string(path)
            .map(|t| t.trim_end().to_string())
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type the {what}; end with Ctrl-D on a line of its own:");
    }
    let mut input = String::new();
    stdin
        .lock()
        .read_to_string(&mut input)
        .map_err(|e| CliError::Other(format!("reading the {what} from standard input: {e}")))?;
    Ok(input.trim_end().to_string())
}

/// A secret: from `variable`, else asked for without echo on the terminal, else one line of
/// standard input.
pub fn read_secret(variable: &str, prompt: &str) -> Result<String, CliError> {
    if let Ok(secret) = std::env::var(variable) {
        return Ok(secret);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt)
            .map_err(|e| CliError::Other(format!("reading the password: {e}")));
    }
    read_line(prompt)
}

/// A new password: from `LIAISON_NEW_PASSWORD`, else asked for twice on the terminal, else one
/// line of standard input.
pub fn read_new_password(prompt: &str) -> Result<String, CliError> {
    if let Ok(secret) = std::env::var("LIAISON_NEW_PASSWORD") {
        return Ok(secret);
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)
            .map_err(|e| CliError::Other(format!("reading the password: {e}")))?;
        let second = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::Other(format!("reading the password: {e}")))?;
        if first != second {
            return Err(CliError::Usage("the two passwords differ".into()));
        }
        return Ok(first);
    }
    read_line(prompt)
}

fn read_line(what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Other(format!("reading standard input: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_string();
    if line.is_empty() {
        return Err(CliError::Usage(format!(
            "{} was not given (no terminal to ask on, and standard input is empty)",
            what.trim_end_matches([':', ' '])
        )));
    }
    Ok(line)
}

/// Agency codes and time zones by id, for tables: looked up at most every few minutes (the
/// session keeps them); empty when the directory cannot be read.
pub async fn agency_codes(ctl: &mut Ctl) -> Agencies {
    if ctl.out.json_mode() {
        return Agencies::default();
    }
    agency_directory(ctl).await
}

/// The same, in JSON output too.
pub async fn agency_directory(ctl: &mut Ctl) -> Agencies {
    let now = chrono::Utc::now();
    let session = ctl.session().ok().cloned();
    if let Some((codes, zones)) = session
        .as_ref()
        .and_then(|s| ctl.store.cached_agencies(s, now))
    {
        return Agencies {
            codes: codes.into_iter().collect(),
            zones: zones.into_iter().collect(),
        };
    }
    let Ok(found) = ctl
        .call(pb::ListAgenciesRequest {}, rpc!(directory.list_agencies))
        .await
    else {
        return Agencies::default();
    };
    let codes: BTreeMap<String, String> = found
        .agencies
        .iter()
        .map(|a| (a.id.clone(), a.code.clone()))
        .collect();
    let zones: BTreeMap<String, String> = found
        .agencies
        .into_iter()
        .map(|a| (a.id, a.time_zone))
        .collect();
    if let Some(session) = &session {
        ctl.store
            .cache_agencies(session, now, codes.clone(), zones.clone());
    }
    Agencies {
        codes: codes.into_iter().collect(),
        zones: zones.into_iter().collect(),
    }
}

/// A NOT_FOUND answer made on this side, exiting like the server's.
pub fn not_found(message: String) -> CliError {
    CliError::from(Status::not_found(message))
}

/// Whether `text` is a UUID (an id rather than a name).
pub fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}
