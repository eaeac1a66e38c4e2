//! Datasets fetched on first use. Every file is pinned by SHA-256; it is fetched from the
//! dataset's mirrors in turn into a temporary file beside its destination, verified, and only
//! then renamed into place, so a dropped connection or a wrong file never leaves a file
//! behind that a later run would read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One file of a dataset, as its publisher serves it.
#[derive(Debug, Clone, Copy)]
pub struct Pinned<'a> {
    pub name: &'a str,
    /// Bytes as served by the dataset's own mirrors.
    pub size: u64,
    /// SHA-256 of the bytes as served.
    pub sha256: &'a str,
    /// SHA-256 of the gunzipped content, where known: mirrors and packages that recompress a
    /// file (Debian's `dataset-fashion-mnist`) keep the content and change the bytes.
    pub content_sha256: Option<&'a str>,
}

/// What to do with the files once verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpack {
    /// Keep the files as they are.
    None,
    /// Extract each file as a gzipped tar archive into the dataset directory, then delete it.
    TarGz,
}

/// A dataset that can be fetched: where from, and the pinned files.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    pub name: &'a str,
    pub files: &'a [Pinned<'a>],
    /// Base URLs, tried in order; a file's URL is the base followed by its name.
    pub mirrors: &'a [&'a str],
    pub unpack: Unpack,
    /// Who publishes it and under which licence.
    pub about: &'a str,
    /// For an archive: files (relative paths) the unpacked archive holds, with their sizes,
    /// every one of which must be there for the dataset to count as present (not any file in
    /// the folder).
    pub holds: &'a [(&'a str, u64)],
}

/// Progress of one file: its name, bytes so far, and the total when the server said.
pub type Progress<'p> = &'p mut dyn FnMut(&str, u64, Option<u64>);

/// The registry of datasets wgtrain can fetch.
pub const REMOTES: &[Remote<'static>] = &[FASHION_MNIST, MNIST, CIFAR10];

/// The entry for `name` in the registry.
pub fn remote(name: &str) -> Option<&'static Remote<'static>> {
    REMOTES.iter().find(|r| r.name == name)
}

const FASHION_MNIST: Remote<'static> = Remote {
    name: "fashion-mnist",
    files: &[
        Pinned {
            name: "train-images-idx3-ubyte.gz",
            size: 26_421_880,
            sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            content_sha256: Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        },
        Pinned {
            name: "train-labels-idx1-ubyte.gz",
            size: 29_515,
            sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            content_sha256: Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        },
        Pinned {
            name: "t10k-images-idx3-ubyte.gz",
            size: 4_422_102,
            sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            content_sha256: Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        },
        Pinned {
            name: "t10k-labels-idx1-ubyte.gz",
            size: 5_148,
            sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            content_sha256: Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        },
    ],
    mirrors: &[
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
    unpack: Unpack::None,
    holds: &[],
    about: "Zalando Research, MIT licence (github.com/zalandoresearch/fashion-mnist)",
};

const MNIST: Remote<'static> = Remote {
    name: "mnist",
    files: &[
        Pinned {
            name: "train-images-idx3-ubyte.gz",
            size: 9_912_422,
            sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            content_sha256: None,
        },
        Pinned {
            name: "train-labels-idx1-ubyte.gz",
            size: 28_881,
            sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            content_sha256: None,
        },
        Pinned {
            name: "t10k-images-idx3-ubyte.gz",
            size: 1_648_877,
            sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            content_sha256: None,
        },
        Pinned {
            name: "t10k-labels-idx1-ubyte.gz",
            size: 4_542,
            sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            content_sha256: None,
        },
    ],
    mirrors: &["https://storage.googleapis.com/cvdf-datasets/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"],
    unpack: Unpack::None,
    holds: &[],
    about: "Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0",
};

const CIFAR10: Remote<'static> = Remote {
    name: "cifar10",
    files: &[Pinned {
        name: "cifar-10-binary.tar.gz",
        size: 170_052_171,
        sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        content_sha256: None,
    }],
    mirrors: &["https://www.cs.toronto.edu/~kriz/"],
    unpack: Unpack::TarGz,
    // 10,000 records of a label byte and 3×32×32 pixels each.
    holds: &[
        ("cifar-10-batches-bin/data_batch_1.bin", 30_730_000),
        ("cifar-10-batches-bin/data_batch_2.bin", 30_730_000),
        ("cifar-10-batches-bin/data_batch_3.bin", 30_730_000),
        ("cifar-10-batches-bin/data_batch_4.bin", 30_730_000),
        ("cifar-10-batches-bin/data_batch_5.bin", 30_730_000),
        ("cifar-10-batches-bin/test_batch.bin", 30_730_000),
    ],
    about: "A. Krizhevsky, 2009 (www.cs.toronto.edu/~kriz/cifar.html)",
};

