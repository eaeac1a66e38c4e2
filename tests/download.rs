//! Fetching datasets on first use, against a server on 127.0.0.1 that serves files the tests
//! write: a file reaches its place only whole and verified, mirrors are tried in turn, and
//! every failure says which sources were tried and what each gave.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use common::cli::tempdir;
use common::serve::Server;
use sha2::{Digest, Sha256};
use wgtrain::data::download::{fetch, Pinned, Remote, Unpack};
use wgtrain::Error;

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Files in `dir` whose names start with a dot: what a failed or finished fetch must not leave.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with('.')).collect())
        .unwrap_or_default()
}

fn no_progress() -> impl FnMut(&str, u64, Option<u64>) {
    |_: &str, _: u64, _: Option<u64>| {}
}

struct Fixture {
    server: Server,
    plain: Vec<u8>,
    content: Vec<u8>,
    served_gz: Vec<u8>,
    pins: [(String, String, Option<String>); 2],
}

/// A plain file pinned by its bytes, and a gzip file pinned by another compression of the
/// same content (as a recompressing mirror serves it): the content pin must accept it.
fn fixture() -> Fixture {
    let plain: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let content: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let (published_gz, served_gz) = (gzip(&content, 9), gzip(&content, 1));
    assert_ne!(published_gz, served_gz, "the two compressions must differ for the content pin to be exercised");
    let mut files = HashMap::new();
    files.insert("plain.bin".to_string(), plain.clone());
    files.insert("images.gz".to_string(), served_gz.clone());
    let server = Server::start(files);
    let pins = [
        ("plain.bin".to_string(), sha(&plain), None),
        ("images.gz".to_string(), sha(&published_gz), Some(sha(&content))),
    ];
    Fixture { server, plain, content, served_gz, pins }
}

impl Fixture {
    fn remote<'a>(&'a self, pinned: &'a [Pinned<'a>]) -> Remote<'a> {
        Remote { name: "testset", files: pinned, mirrors: &[], unpack: Unpack::None, about: "test files", holds: &[] }
    }

    fn pinned(&self) -> Vec<Pinned<'_>> {
        self.pins
            .iter()
            .map(|(name, sha256, content)| Pinned { name, size: 70_000, sha256, content_sha256: content.as_deref() })
            .collect()
    }
}

#[test]
fn files_arrive_verified_and_whole_and_a_second_fetch_downloads_nothing() {
    let f = fixture();
    let pinned = f.pinned();
    let dir = tempdir("download-good").join("testset");
    let mut seen = Vec::new();
    let mut progress = |name: &str, done: u64, total: Option<u64>| seen.push((name.to_string(), done, total));
    fetch(&f.remote(&pinned), &[f.server.base("good")], &dir, &mut progress).unwrap();
    assert_eq!(std::fs::read(dir.join("plain.bin")).unwrap(), f.plain);
    assert_eq!(std::fs::read(dir.join("images.gz")).unwrap(), f.served_gz, "kept as served, verified by content");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    let last = seen.iter().rfind(|s| s.0 == "plain.bin").unwrap();
    assert_eq!((last.1, last.2), (70_000, Some(70_000)), "progress ends at the whole file");
    let requests = f.server.requests.lock().unwrap().len();
    fetch(&f.remote(&pinned), &[f.server.base("good")], &dir, &mut no_progress()).unwrap();
    assert_eq!(f.server.requests.lock().unwrap().len(), requests, "files already there and verified are not fetched");
    assert!(!f.content.is_empty());
}

#[test]
fn a_wrong_file_or_a_dropped_connection_falls_through_to_the_next_mirror() {
    let f = fixture();
    let pinned = f.pinned();
    for bad in ["wrong", "drop", "missing"] {
        let dir = tempdir(&format!("download-fallback-{bad}")).join("testset");
        let mirrors = [f.server.base(bad), f.server.base("good")];
        fetch(&f.remote(&pinned), &mirrors, &dir, &mut no_progress()).unwrap_or_else(|e| panic!("{bad}: {e}"));
        assert_eq!(std::fs::read(dir.join("plain.bin")).unwrap(), f.plain, "{bad}");
        assert!(leftovers(&dir).is_empty(), "{bad}: {:?}", leftovers(&dir));
    }
}

