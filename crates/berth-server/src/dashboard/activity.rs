//! An app's recent activity in sentences: each audit entry as "who did
//! what", from the detail the entry carries, releases linked to their row
//! on the Releases tab.

use berth_platform::AuditEvent;

use super::moments::Moment;

/// A piece of an activity sentence.
pub(super) enum Part {
    Text(String),
    /// A release of the app, linked to its row on the Releases tab.
    Release(i64),
    /// A commit, shortened, linked to the release it made.
    Commit {
        short: String,
        full: String,
        version: i64,
    },
}

pub(super) struct ActivityRow {
    pub parts: Vec<Part>,
    pub at: Moment,
}

/// The entry as a sentence: `dev@example.com deployed v3 (abc1234)`.
pub(super) fn row(event: AuditEvent) -> ActivityRow {
    let who = event
        .entry
        .actor_email
        .unwrap_or_else(|| "Berth".to_string());
    let mut parts = vec![Part::Text(format!("{who} "))];
    parts.extend(sentence(&event.entry.action, &event.entry.detail));
    ActivityRow {
        parts,
        at: Moment::of(event.at),
    }
}

/// What was done, without who did it.
fn sentence(action: &str, detail: &str) -> Vec<Part> {
    let text = |words: String| vec![Part::Text(words)];
    // `verb` alone without a detail, `verb detail` with one.
    let with_detail = |verb: &str| {
        if detail.is_empty() {
            text(verb.to_string())
        } else {
            text(format!("{verb} {detail}"))
        }
    };
    match action {
        "release.deploy" => deployed("deployed", detail),
        "release.redeploy" => deployed("redeployed", detail),
        "release.rollback" => rolled_back(detail),
        "release.promote" => promoted_here(detail),
        "formation.scale" => text(format!("scaled {}", scaled(detail))),
        "config.change" => text(format!("changed config: {}", lowercase_first(detail))),
        "config.read" => with_detail("read the config vars"),
        "limits.change" => text(format!("changed limits: {}", lowercase_first(detail))),
        "maintenance.on" => text("turned maintenance mode on".into()),
        "maintenance.off" => text("turned maintenance mode off".into()),
        "dyno.restart" => with_detail("restarted"),
        "dyno.stop" => with_detail("stopped"),
        "dyno.run" => with_detail("ran the one-off dyno"),
        "app.create" if detail.is_empty() => text("created the app".into()),
        "app.create" => text(format!("created the app ({detail})")),
        "app.destroy" => with_detail("destroyed the app:"),
        "domains.add" => with_detail("added the domain"),
        "domains.remove" => with_detail("removed the domain"),
        "certs.add" => with_detail("added a certificate for"),
        "certs.remove" => with_detail("removed the certificate of"),
        "certs.issue" => with_detail("got an automatic certificate for"),
        "certs.settings" => with_detail("changed the TLS settings:"),
        "certs.auto.refresh" => text("asked for automatic certificates again".into()),
        "access.add" => match detail.rsplit_once(" as ") {
            Some((email, role)) => text(format!("gave {email} the {role} role")),
            None => with_detail("gave access to"),
        },
        "access.update" => match detail.rsplit_once(" to ") {
            Some((email, role)) => text(format!("changed {email}'s role to {role}")),
            None => with_detail("changed the role of"),
        },
        "access.remove" => text(format!("took {detail}'s access away")),
        "addons.create" => with_detail("created the add-on"),
        "addons.destroy" => with_detail("destroyed the add-on"),
        "addons.attach" => with_detail("attached the add-on"),
        "addons.detach" => with_detail("detached the add-on"),
        "addons.rotate" => with_detail("rotated the credentials of"),
        "addons.reveal" => with_detail("revealed the credentials of"),
        "addons.backup" => with_detail("backed up"),
        "addons.restore" => with_detail("restored from a backup:"),
        "drain.add" => text("added a log drain".into()),
        "drain.remove" => text("removed a log drain".into()),
        "volume.create" => with_detail("created the volume"),
        "volume.destroy" => with_detail("destroyed the volume"),
        "pipeline.create" => with_detail("created the pipeline"),
        "pipeline.add" => with_detail("added the app to the pipeline"),
        "pipeline.remove" => with_detail("took the app out of the pipeline"),
        "pipeline.destroy" => with_detail("destroyed the pipeline"),
        "pipeline.promote" => with_detail("promoted"),
        "reviewapps.enable" => with_detail("turned review apps on for"),
        "reviewapps.disable" => with_detail("turned review apps off for"),
        "reviewapp.create" => with_detail("created the review app"),
        "reviewapp.deploy" => with_detail("deployed the review app"),
        "reviewapp.destroy" => with_detail("destroyed the review app"),
        // An action this page has no words for yet: its name, readably.
        other => {
            let words = other.replace(['.', '_'], " ");
            if detail.is_empty() {
                text(format!("did {words}"))
            } else {
                text(format!("did {words}: {detail}"))
            }
        }
    }
}

