//! Driving the `wgtrain` binary as a user does.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary with `args`, ready to run or spawn.
pub fn wgtrain_command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wgtrain"));
    // Mesa's device-select layer is not needed to pick an adapter and warns on machines
    // without a display session.
    c.args(args).env("NODEVICE_SELECT", "1").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    c
}

/// Run the binary to the end.
pub fn wgtrain<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    wgtrain_command(args).output().expect("the wgtrain binary runs")
}

/// (stdout, stderr) as text.
pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// An empty directory of its own for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgtrain-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the binary to the end, failing the test if it takes longer than `limit` (a hang).
pub fn wgtrain_bounded<S: AsRef<std::ffi::OsStr>>(args: &[S], limit: std::time::Duration) -> Output {
    let mut child = wgtrain_command(args).spawn().expect("the wgtrain binary runs");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "wgtrain {:?} ran past {limit:?}",
                args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Special files in `dir`: a FIFO, and a character device reading like /dev/zero (a node of
/// its own, made with mknod, when running as root; else a symlink to /dev/zero, only read).
pub fn special_files(dir: &std::path::Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", fifo.display());
    let zero = dir.join("zero");
    let z = std::ffi::CString::new(zero.to_str().unwrap()).unwrap();
    if unsafe { libc::mknod(z.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 5)) } != 0 {
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    }
    vec![(fifo, "is a FIFO (named pipe), not a file"), (zero, "is a character device, not a file")]
}
