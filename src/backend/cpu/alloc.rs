//! Process-wide allocator tuning of the CPU backend, applied once by the backend itself on the
//! first use of its thread pool (see `pool`), so no caller has to remember it.

use std::sync::Once;

/// Keeps freed tensor buffers in the process heap for reuse instead of returning them to the
/// OS, so a training step does not page-fault freshly mapped memory for every activation.
/// Runs once per process, however often it is called (the pool calls it when it starts).
pub fn tune_allocator() {
    static TUNED: Once = Once::new();
    TUNED.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets glibc allocator parameters (it is MT-safe: it takes the
        // arena lock), and the values are valid for each option.
        unsafe {
            // buffers up to 512 MiB come from the heap, and the heap is trimmed only past 1 GiB
            // free
            libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        }
    });
}
