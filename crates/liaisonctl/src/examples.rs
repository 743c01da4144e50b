//! An example for every command, shown at the end of its `--help`. A test parses every example
//! with the real command line, and checks that every command has one, so they cannot drift.

use clap::Command;

/// The examples by command path (`case show`), one command a line. `#` starts a comment.
const EXAMPLES: &[(&str, &str)] = &[
    ("login", "liaisonctl login --server https://liaison.example:50051 --username officer.in"),
    ("logout", "liaisonctl logout"),
    ("whoami", "liaisonctl whoami"),
    ("password", "liaisonctl password change"),
    ("password change", "liaisonctl password change   # asks for the current and the new one"),
    ("case", "liaisonctl case show IN-CA-DRUGS-2026-000001"),
    (
        "case file",
        "liaisonctl case file --category drugs --priority urgent --title \"Precursor shipment\" --summary-file summary.txt\n\
         liaisonctl case file --basis CA-IN-MLAT --item \"Waybill 1234\" --item \"Consignee\" --category fraud --priority routine --title \"Passport ring\" --summary \"...\"",
    ),
    ("case release", "liaisonctl case release IN-CA-DRUGS-2026-000001"),
    ("case approve", "liaisonctl case approve 0192f3a0-0000-7000-8000-000000000001"),
    (
        "case reject",
        "liaisonctl case reject 0192f3a0-0000-7000-8000-000000000001 --reason \"Name the source first\"",
    ),
    (
        "case show",
        "liaisonctl case show IN-CA-DRUGS-2026-000001\nliaisonctl -o json case show IN-CA-DRUGS-2026-000001",
    ),
    ("case ack", "liaisonctl case ack IN-CA-DRUGS-2026-000001"),
    (
        "case answer",
        "liaisonctl case answer IN-CA-FRAUD-2026-000007 --item 2 --outcome refused --ground not-available --text \"No such account\"",
    ),
    (
        "case decline",
        "liaisonctl case decline IN-CA-DRUGS-2026-000001 --ground minor-offence --reason \"Below the threshold\"",
    ),
    ("case assign", "liaisonctl case assign IN-CA-DRUGS-2026-000001 --to officer.ca"),
    (
        "case request-info",
        "liaisonctl case request-info IN-CA-DRUGS-2026-000001 --question \"Which port of entry?\"",
    ),
    (
        "case provide-info",
        "liaisonctl case provide-info IN-CA-DRUGS-2026-000001 --answer \"Vancouver\"",
    ),
    ("case close", "liaisonctl case close IN-CA-DRUGS-2026-000001 --resolution actioned"),
    (
        "case reopen",
        "liaisonctl case reopen IN-CA-DRUGS-2026-000001 --reason \"A second shipment\"",
    ),
    ("case withdraw", "liaisonctl case withdraw IN-CA-DRUGS-2026-000001 --reason \"Filed twice\""),
    (
        "case note",
        "liaisonctl case note IN-CA-DRUGS-2026-000001 --shared --text \"Consignment seized\"\n\
         liaisonctl case note IN-CA-DRUGS-2026-000001 --internal --file draft.txt",
    ),
    ("case preserve", "liaisonctl case preserve IN-CA-CYBER-2026-000003 --until 90d"),
    (
        "case extend-preservation",
        "liaisonctl case extend-preservation IN-CA-CYBER-2026-000003 --until 180d --reason \"MLAT request on its way\"",
    ),
    (
        "case extend-deadline",
        "liaisonctl case extend-deadline IN-CA-FRAUD-2026-000007 --to 5d --reason judicial-authorisation-pending --text \"The court sits on Monday\"",
    ),
    (
        "case supersede",
        "liaisonctl case supersede IN-CA-CYBER-2026-000003 --formal-request \"MLAT 2026/114\"",
    ),
    (
        "case mark",
        "liaisonctl case mark IN-CA-DRUGS-2026-000001 --handling H1 --reason \"Cleared for evidence\"",
    ),
    (
        "case mark-note",
        "liaisonctl case mark-note IN-CA-DRUGS-2026-000001 0192f3a0-0000-7000-8000-000000000002 --handling H1",
    ),
    ("case notes", "liaisonctl case notes IN-CA-DRUGS-2026-000001 --all"),
    ("case timeline", "liaisonctl case timeline IN-CA-DRUGS-2026-000001"),
    ("queue", "liaisonctl queue incoming --status filed"),
    (
        "queue incoming",
        "liaisonctl queue incoming --status filed,acknowledged --order due\nliaisonctl queue incoming --overdue\nliaisonctl queue incoming --due-within 2h",
    ),
    ("queue outgoing", "liaisonctl queue outgoing --category fraud --kind request\nliaisonctl queue outgoing --breached"),
    ("queue mine", "liaisonctl queue mine --status in-progress"),
    ("queue all", "liaisonctl queue all --priority urgent --limit 20"),
    ("queue approvals", "liaisonctl queue approvals\nliaisonctl queue approvals --mine --decided"),
    (
        "queue watch",
        "liaisonctl queue watch incoming --status filed\nliaisonctl -o json queue watch incoming --max-events 1",
    ),
    ("directory", "liaisonctl directory agencies"),
    ("directory agencies", "liaisonctl directory agencies"),
    ("directory channels", "liaisonctl directory channels --status active"),
    ("directory channel", "liaisonctl directory channel 0192f3a0-0000-7000-8000-000000000003"),
    (
        "directory terms",
        "liaisonctl directory terms 0192f3a0-0000-7000-8000-000000000003 --all",
    ),
    ("directory colleagues", "liaisonctl directory colleagues --role officer"),
    ("directory keys", "liaisonctl directory keys"),
    ("admin", "liaisonctl admin user list"),
    ("admin user", "liaisonctl admin user list --include-disabled"),
    ("admin user list", "liaisonctl admin user list --include-disabled"),
    (
        "admin user add",
        "liaisonctl admin user add officer.ca --display-name \"Officer Tremblay\" --role officer",
    ),
    (
        "admin user roles",
        "liaisonctl admin user roles officer.ca --role officer,supervisor\n\
         liaisonctl admin user roles admin.ca --role admin,auditor --propose --reason \"Audit cover\"",
    ),
    ("admin user rename", "liaisonctl admin user rename officer.ca \"Officer Tremblay\""),
    ("admin user disable", "liaisonctl admin user disable officer.ca"),
    ("admin user enable", "liaisonctl admin user enable officer.ca"),
    ("admin user reset-password", "liaisonctl admin user reset-password officer.ca"),
    ("admin user revoke-sessions", "liaisonctl admin user revoke-sessions officer.ca"),
    ("admin channel", "liaisonctl admin channel list"),
    ("admin channel list", "liaisonctl admin channel list --status proposed"),
    (
        "admin channel propose",
        "liaisonctl admin channel propose --partner CA-RCMP --category drugs,fraud",
    ),
    ("admin channel approve", "liaisonctl admin channel approve 0192f3a0-0000-7000-8000-000000000003"),
    ("admin channel suspend", "liaisonctl admin channel suspend 0192f3a0-0000-7000-8000-000000000003"),
    ("admin channel resume", "liaisonctl admin channel resume 0192f3a0-0000-7000-8000-000000000003"),
    (
        "admin channel term",
        "liaisonctl admin channel term propose 0192f3a0-0000-7000-8000-000000000003 --code CA-IN-MLAT --title \"Treaty on mutual legal assistance\"",
    ),
    (
        "admin channel term propose",
        "liaisonctl admin channel term propose 0192f3a0-0000-7000-8000-000000000003 --code CA-IN-MLAT --title \"Treaty on mutual legal assistance\"\n\
         liaisonctl admin channel term propose 0192f3a0-0000-7000-8000-000000000003 --kind rule --code FOUR_EYES_RELEASE\n\
         liaisonctl admin channel term propose 0192f3a0-0000-7000-8000-000000000003 --kind deadline --code ANSWER_REQUEST_URGENT --duration 12h",
    ),
    (
        "admin channel term approve",
        "liaisonctl admin channel term approve 0192f3a0-0000-7000-8000-000000000004",
    ),
    (
        "admin channel term reject",
        "liaisonctl admin channel term reject 0192f3a0-0000-7000-8000-000000000004 --reason \"Wrong treaty\"",
    ),
    (
        "admin channel term retire",
        "liaisonctl admin channel term retire 0192f3a0-0000-7000-8000-000000000004 --reason \"Superseded\"",
    ),
    (
        "stats",
        "liaisonctl stats --from 2026-01-01 --to 2027-01-01\nliaisonctl stats --from 90d --csv figures.csv\nliaisonctl -o json stats --channel 0192f3a0-0000-7000-8000-000000000003 --from 2026-10-01",
    ),
    ("admin role-change", "liaisonctl admin role-change list"),
    (
        "admin agency",
        "liaisonctl admin agency --time-zone Asia/Kolkata --holiday 2027-01-26,2027-08-15",
    ),
    ("admin role-change list", "liaisonctl admin role-change list --all"),
    (
        "admin role-change approve",
        "liaisonctl admin role-change approve 0192f3a0-0000-7000-8000-000000000005",
    ),
    (
        "admin role-change reject",
        "liaisonctl admin role-change reject 0192f3a0-0000-7000-8000-000000000005 --reason \"Not needed\"",
    ),
    ("audit", "liaisonctl audit query --case IN-CA-DRUGS-2026-000001"),
    (
        "audit query",
        "liaisonctl audit query --since 24h --outcome denied\nliaisonctl audit query --method CaseService/GetCase --min-handling H2",
    ),
    ("audit export", "liaisonctl audit export --since 2026-11-01 --out november.ndjson"),
    (
        "audit verify",
        "liaisonctl audit verify --from 1 --to 100000\nliaisonctl audit verify --checkpoint kept.json",
    ),
    ("audit checkpoint", "liaisonctl audit checkpoint --out kept.json"),
    ("completions", "liaisonctl completions bash > /etc/bash_completion.d/liaisonctl"),
];

