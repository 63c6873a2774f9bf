//! Editing `~/.netrc` without disturbing what others put there.
//!
//! A netrc file is a stream of whitespace-separated tokens: entries start with
//! `machine NAME` or `default` and hold `login`, `password`, `account` and
//! `macdef NAME` (a macro whose body runs to the next empty line). Entries may
//! sit on one line or span several; lines starting with `#` are comments. We
//! only ever replace or remove the entries of one machine and leave every
//! other byte of the file as it was.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// Sets the entry for `machine` to `login`/`password` in `text`, replacing an
/// existing entry for that machine in place, else adding one (before a
/// `default` entry, which has to stay last, or at the end).
pub fn set_entry(text: &str, machine: &str, login: &str, password: &str) -> String {
    let entry = format!(
        "machine {}\n  login {}\n  password {}\n",
        quote(machine),
        quote(login),
        quote(password)
    );
    let parsed = parse(text);
    let spans: Vec<(usize, usize)> = parsed
        .entries
        .iter()
        .filter(|entry| entry.is_machine(machine))
        .map(|entry| entry.span(text))
        .collect();
    if !spans.is_empty() {
        // Replace the first in place; drop later duplicates, which would only confuse.
        let mut edited = text.to_string();
        for (index, (start, end)) in spans.into_iter().enumerate().rev() {
            edited.replace_range(start..end, if index == 0 { &entry } else { "" });
        }
        return edited;
    }
    if let Some(default) = parsed.entries.iter().find(|entry| entry.name.is_none()) {
        let (start, _) = default.span(text);
        let mut edited = String::with_capacity(text.len() + entry.len());
        edited.push_str(&text[..start]);
        edited.push_str(&entry);
        if start > 0 && !text[..start].ends_with('\n') {
            // The `default` shared a line with the entry before it.
            edited.insert(start, '\n');
        }
        edited.push_str(&text[start..]);
        return edited;
    }
    let mut edited = text.to_string();
    if !edited.is_empty() && !edited.ends_with('\n') {
        edited.push('\n');
    }
    if parsed.open_macro {
        // A macro body runs to the next empty line: end it before our entry.
        edited.push('\n');
    }
    edited.push_str(&entry);
    edited
}

/// Removes every entry for `machine`; `None` when there was none.
pub fn remove_entry(text: &str, machine: &str) -> Option<String> {
    let parsed = parse(text);
    let spans: Vec<(usize, usize)> = parsed
        .entries
        .iter()
        .filter(|entry| entry.is_machine(machine))
        .map(|entry| entry.span(text))
        .collect();
    if spans.is_empty() {
        return None;
    }
    let mut edited = text.to_string();
    for (start, end) in spans.into_iter().rev() {
        edited.replace_range(start..end, "");
    }
    Some(edited)
}

/// Sets the entry in the netrc file at `path`, creating the file (mode 0600) if needed.
pub fn set_in_file(path: &Path, machine: &str, login: &str, password: &str) -> Result<()> {
    let text = read(path)?.unwrap_or_default();
    super::write_private(path, set_entry(&text, machine, login, password).as_bytes())
}

/// Removes the entries of `machine` from the netrc file at `path`; says whether there were any.
pub fn remove_from_file(path: &Path, machine: &str) -> Result<bool> {
    let Some(text) = read(path)? else {
        return Ok(false);
    };
    match remove_entry(&text, machine) {
        Some(edited) => super::write_private(path, edited.as_bytes()).map(|()| true),
        None => Ok(false),
    }
}

fn read(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::file("cannot read", path)(error)),
    }
}

/// A value as a netrc token: bare when it can be, else double-quoted.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return value.to_string();
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

struct Parsed {
    entries: Vec<Entry>,
    /// The file ends inside a macro body (no empty line after it).
    open_macro: bool,
}

/// One `machine NAME …` or `default …` entry, by byte offsets.
struct Entry {
    /// `None` for `default`.
    name: Option<String>,
    start: usize,
    /// The end of its last token (or macro body).
    end: usize,
}

impl Entry {
    fn is_machine(&self, machine: &str) -> bool {
        self.name
            .as_deref()
            .is_some_and(|name| name.eq_ignore_ascii_case(machine))
    }