/// Which pin a file's bytes match, if any.
pub fn verify(file: &Pinned, path: &Path) -> Result<bool> {
    let bytes = crate::files::open(path).map_err(|e| Error::io(path, e))?;
    if hex(&hash(bytes).map_err(|e| Error::io(path, e))?) == file.sha256 {
        return Ok(true);
    }
    let Some(content) = file.content_sha256 else { return Ok(false) };
    let gz = flate2::read::GzDecoder::new(crate::files::open(path).map_err(|e| Error::io(path, e))?);
    // A file that is not gzip (or is cut short) cannot match the content pin.
    Ok(hash(gz).is_ok_and(|h| hex(&h) == content))
}

fn hash(mut r: impl Read) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(h.finalize().into()),
            n => h.update(&buf[..n]),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether every file of `remote` is in `dir` (unpacked datasets: whether `dir` has content).
pub fn present(remote: &Remote, dir: &Path) -> bool {
    match remote.unpack {
        // Gunzipped copies count too.
        Unpack::None => remote.files.iter().all(|f| {
            dir.join(f.name).is_file() || f.name.strip_suffix(".gz").is_some_and(|n| dir.join(n).is_file())
        }),
        // What the archives hold, every file of it (a folder holding something else is not
        // the dataset).
        Unpack::TarGz if !remote.holds.is_empty() => remote.holds.iter().all(|(f, _)| dir.join(f).is_file()),
        // An archive of unknown contents: anything but hidden entries (temporary files) and
        // the archives.
        Unpack::TarGz => std::fs::read_dir(dir).is_ok_and(|d| {
            d.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.starts_with('.') && !remote.files.iter().any(|f| f.name == name)
            })
        }),
    }
}

/// Check that the dataset `present` finds in `dir` is the one pinned, not only files of its
/// names: each file's SHA-256 (or its gunzipped content's), a gunzipped copy without a content
/// pin read through as IDX, an archive's files by size. The error names the file and the fix.
pub fn check_present(remote: &Remote, dir: &Path) -> Result<()> {
    let wrong = |path: &Path, what: String| {
        Error::msg(format!(
            "{}: {what}, so it is not the {} file wgtrain pins; move it away (or point WGTRAIN_SYSTEM_DATA / \
             --data-dir elsewhere) and run `wgtrain data fetch {}` to fetch a verified copy",
            path.display(),
            remote.name,
            remote.name
        ))
    };
    for (held, size) in remote.holds {
        let path = dir.join(held);
        let len = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        if len != *size {
            return Err(wrong(&path, format!("{len} bytes where the archive holds {size}")));
        }
    }
    if remote.unpack != Unpack::None {
        return Ok(());
    }
    for f in remote.files {
        let path = dir.join(f.name);
        if path.is_file() {
            if !verify(f, &path)? {
                return Err(wrong(&path, "its SHA-256 matches no pin".into()));
            }
            continue;
        }
        let Some(plain) = f.name.strip_suffix(".gz").map(|n| dir.join(n)) else { continue };
        match f.content_sha256 {
            Some(content) => {
                let bytes = crate::files::open(&plain).map_err(|e| Error::io(&plain, e))?;
                if hex(&hash(bytes).map_err(|e| Error::io(&plain, e))?) != content {
                    return Err(wrong(&plain, "its SHA-256 is not the pinned content's".into()));
                }
            }
            None => {
                super::idx::read_idx(&plain).map_err(|e| wrong(&plain, format!("it does not read as IDX ({e})")))?;
            }
        }
    }
    Ok(())
}

