//! Berth's git repositories: one bare repository per app under the data
//! directory. Pushes arrive here (smart HTTP comes with the deploy pipeline).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot create git repository {path}: {source}")]
    Init { path: PathBuf, source: git2::Error },
    #[error("cannot remove git repository {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
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

    pub fn exists(&self, app: &str) -> bool {
        git2::Repository::open_bare(self.path_of(app)).is_ok()
    }
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
