use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use git2::{Repository, Signature, Time};

use super::*;

pub(crate) const FILE: i32 = 0o100644;
const EXEC: i32 = 0o100755;
const LINK: i32 = 0o120000;
const GITLINK: i32 = 0o160000;

/// `(path, mode, content)` of one tree entry to write.
pub(crate) type Item<'a> = (&'a str, i32, &'a [u8]);

/// Writes a tree of `(path, mode, content)` items (for a gitlink, content is the hex sha)
/// into `repo`, nested directories included.
pub(crate) fn write_tree(repo: &Repository, items: &[Item<'_>]) -> Oid {
    let mut builder = repo.treebuilder(None).unwrap();
    let mut subdirs: BTreeMap<&str, Vec<Item<'_>>> = BTreeMap::new();
    for &(path, mode, content) in items {
        match path.split_once('/') {
            Some((dir, rest)) => subdirs.entry(dir).or_default().push((rest, mode, content)),
            None => {
                let oid = if mode == GITLINK {
                    Oid::from_str(std::str::from_utf8(content).unwrap()).unwrap()
                } else {
                    repo.blob(content).unwrap()
                };
                builder.insert(path, oid, mode).unwrap();
            }
        }
    }
    for (dir, items) in subdirs {
        let oid = write_tree(repo, &items);
        builder.insert(dir, oid, 0o040000).unwrap();
    }
    builder.write().unwrap()
}

/// Makes a commit of `items` without moving any ref, as a push under way has.
fn commit(repo: &Repository, message: &str, items: &[Item<'_>]) -> String {
    let tree = repo.find_tree(write_tree(repo, items)).unwrap();
    let sig = Signature::new("Test", "test@example.com", &Time::new(1_700_000_000, 0)).unwrap();
    repo.commit(None, &sig, &sig, message, &tree, &[])
        .unwrap()
        .to_string()
}

/// The bare repository of the app `demo`, in a directory of its own.
pub(crate) struct Fixture {
    pub(crate) root: tempfile::TempDir,
    pub(crate) repos: Repos,
    pub(crate) repo: Repository,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repos = Repos::new(dir.path());
    let path = repos.create("demo").unwrap();
    let repo = Repository::open_bare(path).unwrap();
    Fixture {
        root: dir,
        repos,
        repo,
    }
}

impl Fixture {
    fn snapshot_of(&self, items: &[Item<'_>]) -> Snapshot {
        let sha = commit(&self.repo, "Test commit", items);
        self.repos.snapshot("demo", &sha, None).unwrap()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    kind: char,
    mode: u32,
    /// File contents, or a symlink's target.
    data: Vec<u8>,
}

fn entries(tar: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert_eq!(header.mtime().unwrap(), CONTEXT_MTIME);
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.gid().unwrap(), 0);
        let mode = header.mode().unwrap();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Regular => 'f',
            tar::EntryType::Symlink => 'l',
            other => panic!("unexpected entry type {other:?}"),
        };
        let path = entry.path().unwrap().to_str().unwrap().to_string();
        let data = if kind == 'l' {
            let target = entry.link_name().unwrap().unwrap();
            target.to_str().unwrap().as_bytes().to_vec()
        } else {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            data
        };
        out.push(Entry {
            path,
            kind,
            mode,
            data,
        });
    }
    out
}

fn names(tar: &[u8]) -> Vec<String> {
    entries(tar).into_iter().map(|e| e.path).collect()
}

fn find<'a>(entries: &'a [Entry], path: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} not in {entries:#?}"))
}

