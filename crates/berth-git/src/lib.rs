//! Berth's git repositories: one bare repository per app under the data
//! directory. Pushes arrive here (smart HTTP comes with the deploy pipeline).
//!
//! A deploy reads the pushed commit through a [`Snapshot`] (objects still in git's
//! quarantine included) and turns it into a Docker build context with
//! [`Snapshot::build_context`], honouring `.dockerignore` ([`DockerIgnore`]).
//! [`Repos::commits_between`] lists what one deployed commit has that another lacks.

pub mod dockerignore;
mod history;
mod snapshot;

use std::path::PathBuf;

pub use dockerignore::{DockerIgnore, IgnoreError};
pub use history::{CommitSummary, MAX_SUMMARY_CHARS};
pub use snapshot::{
    BuildContext, Snapshot, MAX_READ_BYTES, MAX_TREE_DEPTH, MAX_TREE_ENTRIES, OUTSIDE_DOCKERFILE,
};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot create git repository {path}: {source}")]
    Init { path: PathBuf, source: git2::Error },
    #[error("cannot remove git repository {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open git repository {path}: {source}")]
    Open { path: PathBuf, source: git2::Error },
    #[error("cannot use the quarantine directory {path}: {source}")]
    Quarantine { path: PathBuf, source: git2::Error },
    #[error("not a full commit id: {0:?}")]
    InvalidCommit(String),
    #[error("commit {0} not found")]
    CommitNotFound(String),
    #[error("invalid path {0:?}")]
    InvalidPath(String),
    #[error("build context directory {0:?} not found in the commit")]
    ContextNotFound(String),
    #[error("Dockerfile {0:?} not found in the commit")]
    DockerfileNotFound(String),
    #[error(transparent)]
    DockerIgnore(#[from] IgnoreError),
    #[error("cannot read the repository: {0}")]
    Read(#[from] git2::Error),
    #[error("cannot write the build context: {0}")]
    Tar(#[source] std::io::Error),
    #[error(
        "the pushed files hold more than {limit} bytes, the most this server takes in one push"
    )]
    TooLarge { limit: u64 },
    #[error("the pushed tree nests directories more than {limit} levels deep")]
    TooDeep { limit: usize },
    #[error("the pushed tree holds more than {limit} files and directories")]
    TooManyEntries { limit: u64 },
    #[error("{path} is larger than {limit} bytes")]
    FileTooLarge { path: String, limit: u64 },
}

/// The directory holding every app's bare repository.
#[derive(Debug, Clone)]
pub struct Repos {
    root: PathBuf,
}

impl Repos {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path_of(&self, app: &str) -> PathBuf {
        self.root.join(format!("{app}.git"))
    }

    /// Creates an empty bare repository for `app`. A leftover directory of
    /// an earlier app of the same name is wiped first: a new app must never
    /// inherit another app's code.
    pub fn create(&self, app: &str) -> Result<PathBuf, GitError> {
        let path = self.path_of(app);
        self.remove(app)?;
        git2::Repository::init_bare(&path).map_err(|source| GitError::Init {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Removes `app`'s repository; removing one that is not there is not an error.
    pub fn remove(&self, app: &str) -> Result<(), GitError> {
        let path = self.path_of(app);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(GitError::Remove { path, source }),
        }
    }

    fn open(&self, app: &str) -> Result<git2::Repository, GitError> {
        let path = self.path_of(app);
        git2::Repository::open_bare(&path).map_err(|source| GitError::Open { path, source })
    }

    /// The commit `reference` (e.g. `refs/heads/main`) points at, if it exists.
    pub fn branch_head(&self, app: &str, reference: &str) -> Result<Option<String>, GitError> {
        let repo = self.open(app)?;
        let head = match repo.find_reference(reference) {
            Ok(found) => found.target().map(|id| id.to_string()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(GitError::Read(e)),
        };
        Ok(head)
    }

    /// Points the repository's HEAD at `reference`, so that a clone checks
    /// out the branch that was deployed.
    pub fn point_head(&self, app: &str, reference: &str) -> Result<(), GitError> {
        let repo = self.open(app)?;
        repo.set_head(reference)?;
        Ok(())
    }

    pub fn exists(&self, app: &str) -> bool {
        git2::Repository::open_bare(self.path_of(app)).is_ok()
    }
}

/// A full commit id (40 hex digits, either case).
fn commit_id(sha: &str) -> Result<git2::Oid, GitError> {
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(GitError::InvalidCommit(sha.to_string()));
    }
    Ok(git2::Oid::from_str(sha)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_removes_bare_repositories() {
        let root = tempfile::tempdir().unwrap();
        let repos = Repos::new(root.path());
        let path = repos.create("demo").unwrap();
        assert!(repos.exists("demo"));
        assert!(git2::Repository::open_bare(&path).unwrap().is_bare());
        repos.remove("demo").unwrap();
        assert!(!repos.exists("demo"));
        repos.remove("demo").unwrap();
    }

    #[test]
    fn a_recreated_app_starts_empty() {
        let root = tempfile::tempdir().unwrap();
        let repos = Repos::new(root.path());
        let path = repos.create("demo").unwrap();
        std::fs::write(path.join("leftover"), "old app's data").unwrap();
        repos.create("demo").unwrap();
        assert!(!path.join("leftover").exists());
    }
}
