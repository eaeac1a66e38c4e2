//! Files that never end, or never start, given where wgtrain reads a file: a FIFO with no
//! writer and a character device that reads like /dev/zero. Every command refuses them by
//! kind, at once (a hang fails the test after 60 s), and nothing is written.

mod common;

use std::time::Duration;

use common::cli::{special_files, tempdir, text, wgtrain_bounded, wgtrain_command};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn every_input_refuses_fifos_and_devices_by_kind() {
    let dir = tempdir("special-inputs");
    for (file, kind) in special_files(&dir) {
        let f = file.to_str().unwrap();
        let out = dir.join("out");
        let o = out.to_str().unwrap();
        let csv = format!("csv:{f}");
        let cases: Vec<Vec<&str>> = vec![
            vec!["train", "--config", f, "-o", o],
            vec!["train", "--dataset", &csv, "-o", o],
            vec!["train", "--resume", f, "-o", o],
            vec!["eval", f],
            vec!["info", f],
            vec!["predict", f, f, "-o", o],
            vec!["bench", "--compare", f, "--models", "mlp", "--batch", "1", "--repeats", "1"],
            vec!["plot", f, "-o", o],
        ];
        for args in cases {
            let ran = wgtrain_bounded(&args, LIMIT);
            let stderr = text(&ran).1;
            assert!(!ran.status.success(), "{args:?} succeeded");
            assert!(stderr.contains(kind), "{args:?}: {stderr}");
            assert!(!out.exists(), "{args:?} wrote {}", out.display());
        }
    }
}

#[test]
fn a_fifo_or_device_as_the_tune_cache_is_retuned_past() {
    for which in [0, 1] {
        let dir = tempdir(&format!("special-cache-{which}"));
        let cache = dir.join("cache");
        std::fs::create_dir(&cache).unwrap();
        let (special, _) = special_files(&dir).swap_remove(which);
        std::fs::rename(&special, cache.join("matmul-tiling.json")).unwrap();
        let mut c = wgtrain_command(&["info"]);
        c.env("WGTRAIN_CACHE_DIR", &cache);
        let mut child = c.spawn().unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < LIMIT, "info hung on a special tune cache");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
    }
}

/// A character device node of the test's own (as /dev/null: major 1, minor 3), made with
/// mknod where the test runs as root; None elsewhere.
fn null_node(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let node = dir.join("null");
    let c = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
    (unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0).then_some(node)
}

fn is_char_device(p: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).unwrap().file_type().is_char_device()
}

#[test]
fn outputs_write_into_devices_fifos_and_through_symlinks_never_over_them() {
    let dir = tempdir("special-outputs");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let run = dir.join("run");
    let trained = wgtrain_bounded(
        &[
            "train",
            "--dataset",
            "digits",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--data-dir",
            data,
            "-o",
            run.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(trained.status.success(), "{}", text(&trained).1);
    let model = run.join("model.safetensors");
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, "0,".repeat(63) + "0\n").unwrap();
    let predict = |out: &std::path::Path| {
        wgtrain_bounded(
            &[
                "predict",
                model.to_str().unwrap(),
                rows.to_str().unwrap(),
                "--device",
                "cpu",
                "-o",
                out.to_str().unwrap(),
            ],
            LIMIT,
        )
    };
    // A device node: written into, still a device afterwards.
    if let Some(node) = null_node(&dir) {
        let ran = predict(&node);
        assert!(ran.status.success(), "{}", text(&ran).1);
        assert!(is_char_device(&node), "predict -o replaced the device node by a file");
        let bench = wgtrain_bounded(
            &[
                "bench",
                "--device",
                "cpu",
                "--layers",
                "16,8,2",
                "--batch",
                "1",
                "--repeats",
                "1",
                "-o",
                node.to_str().unwrap(),
            ],
            LIMIT,
        );
        assert!(bench.status.success(), "{}", text(&bench).1);
        assert!(is_char_device(&node), "bench -o replaced the device node by a file");
    }
    // A FIFO with a reader: the predictions arrive through it.
    let (fifo, _) = special_files(&dir).swap_remove(0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let ran = predict(&fifo);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let got = reader.join().unwrap();
    assert!(got.starts_with("row,class,"), "{got}");
    // Without a reader: an error, not a wait.
    let ran = predict(&fifo);
    assert!(!ran.status.success() && text(&ran).1.contains("is a FIFO with no reader"), "{}", text(&ran).1);
    // A symlink: the file it points to is written, the link stays a link.
    let real = dir.join("real.csv");
    std::fs::write(&real, "old").unwrap();
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let ran = predict(&link);
    assert!(ran.status.success(), "{}", text(&ran).1);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().starts_with("row,class,"));
    // A directory: refused by kind, nothing left beside it.
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let ran = predict(&folder);
    assert!(!ran.status.success() && text(&ran).1.contains("is a directory; name a file in it"), "{}", text(&ran).1);
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