#[test]
fn a_snapshot_reads_the_commit_and_its_files() {
    let fx = fixture();
    let sha = commit(
        &fx.repo,
        "Add the app\n\nWith a longer body.\n",
        &[
            ("Dockerfile", FILE, b"FROM scratch\n"),
            ("src/main.rs", FILE, b"fn main() {}\n"),
            ("run.sh", EXEC, b"#!/bin/sh\n"),
            ("current", LINK, b"src"),
        ],
    );
    let snap = fx.repos.snapshot("demo", &sha, None).unwrap();
    assert_eq!(snap.commit_sha(), sha);
    assert_eq!(snap.short_sha(), &sha[..7]);
    assert_eq!(snap.message_summary(), "Add the app");
    assert_eq!(
        snap.read_file("Dockerfile").unwrap().as_deref(),
        Some(&b"FROM scratch\n"[..])
    );
    assert_eq!(
        snap.read_file("./src//main.rs").unwrap().as_deref(),
        Some(&b"fn main() {}\n"[..])
    );
    assert!(snap.read_file("run.sh").unwrap().is_some());
    assert_eq!(snap.read_file("src").unwrap(), None, "a directory");
    assert_eq!(snap.read_file("current").unwrap(), None, "a symlink");
    assert_eq!(snap.read_file("missing").unwrap(), None);
    assert_eq!(snap.read_file("src/main.rs/x").unwrap(), None);
    assert_eq!(snap.read_file("").unwrap(), None);
    assert!(matches!(
        snap.read_file("../x"),
        Err(GitError::InvalidPath(_))
    ));
    assert!(snap.file_exists("Dockerfile"));
    assert!(snap.file_exists("src/main.rs"));
    assert!(!snap.file_exists("src"));
    assert!(!snap.file_exists("current"));
    assert!(!snap.file_exists("Procfile"));
    assert!(format!("{snap:?}").contains(&sha));
}

#[test]
fn a_snapshot_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Snapshot>();
    assert_send::<BuildContext<Vec<u8>>>();
}

#[test]
fn snapshot_refuses_bad_ids_unknown_commits_and_missing_apps() {
    let fx = fixture();
    let sha = commit(&fx.repo, "x", &[("a", FILE, b"a")]);
    for bad in [
        "",
        "abc1234",
        &sha[..39],
        &format!("{sha}0"),
        &"g".repeat(40),
    ] {
        assert!(
            matches!(
                fx.repos.snapshot("demo", bad, None),
                Err(GitError::InvalidCommit(_))
            ),
            "{bad:?}"
        );
    }
    let upper = sha.to_uppercase();
    assert_eq!(
        fx.repos
            .snapshot("demo", &upper, None)
            .unwrap()
            .commit_sha(),
        sha
    );
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert!(matches!(
        fx.repos.snapshot("demo", unknown, None),
        Err(GitError::CommitNotFound(s)) if s == unknown
    ));
    // A blob's id is not a commit.
    let blob = fx.repo.blob(b"a").unwrap().to_string();
    assert!(matches!(
        fx.repos.snapshot("demo", &blob, None),
        Err(GitError::CommitNotFound(_))
    ));
    assert!(matches!(
        fx.repos.snapshot("ghost", &sha, None),
        Err(GitError::Open { .. })
    ));
    let nowhere = fx.root.path().join("no-such-quarantine");
    assert!(matches!(
        fx.repos.snapshot("demo", &sha, Some(&nowhere)),
        Err(GitError::Quarantine { .. })
    ));
}

#[test]
fn the_context_keeps_modes_symlinks_and_directories() {
    let fx = fixture();
    let submodule = b"0123456789abcdef0123456789abcdef01234567";
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\nCOPY . /app\n"),
        ("bin/start", EXEC, b"#!/bin/sh\nexec httpd\n"),
        ("bin/lib/util.sh", FILE, b"util\n"),
        ("latest", LINK, b"bin/start"),
        ("abs", LINK, b"/etc/hostname"),
        ("up", LINK, b"../outside"),
        ("vendor/sub", GITLINK, submodule),
        ("empty.txt", FILE, b""),
    ]);
    let ctx = snap.build_context("", "Dockerfile", Vec::new()).unwrap();
    assert_eq!(ctx.dockerfile, "Dockerfile");
    let got = entries(&ctx.tar);
    let summary: Vec<(&str, char, u32)> = got
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.mode))
        .collect();
    assert_eq!(
        summary,
        [
            ("Dockerfile", 'f', 0o644),
            ("abs", 'l', 0o777),
            ("bin/", 'd', 0o755),
            ("bin/lib/", 'd', 0o755),
            ("bin/lib/util.sh", 'f', 0o644),
            ("bin/start", 'f', 0o755),
            ("empty.txt", 'f', 0o644),
            ("latest", 'l', 0o777),
            ("up", 'l', 0o777),
            // The submodule is skipped; its (now empty) parent directory stays.
            ("vendor/", 'd', 0o755),
        ]
    );
    assert_eq!(find(&got, "bin/start").data, b"#!/bin/sh\nexec httpd\n");
    assert_eq!(find(&got, "latest").data, b"bin/start");
    assert_eq!(find(&got, "abs").data, b"/etc/hostname");
    assert_eq!(find(&got, "up").data, b"../outside");
    assert_eq!(find(&got, "empty.txt").data, b"");
}