/// `v3 from <sha>` (a push, or a redeploy) as `deployed v3 (abc1234)`.
fn deployed(verb: &str, detail: &str) -> Vec<Part> {
    let Some((version, commit)) = detail.split_once(" from ") else {
        return vec![Part::Text(format!("{verb} {detail}"))];
    };
    let Some(release) = version_of(version) else {
        return vec![Part::Text(format!("{verb} {detail}"))];
    };
    vec![
        Part::Text(format!("{verb} ")),
        Part::Release(release),
        Part::Text(" (".into()),
        Part::Commit {
            short: berth_core::short_commit(commit).to_string(),
            full: commit.to_string(),
            version: release,
        },
        Part::Text(")".into()),
    ]
}

/// `Rollback to v2: v4` as `rolled back to v2 (as v4)`.
fn rolled_back(detail: &str) -> Vec<Part> {
    let parsed = detail
        .strip_prefix("Rollback to ")
        .and_then(|rest| rest.split_once(": "))
        .and_then(|(to, made)| Some((version_of(to)?, version_of(made)?)));
    match parsed {
        Some((to, made)) => vec![
            Part::Text(format!("rolled back to v{to} (as ")),
            Part::Release(made),
            Part::Text(")".into()),
        ],
        None => vec![Part::Text(format!("rolled back: {detail}"))],
    }
}

/// `Promote shop-staging v3: v5` as `promoted shop-staging v3 here (as v5)`.
fn promoted_here(detail: &str) -> Vec<Part> {
    let parsed = detail
        .strip_prefix("Promote ")
        .and_then(|rest| rest.rsplit_once(": "))
        .and_then(|(source, made)| Some((source, version_of(made)?)));
    match parsed {
        Some((source, made)) => vec![
            Part::Text(format!("promoted {source} here (as ")),
            Part::Release(made),
            Part::Text(")".into()),
        ],
        None => vec![Part::Text(format!("promoted a release here: {detail}"))],
    }
}

/// `worker@0->1 web@2` as `worker 0 → 1, web to 2` (entries recorded
/// before the old count was kept say only the new one).
fn scaled(detail: &str) -> String {
    let changes: Vec<String> = detail
        .split_whitespace()
        .map(|change| match change.split_once('@') {
            Some((process_type, counts)) => match counts.split_once("->") {
                Some((before, after)) => format!("{process_type} {before} → {after}"),
                None => format!("{process_type} to {counts}"),
            },
            None => change.to_string(),
        })
        .collect();
    changes.join(", ")
}

fn version_of(text: &str) -> Option<i64> {
    text.trim().strip_prefix('v')?.parse().ok()
}

/// `Set GREETING config vars` reads on after a colon as `set GREETING…`.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(parts: Vec<Part>) -> String {
        parts
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => text,
                Part::Release(version) => format!("[v{version}]"),
                Part::Commit { short, .. } => format!("[{short}]"),
            })
            .collect()
    }

    #[test]
    fn known_actions_read_as_sentences() {
        let cases = [
            (
                "release.deploy",
                "v3 from abc1234def5678",
                "deployed [v3] ([abc1234])",
            ),
            (
                "release.redeploy",
                "v4 from abc1234def5678",
                "redeployed [v4] ([abc1234])",
            ),
            (
                "release.rollback",
                "Rollback to v2: v4",
                "rolled back to v2 (as [v4])",
            ),
            (
                "release.promote",
                "Promote shop-staging v3: v5",
                "promoted shop-staging v3 here (as [v5])",
            ),
            ("formation.scale", "worker@0->1", "scaled worker 0 → 1"),
            (
                "formation.scale",
                "web@2 worker@1",
                "scaled web to 2, worker to 1",
            ),
            (
                "config.change",
                "Set GREETING config vars",
                "changed config: set GREETING config vars",
            ),
            (
                "domains.add",
                "shop.example.test",
                "added the domain shop.example.test",
            ),
            (
                "access.add",
                "ann@example.com as viewer",
                "gave ann@example.com the viewer role",
            ),
            (
                "access.update",
                "ann@example.com to admin",
                "changed ann@example.com's role to admin",
            ),
            (
                "access.remove",
                "ann@example.com",
                "took ann@example.com's access away",
            ),
            ("maintenance.on", "", "turned maintenance mode on"),
            ("app.create", "", "created the app"),
        ];
        for (action, detail, want) in cases {
            assert_eq!(plain(sentence(action, detail)), want, "{action} {detail}");
        }
    }

    #[test]
    fn unknown_actions_read_without_their_raw_names() {
        assert_eq!(
            plain(sentence("quota.raise_limit", "to 5")),
            "did quota raise limit: to 5"
        );
        assert_eq!(plain(sentence("quota.raise", "")), "did quota raise");
        // A detail not in the expected shape is still shown whole.
        assert_eq!(plain(sentence("release.deploy", "v3")), "deployed v3");
    }
}
