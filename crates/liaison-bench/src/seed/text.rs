//! Synthetic but plausible case text, assembled from small word lists. Nothing here is about a real
//! person, company or operation.

use super::rng::Rng;
use liaison_server::model::Category;

const DRUG_SUBJECTS: &[&str] = &[
    "Precursor shipment",
    "Fentanyl analogue consignment",
    "Cocaine concealed in machinery",
    "Methamphetamine courier network",
    "Heroin in textile containers",
    "Tramadol parcels",
    "Ketamine diversion",
    "Synthetic opioid pill press",
    "Cannabis resin in produce",
    "Pseudoephedrine bulk order",
];

const FRAUD_SUBJECTS: &[&str] = &[
    "Investment scam",
    "Invoice redirection fraud",
    "Romance scam proceeds",
    "Money mule accounts",
    "Trade-based laundering",
    "Student visa fee fraud",
    "Call-centre impersonation",
    "Crypto exchange laundering",
    "Forged letters of credit",
    "Pension transfer fraud",
];

const CYBER_SUBJECTS: &[&str] = &[
    "Ransomware affiliate",
    "Phishing kit operators",
    "Business email compromise",
    "Botnet command servers",
    "SIM-swap ring",
    "Credential-stuffing service",
    "Tech-support scam infrastructure",
    "Sextortion network",
    "Carding forum vendor",
    "Cryptojacking campaign",
];

const INDIAN_PLACES: &[&str] = &[
    "Mumbai",
    "Delhi",
    "Kolkata",
    "Chennai",
    "Amritsar",
    "Kochi",
    "Hyderabad",
    "Ahmedabad",
    "Nhava Sheva port",
    "Bengaluru",
];

const CANADIAN_PLACES: &[&str] = &[
    "Vancouver",
    "Toronto",
    "Montreal",
    "Calgary",
    "Brampton",
    "Surrey",
    "Halifax port",
    "Winnipeg",
    "Ottawa",
    "Pearson airport",
];

const LINKS: &[&str] = &[
    "via",
    "linked to",
    "routed through",
    "traced to",
    "bound for",
];

const VEHICLES: &[&str] = &[
    "courier parcels",
    "sea containers",
    "air cargo",
    "a freight forwarder",
    "shell companies",
    "prepaid cards",
    "cryptocurrency wallets",
    "hawala brokers",
    "rented servers",
    "burner phones",
];

const ASKS: &[&str] = &[
    "Requesting subscriber and account records.",
    "Requesting checks on the named consignee.",
    "Requesting travel history of the two suspects.",
    "Requesting any intelligence held on the company.",
    "Requesting preservation of the listed accounts.",
    "Requesting a controlled-delivery decision.",
    "Requesting confirmation of the suspects' identities.",
    "Requesting bank records for the listed transfers.",
];

const SOURCES: &[&str] = &[
    "a customs seizure",
    "an informant report",
    "a bank's suspicious transaction report",
    "a victim complaint",
    "an intercepted parcel",
    "a partner agency tip-off",
    "open-source research",
    "a forensic image of a seized phone",
];

const NOTE_OPENINGS: &[&str] = &[
    "Spoke with the case officer:",
    "Update:",
    "Checked our records:",
    "For the file:",
    "Following the call this morning:",
    "Analyst note:",
];

const NOTE_FINDINGS: &[&str] = &[
    "the consignee address matches an earlier seizure.",
    "two of the accounts were opened with the same passport.",
    "no trace of the company in our registers.",
    "the phone number is linked to three other reports.",
    "the shipment was released before the hold arrived.",
    "the suspect travelled twice in the last month.",
    "funds were moved on within hours of arrival.",
    "the server hosting provider has confirmed preservation.",
];

const NOTE_NEXT: &[&str] = &[
    "Will follow up next week.",
    "Awaiting the lab report.",
    "Supervisor informed.",
    "No further action for now.",
    "Requested a warrant.",
    "",
];

const DECLINE_REASONS: &[&str] = &[
    "Outside our jurisdiction; the matter belongs to a provincial service.",
    "Insufficient detail to act on; refile with identifiers.",
    "Duplicate of a referral already under way.",
    "Not a criminal matter under our law.",
];

