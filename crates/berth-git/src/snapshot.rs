//! Read-only views of one commit, and the Docker build contexts made from them.

use std::borrow::Cow;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{ErrorCode, ObjectType, Oid, Repository, Tree, TreeEntry};

use crate::{commit_id, DockerIgnore, GitError, Repos};

/// The name under which a Dockerfile that lies outside the build context is added to the
/// context's tar (at its root). Like the random name the Docker client uses in that case,
/// it is also appended to the tar's `.dockerignore`, so the engine drops it once read and
/// `COPY . .` does not pick it up. An entry of this name in the context is replaced.
pub const OUTSIDE_DOCKERFILE: &str = ".berth.Dockerfile";

/// The modification time of every entry of a build context (2000-01-01T00:00:00Z): fixed,
/// so that identical trees give identical tars and the engine's build cache holds; after
/// 1980, so that zip-based tooling (Python wheels, jars) accepts the files.
pub(crate) const CONTEXT_MTIME: u64 = 946_684_800;

/// How deep directories may nest in a pushed tree. Walks are iterative, so this bounds
/// the work and the paths, not a stack.
pub const MAX_TREE_DEPTH: usize = 64;

/// How many entries (files, links, directories, counted each time a tree reaches them) a
/// pushed tree may hold: trees shared many times over would otherwise multiply the walk.
pub const MAX_TREE_ENTRIES: u64 = 1_000_000;

/// The largest file read whole into memory: manifests, Dockerfiles, `.dockerignore`,
/// symlink targets.
pub const MAX_READ_BYTES: u64 = 1 << 20;

/// Files larger than this go into a build context streamed by `git cat-file`, not read
/// whole into memory.
const STREAM_ABOVE: u64 = 1 << 20;

const MODE_TREE: i32 = 0o040000;
const MODE_SYMLINK: i32 = 0o120000;
const MODE_GITLINK: i32 = 0o160000;

fn is_regular(mode: i32) -> bool {
    mode & 0o170000 == 0o100000
}

/// A Docker build context: an uncompressed tar written to `tar`, and the Dockerfile's
/// path inside it.
#[derive(Clone, PartialEq, Eq)]
pub struct BuildContext<W> {
    pub tar: W,
    pub dockerfile: String,
}

impl<W> fmt::Debug for BuildContext<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("dockerfile", &self.dockerfile)
            .finish_non_exhaustive()
    }
}

