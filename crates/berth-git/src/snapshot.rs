//! Read-only views of one commit, and the Docker build contexts made from them.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use git2::{ErrorCode, Oid, Repository, Tree, TreeEntry};

use crate::{DockerIgnore, GitError, Repos};

/// The name under which a Dockerfile that lies outside the build context is added to the
/// context's tar (at its root). Like the random name the Docker client uses in that case,
/// it is also appended to the tar's `.dockerignore`, so the engine drops it once read and
/// `COPY . .` does not pick it up. An entry of this name in the context is replaced.
pub const OUTSIDE_DOCKERFILE: &str = ".berth.Dockerfile";

/// The modification time of every entry of a build context (2000-01-01T00:00:00Z): fixed,
/// so that identical trees give identical tars and the engine's build cache holds; after
/// 1980, so that zip-based tooling (Python wheels, jars) accepts the files.
pub(crate) const CONTEXT_MTIME: u64 = 946_684_800;

const MODE_TREE: i32 = 0o040000;
const MODE_SYMLINK: i32 = 0o120000;
const MODE_GITLINK: i32 = 0o160000;

fn is_regular(mode: i32) -> bool {
    mode & 0o170000 == 0o100000
}

/// A Docker build context: an uncompressed tar, and the Dockerfile's path inside it.
#[derive(Clone, PartialEq, Eq)]
pub struct BuildContext {
    pub tar: Vec<u8>,
    pub dockerfile: String,
}

impl fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("tar", &format_args!("<{} bytes>", self.tar.len()))
            .field("dockerfile", &self.dockerfile)
            .finish()
    }
}

/// A read-only view of one commit of an app's repository, including objects still in
/// quarantine. Opening it moves no ref. `Send`, not `Sync`: use it from one thread (e.g.
/// inside `spawn_blocking`).
pub struct Snapshot {
    repo: Repository,
    tree: Oid,
    sha: String,
    summary: String,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("repo", &self.repo.path())
            .field("commit", &self.sha)
            .finish()
    }
}

impl Repos {
    /// Opens `commit` (a full 40-hex sha) of `app`'s repository. With `quarantine` (the
    /// objects directory a pre-receive hook sees in `GIT_QUARANTINE_PATH`), the objects of
    /// a push in progress are visible too.
    pub fn snapshot(
        &self,
        app: &str,
        commit: &str,
        quarantine: Option<&Path>,
    ) -> Result<Snapshot, GitError> {
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GitError::InvalidCommit(commit.to_string()));
        }
        let path = self.path_of(app);
        let repo = Repository::open_bare(&path).map_err(|source| GitError::Open {
            path: path.clone(),
            source,
        })?;
        if let Some(quarantine) = quarantine {
            let error = |source| GitError::Quarantine {
                path: quarantine.to_path_buf(),
                source,
            };
            if !quarantine.is_dir() {
                return Err(error(git2::Error::from_str("not a directory")));
            }
            let dir = quarantine
                .to_str()
                .ok_or_else(|| error(git2::Error::from_str("path is not UTF-8")))?;
            repo.odb()
                .and_then(|odb| odb.add_disk_alternate(dir))
                .map_err(error)?;
        }
        let oid = Oid::from_str(commit)?;
        let (tree, summary) = match repo.find_commit(oid) {
            Ok(found) => (found.tree_id(), first_line(found.message_bytes())),
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Err(GitError::CommitNotFound(oid.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Snapshot {
            repo,
            tree,
            sha: oid.to_string(),
            summary,
        })
    }
}

fn first_line(message: &[u8]) -> String {
    let line = message.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim().to_string()
}

/// A repository-relative path with `.` segments and extra slashes removed; `..` is refused.
/// The root is "".
fn normalize(path: &str) -> Result<String, GitError> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(GitError::InvalidPath(path.to_string())),
            _ => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

impl Snapshot {
    /// The commit's full sha (lowercase hex).
    pub fn commit_sha(&self) -> &str {
        &self.sha
    }

    /// The first 7 characters of the sha.
    pub fn short_sha(&self) -> &str {
        &self.sha[..7]
    }

    /// The first line of the commit message, trimmed.
    pub fn message_summary(&self) -> String {
        self.summary.clone()
    }

