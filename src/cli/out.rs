//! Standard output that a closed pipe does not crash: after `wgtrain train | head -1` has
//! read its line, the next write fails with EPIPE, which `println!` turns into a panic. Here
//! the first such failure marks standard output closed; later writes are dropped, a training
//! run stops after its current step as on Ctrl-C (keeping its resume checkpoint, and saying
//! so on standard error), and `finish` ends the process as Unix tools end: by SIGPIPE, quietly.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a reader closed standard output.
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// Write to standard output (the `out!` and `outln!` macros).
pub fn write(args: std::fmt::Arguments) {
    write_bytes(std::fmt::format(args).as_bytes());
}

/// Write bytes to standard output, flushed.
pub fn write_bytes(bytes: &[u8]) {
    if closed() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CLOSED.store(true, Ordering::SeqCst);
        } else {
            // Not a closed reader (a full disk behind a redirection): say so once, go on.
            if !CLOSED.swap(true, Ordering::SeqCst) {
                eprintln!("warning: cannot write to standard output ({e}); the rest of it is dropped");
            }
        }
    }
}

/// End the process as a Unix tool whose reader went away: killed by SIGPIPE, with no
/// message. Does nothing while standard output is open.
pub fn finish() {
    if !closed() {
        return;
    }
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141);
}
