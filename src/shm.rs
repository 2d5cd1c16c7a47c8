//! Shared memory for CPU storage (`Tensor.share_memory_()`, `rustdl.multiprocessing`).
//!
//! A shared buffer is an ordinary `Vec` whose memory this crate's global allocator took from a
//! `memfd` mapped `MAP_SHARED`: a child made by `fork` writes the same pages as its parent, and
//! another process (a `spawn` child) maps the same memory again through
//! `/proc/<pid>/fd/<fd>` while the owning process keeps it open. Because the allocator itself
//! hands the memory out and takes it back, every `Vec` operation stays sound: freeing unmaps
//! it, and a reallocation (which storage never does) would move the data to private memory.
//!
//! The same mechanism adopts memory another owner keeps alive (a numpy array's buffer, for
//! `from_numpy`): the `Vec` over it gives it back through a release hook instead of freeing it.
//!
//! The allocator asks mimalloc (small blocks) or the system allocator (large ones) for
//! everything else; the only cost on that path is one relaxed atomic load per allocation and, while shared or adopted buffers exist, a look
//! at the few slots of the freed address's bucket in the table of live regions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use mimalloc::MiMalloc;

use crate::error::{Error, Result};

/// This crate's global allocator: mimalloc or the system allocator by size, except for the
/// one allocation a thread asked [`with_shared`] to place in shared memory.
pub struct Allocator;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

/// Small allocations that are not shared memory go to mimalloc, whose per-thread free lists
/// keep the many short-lived allocations of recording GPU work (command lists that grow and die
/// with each batch) off glibc's slow paths; large ones (tensor data) stay with the system
/// allocator, which refuses an impossible request at once where mimalloc would reserve it and
/// fail only when the pages are touched. The size decides, so `dealloc` (given the same
/// layout) returns each block to the allocator it came from.
const SMALL: usize = 64 * 1024;
static SMALL_ALLOC: MiMalloc = MiMalloc;

/// The allocator that owns blocks of `layout`.
fn backing(layout: Layout) -> &'static dyn GlobalAlloc {
    if layout.size() <= SMALL {
        &SMALL_ALLOC
    } else {
        &System
    }
}

/// Where the next requested allocation of exactly `bytes` comes from.
#[derive(Clone, Copy)]
struct Request {
    bytes: usize,
    source: Source,
}

#[derive(Clone, Copy)]
enum Source {
    /// a new memfd
    Fresh,
    /// process `pid`'s memfd `fd`
    Attach(i32, i32),
    /// memory someone else owns (a numpy array's), released through the hook
    Adopt(usize),
}

/// The fd a slot records for adopted memory (nothing to unmap or close).
const ADOPTED: i32 = -2;

thread_local! {
    static REQUEST: Cell<Option<Request>> = const { Cell::new(None) };
}

/// Threads with a request outstanding (the fast path skips the thread-local when zero).
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// One live shared region: its start address (0 = free slot), length and memfd.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    fd: AtomicI32,
}