const QUESTIONS: &[&str] = &[
    "Can you confirm the date of birth of the main suspect?",
    "Which courier company carried the parcels?",
    "Do you hold the full transaction list for the accounts?",
    "Is there a photograph of the seized packaging?",
    "Can you share the device identifiers?",
];

const ANSWERS: &[&str] = &[
    "Confirmed; details attached to the shared notes.",
    "DHL, three waybills, listed in the file.",
    "Yes, the list covers the last six months.",
    "Photographs sent through the secure channel.",
    "Identifiers provided; two more devices pending.",
];

const REOPEN_REASONS: &[&str] = &[
    "New evidence links the suspect to a further shipment.",
    "The partner agency reported a related seizure.",
];

const WITHDRAW_REASONS: &[&str] = &[
    "Resolved domestically.",
    "Referral filed on the wrong channel.",
    "The suspect was arrested locally.",
];

const GIVEN_NAMES_IN: &[&str] = &[
    "Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Meera", "Arjun", "Kavya", "Sanjay", "Neha",
];
const FAMILY_NAMES_IN: &[&str] = &[
    "Sharma", "Iyer", "Singh", "Patel", "Reddy", "Nair", "Gupta", "Das", "Menon", "Kapoor",
];
const GIVEN_NAMES_CA: &[&str] = &[
    "Liam", "Emma", "Noah", "Olivia", "Lucas", "Chloé", "Ethan", "Maya", "Gabriel", "Sarah",
];
const FAMILY_NAMES_CA: &[&str] = &[
    "Tremblay",
    "Martin",
    "Roy",
    "Wilson",
    "Gagnon",
    "Smith",
    "Côté",
    "Brown",
    "Lee",
    "MacDonald",
];

fn one<'a>(rng: &mut Rng, words: &[&'a str]) -> &'a str {
    rng.pick(words).copied().unwrap_or_default()
}

fn places(country: &str) -> &'static [&'static str] {
    if country == "IN" {
        INDIAN_PLACES
    } else {
        CANADIAN_PLACES
    }
}

/// A case title and summary for a referral from `from_country` to `to_country`.
pub fn case_text(
    rng: &mut Rng,
    category: Category,
    from_country: &str,
    to_country: &str,
) -> (String, String) {
    let subjects = match category {
        Category::Drugs => DRUG_SUBJECTS,
        Category::Fraud => FRAUD_SUBJECTS,
        Category::Cyber => CYBER_SUBJECTS,
    };
    let subject = one(rng, subjects);
    let origin = one(rng, places(from_country));
    let destination = one(rng, places(to_country));
    let title = format!("{subject} {} {destination}", one(rng, LINKS));
    let mut summary = format!(
        "{subject} identified in {origin} after {}, moving through {} towards {destination}.",
        one(rng, SOURCES),
        one(rng, VEHICLES),
    );
    if let Some(finding) = one(rng, NOTE_FINDINGS).strip_prefix("the ") {
        summary.push_str(&format!(" Early checks show the {finding}"));
    }
    summary.push(' ');
    summary.push_str(one(rng, ASKS));
    (title, summary)
}

pub fn note_body(rng: &mut Rng) -> String {
    let next = one(rng, NOTE_NEXT);
    let body = format!("{} {}", one(rng, NOTE_OPENINGS), one(rng, NOTE_FINDINGS));
    if next.is_empty() {
        body
    } else {
        format!("{body} {next}")
    }
}

pub fn decline_reason(rng: &mut Rng) -> String {
    one(rng, DECLINE_REASONS).to_string()
}

pub fn question(rng: &mut Rng) -> String {
    one(rng, QUESTIONS).to_string()
}

pub fn answer(rng: &mut Rng) -> String {
    one(rng, ANSWERS).to_string()
}

pub fn reopen_reason(rng: &mut Rng) -> String {
    one(rng, REOPEN_REASONS).to_string()
}

pub fn withdraw_reason(rng: &mut Rng) -> Option<String> {
    rng.chance(0.6)
        .then(|| one(rng, WITHDRAW_REASONS).to_string())
}

/// A person's name for a user of an agency in `country`.
pub fn person(rng: &mut Rng, country: &str) -> String {
    let (given, family) = if country == "IN" {
        (GIVEN_NAMES_IN, FAMILY_NAMES_IN)
    } else {
        (GIVEN_NAMES_CA, FAMILY_NAMES_CA)
    };
    format!("{} {}", one(rng, given), one(rng, family))
}
