use std::process::{Child, ChildStderr, Stdio};
use std::time::Duration;

use berth_testkit::{git_command, with_credentials, AppRepo, TestServer};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// An app's git remote on the bench's own server.
pub struct Remote {
    /// The git URL with the token in it: never printed.
    url: String,
    token: String,
}

impl Remote {
    /// Starts `git push [options] <url> main` in `repo`, with stderr piped.
    pub fn spawn_push(
        &self,
        repo: &AppRepo,
        options: &[&str],
    ) -> Result<(Child, ChildStderr), String> {
        let mut command = git_command(repo.path());
        command
            .arg("push")
            .args(options)
            .args([self.url.as_str(), "main"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Its own process group, so that `kill_group` reaches git's helpers too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run git: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        Ok((child, stderr))
    }

    /// `text` with the token replaced by `<token>`, fit to print.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.token, "<token>")
    }
}

/// Signs up the bench's user on `server`; returns its API token.
pub fn sign_up(server: &TestServer) -> String {
    server.create_user("bench@example.com", false, None)
}

/// Creates app `name` as the user holding `token`.
pub fn create_app(server: &TestServer, token: &str, name: &str) -> Result<Remote, String> {
    let token = token.to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let git_url = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/apps", server.api_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "name": name }))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("creating the app: {e}"))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("creating the app: {status}: {e}"))?;
        if !status.is_success() {
            return Err(format!("creating the app: {status}: {body}"));
        }
        body["git_url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the created app has no git_url: {body}"))
    })?;
    if !git_url.starts_with(&format!("{}/", server.api_url)) {
        return Err(format!(
            "the app's git URL {git_url} is not on the loopback server {}",
            server.api_url
        ));
    }
    Ok(Remote {
        url: with_credentials(&git_url, &token),
        token,
    })
}

/// Kills git and every helper in its process group, then reaps git.
pub fn kill_group(child: &mut Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}