/// A read-only view of one commit of an app's repository, including objects still in
/// quarantine. Opening it moves no ref. `Send`, not `Sync`: use it from one thread (e.g.
/// inside `spawn_blocking`).
pub struct Snapshot {
    repo: Repository,
    /// Where `git cat-file` finds the objects: the repository and the quarantine.
    git_dir: PathBuf,
    quarantine: Option<PathBuf>,
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
        let oid = commit_id(commit)?;
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
        let (tree, summary) = match repo.find_commit(oid) {
            Ok(found) => (found.tree_id(), first_line(found.message_bytes())),
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Err(GitError::CommitNotFound(oid.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Snapshot {
            repo,
            git_dir: path,
            quarantine: quarantine.map(Path::to_path_buf),
            tree,
            sha: oid.to_string(),
            summary,
        })
    }
}

pub(crate) fn first_line(message: &[u8]) -> String {
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
    /// submodule). Files over [`MAX_READ_BYTES`] are refused: this is for manifests.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        match self.entry(path)? {
            Some(entry) if is_regular(entry.filemode()) => {
                Ok(Some(self.read_small_blob(entry.id(), path)?))
            }
            _ => Ok(None),
        }
    }

    /// A blob's contents, refused over [`MAX_READ_BYTES`] before anything is loaded.
    fn read_small_blob(&self, id: Oid, path: &str) -> Result<Vec<u8>, GitError> {
        let (size, _) = self.repo.odb()?.read_header(id)?;
        if size as u64 > MAX_READ_BYTES {
            return Err(GitError::FileTooLarge {
                path: path.to_string(),
                limit: MAX_READ_BYTES,
            });
        }
        Ok(self.repo.find_blob(id)?.content().to_vec())
    }

    /// The bytes of every file (and link) of the commit's tree as a checkout would write
    /// them, counted from object headers without reading contents. Refused as soon as it
    /// passes `limit`, or the tree nests deeper than [`MAX_TREE_DEPTH`] or holds more than
    /// [`MAX_TREE_ENTRIES`] entries.
    pub fn unpacked_size(&self, limit: u64) -> Result<u64, GitError> {
        let odb = self.repo.odb()?;
        let mut total = 0u64;
        let mut entries = 0u64;
        let mut pending = vec![(self.tree, 0usize)];
        while let Some((id, depth)) = pending.pop() {
            let tree = self.repo.find_tree(id)?;
            for entry in tree.iter() {
                entries += 1;
                if entries > MAX_TREE_ENTRIES {
                    return Err(GitError::TooManyEntries {
                        limit: MAX_TREE_ENTRIES,
                    });
                }
                match entry.filemode() {
                    MODE_TREE => {
                        if depth + 1 > MAX_TREE_DEPTH {
                            return Err(GitError::TooDeep {
                                limit: MAX_TREE_DEPTH,
                            });
                        }
                        pending.push((entry.id(), depth + 1));
                    }
                    MODE_GITLINK => {}
                    _ => {
                        let (size, kind) = odb.read_header(entry.id())?;
                        if kind != ObjectType::Blob {
                            return Err(GitError::InvalidPath(
                                String::from_utf8_lossy(entry.name_bytes()).into_owned(),
                            ));
                        }
                        total = total.saturating_add(size as u64);
                        if total > limit {
                            return Err(GitError::TooLarge { limit });
                        }
                    }
                }
            }
        }
        Ok(total)
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
    ///
    /// The tar is written to `out` as it is made; large files are streamed from git, so
    /// memory use does not grow with the size of the context.
    pub fn build_context<W: Write>(
        &self,
        context_dir: &str,
        dockerfile: &str,
        out: W,
    ) -> Result<BuildContext<W>, GitError> {
        let plan = self.plan_context(context_dir, dockerfile)?;
        let mut tar = TarSink(tar::Builder::new(out));
        let dockerfile = self.walk_context(plan, &mut tar)?;
        Ok(BuildContext {
            tar: tar.0.into_inner().map_err(GitError::Tar)?,
            dockerfile,
        })
    }

    /// Whatever [`Snapshot::build_context`] would refuse in this tree (a missing
    /// context or Dockerfile, a bad `.dockerignore`, a bad name, a tree too deep), found
    /// by walking it without reading any file's contents: a cheap check before a build
    /// streams the context. Returns the Dockerfile's path in the tar.
    pub fn check_build_context(
        &self,
        context_dir: &str,
        dockerfile: &str,
    ) -> Result<String, GitError> {
        let plan = self.plan_context(context_dir, dockerfile)?;
        self.walk_context(plan, &mut CheckSink)
    }

    /// Finds the context's tree, its `.dockerignore` and where the Dockerfile goes.
    fn plan_context(
        &self,
        context_dir: &str,
        dockerfile: &str,
    ) -> Result<ContextPlan<'_>, GitError> {
        let context = normalize(context_dir)?;
        let dockerfile_path = normalize(dockerfile)?;
        if dockerfile_path.is_empty() {
            return Err(GitError::InvalidPath(dockerfile.to_string()));
        }
        let tree = if context.is_empty() {
            self.repo.find_tree(self.tree)?
        } else {
            match self.entry(&context)? {
                Some(entry) if entry.filemode() == MODE_TREE => self.repo.find_tree(entry.id())?,
                _ => return Err(GitError::ContextNotFound(context)),
            }
        };

        let ignore_file = match tree.get_name(".dockerignore") {
            Some(entry) if is_regular(entry.filemode()) => {
                Some(self.read_small_blob(entry.id(), ".dockerignore")?)
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
        let dockerfile = match relative {
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
        Ok(ContextPlan {
            tree,
            ignore,
            overrides,
            dockerfile,
        })
    }

    /// Hands everything the context keeps to `sink`; returns the Dockerfile's path in it.
    fn walk_context<S: ContextSink>(
        &self,
        plan: ContextPlan<'_>,
        sink: &mut S,
    ) -> Result<String, GitError> {
        let mut walker = Walker {
            snapshot: self,
            ignore: &plan.ignore,
            overrides: plan.overrides,
            sink,
            ancestors: Vec::new(),
        };
        walker.walk(plan.tree)?;
        walker.finish()?;
        Ok(plan.dockerfile)
    }
}

/// What a build context is made of, before its tree is walked.
struct ContextPlan<'r> {
    tree: Tree<'r>,
    ignore: DockerIgnore,
    /// Files written in place of the entry of that name at the context root (or after
    /// everything when there is none), whatever `.dockerignore` says.
    overrides: Vec<(String, Option<Vec<u8>>)>,
    /// The Dockerfile's path in the context.
    dockerfile: String,
}

/// Where the walk of a build context puts what it keeps.
trait ContextSink {
    fn directory(&mut self, path: &str) -> Result<(), GitError>;
    fn symlink(&mut self, path: &str, target: &[u8]) -> Result<(), GitError>;
    /// A file given whole.
    fn file(&mut self, path: &str, content: &[u8], mode: u32) -> Result<(), GitError>;
    /// A file of the repository, read only if the sink needs its contents.
    fn blob(&mut self, snapshot: &Snapshot, id: Oid, path: &str, mode: u32)
        -> Result<(), GitError>;
}

/// Keeps nothing: the walk alone finds what is wrong with a tree.
struct CheckSink;

impl ContextSink for CheckSink {
    fn directory(&mut self, _: &str) -> Result<(), GitError> {
        Ok(())
    }
    fn symlink(&mut self, _: &str, _: &[u8]) -> Result<(), GitError> {
        Ok(())
    }
    fn file(&mut self, _: &str, _: &[u8], _: u32) -> Result<(), GitError> {
        Ok(())
    }
    fn blob(&mut self, _: &Snapshot, _: Oid, _: &str, _: u32) -> Result<(), GitError> {
        Ok(())
    }
}

/// Writes the context as a tar.
struct TarSink<W: Write>(tar::Builder<W>);

impl<W: Write> ContextSink for TarSink<W> {
    fn directory(&mut self, path: &str) -> Result<(), GitError> {
        let mut header = header(tar::EntryType::Directory, 0o755, 0);
        self.0
            .append_data(&mut header, format!("{path}/"), std::io::empty())
            .map_err(GitError::Tar)
    }

    fn symlink(&mut self, path: &str, target: &[u8]) -> Result<(), GitError> {
        let mut header = header(tar::EntryType::Symlink, 0o777, 0);
        self.0
            .append_link(&mut header, path, bytes_path(target))
            .map_err(GitError::Tar)
    }

    fn file(&mut self, path: &str, content: &[u8], mode: u32) -> Result<(), GitError> {
        let mut header = header(tar::EntryType::Regular, mode, content.len() as u64);
        self.0
            .append_data(&mut header, path, content)
            .map_err(GitError::Tar)
    }

    /// Small files are read through git2, large ones streamed from `git cat-file` (run
    /// with an argv) straight into the tar.
    fn blob(
        &mut self,
        snapshot: &Snapshot,
        id: Oid,
        path: &str,
        mode: u32,
    ) -> Result<(), GitError> {
        let (size, _) = snapshot.repo.odb()?.read_header(id)?;
        let size = size as u64;
        if size <= STREAM_ABOVE {
            let blob = snapshot.repo.find_blob(id)?;
            return self.file(path, blob.content(), mode);
        }
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(&snapshot.git_dir)
            .args(["cat-file", "blob", &id.to_string()])
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(quarantine) = &snapshot.quarantine {
            command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", quarantine);
        }
        let mut child = command.spawn().map_err(GitError::Tar)?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut counted = CountingReader {
            inner: stdout.take(size),
            count: 0,
        };
        let mut header = header(tar::EntryType::Regular, mode, size);
        let appended = self.0.append_data(&mut header, path, &mut counted);
        let count = counted.count;
        // Closing the pipe first ends a `git cat-file` still writing when the tar
        // stopped taking bytes (its reader went away): waiting would never end.
        drop(counted);
        let output = child.wait_with_output().map_err(GitError::Tar)?;
        appended.map_err(GitError::Tar)?;
        if !output.status.success() || count != size {
            return Err(GitError::Tar(std::io::Error::other(format!(
                "git cat-file gave {count} of the {size} bytes of {path}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))));
        }
        Ok(())
    }
}

struct Walker<'a, S> {
    snapshot: &'a Snapshot,
    ignore: &'a DockerIgnore,
    /// Files written in place of the entry of that name at the context root (or after
    /// everything when there is none), whatever `.dockerignore` says. `None` once written.
    overrides: Vec<(String, Option<Vec<u8>>)>,
    sink: &'a mut S,
    /// The directories from the context root down to the one being walked, each with
    /// whether it is in the tar yet: an excluded one is written only when something below
    /// it is kept.
    ancestors: Vec<(String, bool)>,
}

/// A directory being walked: its tree, the next entry to look at, and its path.
struct Frame<'r> {
    tree: Tree<'r>,
    next: usize,
    prefix: String,
}

impl<'a, S: ContextSink> Walker<'a, S> {
    /// Walks the tree in git's order, depth first, with an explicit stack: a deep tree
    /// is refused beyond [`MAX_TREE_DEPTH`], never a stack overflow.
    fn walk(&mut self, root: Tree<'a>) -> Result<(), GitError> {
        let snapshot = self.snapshot;
        let mut frames = vec![Frame {
            tree: root,
            next: 0,
            prefix: String::new(),
        }];
        while let Some(frame) = frames.last_mut() {
            let Some(entry) = frame.tree.get(frame.next) else {
                frames.pop();
                // The root frame has no ancestor entry: this pops the walked directory's.
                if !frames.is_empty() {
                    self.ancestors.pop();
                }
                continue;
            };
            frame.next += 1;
            let name = entry_name(&entry)?.to_string();
            let (id, mode) = (entry.id(), entry.filemode());
            drop(entry);
            if name.eq_ignore_ascii_case(".git") {
                continue;
            }
            let at_root = frame.prefix.is_empty();
            let path = if at_root {
                name
            } else {
                format!("{}/{name}", frame.prefix)
            };
            if at_root {
                if let Some(slot) = self.overrides.iter_mut().find(|(n, _)| *n == path) {
                    if let Some(content) = slot.1.take() {
                        self.sink.file(&path, &content, 0o644)?;
                    }
                    continue;
                }
            }
            let excluded = self.ignore.is_excluded(&path);
            if mode == MODE_TREE {
                if excluded && !self.ignore.may_reinclude_under(&path) {
                    continue;
                }
                if frames.len() > MAX_TREE_DEPTH {
                    return Err(GitError::TooDeep {
                        limit: MAX_TREE_DEPTH,
                    });
                }
                self.ancestors.push((path.clone(), false));
                if !excluded {
                    self.write_ancestors()?;
                }
                frames.push(Frame {
                    tree: snapshot.repo.find_tree(id)?,
                    next: 0,
                    prefix: path,
                });
            } else if excluded || mode == MODE_GITLINK {
                continue;
            } else if mode == MODE_SYMLINK {
                let target = snapshot.read_small_blob(id, &path)?;
                if target.is_empty() {
                    continue;
                }
                self.write_ancestors()?;
                self.sink.symlink(&path, &target)?;
            } else if is_regular(mode) {
                self.write_ancestors()?;
                let perm = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                self.sink.blob(snapshot, id, &path, perm)?;
            }
        }
        Ok(())
    }

    fn write_ancestors(&mut self) -> Result<(), GitError> {
        for (path, written) in self.ancestors.iter_mut().filter(|(_, w)| !*w) {
            self.sink.directory(path)?;
            *written = true;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), GitError> {
        for (name, content) in std::mem::take(&mut self.overrides) {
            if let Some(content) = content {
                self.sink.file(&name, &content, 0o644)?;
            }
        }
        Ok(())
    }
}

/// Counts what passes, to tell a complete stream from one cut short.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
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
pub(crate) mod tests;
