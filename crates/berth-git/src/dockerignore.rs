//! `.dockerignore` as the Docker client reads and applies it.
//!
//! - One pattern per line. A line whose first character is `#` is a comment; blank lines
//!   are skipped; surrounding whitespace is trimmed; a UTF-8 byte order mark is ignored.
//! - `!` in front re-includes what earlier lines excluded; the last matching line wins.
//! - Patterns are cleaned like paths (`./a` is `a`, `a//b/` is `a/b`) and a leading `/` is
//!   dropped: every pattern is anchored at the context root (`foo` is only `./foo`, never
//!   `sub/foo`).
//! - Globs are Go's `filepath.Match`: `*` (any run of characters but `/`), `?` (one
//!   character but `/`), `[a-c]`, `[^a-c]`, `\` escapes the next character; plus `**`,
//!   which matches any number of directories (`**/x`, `a/**/x`, `a/**`).
//! - A pattern that matches a directory matches everything below it, so `node_modules`
//!   drops the whole tree, unless a later `!` pattern re-includes some of it.
//!
//! A malformed pattern (`[a-`, `!` alone, a trailing `\`) is an error, as it is for
//! `docker build`.

use std::fmt;

/// A malformed line of a `.dockerignore` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore line {line}: {reason} in pattern {pattern:?}")]
pub struct IgnoreError {
    /// 1-based line number.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

/// The parsed patterns of one `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let error = |reason| IgnoreError {
                line: index + 1,
                pattern: line.to_string(),
                reason,
            };
            let (negated, rest) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if rest.is_empty() {
                return Err(error("nothing after `!`"));
            }
            let mut cleaned = clean(rest);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let matcher = Matcher::compile(&cleaned).map_err(error)?;
            patterns.push(Pattern {
                text: cleaned,
                negated,
                matcher,
            });
        }
        Ok(Self { patterns })
    }

    /// Whether the context-relative, `/`-separated `path` is left out of the context:
    /// the last pattern that matches it, or one of its parent directories, decides.
    pub fn is_excluded(&self, path: &str) -> bool {
        let mut excluded = false;
        for pattern in &self.patterns {
            // A pattern can only change the verdict if its sign differs from it.
            if pattern.negated != excluded {
                continue;
            }
            if pattern.matcher.matches(path) || parents(path).any(|p| pattern.matcher.matches(p)) {
                excluded = !pattern.negated;
            }
        }
        excluded
    }

    /// Whether some `!` pattern might re-include a path below the excluded directory
    /// `dir`, i.e. whether a walk has to look inside it.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns.iter().filter(|p| p.negated).any(|p| {
            let prefix = p.matcher.literal_prefix();
            prefix.starts_with(&dir_slash) || dir_slash.starts_with(prefix)
        })
    }

    /// Makes sure `path` itself is kept, as Docker does for the Dockerfile and
    /// `.dockerignore`: when the patterns exclude it, a literal `!path` is appended.
    pub fn keep(&mut self, path: &str) {
        if self.is_excluded(path) {
            self.patterns.push(Pattern {
                text: path.to_string(),
                negated: true,
                matcher: Matcher::Exact(path.to_string()),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

impl fmt::Display for DockerIgnore {
    /// The cleaned patterns, one a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.patterns {
            writeln!(f, "{}{}", if p.negated { "!" } else { "" }, p.text)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    negated: bool,
    matcher: Matcher,
}

/// The strict ancestors of a relative path: `a/b/c` gives `a`, `a/b`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Go's `path.Clean`: lexical clean-up of `.`, `..`, doubled and trailing slashes.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// One given character.
    Char(char),
    /// `?`: one character but `/`.
    AnyChar,
    /// `*`: any run of characters but `/`.
    Star,
    /// `**` followed by more pattern: nothing, or anything ending in `/`.
    AnyDirs,
    /// `**` at the end: anything.
    AnyRest,
    /// `[...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// One compiled pattern. Docker's shortcuts are kept where they change the meaning: a
/// pattern made of `**` and plain characters only (`**/foo`, `**.log`) matches by suffix.
#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    /// `lit**`: paths starting with `lit`.
    Prefix(String),
    /// `**lit`: paths ending with `lit` (or equal to it without its leading `/`).
    Suffix(String),
    Glob {
        tokens: Vec<Token>,
        literal_prefix: String,
    },
}

impl Matcher {
    fn compile(pattern: &str) -> Result<Self, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        // Whether every token so far is a plain (unescaped) character.
        let mut plain = true;
        let mut starts_with_double_star = false;
        let mut i = 0;
        while i < chars.len() {
            let at = i;
            let c = chars[i];
            i += 1;
            match c {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    starts_with_double_star |= at == 0;
                    tokens.push(if i == chars.len() {
                        Token::AnyRest
                    } else {
                        Token::AnyDirs
                    });
                }
                '*' => {
                    plain = false;
                    tokens.push(Token::Star);
                }
                '?' => {
                    plain = false;
                    tokens.push(Token::AnyChar);
                }
                '\\' => {
                    let Some(&next) = chars.get(i) else {
                        return Err("trailing `\\`");
                    };
                    i += 1;
                    plain = false;
                    tokens.push(Token::Char(next));
                }
                '[' => {
                    plain = false;
                    let (token, next) = parse_class(&chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                _ => tokens.push(Token::Char(c)),
            }
        }
        let wildcards = tokens
            .iter()
            .filter(|t| matches!(t, Token::AnyDirs | Token::AnyRest))
            .count();
        if plain {
            if wildcards == 0 {
                return Ok(Self::Exact(pattern.to_string()));
            }
            if starts_with_double_star && wildcards == 1 {
                return Ok(Self::Suffix(pattern[2..].to_string()));
            }
            if wildcards == 1 && tokens.last() == Some(&Token::AnyRest) {
                return Ok(Self::Prefix(pattern[..pattern.len() - 2].to_string()));
            }
        }
        let literal_prefix = tokens
            .iter()
            .map_while(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect();
        Ok(Self::Glob {
            tokens,
            literal_prefix,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(text) => path == text,
            Self::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || suffix.strip_prefix('/') == Some(path)
            }
            Self::Glob { tokens, .. } => glob_match(tokens, path),
        }
    }

    /// What every path this pattern matches starts with.
    fn literal_prefix(&self) -> &str {
        match self {
            Self::Exact(text) | Self::Prefix(text) => text,
            Self::Suffix(_) => "",
            Self::Glob { literal_prefix, .. } => literal_prefix,
        }
    }
}

/// Parses a character class whose `[` is just before `start`; returns the token and the
/// index after its `]`. Go's rules: optional `^`, then one or more `c` or `lo-hi` items,
/// `\` escaping; `-` or `]` where an item starts is an error.
fn parse_class(chars: &[char], start: usize) -> Result<(Token, usize), &'static str> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match chars.get(i) {
            None => return Err("unterminated character class"),
            Some(']') if !ranges.is_empty() => {
                return Ok((Token::Class { negated, ranges }, i + 1))
            }
            _ => {}
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            hi = h;
            i = next;
            if hi < lo {
                return Err("bad range in character class");
            }
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &[char], i: usize) -> Result<(char, usize), &'static str> {
    match chars.get(i) {
        None => Err("unterminated character class"),
        Some('-') | Some(']') => Err("bad character class"),
        Some('\\') => match chars.get(i + 1) {
            Some(&c) => Ok((c, i + 2)),
            None => Err("unterminated character class"),
        },
        Some(&c) => Ok((c, i + 1)),
    }
}

/// Whether `tokens` match all of `path`. Dynamic programming over (token, position), so
/// patterns with many `*` stay linear-ish.
fn glob_match(tokens: &[Token], path: &str) -> bool {
    let text: Vec<char> = path.chars().collect();
    let n = text.len();
    // reach[j]: the tokens seen so far can match text[..j].
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; n + 1];
        match token {
            Token::Char(c) => {
                for j in 0..n {
                    next[j + 1] = reach[j] && text[j] == *c;
                }
            }
            Token::AnyChar => {
                for j in 0..n {
                    next[j + 1] = reach[j] && text[j] != '/';
                }
            }
            Token::Class { negated, ranges } => {
                for j in 0..n {
                    let inside = ranges
                        .iter()
                        .any(|&(lo, hi)| lo <= text[j] && text[j] <= hi);
                    next[j + 1] = reach[j] && inside != *negated;
                }
            }
            Token::Star => {
                next[0] = reach[0];
                for j in 0..n {
                    next[j + 1] = reach[j + 1] || (next[j] && text[j] != '/');
                }
            }
            Token::AnyRest => {
                let mut seen = false;
                for j in 0..=n {
                    seen |= reach[j];
                    next[j] = seen;
                }
            }
            Token::AnyDirs => {
                // Either nothing, or anything that ends with `/`.
                let mut seen = false;
                for j in 0..=n {
                    next[j] = reach[j] || (seen && j > 0 && text[j - 1] == '/');
                    seen |= reach[j];
                }
            }
        }
        reach = next;
    }
    reach[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    fn excluded(text: &str, path: &str) -> bool {
        ignore(text).is_excluded(path)
    }

    #[test]
    fn an_empty_file_excludes_nothing() {
        let di = ignore("");
        assert!(di.is_empty());
        assert!(!di.is_excluded("a"));
        assert!(!di.is_excluded("a/b"));
    }

    #[test]
    fn comments_blank_lines_and_whitespace() {
        let di = ignore("# a comment\n\n   \n  secret.txt  \r\n\t# not a comment\n");
        assert_eq!(di.to_string(), "secret.txt\n# not a comment\n");
        assert!(di.is_excluded("secret.txt"));
        assert!(!di.is_excluded("# a comment"));
        assert!(di.is_excluded("# not a comment"));
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert!(excluded("\u{feff}target\n", "target"));
    }

    #[test]
    fn star_md_but_readme() {
        let di = ignore("*.md\n!README.md\n");
        assert!(di.is_excluded("CHANGELOG.md"));
        assert!(!di.is_excluded("README.md"));
        // `*` does not cross directories and patterns are anchored at the root.
        assert!(!di.is_excluded("docs/guide.md"));
        assert!(!di.is_excluded("main.rs"));
    }

    #[test]
    fn later_lines_win() {
        assert!(!excluded("*.md\n!README.md\n", "README.md"));
        assert!(excluded("!README.md\n*.md\n", "README.md"));
        assert!(excluded("*.md\n!README.md\nREADME.md\n", "README.md"));
    }

    #[test]
    fn double_star_matches_any_depth() {
        let di = ignore("**/*.log");
        assert!(di.is_excluded("a.log"));
        assert!(di.is_excluded("logs/a.log"));
        assert!(di.is_excluded("a/b/c/d.log"));
        assert!(!di.is_excluded("a.log.txt"));
        assert!(!di.is_excluded("logs/a.txt"));
    }

    #[test]
    fn double_star_in_the_middle_and_at_the_end() {
        let di = ignore("a/**/z\n");
        assert!(di.is_excluded("a/z"));
        assert!(di.is_excluded("a/b/z"));
        assert!(di.is_excluded("a/b/c/z"));
        assert!(!di.is_excluded("a/bz"));
        assert!(!di.is_excluded("b/a/z"));

        let di = ignore("dir/**");
        assert!(di.is_excluded("dir/file"));
        assert!(di.is_excluded("dir/sub/file"));
        // The directory itself stays (empty), as with Docker.
        assert!(!di.is_excluded("dir"));
        assert!(!di.is_excluded("dirt"));
    }

    #[test]
    fn double_star_prefix_of_plain_names_matches_by_suffix() {
        let di = ignore("**/foo");
        assert!(di.is_excluded("foo"));
        assert!(di.is_excluded("a/foo"));
        assert!(di.is_excluded("a/b/foo/c"));
        assert!(!di.is_excluded("a/foobar"));
        // Docker's suffix shortcut: `**.tmp` is any path ending in `.tmp`.
        let di = ignore("**.tmp");
        assert!(di.is_excluded("x.tmp"));
        assert!(di.is_excluded("a/b/x.tmp"));
        assert!(ignore("**").is_excluded("anything/at/all"));
    }

    #[test]
    fn a_directory_pattern_excludes_its_contents() {
        let di = ignore("node_modules");
        assert!(di.is_excluded("node_modules"));
        assert!(di.is_excluded("node_modules/left-pad/index.js"));
        assert!(!di.is_excluded("src/node_modules"));
        assert!(!di.is_excluded("node_modules_old"));
    }

    #[test]
    fn a_trailing_slash_is_cleaned_away() {
        let di = ignore("build/\n");
        assert_eq!(di.to_string(), "build\n");
        assert!(di.is_excluded("build"));
        assert!(di.is_excluded("build/out.o"));
        assert!(!di.is_excluded("src/build"));
    }

    #[test]
    fn a_leading_slash_and_dot_segments_are_dropped() {
        let di = ignore("/tmp\n./cache\nsrc/../logs\n!/tmp/keep\n");
        assert_eq!(di.to_string(), "tmp\ncache\nlogs\n!tmp/keep\n");
        assert!(di.is_excluded("tmp"));
        assert!(di.is_excluded("tmp/x"));
        assert!(!di.is_excluded("tmp/keep"));
        assert!(di.is_excluded("cache/y"));
        assert!(di.is_excluded("logs"));
        assert!(!di.is_excluded("src/tmp"));
    }

    #[test]
    fn question_mark_and_classes() {
        let di = ignore("file?.txt\nlog[a-c]\nv[^0-9]\n");
        assert!(di.is_excluded("file1.txt"));
        assert!(!di.is_excluded("file10.txt"));
        assert!(!di.is_excluded("file.txt"));
        assert!(di.is_excluded("loga"));
        assert!(di.is_excluded("logc"));
        assert!(!di.is_excluded("logd"));
        assert!(di.is_excluded("vx"));
        assert!(!di.is_excluded("v1"));
        assert!(!excluded("a?b", "a/b"));
        assert!(excluded(r"[\]x]", "]"));
    }

    #[test]
    fn star_matches_within_one_segment_only() {
        let di = ignore("src/*.o");
        assert!(di.is_excluded("src/a.o"));
        assert!(!di.is_excluded("src/sub/a.o"));
        assert!(excluded("*", "anything"));
        assert!(excluded("*", "dir/under/it"));
        assert!(excluded("a*b*c", "axxbyyc"));
        assert!(!excluded("a*b*c", "axxbyy"));
    }

    #[test]
    fn escapes_are_literal() {
        let di = ignore(r"\*.txt");
        assert!(di.is_excluded("*.txt"));
        assert!(!di.is_excluded("a.txt"));
        assert!(excluded(r"what\?", "what?"));
        assert!(!excluded(r"what\?", "whats"));
    }

    #[test]
    fn negation_reincludes_below_an_excluded_directory() {
        let di = ignore("docs\n!docs/keep\n");
        assert!(di.is_excluded("docs"));
        assert!(di.is_excluded("docs/other.md"));
        assert!(!di.is_excluded("docs/keep"));
        assert!(!di.is_excluded("docs/keep/deep/file"));
        assert!(di.may_reinclude_under("docs"));
        assert!(!di.may_reinclude_under("other"));

        let di = ignore("*\n!src\n");
        assert!(di.is_excluded("Cargo.toml"));
        assert!(!di.is_excluded("src"));
        assert!(!di.is_excluded("src/main.rs"));

        let di = ignore("vendor\n!**/LICENSE\n");
        assert!(!di.is_excluded("vendor/lib/LICENSE"));
        assert!(di.is_excluded("vendor/lib/code.c"));
        assert!(di.may_reinclude_under("vendor"));
    }

    #[test]
    fn keep_appends_a_literal_negation_only_when_needed() {
        let mut di = ignore("Dockerfile*\n.dockerignore\n");
        di.keep("Dockerfile.prod");
        di.keep(".dockerignore");
        di.keep("README");
        assert_eq!(
            di.to_string(),
            "Dockerfile*\n.dockerignore\n!Dockerfile.prod\n!.dockerignore\n"
        );
        assert!(!di.is_excluded("Dockerfile.prod"));
        assert!(di.is_excluded("Dockerfile.dev"));

        let mut di = ignore("build\n");
        di.keep("build/Dockerfile");
        assert!(di.may_reinclude_under("build"));
        assert!(!di.is_excluded("build/Dockerfile"));
        assert!(di.is_excluded("build/out"));
    }

    #[test]
    fn malformed_patterns_are_errors() {
        for (text, line) in [
            ("ok\n[abc", 2),
            ("!", 1),
            ("ok\n\n !  \n", 3),
            ("a\\", 1),
            ("[]", 1),
            ("[a-]", 1),
            ("[-a]", 1),
            ("[z-a]", 1),
        ] {
            let err = DockerIgnore::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
        }
        let err = DockerIgnore::parse("x\n[abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            ".dockerignore line 2: unterminated character class in pattern \"[abc\""
        );
    }

    #[test]
    fn go_clean_rules() {
        assert_eq!(clean("a/b/"), "a/b");
        assert_eq!(clean("./a//b/./c"), "a/b/c");
        assert_eq!(clean("a/../.."), "..");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn patterns_that_clean_to_nothing_match_nothing() {
        let di = ignore("/\n.\n../outside\n");
        assert!(!di.is_excluded("a"));
        assert!(!di.is_excluded("a/b"));
    }

    #[test]
    fn glob_matcher_handles_pathological_patterns() {
        let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
        let path = "a".repeat(200);
        assert!(!excluded(pattern, &path));
        assert!(excluded(pattern, &format!("{path}b")));
    }
}
