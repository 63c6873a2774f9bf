//! How commits are named to people: by their first 7 hex digits, as git does.

/// The short form of a commit id: its first 7 characters (all of a shorter one).
pub fn short_commit(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_named_by_its_first_seven_digits() {
        assert_eq!(
            short_commit("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"),
            "1a2b3c4"
        );
        assert_eq!(short_commit("1a2b"), "1a2b");
        // Not a commit id, but never a panic: a stored value is only shown.
        assert_eq!(short_commit("ééééé"), "ééééé");
    }
}