/// The table is hashed by start address: a region lives in one of the `WAYS` slots of its
/// bucket, so recording, finding and freeing cost a few loads however many regions are live.
const BUCKETS: usize = 4096;
const WAYS: usize = 8;
#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    fd: AtomicI32::new(-1),
};
static TABLE: [Slot; BUCKETS * WAYS] = [FREE; BUCKETS * WAYS];
/// Live regions (frees skip the table when zero).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The slots of the bucket of address `ptr`.
fn bucket(ptr: usize) -> &'static [Slot] {
    let h = ((ptr >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52;
    let b = (h as usize) % BUCKETS;
    &TABLE[b * WAYS..(b + 1) * WAYS]
}

/// Called with the start of adopted memory when the `Vec` over it is freed.
static RELEASE: AtomicUsize = AtomicUsize::new(0);

fn page() -> usize {
    // SAFETY: sysconf has no preconditions
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// Maps `bytes` of a new memfd (or of the memfd `fd` of process `pid`), shared; the fd to keep.
fn map(bytes: usize, source: Source) -> Option<(*mut u8, i32)> {
    // SAFETY: plain system calls on a fresh descriptor; every failure is checked, and no memory
    // is allocated here (this runs inside the allocator)
    unsafe {
        let fd = match source {
            Source::Adopt(p) => return Some((p as *mut u8, ADOPTED)),
            Source::Fresh => {
                let fd = libc::memfd_create(c"rustdl-shared".as_ptr(), libc::MFD_CLOEXEC);
                if fd < 0 {
                    return None;
                }
                if libc::ftruncate(fd, bytes as libc::off_t) != 0 {
                    libc::close(fd);
                    return None;
                }
                fd
            }
            Source::Attach(pid, theirs) => {
                // "/proc/<pid>/fd/<fd>" built without allocating
                let mut path = [0u8; 64];
                path[..6].copy_from_slice(b"/proc/");
                let mut n = 6;
                n += write_decimal(&mut path[n..], pid as u64);
                path[n..n + 4].copy_from_slice(b"/fd/");
                n += 4;
                n += write_decimal(&mut path[n..], theirs as u64);
                path[n] = 0;
                let fd = libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_CLOEXEC);
                if fd < 0 {
                    return None;
                }
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd, &mut st) != 0 || (st.st_size as usize) < bytes {
                    libc::close(fd);
                    return None;
                }
                fd
            }
        };
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        if p == libc::MAP_FAILED {
            libc::close(fd);
            return None;
        }
        Some((p.cast(), fd))
    }
}

fn write_decimal(out: &mut [u8], mut v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut k = 0;
    loop {
        digits[k] = b'0' + (v % 10) as u8;
        k += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..k {
        out[i] = digits[k - 1 - i];
    }
    k
}

/// Records a region in a free slot of its bucket; false when the bucket is full.
fn record(start: usize, len: usize, fd: i32) -> bool {
    for s in bucket(start) {
        if s.start
            .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            s.len.store(len, Ordering::Relaxed);
            s.fd.store(fd, Ordering::Relaxed);
            s.start.store(start, Ordering::Release);
            LIVE.fetch_add(1, Ordering::AcqRel);
            return true;
        }
    }
    false
}

fn find(ptr: usize) -> Option<&'static Slot> {
    if LIVE.load(Ordering::Acquire) == 0 || ptr == 0 {
        return None;
    }
    bucket(ptr)
        .iter()
        .find(|s| s.start.load(Ordering::Acquire) == ptr)
}

fn take_request(bytes: usize) -> Option<Request> {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return None;
    }
    REQUEST
        .try_with(|r| match r.get() {
            Some(q) if q.bytes == bytes => {
                r.set(None);
                Some(q)
            }
            _ => None,
        })
        .ok()
        .flatten()
}

