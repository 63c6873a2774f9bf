//! Paths inside the pushed commit, as manifests name them.

/// `path` made relative to the repository root without `.`/`..` components, leading `./`
/// or doubled and trailing slashes; `""` is the root itself. `..` is resolved lexically and
/// may not lead above the root.
pub(super) fn normalise(path: &str) -> Result<String, String> {
    if path.trim().is_empty() {
        return Err("empty path: expected a path relative to the repository root".into());
    }
    if path.starts_with('/') {
        return Err(format!(
            "path {path:?} is absolute: expected a path relative to the repository root"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "path {path:?} leads out of the repository: expected a path inside it"
                    ));
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_relative_paths() {
        assert_eq!(normalise("Dockerfile").unwrap(), "Dockerfile");
        assert_eq!(normalise("./Dockerfile").unwrap(), "Dockerfile");
        assert_eq!(
            normalise("worker//./Dockerfile").unwrap(),
            "worker/Dockerfile"
        );
        assert_eq!(normalise("worker/").unwrap(), "worker");
        assert_eq!(normalise("a/../b/Dockerfile").unwrap(), "b/Dockerfile");
        assert_eq!(normalise(".").unwrap(), "");
        assert_eq!(normalise("./").unwrap(), "");
    }

    #[test]
    fn refuses_paths_outside_the_repository() {
        assert_eq!(
            normalise("../x").unwrap_err(),
            "path \"../x\" leads out of the repository: expected a path inside it"
        );
        assert!(normalise("a/../../x").is_err());
        assert_eq!(
            normalise("/etc/passwd").unwrap_err(),
            "path \"/etc/passwd\" is absolute: expected a path relative to the repository root"
        );
        assert!(normalise("").is_err());
        assert!(normalise("  ").is_err());
    }
}
