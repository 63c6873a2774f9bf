//! `pipelines`, `pipelines:create|add|info|diff|promote|remove|destroy`,
//! `reviewapps:enable|disable`.

use berth_api_types::{
    AddPipelineAppRequest, CreatePipelineRequest, DiffTarget, EnableReviewAppsRequest, Pipeline,
    PipelineApp, PromoteRequest,
};

use super::Context;
use crate::api::Client;
use crate::cli::{
    AppArg, JsonArgs, PipelineAppArgs, PipelineInfoArgs, PipelineNameArg, PipelineOption,
    PipelinesDiffArgs, PipelinesPromoteArgs, ReviewAppsEnableArgs,
};
use crate::error::Result;
use crate::output;
use crate::terminal::Spinner;

pub fn list(context: &Context, args: JsonArgs) -> Result<()> {
    let pipelines = context.client()?.pipelines()?;
    if args.json {
        output::print_json(&pipelines);
    } else if pipelines.is_empty() {
        crate::outln!(
            "You have no pipelines. Create one with: berth pipelines:create NAME -a APP --stage STAGE"
        );
    } else {
        let rows: Vec<Vec<String>> = pipelines
            .iter()
            .map(|pipeline| vec![pipeline.name.clone(), apps_by_stage(pipeline)])
            .collect();
        crate::out!("{}", output::table(&["NAME", "APPS"], &rows));
    }
    Ok(())
}

/// `shop-staging (staging), shop-prod (production), 2 review apps`: review
/// apps come and go with branches, so they are counted rather than named.
fn apps_by_stage(pipeline: &Pipeline) -> String {
    let mut parts: Vec<String> = pipeline
        .apps
        .iter()
        .filter(|app| app.review.is_none())
        .map(|app| format!("{} ({})", app.app, app.stage))
        .collect();
    match pipeline
        .apps
        .iter()
        .filter(|app| app.review.is_some())
        .count()
    {
        0 => {}
        1 => parts.push("1 review app".into()),
        count => parts.push(format!("{count} review apps")),
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub fn create(context: &Context, args: PipelineAppArgs) -> Result<()> {
    let app = context.app_name(&args.app)?;
    let request = CreatePipelineRequest {
        name: args.pipeline,
        app: app.clone(),
        stage: args.stage,
    };
    let pipeline = context.client()?.create_pipeline(&request)?;
    if args.json {
        output::print_json(&pipeline);
    } else {
        crate::outln!(
            "Creating pipeline {} with {app} in {}... done",
            pipeline.name,
            request.stage
        );
    }
    Ok(())
}

pub fn add(context: &Context, args: PipelineAppArgs) -> Result<()> {
    let app = context.app_name(&args.app)?;
    let request = AddPipelineAppRequest {
        app: app.clone(),
        stage: args.stage,
    };
    let pipeline = context
        .client()?
        .add_pipeline_app(&args.pipeline, &request)?;
    if args.json {
        output::print_json(&pipeline);
    } else {
        crate::outln!(
            "Adding {app} to pipeline {} in {}... done",
            pipeline.name,
            request.stage
        );
    }
    Ok(())
}

pub fn info(context: &Context, args: PipelineInfoArgs) -> Result<()> {
    let pipeline = context.client()?.pipeline(&args.pipeline)?;
    if args.json {
        output::print_json(&pipeline);
        return Ok(());
    }
    crate::outln!("=== {}", pipeline.name);
    crate::out!(
        "{}",
        output::key_values(&[
            ("Review apps", review_apps_setting(&pipeline)),
            ("Created", output::time(&pipeline.created_at)),
        ])
    );
    // The server lists apps by stage in promotion order: one section per stage.
    let mut stages: Vec<&str> = Vec::new();
    for app in &pipeline.apps {
        if !stages.contains(&app.stage.as_str()) {
            stages.push(&app.stage);
        }
    }
    for stage in stages {
        let apps: Vec<&PipelineApp> = pipeline
            .apps
            .iter()
            .filter(|app| app.stage == stage)
            .collect();
        crate::outln!("\n=== {stage}");
        crate::out!("{}", stage_table(&apps));
    }
    Ok(())
}

/// `on: each is destroyed after 5d without a push, or when its branch is deleted`.
fn review_apps_setting(pipeline: &Pipeline) -> String {
    match (
        pipeline.review_apps.enabled,
        pipeline.review_apps.ttl_seconds,
    ) {
        (false, _) => "off".into(),
        (true, Some(seconds)) => format!(
            "on: each is destroyed after {} without a push, or when its branch is deleted",
            ttl(seconds)
        ),
        (true, None) => "on: each is destroyed when its branch is deleted".into(),
    }
}

/// APP RELEASE COMMIT RELEASED, and BRANCH EXPIRES when review apps are among them.
fn stage_table(apps: &[&PipelineApp]) -> String {
    let with_review = apps.iter().any(|app| app.review.is_some());
    let mut headers = vec!["APP", "RELEASE", "COMMIT", "RELEASED"];
    if with_review {
        headers.extend(["BRANCH", "EXPIRES"]);
    }
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            let mut row = vec![
                app.app.clone(),
                app.release.map_or_else(|| "-".into(), |v| format!("v{v}")),
                app.commit
                    .as_deref()
                    .map_or_else(|| "-".into(), |sha| short(sha).to_string()),
                app.released_at
                    .as_ref()
                    .map_or_else(|| "-".into(), output::time),
            ];
            if with_review {
                match &app.review {
                    Some(review) => row.extend([
                        printable(&review.branch),
                        review
                            .expires_at
                            .as_ref()
                            .map_or_else(|| "never".into(), output::time),
                    ]),
                    None => row.extend(["-".to_string(), "-".to_string()]),
                }
            }
            row
        })
        .collect();
    output::table(&headers, &rows)
}

