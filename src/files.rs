//! Every file wgtrain reads is opened here: what is not a regular file (a FIFO, a device, a
//! directory, a socket) is refused by name before a byte is read, and a file is read up to a
//! stated bound, so no input can block for ever (`/dev/zero`, a FIFO with no writer) or fill
//! memory. The errors are `std::io::Error`s, so callers keep naming the path as they do for
//! any other read failure.

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// Bounds on what is read, by kind of file.
pub mod bound {
    /// A TOML config, a bench report to compare with, a tune cache: text a person or wgtrain
    /// wrote, far below this.
    pub const TEXT: u64 = 64 << 20;
    /// Data files and checkpoints (the same bound as decompressed data).
    pub const DATA: u64 = crate::limits::MAX_DECOMPRESSED_BYTES;
}

/// What a non-regular file is, in words.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Open `path` for reading if it is a regular file (symlinks followed). A FIFO is opened
/// without waiting for a writer, then refused.
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, format!("is {}, not a file", kind(&meta))));
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, at most `limit` of them (more is an error that
/// names the limit).
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(Error::new(
            ErrorKind::FileTooLarge,
            format!("is larger than {limit} bytes, the most wgtrain reads from such a file"),
        ));
    }
    Ok(bytes)
}

/// `read`, as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|_| Error::new(ErrorKind::InvalidData, "is not UTF-8 text"))
}

/// Write `bytes` as the file at `path`, as a user naming an output expects:
/// - a regular file (or none yet) is replaced atomically: a synced temporary file with a
///   random name, created exclusively in the same directory, then a rename, so a reader never
///   sees half a file and nothing planted at a predictable name is followed;
/// - a symlink is followed: the file it points to is replaced, the link stays;
/// - a character device or a FIFO (`/dev/stdout`, `/dev/null`, a pipe to another program) is
///   written into, never replaced by a file (a FIFO with no reader is an error, not a wait);
/// - a directory, a block device or a socket is refused by kind.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            Error::new(e.kind(), format!("is a symlink to {}, which cannot be followed ({e})", link_target(path)))
        })?,
        _ => path.to_path_buf(),
    };
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_file() => replace(&target, bytes),
        Ok(meta) if meta.is_dir() => {
            Err(Error::new(ErrorKind::IsADirectory, "is a directory; name a file in it for this output"))
        }
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileTypeExt;
                let t = meta.file_type();
                if t.is_char_device() || t.is_fifo() {
                    let mut options = std::fs::OpenOptions::new();
                    options.write(true);
                    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
                    let mut file = options.open(&target).map_err(|e| match e.raw_os_error() {
                        Some(libc::ENXIO) => Error::new(ErrorKind::BrokenPipe, "is a FIFO with no reader"),
                        _ => e,
                    })?;
                    // Written into as a stream: blocking from here on (a reader may be slow).
                    clear_nonblocking(&file);
                    return std::io::Write::write_all(&mut file, bytes);
                }
            }
            Err(Error::new(ErrorKind::InvalidInput, format!("is {}; give a file path for this output", kind(&meta))))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => replace(&target, bytes),
        Err(e) => Err(e),
    }
}

fn link_target(path: &Path) -> String {
    std::fs::read_link(path).map_or("?".into(), |t| t.display().to_string())
}

#[cfg(unix)]
fn clear_nonblocking(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this file owns; only the status flags change.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// Replace the regular file (or nothing) at `path` atomically.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "is not a file path"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // As a plain create would make it (0666 less the umask), not tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename durable; not every platform can open a directory, so best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
