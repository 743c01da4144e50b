//! How results are shown: aligned tables and key-value blocks for people (colour only on a terminal
//! without `NO_COLOR`), or one JSON document per command.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::error::CliError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables for people
    Table,
    /// One JSON document per command
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Red,
    Yellow,
    Green,
    Cyan,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Yellow => "33",
            Style::Green => "32",
            Style::Cyan => "36",
        }
    }
}

/// Colour for a stream: only a terminal, and only when `NO_COLOR` is unset or empty.
pub fn colour_for(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn paint(enabled: bool, text: &str, style: Style) -> String {
    if enabled && !text.is_empty() {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_string()
    }
}

pub struct Output {
    pub format: Format,
    colour: bool,
    pub now: DateTime<Utc>,
}

impl Output {
    pub fn new(format: Format) -> Output {
        Output {
            format,
            colour: colour_for(std::io::stdout().is_terminal()),
            now: Utc::now(),
        }
    }

    pub fn json_mode(&self) -> bool {
        self.format == Format::Json
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        paint(self.colour, text, style)
    }

    /// Writes text to standard output as it is.
    pub fn print(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    /// One JSON document, pretty-printed.
    pub fn json(&self, value: &Value) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Other(format!("encoding JSON: {e}")))?;
        self.print(&text)
    }

    /// The JSON document in JSON mode; the text from `table` otherwise.
    pub fn show(
        &self,
        value: impl FnOnce() -> Value,
        table: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json_mode() {
            self.json(&value())
        } else {
            self.print(&table())
        }
    }

    /// A note for people on standard error, such as how to see the next page; never in JSON mode's
    /// standard output.
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    pub fn relative(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| relative(self.now, t)).unwrap_or_default()
    }

    /// A table's text: columns padded by display width, the last one not padded.
    pub fn table(&self, table: &Table) -> String {
        let columns = table.header.len();
        let mut widths: Vec<usize> = table.header.iter().map(|h| h.width()).collect();
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.text.width());
            }
        }
        let header: Vec<Cell> = table
            .header
            .iter()
            .map(|h| Cell::styled(*h, Some(Style::Bold)))
            .collect();
        let mut text = self.row(&widths, &header);
        for row in &table.rows {
            text.push_str(&self.row(&widths, &row[..row.len().min(columns)]));
        }
        text
    }

    /// One line of a table: each cell but the last padded to its column's display width (a cell
    /// wider than its column pushes the rest along), two spaces between columns.
    pub fn row(&self, widths: &[usize], cells: &[Cell]) -> String {
        let mut out = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(&match cell.style {
                Some(style) => self.paint(&cell.text, style),
                None => cell.text.clone(),
            });
            if i < last {
                let width = widths.get(i).copied().unwrap_or(0);
                out.push_str(&" ".repeat(width.saturating_sub(cell.text.width()) + 2));
            }
        }
        let mut line = out.trim_end().to_string();
        line.push('\n');
        line
    }

    /// Label-value lines, labels padded to one width.
    pub fn fields(&self, fields: &[(&str, String)]) -> String {
        let width = fields.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
        let mut text = String::new();
        for (label, value) in fields {
            let pad = " ".repeat(width - label.width());
            let mut lines = value.lines();
            let first = lines.next().unwrap_or_default();
            text.push_str(&format!(
                "{}{pad}  {first}\n",
                self.paint(label, Style::Bold)
            ));
            for more in lines {
                text.push_str(&format!("{}  {more}\n", " ".repeat(width)));
            }
        }
        text
    }
}

pub struct Cell {
    pub text: String,
    pub style: Option<Style>,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Option<Style>) -> Cell {
        Cell {
            text: clean(&text.into()),
            style,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::styled(text, None)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::styled(text, None)
    }
}

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }
}