    /// A regular file's contents at `path` (repository-relative, `/`-separated); `None` if
    /// there is nothing there or it is not a regular file (a directory, a symlink, a
    /// submodule).
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        match self.entry(path)? {
            Some(entry) if is_regular(entry.filemode()) => {
                Ok(Some(self.repo.find_blob(entry.id())?.content().to_vec()))
            }
            _ => Ok(None),
        }
    }

    /// Whether `path` is a regular file in this commit.
    pub fn file_exists(&self, path: &str) -> bool {
        matches!(self.entry(path), Ok(Some(entry)) if is_regular(entry.filemode()))
    }

    fn entry(&self, path: &str) -> Result<Option<TreeEntry<'static>>, GitError> {
        let path = normalize(path)?;
        if path.is_empty() {
            return Ok(None);
        }
        let tree = self.repo.find_tree(self.tree)?;
        match tree.get_path(Path::new(&path)) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The Docker build context of this commit: a tar (uncompressed) of the tree under
    /// `context_dir` (repository-relative, "" for the root), filtered by the
    /// `.dockerignore` at the root of the context as the Docker client filters it.
    ///
    /// - Directories are entries of their own (0755); files are 0644 or 0755 as git
    ///   records them; symlinks stay symlinks. Owner 0:0, one fixed mtime, git's order:
    ///   the same tree always gives the same bytes.
    /// - `.git` is never included. Submodules (gitlinks) are skipped: their contents are
    ///   not in this repository.
    /// - A directory that `.dockerignore` excludes is left out with everything in it,
    ///   except what a later `!` line re-includes (then the directory is written too).
    /// - `.dockerignore` and the Dockerfile are always in the context, even when
    ///   `.dockerignore` matches them, as with `docker build`.
    ///
    /// `dockerfile` is the Dockerfile's repository-relative path. Inside the context, the
    /// returned [`BuildContext::dockerfile`] is its path in the tar; outside it, it is
    /// added as [`OUTSIDE_DOCKERFILE`] (and listed in the tar's `.dockerignore`).
    pub fn build_context(
        &self,
        context_dir: &str,
        dockerfile: &str,
    ) -> Result<BuildContext, GitError> {
        let context = normalize(context_dir)?;
        let dockerfile_path = normalize(dockerfile)?;
        if dockerfile_path.is_empty() {
            return Err(GitError::InvalidPath(dockerfile.to_string()));
        }
        let context_tree = if context.is_empty() {
            self.repo.find_tree(self.tree)?
        } else {
            match self.entry(&context)? {
                Some(entry) if entry.filemode() == MODE_TREE => self.repo.find_tree(entry.id())?,
                _ => return Err(GitError::ContextNotFound(context)),
            }
        };

        let ignore_file = match context_tree.get_name(".dockerignore") {
            Some(entry) if is_regular(entry.filemode()) => {
                Some(self.repo.find_blob(entry.id())?.content().to_vec())
            }
            _ => None,
        };
        let mut ignore = match &ignore_file {
            Some(text) => DockerIgnore::parse(&String::from_utf8_lossy(text))?,
            None => DockerIgnore::default(),
        };
        ignore.keep(".dockerignore");

        let relative = if context.is_empty() {
            Some(dockerfile_path.as_str())
        } else {
            dockerfile_path
                .strip_prefix(context.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        };
        let mut overrides = Vec::new();
        let tar_dockerfile = match relative {
            Some(relative) => {
                match self.entry(&dockerfile_path)? {
                    Some(entry)
                        if is_regular(entry.filemode()) || entry.filemode() == MODE_SYMLINK => {}
                    _ => return Err(GitError::DockerfileNotFound(dockerfile_path)),
                }
                ignore.keep(relative);
                relative.to_string()
            }
            None => {
                let Some(content) = self.read_file(&dockerfile_path)? else {
                    return Err(GitError::DockerfileNotFound(dockerfile_path));
                };
                let mut rules = ignore_file.unwrap_or_else(|| b".dockerignore".to_vec());
                rules.extend_from_slice(format!("\n{OUTSIDE_DOCKERFILE}\n").as_bytes());
                overrides.push((".dockerignore".to_string(), Some(rules)));
                overrides.push((OUTSIDE_DOCKERFILE.to_string(), Some(content)));
                OUTSIDE_DOCKERFILE.to_string()
            }
        };

        let mut walker = Walker {
            repo: &self.repo,
            ignore: &ignore,
            overrides,
            tar: tar::Builder::new(Vec::new()),
            ancestors: Vec::new(),
        };
        walker.walk(&context_tree, "")?;
        Ok(BuildContext {
            tar: walker.finish()?,
            dockerfile: tar_dockerfile,
        })
    }
}