#[test]
fn dockerignore_rules_are_applied() {
    let fx = fixture();
    let ignore = b"# build outputs\n*.md\n!README.md\nnode_modules\n**/*.log\nbuild/\n/tmp\n\
        secrets\n!secrets/public.pem\ndist/**\nDockerfile\n.dockerignore\n";
    let snap = fx.snapshot_of(&[
        (".dockerignore", FILE, ignore),
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("README.md", FILE, b"readme"),
        ("CHANGELOG.md", FILE, b"changes"),
        ("docs/guide.md", FILE, b"guide"),
        ("node_modules/left-pad/index.js", FILE, b"js"),
        ("src/node_modules/keep.js", FILE, b"js"),
        ("app.log", FILE, b"log"),
        ("src/deep/er/trace.log", FILE, b"log"),
        ("src/main.c", FILE, b"int main;"),
        ("build/out.o", FILE, b"obj"),
        ("tmp/scratch", FILE, b"tmp"),
        ("src/tmp/kept", FILE, b"kept"),
        ("secrets/key.pem", FILE, b"private"),
        ("secrets/public.pem", FILE, b"public"),
        ("dist/bundle.js", FILE, b"bundle"),
        ("dist/sub/x.js", FILE, b"x"),
    ]);
    let ctx = snap.build_context("", "Dockerfile", Vec::new()).unwrap();
    assert_eq!(
        names(&ctx.tar),
        [
            // Kept although listed: Docker always sends these two.
            ".dockerignore",
            "Dockerfile",
            "README.md",
            // `dist/**` empties the directory but keeps it.
            "dist/",
            "docs/",
            "docs/guide.md",
            // Written because something below it is re-included.
            "secrets/",
            "secrets/public.pem",
            "src/",
            "src/deep/",
            "src/deep/er/",
            "src/main.c",
            "src/node_modules/",
            "src/node_modules/keep.js",
            "src/tmp/",
            "src/tmp/kept",
        ]
    );
    assert_eq!(find(&entries(&ctx.tar), ".dockerignore").data, ignore);
}

#[test]
fn a_dockerfile_under_an_excluded_directory_is_still_sent() {
    let fx = fixture();
    let snap = fx.snapshot_of(&[
        (".dockerignore", FILE, b"docker\n"),
        ("docker/Dockerfile", FILE, b"FROM scratch\n"),
        ("docker/notes.txt", FILE, b"notes"),
        ("main.c", FILE, b"int main;"),
    ]);
    let ctx = snap
        .build_context("", "docker/Dockerfile", Vec::new())
        .unwrap();
    assert_eq!(ctx.dockerfile, "docker/Dockerfile");
    assert_eq!(
        names(&ctx.tar),
        [".dockerignore", "docker/", "docker/Dockerfile", "main.c"]
    );
}

#[test]
fn exports_are_deterministic() {
    let fx = fixture();
    let items: &[Item<'_>] = &[
        (".dockerignore", FILE, b"*.tmp\n"),
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("a/b/c.txt", FILE, b"c"),
        ("a/x.tmp", FILE, b"x"),
        ("run", EXEC, b"run"),
        ("link", LINK, b"a/b"),
    ];
    let first = fx.snapshot_of(items);
    let one = first.build_context("", "Dockerfile", Vec::new()).unwrap();
    let two = first.build_context("", "Dockerfile", Vec::new()).unwrap();
    assert_eq!(one, two);
    // Another commit of the same tree (other message, reopened) gives the same bytes.
    let sha = commit(&fx.repo, "Same tree again", items);
    assert_ne!(sha, first.commit_sha());
    let second = fx.repos.snapshot("demo", &sha, None).unwrap();
    assert_eq!(
        second.build_context("", "Dockerfile", Vec::new()).unwrap(),
        one
    );
    // The tar is well formed: the last two 512-byte blocks are zero.
    assert_eq!(one.tar.len() % 512, 0);
    assert!(one.tar[one.tar.len() - 1024..].iter().all(|&b| b == 0));
}

