use std::sync::atomic::{AtomicBool, Ordering};

use berth_testkit::EngineCleanup;

/// Set by the first Ctrl-C: the bench stops what it is doing and unwinds,
/// so that every guard (engine objects, temporary directories) is dropped.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// First Ctrl-C: sets [`interrupted`], so that the bench stops and cleans up
/// as usual. Second Ctrl-C: removes `app`'s engine objects now and exits.
pub fn watch_interrupts(app: &str) {
    let app = app.to_string();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("interrupted: stopping and cleaning up (Ctrl-C again to force)");
            if tokio::signal::ctrl_c().await.is_ok() {
                drop(EngineCleanup::new(&app));
                std::process::exit(130);
            }
        });
    });
}
