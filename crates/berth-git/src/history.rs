//! What one commit of an app's repository has that another lacks: the commits a
//! pipeline's stage runs that the next stage does not.

use chrono::{DateTime, Utc};
use git2::{Commit, ErrorCode, Sort};

use crate::snapshot::first_line;
use crate::{commit_id, GitError, Repos};

/// The most characters a [`CommitSummary`] keeps of an author or a summary: a pushed
/// commit's are as long as its pusher made them.
pub const MAX_SUMMARY_CHARS: usize = 256;

/// One commit, as a log lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// The full sha (lowercase hex).
    pub sha: String,
    /// The first 7 characters of the sha.
    pub short_sha: String,
    /// `name <email>`.
    pub author: String,
    /// The first line of the message, trimmed.
    pub summary: String,
    /// When it was authored.
    pub time: DateTime<Utc>,
}

impl Repos {
    /// The commits of `app`'s repository reachable from `from` but not from `hide`
    /// (`git log hide..from`), newest first (by commit time, as `git log` orders them), at
    /// most `limit`. Without `hide`, every commit reachable from `from`, up to `limit`.
    ///
    /// Both are full shas ([`GitError::InvalidCommit`] otherwise). `Ok(None)` when `hide`
    /// is not a commit of the repository, so the caller can say the two are unrelated; a
    /// `from` the repository lacks is [`GitError::CommitNotFound`].
    ///
    /// Without `hide` the walk reads `limit` commits; with it, git first walks both
    /// histories down to where they meet, as `git log` does, then hands out `limit`.
    pub fn commits_between(
        &self,
        app: &str,
        from: &str,
        hide: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<CommitSummary>>, GitError> {
        let from = commit_id(from)?;
        let hide = hide.map(commit_id).transpose()?;
        let repo = self.open(app)?;
        match repo.find_commit(from) {
            Ok(_) => {}
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Err(GitError::CommitNotFound(from.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        let mut walk = repo.revwalk()?;
        walk.set_sorting(Sort::TIME)?;
        walk.push(from)?;
        if let Some(hide) = hide {
            match repo.find_commit(hide) {
                Ok(_) => walk.hide(hide)?,
                Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let mut commits = Vec::new();
        for oid in walk.take(limit) {
            commits.push(summarize(&repo.find_commit(oid?)?));
        }
        Ok(Some(commits))
    }
}

fn summarize(commit: &Commit<'_>) -> CommitSummary {
    let sha = commit.id().to_string();
    let author = commit.author();
    let name = String::from_utf8_lossy(author.name_bytes());
    let email = String::from_utf8_lossy(author.email_bytes());
    CommitSummary {
        short_sha: sha[..7].to_string(),
        sha,
        author: clipped(format!("{name} <{email}>")),
        summary: clipped(first_line(commit.message_bytes())),
        // A time beyond what chrono holds can only be made up: shown as the epoch.
        time: DateTime::from_timestamp(author.when().seconds(), 0).unwrap_or(DateTime::UNIX_EPOCH),
    }
}

/// `text` cut to [`MAX_SUMMARY_CHARS`] characters, marked with `…` where it was cut.
fn clipped(text: String) -> String {
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use git2::{Oid, Repository, Signature, Time};

    use super::*;
    use crate::snapshot::tests::{fixture, write_tree, FILE};

    /// Commits `message` on `parents` at `seconds` (author and committer time alike)
    /// without moving any ref, as a push under way has.
    fn commit_on(repo: &Repository, parents: &[&str], message: &str, seconds: i64) -> String {
        let tree = write_tree(repo, &[("README", FILE, message.as_bytes())]);
        let tree = repo.find_tree(tree).unwrap();
        let sig =
            Signature::new("Ada Lovelace", "ada@example.com", &Time::new(seconds, 0)).unwrap();
        let parents: Vec<Commit<'_>> = parents
            .iter()
            .map(|sha| repo.find_commit(Oid::from_str(sha).unwrap()).unwrap())
            .collect();
        let parents: Vec<&Commit<'_>> = parents.iter().collect();
        repo.commit(None, &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }

    /// A line of history, oldest first, a minute apart.
    fn line(repo: &Repository, messages: &[&str]) -> Vec<String> {
        let mut shas: Vec<String> = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            let parents: Vec<&str> = shas.last().map(String::as_str).into_iter().collect();
            shas.push(commit_on(
                repo,
                &parents,
                message,
                1_700_000_000 + 60 * index as i64,
            ));
        }
        shas
    }

    fn shas(commits: Option<Vec<CommitSummary>>) -> Vec<String> {
        commits
            .expect("related commits")
            .into_iter()
            .map(|commit| commit.sha)
            .collect()
    }

    #[test]
    fn lists_what_one_commit_has_that_another_lacks_newest_first() {
        let fixture = fixture();
        let repos = &fixture.repos;
        let [a, b, c, d] =
            <[String; 4]>::try_from(line(&fixture.repo, &["a", "b", "c", "d"])).unwrap();
        let between = |from: &str, hide: Option<&str>, limit| {
            shas(repos.commits_between("demo", from, hide, limit).unwrap())
        };
        let (a, b, c, d) = (a.as_str(), b.as_str(), c.as_str(), d.as_str());
        assert_eq!(between(d, Some(b), 10), [d, c]);
        assert_eq!(between(d, Some(b), 1), [d]);
        assert_eq!(between(d, Some(b), 0), Vec::<String>::new());
        assert_eq!(between(d, None, 10), [d, c, b, a]);
        assert_eq!(between(d, None, 2), [d, c]);
        // The same commit, and one behind the other: nothing to list.
        assert_eq!(between(d, Some(d), 10), Vec::<String>::new());
        assert_eq!(between(b, Some(d), 10), Vec::<String>::new());
    }

    #[test]
    fn a_merge_brings_the_commits_of_both_sides() {
        let fixture = fixture();
        let repo = &fixture.repo;
        let base = commit_on(repo, &[], "base", 1_700_000_000);
        let ours = commit_on(repo, &[&base], "ours", 1_700_000_060);
        let theirs = commit_on(repo, &[&base], "theirs", 1_700_000_120);
        let merge = commit_on(repo, &[&ours, &theirs], "merge", 1_700_000_180);
        let listed = fixture
            .repos
            .commits_between("demo", &merge, Some(&ours), 10)
            .unwrap();
        assert_eq!(shas(listed), [merge.clone(), theirs.clone()]);
        let listed = fixture
            .repos
            .commits_between("demo", &merge, None, 10)
            .unwrap();
        assert_eq!(shas(listed), [merge, theirs, ours, base]);
    }

    #[test]
    fn a_summary_names_the_author_the_first_line_and_the_time() {
        let fixture = fixture();
        let repo = &fixture.repo;
        let first = commit_on(
            repo,
            &[],
            "  Add the shop  \n\nWith a body.\n",
            1_700_000_000,
        );
        let long = "x".repeat(MAX_SUMMARY_CHARS + 10);
        let second = commit_on(repo, &[&first], &long, 1_700_000_060);
        let listed = fixture
            .repos
            .commits_between("demo", &second.to_uppercase(), Some(&first), 10)
            .unwrap()
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].sha, second);
        assert_eq!(
            listed[0].summary,
            format!("{}…", "x".repeat(MAX_SUMMARY_CHARS))
        );
        let listed = fixture
            .repos
            .commits_between("demo", &first, None, 10)
            .unwrap()
            .unwrap();
        assert_eq!(
            listed,
            [CommitSummary {
                sha: first.clone(),
                short_sha: first[..7].to_string(),
                author: "Ada Lovelace <ada@example.com>".into(),
                summary: "Add the shop".into(),
                time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            }]
        );
    }

    #[test]
    fn a_hidden_commit_the_repository_lacks_means_unrelated() {
        let fixture = fixture();
        let [head] = <[String; 1]>::try_from(line(&fixture.repo, &["a"])).unwrap();
        let elsewhere = "0123456789abcdef0123456789abcdef01234567";
        let listed = fixture
            .repos
            .commits_between("demo", &head, Some(elsewhere), 10)
            .unwrap();
        assert_eq!(listed, None);
        // An object that is no commit is no commit of the repository either.
        let blob = fixture.repo.blob(b"not a commit").unwrap().to_string();
        let listed = fixture
            .repos
            .commits_between("demo", &head, Some(&blob), 10)
            .unwrap();
        assert_eq!(listed, None);
        // A commit of a history of its own is related enough: all of `from` is listed.
        let [other] = <[String; 1]>::try_from(line(&fixture.repo, &["other root"])).unwrap();
        let listed = fixture
            .repos
            .commits_between("demo", &head, Some(&other), 10)
            .unwrap();
        assert_eq!(shas(listed), [head]);
    }

    #[test]
    fn a_missing_or_malformed_commit_is_an_error() {
        let fixture = fixture();
        let [head] = <[String; 1]>::try_from(line(&fixture.repo, &["a"])).unwrap();
        let missing = "0123456789abcdef0123456789abcdef01234567";
        let error = fixture
            .repos
            .commits_between("demo", missing, Some(&head), 10)
            .unwrap_err();
        assert!(
            matches!(&error, GitError::CommitNotFound(sha) if sha == missing),
            "{error}"
        );
        let blob = fixture.repo.blob(b"not a commit").unwrap().to_string();
        let error = fixture
            .repos
            .commits_between("demo", &blob, None, 10)
            .unwrap_err();
        assert!(matches!(error, GitError::CommitNotFound(_)), "{error}");
        for bad in ["main", &head[..39], &format!("{}g", &head[..39]), "HEAD~1"] {
            let error = fixture
                .repos
                .commits_between("demo", bad, None, 10)
                .unwrap_err();
            assert!(
                matches!(&error, GitError::InvalidCommit(s) if s == bad),
                "{error}"
            );
            let error = fixture
                .repos
                .commits_between("demo", &head, Some(bad), 10)
                .unwrap_err();
            assert!(
                matches!(&error, GitError::InvalidCommit(s) if s == bad),
                "{error}"
            );
        }
        let error = fixture
            .repos
            .commits_between("nothing", &head, None, 10)
            .unwrap_err();
        assert!(matches!(error, GitError::Open { .. }), "{error}");
    }
}