#[test]
fn a_context_directory_has_its_own_dockerignore() {
    let fx = fixture();
    let snap = fx.snapshot_of(&[
        (".dockerignore", FILE, b"services\n"),
        ("README", FILE, b"root"),
        ("services/web/.dockerignore", FILE, b"*.pyc\n"),
        ("services/web/Dockerfile", FILE, b"FROM scratch\n"),
        ("services/web/app.py", FILE, b"print()"),
        ("services/web/app.pyc", FILE, b"bytecode"),
        ("services/web/pkg/mod.py", FILE, b"mod"),
        ("services/worker/Dockerfile", FILE, b"FROM scratch\n"),
    ]);
    let ctx = snap
        .build_context("services/web/", "./services/web/Dockerfile", Vec::new())
        .unwrap();
    assert_eq!(ctx.dockerfile, "Dockerfile");
    assert_eq!(
        names(&ctx.tar),
        [
            ".dockerignore",
            "Dockerfile",
            "app.py",
            "pkg/",
            "pkg/mod.py"
        ]
    );
}

#[test]
fn a_dockerfile_outside_the_context_is_added_under_a_reserved_name() {
    let fx = fixture();
    let dockerfile = b"FROM scratch\nCOPY . /srv\n";
    let snap = fx.snapshot_of(&[
        ("docker/web.Dockerfile", FILE, dockerfile),
        ("app/index.html", FILE, b"<h1>hi</h1>"),
        ("app/.dockerignore", FILE, b"*.bak\n.*"),
        ("app/old.bak", FILE, b"old"),
        ("site/index.html", FILE, b"site"),
    ]);
    let ctx = snap
        .build_context("app", "docker/web.Dockerfile", Vec::new())
        .unwrap();
    assert_eq!(ctx.dockerfile, OUTSIDE_DOCKERFILE);
    let got = entries(&ctx.tar);
    assert_eq!(
        names(&ctx.tar),
        [".dockerignore", "index.html", OUTSIDE_DOCKERFILE]
    );
    assert_eq!(find(&got, OUTSIDE_DOCKERFILE).data, dockerfile);
    // Listed in the sent .dockerignore (a `.*` rule does not drop it from the tar), so
    // the engine removes it once read, as with the Docker client's own name for it.
    assert_eq!(
        find(&got, ".dockerignore").data,
        format!("*.bak\n.*\n{OUTSIDE_DOCKERFILE}\n").as_bytes()
    );

    // Without a .dockerignore, one is made, listing itself too (as the Docker client does).
    let ctx = snap
        .build_context("site", "docker/web.Dockerfile", Vec::new())
        .unwrap();
    let got = entries(&ctx.tar);
    assert_eq!(
        names(&ctx.tar),
        ["index.html", ".dockerignore", OUTSIDE_DOCKERFILE]
    );
    assert_eq!(
        find(&got, ".dockerignore").data,
        format!(".dockerignore\n{OUTSIDE_DOCKERFILE}\n").as_bytes()
    );
}

/// The build context's Dockerfile path, or its error; the check without contents
/// must find the same.
fn context_outcome(snap: &Snapshot, context: &str, dockerfile: &str) -> Result<String, GitError> {
    let built = snap
        .build_context(context, dockerfile, Vec::new())
        .map(|ctx| ctx.dockerfile);
    let checked = snap.check_build_context(context, dockerfile);
    assert_eq!(
        format!("{checked:?}"),
        format!("{built:?}"),
        "the check and the build disagree on {context:?} {dockerfile:?}"
    );
    built
}

