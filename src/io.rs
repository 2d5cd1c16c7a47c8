//! Checkpoints as safetensors: atomic writes (unique temp file, fsync, rename, under a per-path
//! lock, with the temp files of killed writers cleaned up) and validated reads.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

/// Named tensors in file order, and the file's string metadata.
pub type NamedTensors = (Vec<(String, Tensor)>, HashMap<String, String>);

fn bytes_of(c: &CpuStorage, dtype: DType) -> (Dtype, Vec<u8>) {
    // narrow integers are written at their own width (the values are in range)
    if let CpuStorage::I64(v) = c {
        match dtype {
            DType::U8 => return (Dtype::U8, v.iter().map(|&x| x as u8).collect()),
            DType::I8 => return (Dtype::I8, v.iter().map(|&x| x as i8 as u8).collect()),
            DType::I16 => {
                return (
                    Dtype::I16,
                    v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect(),
                )
            }
            DType::I32 => {
                return (
                    Dtype::I32,
                    v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
                )
            }
            _ => {}
        }
    }
    match c {
        CpuStorage::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::F64(v) => (Dtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::Bool(v) => (Dtype::BOOL, v.iter().map(|&b| b as u8).collect()),
    }
}

/// Serialises named tensors and string metadata to safetensors bytes.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut owned = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (dt, bytes) = bytes_of(&t.to_cpu_storage()?, t.dtype());
        owned.push((name.clone(), dt, t.shape().to_vec(), bytes));
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, dt, shape, b)| {
            TensorView::new(*dt, shape.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Value(format!("save: tensor '{n}': {e}")))
        })
        .collect::<Result<_>>()?;
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    safetensors::tensor::serialize(views, meta).map_err(|e| Error::Value(format!("save: {e}")))
}

