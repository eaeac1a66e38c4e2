//! Records the commit the binary was built from (`WGTRAIN_COMMIT`: the short hash, `+dirty`
//! when tracked files differ from it, `unknown` outside a git checkout), so that reports can
//! say which code produced them.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}+dirty") } else { hash }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=WGTRAIN_COMMIT={commit}");
    // A commit, a checkout or an edit changes the answer.
    for path in [".git/HEAD", ".git/index", "src", "shaders", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