#[test]
fn build_context_errors() {
    let fx = fixture();
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("bad/.dockerignore", FILE, b"ok\n[oops\n"),
        ("bad/Dockerfile", FILE, b"FROM scratch\n"),
        ("file", FILE, b"not a directory"),
        ("link", LINK, b"Dockerfile"),
    ]);
    assert!(matches!(
        context_outcome(&snap, "nope", "Dockerfile"),
        Err(GitError::ContextNotFound(c)) if c == "nope"
    ));
    assert!(matches!(
        context_outcome(&snap, "file", "Dockerfile"),
        Err(GitError::ContextNotFound(_))
    ));
    assert!(matches!(
        context_outcome(&snap, "", "Missing.Dockerfile"),
        Err(GitError::DockerfileNotFound(_))
    ));
    assert!(matches!(
        context_outcome(&snap, "", "bad"),
        Err(GitError::DockerfileNotFound(_))
    ));
    assert!(matches!(
        context_outcome(&snap, "", ""),
        Err(GitError::InvalidPath(_))
    ));
    assert!(matches!(
        context_outcome(&snap, "../up", "Dockerfile"),
        Err(GitError::InvalidPath(_))
    ));
    let err = context_outcome(&snap, "bad", "bad/Dockerfile").unwrap_err();
    assert!(
        matches!(&err, GitError::DockerIgnore(e) if e.line == 2),
        "{err}"
    );
    // A symlinked Dockerfile inside the context is sent as it is; the engine follows it.
    assert_eq!(context_outcome(&snap, "", "link").unwrap(), "link");
    assert_eq!(
        context_outcome(&snap, "", "bad/Dockerfile").unwrap(),
        "bad/Dockerfile"
    );
}

#[test]
fn long_paths_and_link_targets_survive() {
    let fx = fixture();
    let long_dir = "d".repeat(120);
    let long_file = format!("{long_dir}/{}", "f".repeat(150));
    let long_target = format!("{}/target", "t".repeat(200));
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\n"),
        (&long_file, FILE, b"deep"),
        ("link", LINK, long_target.as_bytes()),
    ]);
    let got = entries(
        &snap
            .build_context("", "Dockerfile", Vec::new())
            .unwrap()
            .tar,
    );
    assert_eq!(find(&got, &format!("{long_dir}/")).kind, 'd');
    assert_eq!(find(&got, &long_file).data, b"deep");
    assert_eq!(find(&got, "link").data, long_target.as_bytes());
}

#[test]
fn a_commit_in_quarantine_is_read_through_the_alternate() {
    let fx = fixture();
    // The deployed commit, already in the app's repository.
    let base_blob = fx.repo.blob(b"shared content\n").unwrap();

    // A push under way: its objects sit in a separate objects directory, which can see
    // the repository's objects (as git's quarantine does).
    let incoming = tempfile::tempdir().unwrap();
    let quarantine_repo = Repository::init_bare(incoming.path()).unwrap();
    let objects = fx.repo.path().join("objects");
    quarantine_repo
        .odb()
        .unwrap()
        .add_disk_alternate(objects.to_str().unwrap())
        .unwrap();
    let mut builder = quarantine_repo.treebuilder(None).unwrap();
    builder.insert("shared.txt", base_blob, FILE).unwrap();
    let new_blob = quarantine_repo.blob(b"FROM scratch\n").unwrap();
    builder.insert("Dockerfile", new_blob, FILE).unwrap();
    let tree = quarantine_repo.find_tree(builder.write().unwrap()).unwrap();
    let sig = Signature::new("T", "t@t", &Time::new(1_700_000_000, 0)).unwrap();
    let sha = quarantine_repo
        .commit(None, &sig, &sig, "Pushed", &tree, &[])
        .unwrap()
        .to_string();
    let quarantine = incoming.path().join("objects");

    // The repository alone does not know the commit.
    assert!(matches!(
        fx.repos.snapshot("demo", &sha, None),
        Err(GitError::CommitNotFound(_))
    ));
    assert!(fx.repo.find_blob(new_blob).is_err());

    let snap = fx.repos.snapshot("demo", &sha, Some(&quarantine)).unwrap();
    assert_eq!(snap.message_summary(), "Pushed");
    assert_eq!(
        snap.read_file("shared.txt").unwrap().as_deref(),
        Some(&b"shared content\n"[..])
    );
    let ctx = snap.build_context("", "Dockerfile", Vec::new()).unwrap();
    let got = entries(&ctx.tar);
    assert_eq!(names(&ctx.tar), ["Dockerfile", "shared.txt"]);
    assert_eq!(find(&got, "Dockerfile").data, b"FROM scratch\n");

    // Opening the snapshot added nothing to the repository for good.
    drop(snap);
    assert!(matches!(
        fx.repos.snapshot("demo", &sha, None),
        Err(GitError::CommitNotFound(_))
    ));
}