// SAFETY: every allocation is either mimalloc's or the system's by its size (and goes back to
// the same one, `dealloc` and `realloc` being given the layout it was made with) or a whole
// fresh shared mapping of at least the requested size, page-aligned (any alignment up to a
// page), recorded in the table until `dealloc` unmaps it.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(q) = take_request(layout.size()) {
            if layout.align() <= page() {
                if let Some((p, fd)) = map(layout.size(), q.source) {
                    if (p as usize).is_multiple_of(layout.align())
                        && record(p as usize, layout.size(), fd)
                    {
                        return p;
                    }
                    if fd != ADOPTED {
                        // SAFETY: the mapping just made, not handed out
                        unsafe {
                            libc::munmap(p.cast(), layout.size());
                            libc::close(fd);
                        }
                    }
                }
            }
        }
        // SAFETY: forwarded with the caller's layout
        unsafe { backing(layout).alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if PENDING.load(Ordering::Relaxed) != 0 {
            // SAFETY: forwarded; a shared mapping of a new memfd reads as zeros, an attached
            // one holds the owner's data (only `with_shared` asks for it, never zeroed)
            let p = unsafe { self.alloc(layout) };
            if !p.is_null() && find(p as usize).is_none() {
                // SAFETY: `p` is a fresh system allocation of `layout.size()` bytes
                unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
            }
            return p;
        }
        // SAFETY: forwarded with the caller's layout
        unsafe { backing(layout).alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(s) = find(ptr as usize) {
            let (len, fd) = (s.len.load(Ordering::Relaxed), s.fd.load(Ordering::Relaxed));
            s.start.store(0, Ordering::Release);
            LIVE.fetch_sub(1, Ordering::AcqRel);
            if fd == ADOPTED {
                let hook = RELEASE.load(Ordering::Acquire);
                if hook != 0 {
                    // SAFETY: only `set_release_hook` stores here, always a `fn(usize)`
                    let f: fn(usize) = unsafe { std::mem::transmute::<usize, fn(usize)>(hook) };
                    f(ptr as usize);
                }
                return;
            }
            // SAFETY: the region this table slot recorded, no longer handed out
            unsafe {
                libc::munmap(ptr.cast(), len);
                libc::close(fd);
            }
            return;
        }
        // SAFETY: a block of the allocator its size picks, returned with its layout
        unsafe { backing(layout).dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if find(ptr as usize).is_some() {
            // a shared buffer that grows or shrinks moves to private memory
            // SAFETY: the new layout has the old alignment and a non-zero size
            let fresh = unsafe {
                let grown = Layout::from_size_align_unchecked(new_size, layout.align());
                backing(grown).alloc(grown)
            };
            if !fresh.is_null() {
                // SAFETY: both regions hold at least min(old, new) bytes and do not overlap
                unsafe {
                    std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            return fresh;
        }
        // SAFETY: the new layout keeps the old alignment and has a non-zero size
        let grown = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (from, to) = (backing(layout), backing(grown));
        if (layout.size() <= SMALL) == (new_size <= SMALL) {
            // SAFETY: a block of `from`, resized by the allocator that owns it
            return unsafe { from.realloc(ptr, layout, new_size) };
        }
        // the block crosses the small/large boundary: move it to the other allocator
        // SAFETY: `grown` is a valid layout
        let fresh = unsafe { to.alloc(grown) };
        if !fresh.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes and do not overlap; the old
            // block goes back to the allocator that made it
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                from.dealloc(ptr, layout);
            }
        }
        fresh
    }
}

/// Runs `f` (which must make exactly one allocation of `bytes` bytes first: `Vec::with_capacity`)
/// with that allocation placed in shared memory — a new memfd, or process `pid`'s memfd `fd`.
fn with_shared<R>(bytes: usize, source: Source, f: impl FnOnce() -> R) -> R {
    REQUEST.with(|r| r.set(Some(Request { bytes, source })));
    PENDING.fetch_add(1, Ordering::AcqRel);
    let out = f();
    REQUEST.with(|r| r.set(None));
    PENDING.fetch_sub(1, Ordering::AcqRel);
    out
}

/// A `Vec` of `n` elements in new shared memory (zeros), or None when it could not be mapped.
pub fn shared_vec<T: Copy + Default>(n: usize) -> Option<Vec<T>> {
    let bytes = n.checked_mul(std::mem::size_of::<T>())?;
    if bytes == 0 {
        return None;
    }
    let v: Vec<T> = with_shared(bytes, Source::Fresh, || Vec::with_capacity(n));
    shared_handle(v.as_ptr().cast())?;
    let mut v = v;
    v.resize(n, T::default());
    Some(v)
}

/// A `Vec` of `n` elements over process `pid`'s shared memory `fd` (its current contents).
pub fn attach_vec<T: Copy>(n: usize, pid: i32, fd: i32) -> Result<Vec<T>> {
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b > 0)
        .ok_or_else(|| Error::Value(format!("shared memory: bad element count {n}")))?;
    let v: Vec<T> = with_shared(bytes, Source::Attach(pid, fd), || Vec::with_capacity(n));
    if shared_handle(v.as_ptr().cast()).is_none() {
        return Err(Error::Runtime(format!(
            "shared memory: cannot map {bytes} bytes of process {pid}'s shared buffer {fd} \
             (the process that shared it must still be running and hold the tensor)"
        )));
    }
    let mut v = v;
    // SAFETY: the mapping holds `n` initialized elements (the owner's data, plain `Copy`
    // numbers or bools written by the owner), and the capacity is exactly `n`
    unsafe { v.set_len(n) };
    Ok(v)
}