/// Whether `c` is an invisible format character that can make text read as something else: the
/// bidirectional controls (embeddings, overrides, isolates and marks: "Trojan Source"), zero-width
/// spaces and joiners that hide inside words, the byte-order mark, interlinear annotations and tag
/// characters. ZWNJ and ZWJ are left alone: Indic and Persian scripts, and emoji, need them, and
/// they reorder nothing.
fn deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Text from the server made safe for a terminal: each deceptive format character is shown as
/// what it is (`<U+202E>`), so the other agency cannot make a title look like something else; the
/// stored text is untouched. Control characters go through `control`.
fn visible(text: &str, control: impl Fn(char) -> Option<char>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if deceptive(c) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else if c.is_control() {
            out.extend(control(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Text from the server made safe for one table cell: control characters (a newline, an escape
/// sequence another agency typed) become spaces, deceptive format characters are shown by name.
pub fn clean(text: &str) -> String {
    visible(text, |_| Some(' '))
}

/// Multi-line text made safe for a terminal: keeps newlines and tabs, drops other control
/// characters, shows deceptive format characters by name.
pub fn clean_block(text: &str) -> String {
    visible(text, |c| matches!(c, '\n' | '\t').then_some(c))
}

/// At most `max` display columns, ending in "…" when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let text = clean(text);
    if text.width() <= max {
        return text;
    }
    let mut out = String::new();
    let mut width = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if width + w + 1 > max {
            break;
        }
        width += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// "3 min ago", "in 2 h", "just now"; a date beyond two weeks.
pub fn relative(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let seconds = (t - now).num_seconds();
    let future = seconds > 0;
    let span = seconds.unsigned_abs();
    // Rounded to the nearest unit: a token with 14 min 50 s left "renews in 15 min".
    let round = |unit: u64| (span + unit / 2) / unit;
    let amount = match span {
        0..=59 => {
            return if future {
                "in under a minute".into()
            } else {
                "just now".into()
            }
        }
        60..=3_569 => format!("{} min", round(60)),
        3_570..=129_599 => format!("{} h", round(3_600)),
        129_600..=1_209_599 => format!("{} d", round(86_400)),
        _ => return t.format("%Y-%m-%d").to_string(),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deceptive_format_characters_are_shown_by_name() {
        // "Invoice" that a right-to-left override would show as "Invoice exe.fdp".
        let title = "Invoice \u{202E}fdp.exe\u{202C} \u{200B}x";
        assert_eq!(clean(title), "Invoice <U+202E>fdp.exe<U+202C> <U+200B>x");
        assert_eq!(clean_block("line\u{2067}\none"), "line<U+2067>\none");
        // Scripts that need ZWJ and ZWNJ keep them; control characters are handled as before.
        assert_eq!(clean("क्\u{200D}ष"), "क्\u{200D}ष");
        assert_eq!(clean("a\u{1b}[31mb\nc"), "a [31mb c");
        assert_eq!(truncate("\u{202E}abc", 20), "<U+202E>abc");
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        let at = |s: i64| relative(now, now + chrono::Duration::seconds(s));
        assert_eq!(at(-5), "just now");
        assert_eq!(at(30), "in under a minute");
        assert_eq!(at(-180), "3 min ago");
        assert_eq!(at(14 * 60 + 50), "in 15 min");
        assert_eq!(at(2 * 3600 + 10), "in 2 h");
        assert_eq!(at(4 * 3600 - 30), "in 4 h");
        assert_eq!(at(7 * 86_400 - 60), "in 7 d");
        assert_eq!(at(-30 * 3600), "30 h ago");
        assert_eq!(at(3 * 86_400), "in 3 d");
        let far = now - chrono::Duration::days(40);
        assert_eq!(relative(now, far), far.format("%Y-%m-%d").to_string());
    }

    #[test]
    fn columns_align_by_display_width() {
        let out = Output {
            format: Format::Table,
            colour: false,
            now: Utc::now(),
        };
        let mut table = Table::new(&["NAME", "CODE"]);
        table.row(vec!["日本警察".into(), "JP".into()]);
        table.row(vec!["RCMP".into(), "CA".into()]);
        let text = out.table(&table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME      CODE");
        assert_eq!(lines[1], "日本警察  JP");
        assert_eq!(lines[2], "RCMP      CA");
    }

    #[test]
    fn colour_and_escapes() {
        assert_eq!(paint(false, "x", Style::Red), "x");
        assert_eq!(paint(true, "x", Style::Red), "\x1b[31mx\x1b[0m");
        assert_eq!(clean("a\x1b[2Jb\nc"), "a [2Jb c");
        assert_eq!(clean_block("a\x1b\nb"), "a\nb");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