// ---- with the real git client ----

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "init.defaultBranch=main", "-c", "core.autocrlf=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_QUARANTINE_PATH",
    ] {
        command.env_remove(var);
    }
    command.output().expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A work tree with one commit made by `git` itself; returns its sha.
#[cfg(unix)]
fn work_tree_commit(dir: &Path) -> String {
    use std::os::unix::fs::{symlink, PermissionsExt};
    std::fs::create_dir_all(dir.join("web/static")).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY web /web\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "*.log\n").unwrap();
    std::fs::write(dir.join("web/index.html"), "<h1>hello</h1>\n").unwrap();
    std::fs::write(dir.join("web/static/app.css"), "body {}\n").unwrap();
    std::fs::write(dir.join("debug.log"), "noise\n").unwrap();
    std::fs::write(dir.join("start"), "#!/bin/sh\nexec httpd -f\n").unwrap();
    std::fs::set_permissions(dir.join("start"), std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("web/index.html", dir.join("index")).unwrap();
    git_ok(dir, &["init", "-q"]);
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "First deploy\n\nDetails."]);
    git_ok(dir, &["rev-parse", "HEAD"])
}

#[cfg(unix)]
fn assert_pushed_context(snap: &Snapshot) {
    assert_eq!(snap.message_summary(), "First deploy");
    let ctx = snap.build_context("", "Dockerfile", Vec::new()).unwrap();
    let got = entries(&ctx.tar);
    let summary: Vec<(&str, char, u32)> = got
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.mode))
        .collect();
    assert_eq!(
        summary,
        [
            (".dockerignore", 'f', 0o644),
            ("Dockerfile", 'f', 0o644),
            ("index", 'l', 0o777),
            ("start", 'f', 0o755),
            ("web/", 'd', 0o755),
            ("web/index.html", 'f', 0o644),
            ("web/static/", 'd', 0o755),
            ("web/static/app.css", 'f', 0o644),
        ]
    );
    assert_eq!(find(&got, "index").data, b"web/index.html");
    assert_eq!(find(&got, "web/index.html").data, b"<h1>hello</h1>\n");
}

#[cfg(unix)]
#[test]
fn a_commit_pushed_with_git_is_exported() {
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let sha = work_tree_commit(work.path());
    let bare = fx.repos.path_of("demo");
    git_ok(
        work.path(),
        &["push", "-q", bare.to_str().unwrap(), "HEAD:main"],
    );
    assert_eq!(
        fx.repo
            .refname_to_id("refs/heads/main")
            .unwrap()
            .to_string(),
        sha
    );
    let snap = fx.repos.snapshot("demo", &sha, None).unwrap();
    assert_pushed_context(&snap);
}

