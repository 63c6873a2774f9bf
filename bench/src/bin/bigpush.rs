//! How much memory berthd needs for one large push: pushes the `cmd-only`
//! fixture plus a file of zeros (700 MiB by default: a few MB once packed)
//! to a real `berthd` running in this process, and prints the process's
//! peak resident memory (`VmHWM` in /proc/self/status) before and after.
//! git's own processes (client, receive-pack) are not counted: they are not
//! berthd. Prints figures; it never judges them.
//!
//! `cargo run --release -p berth-bench --bin bigpush -- [--mib N]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use berth_bench::{create_app, kill_group, not_an_option, positive, run_main, sign_up};
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};

const USAGE: &str = "usage: bigpush [--mib N]

  --mib N   size of the file of zeros pushed, in MiB (default 700)";

/// How long the push may take before git is killed.
const PUSH_TIMEOUT: Duration = Duration::from_secs(900);

fn main() -> ExitCode {
    run_main("bigpush", parse(std::env::args().skip(1)), run)
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<u64, String> {
    let mut mib = 700;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mib" => mib = positive(&mut args, "--mib", USAGE)?,
            other => return Err(not_an_option(other, USAGE)),
        }
    }
    Ok(mib)
}

/// A line of /proc/self/status in KiB, e.g. `VmHWM`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(mib: &u64) -> Result<(), String> {
    let server = TestServer::start_with(|settings| {
        settings.max_push_bytes = (mib + 64) << 20;
    });
    let token = sign_up(&server);
    let name = unique_app_name("bigpush");
    let _cleanup = EngineCleanup::new(&name);
    let remote = create_app(&server, &token, &name)?;
    let repo = AppRepo::from_fixture("cmd-only");
    let file = std::fs::File::create(repo.path().join("zeros.bin"))
        .map_err(|e| format!("cannot create the file of zeros: {e}"))?;
    file.set_len(mib << 20)
        .map_err(|e| format!("cannot size the file of zeros: {e}"))?;
    repo.commit("A large file of zeros");

    let before = status_kib("VmHWM:").unwrap_or(0);
    let started = Instant::now();
    let (mut child, stderr) = remote.spawn_push(&repo, &["--progress"])?;
    let output = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if started.elapsed() > PUSH_TIMEOUT {
            kill_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    let text = output.join().unwrap_or_default();
    let after = status_kib("VmHWM:").unwrap_or(0);
    let now = status_kib("VmRSS:").unwrap_or(0);

    println!("pushed file          {mib} MiB of zeros");
    match status {
        Some(status) if status.success() => println!("push                 deployed"),
        Some(status) => println!(
            "push                 rejected ({status}):\n{}",
            remote.redact(text.trim())
        ),
        None => println!(
            "push                 killed after {} s",
            PUSH_TIMEOUT.as_secs()
        ),
    }
    println!("push time            {:.1} s", elapsed.as_secs_f64());
    println!("berthd peak RSS      {} MiB before the push", before / 1024);
    println!("berthd peak RSS      {} MiB after the push", after / 1024);
    println!("berthd RSS now       {} MiB", now / 1024);
    Ok(())
}