/// Fetch every file of `remote` that `dir` lacks from `mirrors` (the remote's own when empty),
/// verify it, and move it into `dir`. A file already in `dir` must match its pin: it is
/// never overwritten. The error lists each source tried and what it gave.
pub fn fetch(remote: &Remote, mirrors: &[String], dir: &Path, progress: Progress) -> Result<()> {
    let mirrors: Vec<String> =
        if mirrors.is_empty() { remote.mirrors.iter().map(|m| m.to_string()).collect() } else { mirrors.to_vec() };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .user_agent(concat!("wgtrain/", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    if remote.unpack == Unpack::TarGz && present(remote, dir) {
        return Ok(());
    }
    remove_dead_parts(remote, dir);
    for file in remote.files {
        let dest = dir.join(file.name);
        if dest.exists() {
            if verify(file, &dest)? {
                if remote.unpack == Unpack::TarGz {
                    unpack_tar_gz(&dest, dir)?;
                }
                continue;
            }
            return Err(Error::DataCorrupt {
                path: dest.display().to_string(),
                problem: format!(
                    "its SHA-256 is not the published {}; delete it and fetch again, or keep your own copy elsewhere",
                    file.sha256
                ),
            });
        }
        let mut tried = Vec::new();
        let fetched = mirrors.iter().any(|base| {
            let url = format!("{}/{}", base.trim_end_matches('/'), file.name);
            match download(&agent, &url, file, &dest, progress) {
                Ok(()) => true,
                Err(why) => {
                    tried.push(format!("{url}: {why}"));
                    false
                }
            }
        });
        if !fetched {
            return Err(Error::Download {
                what: format!("{} ({})", remote.name, file.name),
                tried,
                hint: format!(
                    "Check the network, set WGTRAIN_MIRROR to a mirror that has the file, or put {} in {} yourself",
                    file.name,
                    dir.display()
                ),
            });
        }
        if remote.unpack == Unpack::TarGz {
            unpack_tar_gz(&dest, dir)?;
        }
    }
    Ok(())
}

/// One attempt: `url` into a temporary file beside `dest`, verified, then renamed to `dest`.
/// The reason for a failure is returned as text for the error's list of sources.
fn download(agent: &ureq::Agent, url: &str, file: &Pinned, dest: &Path, progress: Progress) -> std::result::Result<(), String> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.part.", file.name))
        .tempfile_in(parent)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", parent.display()))?;
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let total = response.body().content_length();
    // A recompressed copy is a little smaller or larger than the published file; anything
    // far beyond it is not the file.
    let limit = file.size + file.size / 2 + (1 << 20);
    let body = response.into_body().into_with_config().limit(limit).reader();
    // The body is read on a thread of its own, so that a server which stops sending without
    // closing the connection is given up after `stall` without a byte (the thread, blocked in
    // its read, ends with the process).
    let stall = stall_limit();
    let chunks = read_in_background(body);
    let mut done = 0u64;
    loop {
        let chunk = match chunks.recv_timeout(stall) {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return Err(format!("the transfer broke after {done} bytes: {e}")),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("no byte for {} s after {done} bytes; the server stalled", stall.as_secs()))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!("the transfer broke after {done} bytes"))
            }
        };
        if chunk.is_empty() {
            break;
        }
        tmp.write_all(&chunk).map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
        done += chunk.len() as u64;
        progress(file.name, done, total);
    }
    if total.is_some_and(|t| t != done) {
        return Err(format!("the transfer ended after {done} of {} bytes", total.unwrap_or(0)));
    }
    tmp.as_file().sync_all().map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    match verify(file, tmp.path()) {
        Ok(true) => {}
        Ok(false) => return Err(format!("{done} bytes whose SHA-256 is not the published {}", file.sha256)),
        Err(e) => return Err(e.to_string()),
    }
    tmp.persist(dest).map_err(|e| format!("cannot move it to {}: {}", dest.display(), e.error))?;
    Ok(())
}

/// Remove the partial downloads (`.FILE.part.XXXX`) that killed fetches left in `dir`: those
/// untouched for twice the stall limit, which no live fetch can own (a live one writes at
/// least once per stall limit, or gives up).
fn remove_dead_parts(remote: &Remote, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let dead_after = 2 * stall_limit();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = remote.files.iter().any(|f| name.starts_with(&format!(".{}.part.", f.name)));
        let idle = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
        if ours && idle.is_some_and(|i| i > dead_after) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// How long a transfer may go without a byte before the next mirror is tried:
/// `WGTRAIN_FETCH_STALL_SECONDS` (default 30).
fn stall_limit() -> Duration {
    let seconds = std::env::var("WGTRAIN_FETCH_STALL_SECONDS").ok().and_then(|v| v.trim().parse::<u64>().ok());
    Duration::from_secs(seconds.filter(|&s| s > 0).unwrap_or(30))
}

/// Chunks of `body` as a thread reads them; an empty chunk is the end.
fn read_in_background(mut body: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(8);
    std::thread::spawn(move || loop {
        let mut buf = vec![0u8; 1 << 16];
        match body.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() || n == 0 {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    });
    rx
}

/// Extract `archive` (gzipped tar) into `dir` through a staging directory, then delete it.
/// Entries that would land outside the staging directory are refused by `tar`.
fn unpack_tar_gz(archive: &Path, dir: &Path) -> Result<()> {
    let staging = tempfile::Builder::new().prefix(".unpack.").tempdir_in(dir).map_err(|e| Error::io(dir, e))?;
    let gz = flate2::read::GzDecoder::new(crate::files::open(archive).map_err(|e| Error::io(archive, e))?);
    tar::Archive::new(gz).unpack(staging.path()).map_err(|e| Error::DataCorrupt {
        path: archive.display().to_string(),
        problem: format!("cannot extract: {e}"),
    })?;
    for entry in std::fs::read_dir(staging.path()).map_err(|e| Error::io(staging.path(), e))? {
        let entry = entry.map_err(|e| Error::io(staging.path(), e))?;
        let to: PathBuf = dir.join(entry.file_name());
        std::fs::rename(entry.path(), &to).map_err(|e| Error::io(&to, e))?;
    }
    std::fs::remove_file(archive).map_err(|e| Error::io(archive, e))
}