struct Walker<'a> {
    repo: &'a Repository,
    ignore: &'a DockerIgnore,
    /// Files written in place of the entry of that name at the context root (or after
    /// everything when there is none), whatever `.dockerignore` says. `None` once written.
    overrides: Vec<(String, Option<Vec<u8>>)>,
    tar: tar::Builder<Vec<u8>>,
    /// The directories from the context root down to the one being walked, each with
    /// whether it is in the tar yet: an excluded one is written only when something below
    /// it is kept.
    ancestors: Vec<(String, bool)>,
}

impl Walker<'_> {
    fn walk(&mut self, tree: &Tree<'_>, prefix: &str) -> Result<(), GitError> {
        for entry in tree.iter() {
            let name = entry_name(&entry)?;
            if name.eq_ignore_ascii_case(".git") {
                continue;
            }
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            if prefix.is_empty() {
                if let Some(slot) = self.overrides.iter_mut().find(|(n, _)| *n == path) {
                    if let Some(content) = slot.1.take() {
                        append_file(&mut self.tar, &path, &content, 0o644)?;
                    }
                    continue;
                }
            }
            let excluded = self.ignore.is_excluded(&path);
            let mode = entry.filemode();
            if mode == MODE_TREE {
                if excluded && !self.ignore.may_reinclude_under(&path) {
                    continue;
                }
                let subtree = self.repo.find_tree(entry.id())?;
                self.ancestors.push((path.clone(), false));
                if !excluded {
                    self.write_ancestors()?;
                }
                self.walk(&subtree, &path)?;
                self.ancestors.pop();
            } else if excluded || mode == MODE_GITLINK {
                continue;
            } else if mode == MODE_SYMLINK {
                let blob = self.repo.find_blob(entry.id())?;
                if blob.content().is_empty() {
                    continue;
                }
                self.write_ancestors()?;
                let mut header = header(tar::EntryType::Symlink, 0o777, 0);
                self.tar
                    .append_link(&mut header, &path, bytes_path(blob.content()))
                    .map_err(GitError::Tar)?;
            } else if is_regular(mode) {
                let blob = self.repo.find_blob(entry.id())?;
                self.write_ancestors()?;
                let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                append_file(&mut self.tar, &path, blob.content(), perm)?;
            }
        }
        Ok(())
    }

    fn write_ancestors(&mut self) -> Result<(), GitError> {
        for (path, written) in self.ancestors.iter_mut().filter(|(_, w)| !*w) {
            let mut header = header(tar::EntryType::Directory, 0o755, 0);
            self.tar
                .append_data(&mut header, format!("{path}/"), std::io::empty())
                .map_err(GitError::Tar)?;
            *written = true;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, GitError> {
        for (name, content) in std::mem::take(&mut self.overrides) {
            if let Some(content) = content {
                append_file(&mut self.tar, &name, &content, 0o644)?;
            }
        }
        self.tar.into_inner().map_err(GitError::Tar)
    }
}

fn entry_name<'t>(entry: &'t TreeEntry<'_>) -> Result<&'t str, GitError> {
    let bytes = entry.name_bytes();
    let invalid = || GitError::InvalidPath(String::from_utf8_lossy(bytes).into_owned());
    let name = std::str::from_utf8(bytes).map_err(|_| invalid())?;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(invalid());
    }
    Ok(name)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(CONTEXT_MTIME);
    header
}

fn append_file(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    content: &[u8],
    mode: u32,
) -> Result<(), GitError> {
    let mut header = header(tar::EntryType::Regular, mode, content.len() as u64);
    tar.append_data(&mut header, path, content)
        .map_err(GitError::Tar)
}

/// A symlink target as git stores it (bytes) as a path.
#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> Cow<'_, Path> {
    use std::os::unix::ffi::OsStrExt;
    Cow::Borrowed(Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> Cow<'_, Path> {
    Cow::Owned(String::from_utf8_lossy(bytes).into_owned().into())
}

#[cfg(test)]
mod tests;