/// A pre-receive hook copies git's quarantine directory away and refuses the push: the
/// objects never reach the repository, and the copy is what a hook would have seen.
#[cfg(unix)]
#[test]
fn a_push_in_quarantine_is_exported_before_any_ref_moves() {
    use std::os::unix::fs::PermissionsExt;
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let sha = work_tree_commit(work.path());
    // Once as loose objects (the default for small pushes), once as a kept pack.
    for (app, unpack_limit) in [("loose", 100), ("packed", 1)] {
        let bare = fx.repos.create(app).unwrap();
        let repo = Repository::open_bare(&bare).unwrap();
        repo.config()
            .unwrap()
            .set_i32("receive.unpackLimit", unpack_limit)
            .unwrap();
        let hook = bare.join("hooks/pre-receive");
        std::fs::write(
            &hook,
            "#!/bin/sh\ncp -R \"$GIT_QUARANTINE_PATH\" \"$BERTH_TEST_KEEP\"\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        let kept = fx.root.path().join(format!("{app}-quarantine"));

        let mut push = Command::new("git");
        push.current_dir(work.path())
            .args(["push", "-q", bare.to_str().unwrap(), "HEAD:main"])
            .env("BERTH_TEST_KEEP", &kept)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        let out = push.output().unwrap();
        assert!(!out.status.success(), "the hook refuses the push");
        assert!(kept.is_dir(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(repo.refname_to_id("refs/heads/main").is_err());
        let has_pack = std::fs::read_dir(kept.join("pack"))
            .map(|dir| {
                dir.flatten()
                    .any(|e| e.path().extension() == Some("pack".as_ref()))
            })
            .unwrap_or(false);
        assert_eq!(has_pack, unpack_limit == 1, "{app}");

        assert!(matches!(
            fx.repos.snapshot(app, &sha, None),
            Err(GitError::CommitNotFound(_))
        ));
        let snap = fx.repos.snapshot(app, &sha, Some(&kept)).unwrap();
        assert_pushed_context(&snap);
    }
}

/// A tree of `levels` nested directories `d/d/d/…` with one file at the bottom.
fn nested(repo: &Repository, levels: usize) -> String {
    let mut builder = repo.treebuilder(None).unwrap();
    builder
        .insert("Dockerfile", repo.blob(b"FROM scratch\n").unwrap(), FILE)
        .unwrap();
    let mut tree = builder.write().unwrap();
    for _ in 0..levels {
        let mut builder = repo.treebuilder(None).unwrap();
        builder.insert("d", tree, 0o040000).unwrap();
        tree = builder.write().unwrap();
    }
    let mut root = repo
        .treebuilder(Some(&repo.find_tree(tree).unwrap()))
        .unwrap();
    root.insert("Dockerfile", repo.blob(b"FROM scratch\n").unwrap(), FILE)
        .unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let sig = Signature::new("Test", "test@example.com", &Time::new(1_700_000_000, 0)).unwrap();
    repo.commit(None, &sig, &sig, "deep", &tree, &[])
        .unwrap()
        .to_string()
}

#[test]
fn trees_nested_beyond_the_limit_are_refused_without_recursion() {
    let fx = fixture();
    let ok = fx
        .repos
        .snapshot("demo", &nested(&fx.repo, MAX_TREE_DEPTH), None)
        .unwrap();
    assert!(ok.unpacked_size(u64::MAX).is_ok());
    assert!(context_outcome(&ok, "", "Dockerfile").is_ok());

    let deep = nested(&fx.repo, 10_000);
    let snap = fx.repos.snapshot("demo", &deep, None).unwrap();
    assert!(matches!(
        snap.unpacked_size(u64::MAX),
        Err(GitError::TooDeep {
            limit: MAX_TREE_DEPTH
        })
    ));
    assert!(matches!(
        context_outcome(&snap, "", "Dockerfile"),
        Err(GitError::TooDeep {
            limit: MAX_TREE_DEPTH
        })
    ));
}

#[test]
fn the_unpacked_size_counts_every_file_and_stops_at_the_limit() {
    let fx = fixture();
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("a/one", FILE, &[7; 1000]),
        ("b/one", FILE, &[7; 1000]),
        ("link", LINK, b"a/one"),
    ]);
    assert_eq!(snap.unpacked_size(u64::MAX).unwrap(), 13 + 2000 + 5);
    assert!(matches!(
        snap.unpacked_size(1500),
        Err(GitError::TooLarge { limit: 1500 })
    ));
}

#[test]
fn large_files_are_streamed_into_the_context_intact() {
    let fx = fixture();
    let big: Vec<u8> = (0..3 * STREAM_ABOVE as usize + 17)
        .map(|i| (i % 251) as u8)
        .collect();
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("big.bin", EXEC, &big),
    ]);
    let ctx = snap.build_context("", "Dockerfile", Vec::new()).unwrap();
    let got = entries(&ctx.tar);
    let file = find(&got, "big.bin");
    assert_eq!(file.mode, 0o755);
    assert!(file.data == big, "the streamed file differs");
    assert!(matches!(
        snap.read_file("big.bin"),
        Err(GitError::FileTooLarge { .. })
    ));
}

/// Takes `room` bytes, then fails as a closed pipe does.
struct ClosingWriter {
    room: usize,
}

impl Write for ClosingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let taken = buf.len().min(self.room);
        self.room -= taken;
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_reader_that_goes_away_mid_file_ends_the_stream_from_git() {
    let fx = fixture();
    let big = vec![9u8; 64 * STREAM_ABOVE as usize];
    let snap = fx.snapshot_of(&[
        ("Dockerfile", FILE, b"FROM scratch\n"),
        ("big.bin", FILE, &big),
    ]);
    let err = snap
        .build_context("", "Dockerfile", ClosingWriter { room: 100_000 })
        .unwrap_err();
    assert!(
        matches!(&err, GitError::Tar(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
        "{err}"
    );
}