#[test]
fn a_mirror_that_stalls_is_given_up_for_the_next_within_the_stall_limit() {
    // The only test here that sets the variable; the default is 30 s.
    std::env::set_var("WGTRAIN_FETCH_STALL_SECONDS", "2");
    let f = fixture();
    let pinned = f.pinned();
    let dir = tempdir("download-stall").join("testset");
    let start = std::time::Instant::now();
    fetch(&f.remote(&pinned), &[f.server.base("stall"), f.server.base("good")], &dir, &mut no_progress()).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(60), "took {:?}", start.elapsed());
    assert_eq!(std::fs::read(dir.join("plain.bin")).unwrap(), f.plain);
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    // A partial file a killed fetch left (untouched for longer than twice the stall limit) is
    // removed by the next fetch.
    let killed = tempdir("download-dead-part").join("testset");
    std::fs::create_dir_all(&killed).unwrap();
    let part = killed.join(".plain.bin.part.abc123");
    std::fs::write(&part, b"half").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&part).unwrap().set_modified(old).unwrap();
    fetch(&f.remote(&pinned), &[f.server.base("good")], &killed, &mut no_progress()).unwrap();
    assert!(leftovers(&killed).is_empty(), "{:?}", leftovers(&killed));
    // Stalling alone: the error says so.
    let alone = tempdir("download-stall-alone").join("testset");
    let e = fetch(&f.remote(&pinned), &[f.server.base("stall")], &alone, &mut no_progress()).unwrap_err();
    assert!(e.to_string().contains("no byte for 2 s after 1000 bytes; the server stalled"), "{e}");
    assert!(leftovers(&alone).is_empty(), "{:?}", leftovers(&alone));
}

