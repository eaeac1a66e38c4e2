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