/// The example lines for `path`, if it has any.
fn examples_of(path: &str) -> Option<&'static str> {
    EXAMPLES
        .iter()
        .find(|(command, _)| *command == path)
        .map(|(_, lines)| *lines)
}

/// `command` (the whole command line, or one of its subcommands at `path`) with each
/// subcommand's examples at the end of its help.
pub fn attach(command: Command) -> Command {
    attach_at(command, "")
}

fn attach_at(mut command: Command, path: &str) -> Command {
    if let Some(lines) = examples_of(path) {
        let lines: String = lines.lines().map(|l| format!("  {l}\n")).collect();
        command = command.after_help(format!("Examples:\n{lines}"));
    }
    command.mut_subcommands(|sub| {
        let sub_path = format!("{path} {}", sub.get_name()).trim().to_string();
        attach_at(sub, &sub_path)
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::Cli;

    /// Words as a shell would split them: double quotes group, `#` ends the command, `>` and what
    /// follows are the shell's.
    fn words(line: &str) -> Vec<String> {
        let line = line.split(" #").next().unwrap_or(line);
        let line = line.split(" >").next().unwrap_or(line);
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        words
    }

    fn paths(command: &Command, path: &str, out: &mut Vec<String>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let sub_path = format!("{path} {}", sub.get_name()).trim().to_string();
            out.push(sub_path.clone());
            paths(sub, &sub_path, out);
        }
    }

    #[test]
    fn every_command_has_an_example_that_parses() {
        let mut all = Vec::new();
        paths(&Cli::command(), "", &mut all);
        for path in &all {
            let lines = examples_of(path).unwrap_or_else(|| panic!("`{path}` has no example"));
            for line in lines.lines() {
                let words = words(line);
                assert_eq!(words[0], "liaisonctl", "{line}");
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("the example of `{path}` does not parse: {line}\n{e}");
                }
                assert!(
                    words
                        .join(" ")
                        .contains(path.split(' ').next_back().unwrap()),
                    "the example of `{path}` is another command's: {line}"
                );
            }
        }
        for (path, _) in EXAMPLES {
            assert!(all.iter().any(|p| p == path), "`{path}` is no command");
        }
    }

    #[test]
    fn a_commands_help_ends_with_its_examples() {
        let mut command = attach(Cli::command());
        let help = command
            .find_subcommand_mut("case")
            .and_then(|c| c.find_subcommand_mut("show"))
            .unwrap()
            .render_help()
            .to_string();
        assert!(
            help.contains("Examples:\n  liaisonctl case show IN-CA-DRUGS-2026-000001"),
            "{help}"
        );
    }
}