pub fn diff(context: &Context, args: PipelinesDiffArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let diff = context.client()?.pipeline_diff(&name, args.to.as_deref())?;
    if args.json {
        output::print_json(&diff);
        return Ok(());
    }
    let source = running(&diff.app, diff.release, diff.commit.as_deref());
    if diff.targets.is_empty() {
        crate::outln!(
            "{source} ({}): no app of the next stage to compare with",
            diff.stage
        );
    }
    for (index, target) in diff.targets.iter().enumerate() {
        if index > 0 {
            crate::outln!("");
        }
        crate::out!("{}", describe_target(&source, target));
    }
    Ok(())
}

/// What one app of the next stage lacks, as lines of text.
fn describe_target(source: &str, target: &DiffTarget) -> String {
    let label = format!(
        "{} ({}) {}",
        target.app,
        target.stage,
        running_release(target.release, target.commit.as_deref())
    );
    if target.unrelated {
        return format!(
            "{label} runs a commit that is not in the history of {source}: they cannot be \
             compared\n"
        );
    }
    if target.commits.is_empty() {
        return format!("{label} is up to date with {source}\n");
    }
    let count = target.commits.len();
    let commits = match (count, target.truncated) {
        (_, true) => format!("more than {count} commits"),
        (1, false) => "1 commit".into(),
        (_, false) => format!("{count} commits"),
    };
    let mut text = format!("{label} lacks {commits} of {source}:\n");
    let authors: Vec<String> = target
        .commits
        .iter()
        .map(|commit| printable(author_name(&commit.author)))
        .collect();
    let author_width = authors
        .iter()
        .map(|author| author.chars().count())
        .max()
        .unwrap_or(0);
    for (commit, author) in target.commits.iter().zip(&authors) {
        let line = format!(
            "  {}  {}  {author:<author_width$}  {}",
            short(&commit.sha),
            commit.time.format("%Y-%m-%d"),
            printable(&commit.summary)
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

pub fn promote(context: &Context, args: PipelinesPromoteArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let spinner = Spinner::start(promoting(&client, &name, &args.to));
    let promotion = client.promote(
        &name,
        &PromoteRequest {
            to: args.to.clone(),
        },
    )?;
    spinner.done();
    if args.json {
        output::print_json(&promotion);
    } else {
        for promoted in &promotion.promoted {
            crate::outln!(
                "{}: v{} ({})",
                promoted.app,
                promoted.release.version,
                promoted.release.description
            );
        }
    }
    Ok(())
}

/// `Promoting shop-staging v12 to shop-prod`, from what the diff says the
/// app and its targets are now. It only words the wait: when the diff
/// fails, the message says less and the promotion gives the real answer.
fn promoting(client: &Client, app: &str, to: &[String]) -> String {
    let only = match to {
        [one] => Some(one.as_str()),
        _ => None,
    };
    match client.pipeline_diff(app, only) {
        Ok(diff) => {
            let targets: Vec<&str> = diff
                .targets
                .iter()
                .map(|target| target.app.as_str())
                .filter(|target| to.is_empty() || to.iter().any(|named| named == target))
                .collect();
            let release = diff
                .release
                .map_or_else(String::new, |version| format!(" v{version}"));
            format!("Promoting {app}{release} to {}", targets_text(&targets))
        }
        Err(_) => {
            let named: Vec<&str> = to.iter().map(String::as_str).collect();
            format!("Promoting {app} to {}", targets_text(&named))
        }
    }
}

fn targets_text(targets: &[&str]) -> String {
    if targets.is_empty() {
        "the next stage".into()
    } else {
        targets.join(", ")
    }
}

pub fn remove(context: &Context, args: AppArg) -> Result<()> {
    let name = context.app_name(&args)?;
    let pipeline = context.client()?.remove_pipeline_app(&name)?;
    crate::outln!(
        "Removing {name} from pipeline {}... done (the app stays)",
        pipeline.name
    );
    Ok(())
}

pub fn destroy(context: &Context, args: PipelineNameArg) -> Result<()> {
    let pipeline = context.client()?.destroy_pipeline(&args.pipeline)?;
    let (review, kept): (Vec<&PipelineApp>, Vec<&PipelineApp>) =
        pipeline.apps.iter().partition(|app| app.review.is_some());
    let names = |apps: &[&PipelineApp]| {
        apps.iter()
            .map(|app| app.app.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut outcome = Vec::new();
    if !review.is_empty() {
        outcome.push(format!(
            "its review apps were destroyed: {}",
            names(&review)
        ));
    }
    if !kept.is_empty() {
        outcome.push(format!("its apps stay: {}", names(&kept)));
    }
    if outcome.is_empty() {
        crate::outln!("Destroying pipeline {}... done", pipeline.name);
    } else {
        crate::outln!(
            "Destroying pipeline {}... done; {}",
            pipeline.name,
            outcome.join("; ")
        );
    }
    Ok(())
}

pub fn enable_review_apps(context: &Context, args: ReviewAppsEnableArgs) -> Result<()> {
    let request = EnableReviewAppsRequest { ttl: args.ttl };
    let pipeline = context
        .client()?
        .enable_review_apps(&args.pipeline.pipeline, &request)?;
    crate::outln!(
        "Enabling review apps on pipeline {}... done ({})",
        pipeline.name,
        review_apps_setting(&pipeline)
    );
    Ok(())
}

pub fn disable_review_apps(context: &Context, args: PipelineOption) -> Result<()> {
    let pipeline = context.client()?.disable_review_apps(&args.pipeline)?;
    crate::outln!(
        "Disabling review apps on pipeline {}... done: pushes of other branches than main \
         and master are refused again",
        pipeline.name
    );
    Ok(())
}

/// `shop-staging v5 def5678`.
fn running(app: &str, release: Option<i64>, commit: Option<&str>) -> String {
    format!("{app} {}", running_release(release, commit))
}

/// `v5 def5678`, `v5`, or `(no release yet)`.
fn running_release(release: Option<i64>, commit: Option<&str>) -> String {
    match (release, commit) {
        (Some(version), Some(sha)) => format!("v{version} {}", short(sha)),
        (Some(version), None) => format!("v{version}"),
        (None, _) => "(no release yet)".into(),
    }
}

/// `Ann Smith` of `Ann Smith <ann@example.com>`: the name alone keeps a
/// diff line short.
fn author_name(author: &str) -> &str {
    match author.rsplit_once(" <") {
        Some((name, email)) if email.ends_with('>') && !name.trim().is_empty() => name,
        _ => author,
    }
}

/// A commit's first 7 characters, as git abbreviates it.
fn short(sha: &str) -> &str {
    sha.char_indices()
        .nth(7)
        .map_or(sha, |(end, _)| &sha[..end])
}

/// Text from commits and branches (anyone who pushes writes it) without
/// control characters, so it cannot move the cursor or recolour the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Seconds as the largest whole unit `--ttl` takes: `5d`, `12h`, `30m`, `45s`.
fn ttl(seconds: u64) -> String {
    match seconds {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use berth_api_types::{Commit, ReviewOf};
    use chrono::TimeZone;

    use super::*;

    fn target(commits: usize, truncated: bool, unrelated: bool) -> DiffTarget {
        let time = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 10, 4, 5).unwrap();
        DiffTarget {
            app: "shop-prod".into(),
            stage: "production".into(),
            release: Some(3),
            commit: Some("abc1234ffffffffffffffffffffffffffffffff".into()),
            commits: (0..commits)
                .map(|n| Commit {
                    sha: format!("def567{n}eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"),
                    author: if n == 0 {
                        "Ann <ann@example.com>"
                    } else {
                        "Bob Builder <bob@example.com>"
                    }
                    .into(),
                    summary: format!("Change \x1b[31m{n}"),
                    time,
                })
                .collect(),
            truncated,
            unrelated,
        }
    }

    #[test]
    fn a_diff_lists_the_missing_commits_with_aligned_authors() {
        assert_eq!(
            describe_target("shop-staging v5 def5670", &target(2, false, false)),
            "\
shop-prod (production) v3 abc1234 lacks 2 commits of shop-staging v5 def5670:
  def5670  2026-12-07  Ann          Change  [31m0
  def5671  2026-12-07  Bob Builder  Change  [31m1
"
        );
        let more = describe_target("s v5", &target(2, true, false));
        assert!(
            more.contains(" lacks more than 2 commits of s v5:"),
            "{more}"
        );
        let one = describe_target("s v5", &target(1, false, false));
        assert!(one.contains(" lacks 1 commit of s v5:"), "{one}");
    }

    #[test]
    fn a_diff_says_up_to_date_and_unrelated() {
        assert_eq!(
            describe_target("shop-staging v5 abc1234", &target(0, false, false)),
            "shop-prod (production) v3 abc1234 is up to date with shop-staging v5 abc1234\n"
        );
        let unrelated = describe_target("s v5", &target(0, false, true));
        assert!(unrelated.contains("cannot be compared"), "{unrelated}");
        assert_eq!(running_release(None, None), "(no release yet)");
    }

    #[test]
    fn review_apps_show_their_branch_and_expiry() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 10, 4, 5).unwrap();
        let app = |name: &str, review: Option<ReviewOf>| PipelineApp {
            app: name.into(),
            stage: "review".into(),
            release: review.as_ref().map(|_| 2),
            commit: review
                .as_ref()
                .map(|_| "0123456789abcdef0123456789abcdef01234567".into()),
            released_at: review.as_ref().map(|_| at),
            web_url: format!("http://{name}.localhost/"),
            review,
        };
        let review = ReviewOf {
            parent: "shop-staging".into(),
            branch: "feature-x".into(),
            last_push_at: at,
            expires_at: Some(at + chrono::Duration::days(5)),
        };
        let apps = [
            app("shop-staging-feature-x", Some(review)),
            app("shop-review", None),
        ];
        assert_eq!(
            stage_table(&apps.iter().collect::<Vec<_>>()),
            "\
APP                     RELEASE  COMMIT   RELEASED              BRANCH     EXPIRES
shop-staging-feature-x  v2       0123456  2026-12-07 10:04 UTC  feature-x  2026-12-12 10:04 UTC
shop-review             -        -        -                     -          -
"
        );
    }

    #[test]
    fn ttls_read_as_they_are_written() {
        assert_eq!(ttl(5 * 86_400), "5d");
        assert_eq!(ttl(12 * 3_600), "12h");
        assert_eq!(ttl(90 * 60), "90m");
        assert_eq!(ttl(45), "45s");
    }
}
