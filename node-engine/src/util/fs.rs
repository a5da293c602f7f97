//! Atomic file replacement: write a temp file, fsync, rename, fsync the
//! directory, so a crash leaves either the old file or the new one.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `data` atomically.
///
/// # Errors
/// Any I/O failure; the old file is then untouched.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!("temp-{}-{}", std::process::id(), name));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An I/O error as C's strerror words it ("No such file or directory"),
/// without Rust's " (os error N)" suffix: Redis's messages quote it.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