#[test]
fn with_no_good_source_nothing_is_left_and_the_error_lists_every_source() {
    let f = fixture();
    let pinned = f.pinned();
    let dir = tempdir("download-bad").join("testset");
    // A closed port: bind one, note it, let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mirrors =
        [f.server.base("wrong"), f.server.base("drop"), f.server.base("missing"), format!("http://127.0.0.1:{closed}/")];
    let err = fetch(&f.remote(&pinned), &mirrors, &dir, &mut no_progress()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Download { ref tried, .. } if tried.len() == 4), "{text}");
    for (mirror, says) in mirrors.iter().zip(["SHA-256 is not the published", "after 35000", "404", "127.0.0.1"]) {
        let line = text.lines().find(|l| l.contains(&format!("{mirror}plain.bin"))).unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(says), "{mirror} should say {says:?}: {line}");
    }
    assert!(text.contains("WGTRAIN_MIRROR") && text.contains(&dir.display().to_string()), "{text}");
    assert!(!dir.join("plain.bin").exists() && leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn a_file_already_there_that_fails_its_pin_is_reported_and_kept() {
    let f = fixture();
    let pinned = f.pinned();
    let dir = tempdir("download-kept").join("testset");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plain.bin"), b"my own file").unwrap();
    let err = fetch(&f.remote(&pinned), &[f.server.base("good")], &dir, &mut no_progress()).unwrap_err();
    assert!(matches!(err, Error::DataCorrupt { .. }) && err.to_string().contains("delete it and fetch again"), "{err}");
    assert_eq!(std::fs::read(dir.join("plain.bin")).unwrap(), b"my own file");
}

#[test]
fn an_archive_is_unpacked_into_the_dataset_directory_and_then_removed() {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let record = vec![3u8; 3073];
    let mut header = tar::Header::new_gnu();
    header.set_size(record.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "cifar-10-batches-bin/test_batch.bin", &record[..]).unwrap();
    let archive = builder.into_inner().unwrap().finish().unwrap();
    let server = Server::start(HashMap::from([("set.tar.gz".to_string(), archive.clone())]));
    let digest = sha(&archive);
    let pinned =
        [Pinned { name: "set.tar.gz", size: archive.len() as u64, sha256: &digest, content_sha256: None }];
    let holds = [("cifar-10-batches-bin/test_batch.bin", 3073)];
    let remote = Remote { name: "cifar10", files: &pinned, mirrors: &[], unpack: Unpack::TarGz, about: "", holds: &holds };
    let dir = tempdir("download-tar").join("cifar10");
    // A folder holding something else is not the dataset: it is fetched.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("README.txt"), "my notes").unwrap();
    assert!(!wgtrain::data::download::present(&remote, &dir));
    fetch(&remote, &[server.base("good")], &dir, &mut no_progress()).unwrap();
    assert!(!dir.join("set.tar.gz").exists(), "the archive is removed once unpacked");
    assert!(wgtrain::data::download::present(&remote, &dir));
    wgtrain::data::download::check_present(&remote, &dir).expect("the unpacked file has the size the archive holds");
    assert_eq!(std::fs::read_to_string(dir.join("README.txt")).unwrap(), "my notes");
    let test = wgtrain::data::sources::cifar10(&dir, false).unwrap();
    assert_eq!((test.rows, test.cols, test.labels[0]), (1, 3072, 3));
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

/// The first run on a fresh machine: an empty data directory, no system package, and the
/// dataset's mirror on 127.0.0.1 (the first mirror drops the connection). `train` fetches
/// Fashion-MNIST, verifies it, and trains an epoch; the second run fetches nothing.
#[test]
fn train_fetches_fashion_mnist_on_first_use() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
    let files: HashMap<String, Vec<u8>> = names
        .iter()
        .map(|n| {
            let bytes = std::fs::read(source.join(n))
                .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-data.sh)", source.join(n).display()));
            (n.to_string(), bytes)
        })
        .collect();
    let server = Server::start(files.clone());
    let dir = tempdir("download-first-run");
    let (data, out) = (dir.join("data"), dir.join("run"));
    let run = || {
        common::cli::wgtrain_command(&[
            "--device", "cpu", "train", "--data-dir", data.to_str().unwrap(), "--epochs", "1", "--layers", "16",
            "--batch-size", "256", "--validation-split", "0", "--output", out.to_str().unwrap(),
        ])
        .env("WGTRAIN_SYSTEM_DATA", dir.join("no-system-datasets"))
        .env("WGTRAIN_MIRROR", format!("{} {}", server.base("drop"), server.base("good")))
        .output()
        .unwrap()
    };
    let first = run();
    let (stdout, stderr) = common::cli::text(&first);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("fetching it into") && stdout.contains("test: loss"), "{stdout}\n{stderr}");
    for n in names {
        assert_eq!(std::fs::read(data.join("fashion-mnist").join(n)).unwrap(), files[n], "{n}");
    }
    let requests = server.requests.lock().unwrap().len();
    assert_eq!(requests, 8, "each file: one dropped attempt, one good one");
    let second = run();
    assert!(second.status.success() && !common::cli::text(&second).1.contains("fetching"));
    assert_eq!(server.requests.lock().unwrap().len(), requests, "the second run fetches nothing");
}

#[test]
fn with_no_source_reachable_train_names_the_places_and_the_command_that_fixes_it() {
    let dir = tempdir("download-unreachable");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ran = common::cli::wgtrain_command(&[
        "train", "--dataset", "mnist", "--data-dir", dir.join("data").to_str().unwrap(), "--output",
        dir.join("run").to_str().unwrap(),
    ])
    .env("WGTRAIN_SYSTEM_DATA", dir.join("none"))
    .env("WGTRAIN_MIRROR", format!("http://127.0.0.1:{closed}/"))
    .output()
    .unwrap();
    let (_, stderr) = common::cli::text(&ran);
    assert!(!ran.status.success());
    for says in ["is in neither", "data/mnist", "none/mnist", "wgtrain data fetch mnist", "127.0.0.1"] {
        assert!(stderr.contains(says), "should say {says:?}:\n{stderr}");
    }
    assert!(!dir.join("run").exists(), "nothing written");
}