/// Whether `ptr` points into shared memory (a tensor moved there by `share_memory_`, or one
/// mapped from another process).
pub fn in_shared(ptr: *const u8) -> bool {
    find(ptr as usize).is_some()
}

/// `(pid, fd, bytes)` naming the shared region that starts at `ptr`, for another process to
/// map; None for memory that is not a shared buffer.
pub fn shared_handle(ptr: *const u8) -> Option<(i32, i32, usize)> {
    let s = find(ptr as usize).filter(|s| s.fd.load(Ordering::Relaxed) != ADOPTED)?;
    // SAFETY: getpid has no preconditions
    let pid = unsafe { libc::getpid() };
    Some((
        pid,
        s.fd.load(Ordering::Relaxed),
        s.len.load(Ordering::Relaxed),
    ))
}

/// Sets the function told the start of adopted memory once the `Vec` over it is freed.
pub fn set_release_hook(f: fn(usize)) {
    RELEASE.store(f as usize, Ordering::Release);
}

/// A `Vec` over `n` elements that someone else owns, starting at `ptr` (a numpy array's data),
/// or None when it cannot be adopted (misaligned, or the table is full).
///
/// # Safety
/// `ptr` must point at `n` initialized elements of `T`, valid and not moved until the release
/// hook is called with `ptr` (the owner must be kept alive until then).
pub unsafe fn adopt_vec<T: Copy>(ptr: *mut T, n: usize) -> Option<Vec<T>> {
    let bytes = n.checked_mul(std::mem::size_of::<T>()).filter(|&b| b > 0)?;
    let v: Vec<T> = with_shared(bytes, Source::Adopt(ptr as usize), || Vec::with_capacity(n));
    if v.as_ptr() != ptr.cast_const() {
        return None; // a private allocation instead: dropped here, nothing adopted
    }
    let mut v = v;
    // SAFETY: the caller vouches for `n` initialized elements at `ptr`, the capacity is `n`
    unsafe { v.set_len(n) };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region table and its live count are process-wide: these tests run one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn shared_vec_is_mapped_and_unmapped() {
        let _one_at_a_time = serial();
        let before = LIVE.load(Ordering::Acquire);
        let mut v = shared_vec::<f32>(1000).unwrap();
        assert_eq!(v.len(), 1000);
        assert!(v.iter().all(|&x| x == 0.0));
        v[999] = 3.5;
        let (pid, fd, bytes) = shared_handle(v.as_ptr().cast()).unwrap();
        assert_eq!(bytes, 4000);
        // a second mapping of the same memory (as another process would make) sees the write
        let w = attach_vec::<f32>(1000, pid, fd).unwrap();
        assert_eq!(w[999], 3.5);
        v[0] = -1.0;
        assert_eq!(w[0], -1.0);
        drop(v);
        assert_eq!(w[0], -1.0); // the other mapping keeps the memory
        drop(w);
        assert_eq!(LIVE.load(Ordering::Acquire), before);
        // ordinary allocations are untouched
        let plain = vec![1u8; 4096];
        assert!(shared_handle(plain.as_ptr()).is_none());
        assert!(shared_vec::<f64>(0).is_none());
        assert!(attach_vec::<f32>(10, pid, 987_654).is_err());
    }

    #[test]
    fn blocks_cross_between_the_small_and_large_allocators_intact() {
        // a vector grown past SMALL moves from mimalloc to the system allocator and back when
        // shrunk; its bytes survive both moves and each block is freed by its own allocator
        let mut v: Vec<u32> = (0..1000).collect();
        for len in [SMALL / 4 + 1000, 3 * SMALL, 100] {
            v.resize(len, 7);
            v.shrink_to_fit();
            let kept = len.min(1000) as u32;
            assert!(v.iter().take(1000).copied().eq(0..kept));
            assert!(v.iter().skip(1000).all(|&x| x == 7));
        }
        // an impossible request fails at once instead of being reserved and touched later
        let mut big: Vec<u8> = Vec::new();
        assert!(big.try_reserve(1 << 42).is_err()); // 4 TiB
        let mut z = vec![0u64; 100];
        z.try_reserve(1 << 44).unwrap_err();
        assert!(z.iter().all(|&x| x == 0));
    }

    #[test]
    fn growing_a_shared_vec_moves_it_to_private_memory() {
        let _one_at_a_time = serial();
        let mut v = shared_vec::<i64>(16).unwrap();
        v[3] = 7;
        v.extend(0..100);
        assert!(shared_handle(v.as_ptr().cast()).is_none());
        assert_eq!(v[3], 7);
        assert_eq!(v.len(), 116);
    }

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    fn note_release(p: usize) {
        RELEASED.store(p, Ordering::SeqCst);
    }

    #[test]
    fn adopted_memory_is_released_not_freed() {
        let _one_at_a_time = serial();
        set_release_hook(note_release);
        // memory owned elsewhere: a leaked box stands for a numpy array's buffer
        let owner: &'static mut [f64] = Box::leak(vec![1.5f64; 7].into_boxed_slice());
        let ptr = owner.as_mut_ptr();
        // SAFETY: 7 initialized elements, leaked: valid until (and after) the release
        let mut v = unsafe { adopt_vec(ptr, 7) }.unwrap();
        assert_eq!(v.as_ptr(), ptr.cast_const());
        assert!(shared_handle(v.as_ptr().cast()).is_none()); // not shareable across processes
        v[2] = -4.0;
        // SAFETY: reading the owner's memory, which the adopted Vec wrote
        assert_eq!(unsafe { *ptr.add(2) }, -4.0);
        drop(v);
        assert_eq!(RELEASED.load(Ordering::SeqCst), ptr as usize);
        // SAFETY: still valid: adoption never frees
        assert_eq!(unsafe { *ptr.add(0) }, 1.5);
    }

    #[test]
    fn many_live_regions_and_a_full_bucket() {
        let _one_at_a_time = serial();
        set_release_hook(note_release);
        let owner: &'static mut [f32] = Box::leak(vec![2.0f32; 4 * 3000].into_boxed_slice());
        let base = owner.as_mut_ptr();
        // 3000 adoptions alive at once, at distinct addresses: each is found again
        let vs: Vec<Vec<f32>> = (0..3000)
            // SAFETY: four initialized elements at each offset of the leaked owner
            .filter_map(|i| unsafe { adopt_vec(base.add(4 * i), 4) })
            .collect();
        assert!(vs.len() > 2900, "{} adopted", vs.len());
        assert!(vs
            .iter()
            .all(|v| find(v.as_ptr() as usize).is_some() && v[3] == 2.0));
        drop(vs);
        // the same address adopted more often than a bucket holds: the rest are refused
        // SAFETY: as above, the first four elements of the owner
        let same: Vec<Option<Vec<f32>>> = (0..WAYS + 1)
            .map(|_| unsafe { adopt_vec(base, 4) })
            .collect();
        assert_eq!(same.iter().filter(|v| v.is_some()).count(), WAYS);
    }

    #[test]
    fn decimal_paths() {
        let mut b = [0u8; 20];
        let n = write_decimal(&mut b, 1_234_506);
        assert_eq!(&b[..n], b"1234506");
        let n = write_decimal(&mut b, 0);
        assert_eq!(&b[..n], b"0");
    }
}