/// Writes `bytes` to `path` atomically: a temp file beside it, flushed and fsynced, then renamed,
/// so a crash mid-save leaves the previous file whole.
///
/// Each write gets its own temp name, `.<name>.tmp-<pid>-<tid>-<n>-<random>`, created exclusively.
/// Writers to one path are serialised by an advisory lock (`flock` on `.<name>.lock` beside it, on
/// Unix; threads of one process too, as each write opens its own descriptor), so concurrent saves
/// each complete atomically and the last one to take the lock wins. Holding the lock, a write first
/// removes the temp files that writers killed mid-save left for this path: only names of exactly
/// that pattern, and only when their process is gone (`kill(pid, 0)` fails with `ESRCH`, or the
/// pid is this process's own and the write is not in flight here). The lock file is removed again
/// when the write ends, so a finished save leaves only the destination.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // a symlink is written through, to its target (as opening the path for writing does)
    let resolved = resolve_links(path);
    let path = resolved.as_path();
    let existing = std::fs::metadata(path).ok().filter(|m| m.is_file());
    if existing.is_some() {
        // a file this process may not write is refused (and kept), as opening it would be
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(path) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(Error::Io(format!(
                    "save: [Errno 13] Permission denied: '{}'",
                    path.display()
                )));
            }
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Io(format!("save: '{}' is not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let stem = short_name(&name);
    let io = |e: std::io::Error, what: &str| {
        Error::Io(format!("save: {what} '{}': {e}", path.display()))
    };

    let _lock = PathLock::acquire(&dir.join(format!(".{stem}.lock")));
    remove_stale_temps(&dir, stem);

    let (tmp, mut f) = match create_temp(&dir, stem) {
        Ok(made) => made,
        // a folder that takes no new file, holding a writable destination: written in place
        // (not atomic, as PyTorch's save always is)
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && existing.is_some() => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .map_err(|e| io(e, "cannot write"))?;
            f.write_all(bytes).map_err(|e| io(e, "cannot write"))?;
            return f.sync_all().map_err(|e| io(e, "cannot sync"));
        }
        Err(e) => return Err(io(e, "cannot create temp file for")),
    };
    if let Some(m) = &existing {
        // the replacement keeps the file's mode (a new one gets the umask's, as any new file)
        let _ = f.set_permissions(m.permissions());
    }
    let _in_flight = InFlight::register(&tmp);
    let result = (|| {
        match test_slow_save() {
            Some(pause) => {
                let half = bytes.len() / 2;
                f.write_all(&bytes[..half])
                    .map_err(|e| io(e, "cannot write"))?;
                f.flush().map_err(|e| io(e, "cannot write"))?;
                std::thread::sleep(pause);
                f.write_all(&bytes[half..])
                    .map_err(|e| io(e, "cannot write"))?;
            }
            None => f.write_all(bytes).map_err(|e| io(e, "cannot write"))?,
        }
        f.sync_all().map_err(|e| io(e, "cannot sync"))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io(e, "cannot replace"))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `path` with its symlinks followed to the final target (at most 40 links, as the kernel
/// allows); a relative link target is read from the link's folder. A dangling link gives its
/// target, which the save then creates.
fn resolve_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&p) {
                Ok(target) => {
                    p = match p.parent() {
                        Some(dir) if target.is_relative() => dir.join(target),
                        _ => target,
                    };
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    p
}

/// The destination's file name as used inside temp and lock names: cut (at a character boundary)
/// so that the longer names stay within the 255 bytes a file name may have.
fn short_name(name: &str) -> &str {
    const MAX: usize = 160;
    if name.len() <= MAX {
        return name;
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Test hook: with `RUSTDL_TEST_SLOW_SAVE=<seconds>` set, a save pauses after writing half of its
/// temp file (at most 60 s), so a test can kill a writer mid-save. Unset, it does nothing.
fn test_slow_save() -> Option<Duration> {
    let secs: f64 = std::env::var("RUSTDL_TEST_SLOW_SAVE")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs.min(60.0)))
}

/// Counts temp files made by this process, so no two writes of it share a name.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Hands each thread a small id of its own, for temp names.
static THREAD_COUNTER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ID: u64 = THREAD_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
}

/// 64 random bits from the standard library's per-process random hash keys, mixed with the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Creates a fresh temp file beside the destination, exclusively (never reusing an existing name).
fn create_temp(dir: &Path, stem: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    let tid = THREAD_ID.with(|t| *t);
    let mut last = None;
    for _ in 0..8 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
        let tmp = dir.join(format!(".{stem}.tmp-{pid}-{tid}-{n}-{:016x}", random_u64()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temp file name")))
}

/// Temp files this process is writing now; a temp file named with this process's pid that is
/// not listed here was left by an earlier process that had the same pid.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_flight() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Lists a temp file as in flight for as long as it lives.
struct InFlight(PathBuf);

impl InFlight {
    fn register(tmp: &Path) -> Self {
        in_flight().push(tmp.to_path_buf());
        InFlight(tmp.to_path_buf())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut v = in_flight();
        if let Some(i) = v.iter().position(|p| *p == self.0) {
            v.swap_remove(i);
        }
    }
}

/// The pid in `file_name` when it is exactly a temp name of `write_atomic` for the destination
/// `stem`: `.<stem>.tmp-<pid>-<tid>-<n>-<16 hex digits>`.
fn temp_writer_pid(file_name: &str, stem: &str) -> Option<u32> {
    let rest = file_name
        .strip_prefix('.')?
        .strip_prefix(stem)?
        .strip_prefix(".tmp-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    let [pid, tid, n, rand] = parts.as_slice() else {
        return None;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(tid) || !digits(n) {
        return None;
    }
    if rand.len() != 16 || !rand.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    (pid > 0 && pid <= i32::MAX as u32).then_some(pid)
}

/// Whether the writer `pid` of the temp file `tmp` is certainly gone.
fn writer_is_dead(pid: u32, tmp: &Path) -> bool {
    if pid == std::process::id() {
        return !in_flight().iter().any(|p| p == tmp);
    }
    process_is_gone(pid)
}

#[cfg(unix)]
fn process_is_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false; // 0 and negative pids name process groups
    }
    // SAFETY: kill with signal 0 sends nothing; it only asks whether `pid` (a positive pid, so a
    // single process) exists. It touches no memory of ours.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_is_gone(_pid: u32) -> bool {
    false // no portable liveness check here: never remove another process's file
}

/// Removes the temp files that dead writers left for the destination `stem` in `dir`.
/// Best effort: a directory that cannot be listed or a file that cannot be removed is left alone.
fn remove_stale_temps(dir: &Path, stem: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let Some(pid) = temp_writer_pid(file_name, stem) else {
            continue;
        };
        let tmp = dir.join(file_name);
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && writer_is_dead(pid, &tmp) {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// An exclusive advisory lock on one destination, held while it lives.
///
/// On Unix it is `flock` on a lock file beside the destination. Each acquisition opens the file
/// anew, so threads of one process exclude each other too (flock belongs to the open file
/// description). The holder unlinks the lock file before closing it; a waiter that then gets the
/// lock on the unlinked file sees that the path no longer names its file and starts over, so the
/// lock file never outlives a save. When no lock can be had (the file cannot be created, or the
/// file system has no flock) saves go on unlocked: the unique temp names keep each one atomic.
struct PathLock {
    #[cfg(unix)]
    held: Option<(std::fs::File, PathBuf)>,
    #[cfg(not(unix))]
    _held: Option<std::sync::MutexGuard<'static, ()>>,
}

#[cfg(unix)]
impl PathLock {
    fn acquire(lock_path: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        for _ in 0..1000 {
            let Ok(file) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(lock_path)
            else {
                return PathLock { held: None };
            };
            loop {
                // SAFETY: the descriptor belongs to `file`, which is open for the whole call;
                // flock only changes the lock state of that open file description.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
                if rc == 0 {
                    break;
                }
                if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    return PathLock { held: None }; // e.g. ENOLCK, EOPNOTSUPP: go on unlocked
                }
            }
            // The lock counts only if the path still names the file we locked.
            let same = match (file.metadata(), std::fs::metadata(lock_path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if same {
                return PathLock {
                    held: Some((file, lock_path.to_path_buf())),
                };
            }
        }
        PathLock { held: None }
    }
}

#[cfg(unix)]
impl Drop for PathLock {
    fn drop(&mut self) {
        if let Some((file, path)) = self.held.take() {
            let _ = std::fs::remove_file(&path);
            drop(file); // closing the descriptor releases the lock
        }
    }
}

#[cfg(not(unix))]
static SAVE_LOCK: Mutex<()> = Mutex::new(());

#[cfg(not(unix))]
impl PathLock {
    /// Without flock only the threads of this process are serialised (all saves, one at a time).
    fn acquire(_lock_path: &Path) -> Self {
        PathLock {
            _held: Some(SAVE_LOCK.lock().unwrap_or_else(|p| p.into_inner())),
        }
    }
}

/// Saves named tensors with metadata to `path` (atomic).
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_bytes(tensors, metadata)?)
}

fn le_chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Parses safetensors bytes into named CPU tensors (in file order) and metadata.
/// Every length and offset is validated before any allocation, so a hostile file cannot
/// make it read out of bounds or allocate more than the file holds.
pub fn from_bytes(bytes: &[u8]) -> Result<NamedTensors> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Value(format!("load: not a valid safetensors file: {e:?}")))?;
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::Value(format!("load: {e:?}")))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut tensors = st.tensors();
    tensors.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    for (name, v) in tensors {
        let shape = v.shape().to_vec();
        let d = v.data();
        let storage = match v.dtype() {
            Dtype::F32 => CpuStorage::F32(le_chunks::<4>(d).map(f32::from_le_bytes).collect()),
            Dtype::F64 => CpuStorage::F64(le_chunks::<8>(d).map(f64::from_le_bytes).collect()),
            Dtype::I64 => CpuStorage::I64(le_chunks::<8>(d).map(i64::from_le_bytes).collect()),
            Dtype::I32 => CpuStorage::I64(
                le_chunks::<4>(d)
                    .map(|b| i32::from_le_bytes(b) as i64)
                    .collect(),
            ),
            Dtype::U8 => CpuStorage::I64(d.iter().map(|&b| b as i64).collect()),
            Dtype::I8 => CpuStorage::I64(d.iter().map(|&b| b as i8 as i64).collect()),
            Dtype::I16 => CpuStorage::I64(
                le_chunks::<2>(d)
                    .map(|b| i16::from_le_bytes(b) as i64)
                    .collect(),
            ),
            Dtype::BOOL => CpuStorage::Bool(d.iter().map(|&b| b != 0).collect()),
            Dtype::F16 => CpuStorage::F32(
                le_chunks::<2>(d)
                    .map(|b| half::f16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            Dtype::BF16 => CpuStorage::F32(
                le_chunks::<2>(d)
                    .map(|b| half::bf16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            other => {
                return Err(Error::Value(format!(
                    "load: tensor '{name}' has unsupported dtype {other:?}"
                )));
            }
        };
        let narrow = match v.dtype() {
            Dtype::U8 => DType::U8,
            Dtype::I8 => DType::I8,
            Dtype::I16 => DType::I16,
            Dtype::I32 => DType::I32,
            _ => DType::I64,
        };
        out.push((name, Tensor::from_cpu(storage, &shape)?.tagged(narrow)));
    }
    Ok((out, metadata))
}

/// Loads named tensors and metadata from a safetensors file.
pub fn load(path: &Path) -> Result<NamedTensors> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("load: cannot read '{}': {e}", path.display())))?;
    from_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_parse_only_for_their_destination() {
        let ok = ".ck.safetensors.tmp-123-4-5-00ff00ff00ff00ff";
        assert_eq!(temp_writer_pid(ok, "ck.safetensors"), Some(123));
        assert_eq!(temp_writer_pid(ok, "ck"), None);
        for bad in [
            ".ck.safetensors.tmp-123",
            ".ck.safetensors.tmp-0-4-5-00ff00ff00ff00ff",
            ".ck.safetensors.tmp-123-4-5-00FF00FF00FF00FF",
            ".ck.safetensors.tmp-123-4-5-00ff",
            ".ck.safetensors.tmp-123-4-5-6-00ff00ff00ff00ff",
            ".ck.safetensors.tmp--4-5-00ff00ff00ff00ff",
            ".ck.safetensors.tmp-99999999999-4-5-00ff00ff00ff00ff",
            "ck.safetensors.tmp-123-4-5-00ff00ff00ff00ff",
            ".ck.safetensors.lock",
        ] {
            assert_eq!(temp_writer_pid(bad, "ck.safetensors"), None, "{bad}");
        }
    }

    #[test]
    fn writes_leave_only_the_destination_and_clean_dead_writers() {
        let dir = std::env::temp_dir().join(format!(
            "rustdl-io-test-{}-{:x}",
            std::process::id(),
            random_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("ck.bin");
        // A temp file of this process's own pid that is not in flight: left by a dead earlier
        // process with the same pid, so it goes. One of another destination stays.
        let own = dir.join(format!(
            ".ck.bin.tmp-{}-1-999999-0123456789abcdef",
            std::process::id()
        ));
        let other = dir.join(format!(
            ".other.bin.tmp-{}-1-999999-0123456789abcdef",
            std::process::id()
        ));
        std::fs::write(&own, b"partial").unwrap();
        std::fs::write(&other, b"partial").unwrap();
        write_atomic(&dest, b"hello").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert!(!own.exists());
        assert!(other.exists());
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let other_name = other.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(names, vec![other_name, "ck.bin".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn threads_saving_to_one_path_all_succeed() {
        let dir = std::env::temp_dir().join(format!(
            "rustdl-io-threads-{}-{:x}",
            std::process::id(),
            random_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("ck.bin");
        let handles: Vec<_> = (0..4u8)
            .map(|i| {
                let dest = dest.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        write_atomic(&dest, &vec![i; 1 << 16]).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let data = std::fs::read(&dest).unwrap();
        assert_eq!(data.len(), 1 << 16);
        assert!(data.iter().all(|&b| b == data[0]));
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