    /// The bytes to cut to remove this entry: whole lines when it has its
    /// lines to itself, else just its tokens and the blanks after them.
    fn span(&self, text: &str) -> (usize, usize) {
        let line_start = text[..self.start].rfind('\n').map_or(0, |i| i + 1);
        let start = if text[line_start..self.start].trim().is_empty() {
            line_start
        } else {
            self.start
        };
        let rest = &text[self.end..];
        let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let end = match rest[blanks..].chars().next() {
            None => text.len(),
            Some('\n') => self.end + blanks + 1,
            Some('\r') if rest[blanks..].starts_with("\r\n") => self.end + blanks + 2,
            // Another token on the same line: keep it, drop the blanks before it.
            Some(_) => self.end + blanks,
        };
        (start, end)
    }
}

struct Token {
    text: String,
    start: usize,
    end: usize,
}

fn parse(text: &str) -> Parsed {
    let mut tokens = Tokens { text, pos: 0 };
    let mut entries: Vec<Entry> = Vec::new();
    let mut open_macro = false;
    while let Some(token) = tokens.next() {
        match token.text.as_str() {
            "machine" => {
                let name = tokens.next();
                let end = name.as_ref().map_or(token.end, |name| name.end);
                entries.push(Entry {
                    name: Some(name.map(|name| name.text).unwrap_or_default()),
                    start: token.start,
                    end,
                });
            }
            "default" => entries.push(Entry {
                name: None,
                start: token.start,
                end: token.end,
            }),
            "macdef" => {
                let name_end = tokens.next().map_or(token.end, |name| name.end);
                let (body_end, closed) = tokens.skip_macro_body(name_end);
                open_macro = !closed;
                if let Some(entry) = entries.last_mut() {
                    entry.end = body_end;
                }
                continue;
            }
            _ => {
                if let Some(entry) = entries.last_mut() {
                    entry.end = token.end;
                }
            }
        }
        open_macro = false;
    }
    Parsed {
        entries,
        open_macro,
    }
}

struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl Tokens<'_> {
    fn next(&mut self) -> Option<Token> {
        let bytes = self.text.as_bytes();
        loop {
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return None;
            }
            let line_start = self.text[..self.pos].rfind('\n').map_or(0, |i| i + 1);
            if bytes[self.pos] == b'#' && self.text[line_start..self.pos].trim().is_empty() {
                self.pos = self.text[self.pos..]
                    .find('\n')
                    .map_or(bytes.len(), |i| self.pos + i);
                continue;
            }
            break;
        }
        let start = self.pos;
        let mut value = String::new();
        if bytes[start] == b'"' {
            let mut chars = self.text[start + 1..].char_indices();
            let mut end = self.text.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = start + 1 + i + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    c => value.push(c),
                }
            }
            self.pos = end;
        } else {
            let len = self.text[start..]
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(self.text.len() - start);
            value.push_str(&self.text[start..start + len]);
            self.pos = start + len;
        }
        Some(Token {
            text: value,
            start,
            end: self.pos,
        })
    }

    /// Skips a macro body: from the line after `macdef NAME` to the next empty
    /// line. Returns where the body ends and whether an empty line closed it.
    fn skip_macro_body(&mut self, after_name: usize) -> (usize, bool) {
        let Some(newline) = self.text[after_name..].find('\n') else {
            self.pos = self.text.len();
            return (self.text.len(), false);
        };
        let mut line_start = after_name + newline + 1;
        loop {
            let line_end = self.text[line_start..].find('\n').map(|i| line_start + i);
            let line = &self.text[line_start..line_end.unwrap_or(self.text.len())];
            if line.trim_end_matches('\r').is_empty() && line_end.is_some() {
                self.pos = line_start;
                return (line_start, true);
            }
            match line_end {
                Some(end) => line_start = end + 1,
                None => {
                    self.pos = self.text.len();
                    return (self.text.len(), false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "machine h.example\n  login me@x.org\n  password tok\n";

    #[test]
    fn adds_to_an_empty_file() {
        assert_eq!(set_entry("", "h.example", "me@x.org", "tok"), ENTRY);
    }

    #[test]
    fn adds_after_other_entries_and_keeps_them() {
        let text = "machine github.com login octo password gh\n# my comment\nmachine other\n\tlogin o\n\tpassword p";
        let edited = set_entry(text, "h.example", "me@x.org", "tok");
        assert_eq!(edited, format!("{text}\n{ENTRY}"));
    }

    #[test]
    fn replaces_a_multi_line_entry_in_place() {
        let text = "machine a login x password y\nmachine h.example\n  login old@x.org\n  password old\nmachine b login z password w\n";
        assert_eq!(
            set_entry(text, "h.example", "me@x.org", "tok"),
            format!("machine a login x password y\n{ENTRY}machine b login z password w\n")
        );
    }

    #[test]
    fn replaces_a_one_line_entry_and_matches_host_names_case_insensitively() {
        let text = "machine H.Example login old password old\nmachine b login z password w\n";
        assert_eq!(
            set_entry(text, "h.example", "me@x.org", "tok"),
            format!("{ENTRY}machine b login z password w\n")
        );
    }

    #[test]
    fn replaces_an_entry_sharing_a_line_with_others() {
        let text = "machine a login x password y machine h.example login o password p machine b login z password w\n";
        let edited = set_entry(text, "h.example", "me@x.org", "tok");
        assert_eq!(
            edited,
            format!("machine a login x password y {ENTRY}machine b login z password w\n")
        );
    }

    #[test]
    fn replacing_removes_duplicates() {
        let text = "machine h.example login a password a\nmachine k login k password k\nmachine h.example login b password b\n";
        assert_eq!(
            set_entry(text, "h.example", "me@x.org", "tok"),
            format!("{ENTRY}machine k login k password k\n")
        );
    }

    #[test]
    fn adds_before_the_default_entry() {
        let text = "machine a login x password y\ndefault login anonymous password guest\n";
        assert_eq!(
            set_entry(text, "h.example", "me@x.org", "tok"),
            format!(
                "machine a login x password y\n{ENTRY}default login anonymous password guest\n"
            )
        );
    }

    #[test]
    fn closes_an_open_macro_before_adding() {
        let text = "machine a login x password y\nmacdef init\ncd /pub\nbinary";
        let edited = set_entry(text, "h.example", "me@x.org", "tok");
        assert_eq!(edited, format!("{text}\n\n{ENTRY}"));
        // A macro body that mentions `machine` is not an entry.
        let text = "machine a login x\nmacdef init\nmachine h.example\n\nmachine c login c\n";
        assert_eq!(remove_entry(text, "h.example"), None);
    }

    #[test]
    fn removes_an_entry_and_its_macros_and_keeps_the_rest() {
        let text = "# keep me\nmachine a login x password y\nmachine h.example\n  login me\n  password tok\nmacdef init\ncd /\n\nmachine b login z password w\n";
        assert_eq!(
            remove_entry(text, "h.example").unwrap(),
            "# keep me\nmachine a login x password y\nmachine b login z password w\n"
        );
        assert_eq!(remove_entry(text, "nowhere"), None);
        assert_eq!(remove_entry(ENTRY, "h.example").unwrap(), "");
    }

    #[test]
    fn comments_are_not_entries() {
        let text = "# machine h.example login x password y\nmachine a login b password c\n";
        assert_eq!(remove_entry(text, "h.example"), None);
    }

    #[test]
    fn quoted_values_are_read_and_written() {
        let text = "machine \"h.example\" login \"a b\" password \"p\\\"q\"\nmachine k login k\n";
        assert_eq!(
            remove_entry(text, "h.example").unwrap(),
            "machine k login k\n"
        );
        assert_eq!(
            set_entry("", "h.example", "a b", "p\"q"),
            "machine h.example\n  login \"a b\"\n  password \"p\\\"q\"\n"
        );
    }

    #[test]
    fn file_round_trip_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join(".netrc");
        assert!(!remove_from_file(&path, "h.example").unwrap());
        fs::write(&path, "machine a login x password y\n").unwrap();
        set_in_file(&path, "h.example", "me@x.org", "tok").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("machine a login x password y\n{ENTRY}")
        );
        assert!(remove_from_file(&path, "h.example").unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "machine a login x password y\n"
        );
    }
}
