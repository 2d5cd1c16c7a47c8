//! Caching pool of GPU storage buffers, keyed by size class.
//!
//! Size classes are 256 bytes and up, four per power of two (at most 25% slack), so buffers
//! are reused across ops of slightly different sizes. A buffer released while a batch of
//! commands is still being recorded goes to the `dirty` list: it may still be read by those
//! commands, so it can be reused by later commands of the same batch (the encoder orders them)
//! but not as the target of `Queue::write_buffer`, which runs before the whole batch. After
//! the batch is submitted its dirty buffers become `clean`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Usage of every pooled buffer: bound as storage, filled by uploads, copied for readback.
pub(crate) const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Smallest buffer the pool hands out, in bytes.
const MIN_CLASS: u64 = 256;

/// The size class (allocated bytes) for a request of `bytes`.
pub(crate) fn size_class(bytes: u64) -> u64 {
    if bytes <= MIN_CLASS {
        return MIN_CLASS;
    }
    // four steps per power of two: round up to a multiple of 2^(floor(log2) - 2)
    let log = 63 - bytes.leading_zeros() as u64;
    let step = 1u64 << (log - 2);
    bytes.div_ceil(step) * step
}

/// Free buffers by size class plus the byte counts the stats report.
#[derive(Default)]
pub(crate) struct BufferPool {
    clean: HashMap<u64, Vec<wgpu::Buffer>>,
    dirty: HashMap<u64, Vec<wgpu::Buffer>>,
    /// bytes of buffers handed out and not yet released
    pub live_bytes: u64,
    /// bytes of buffers waiting in the pool
    pub pooled_bytes: u64,
    /// buffers a captured graph owns (with how many graphs): never pooled while pinned
    pinned: HashMap<wgpu::Buffer, u32>,
}

impl BufferPool {
    /// A pooled buffer of `class` bytes, if one is free. `clean` asks for one no pending
    /// command uses (for `write_buffer` targets).
    pub fn take(&mut self, class: u64, clean: bool) -> Option<wgpu::Buffer> {
        let found = if clean {
            self.clean.get_mut(&class).and_then(|v| v.pop())
        } else {
            self.dirty
                .get_mut(&class)
                .and_then(|v| v.pop())
                .or_else(|| self.clean.get_mut(&class).and_then(|v| v.pop()))
        };
        if found.is_some() {
            self.pooled_bytes -= class;
            self.live_bytes += class;
        }
        found
    }

    /// Records a freshly created buffer of `class` bytes as live.
    pub fn created(&mut self, class: u64) {
        self.live_bytes += class;
    }

    /// Returns a buffer to the pool (dirty until the current batch is submitted); a buffer a
    /// graph owns is only let go (the graph keeps it).
    pub fn release(&mut self, buf: wgpu::Buffer, class: u64) {
        self.live_bytes = self.live_bytes.saturating_sub(class);
        if self.pinned.contains_key(&buf) {
            return;
        }
        self.pooled_bytes += class;
        self.dirty.entry(class).or_default().push(buf);
    }

    /// The batch was submitted: every dirty buffer may now be written from the host.
    pub fn batch_submitted(&mut self) {
        for (class, mut bufs) in self.dirty.drain() {
            self.clean.entry(class).or_default().append(&mut bufs);
        }
    }

    /// Marks `bufs` as owned by a graph: taken out of the free lists, never pooled again until
    /// [`BufferPool::unpin`].
    // a wgpu::Buffer hashes and compares by identity, never by its (mutable) contents
    #[allow(clippy::mutable_key_type)]
    pub fn pin(&mut self, bufs: &[wgpu::Buffer]) {
        let set: HashSet<&wgpu::Buffer> = bufs.iter().collect();
        for lists in [&mut self.clean, &mut self.dirty] {
            for (class, v) in lists.iter_mut() {
                let before = v.len();
                v.retain(|b| !set.contains(b));
                self.pooled_bytes = self
                    .pooled_bytes
                    .saturating_sub(*class * (before - v.len()) as u64);
            }
        }
        for b in bufs {
            *self.pinned.entry(b.clone()).or_insert(0) += 1;
        }
    }

    /// Whether a captured graph owns `buf`.
    pub fn is_pinned(&self, buf: &wgpu::Buffer) -> bool {
        self.pinned.contains_key(buf)
    }

    /// A graph owning `bufs` is gone: they may be pooled again once released (the ones already
    /// released are simply freed with the graph).
    pub fn unpin(&mut self, bufs: &[wgpu::Buffer]) {
        for b in bufs {
            if let Some(n) = self.pinned.get_mut(b) {
                *n -= 1;
                if *n == 0 {
                    self.pinned.remove(b);
                }
            }
        }
    }

    /// Drops every pooled buffer (live ones are untouched).
    pub fn clear(&mut self) {
        self.clean.clear();
        self.dirty.clear();
        self.pooled_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn classes_round_up_with_bounded_slack() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(1024), 1024);
        assert_eq!(size_class(1025), 1280);
        for b in [300u64, 5000, 77777, 1 << 20, (1 << 20) + 1, 123456789] {
            let c = size_class(b);
            assert!(c >= b && c * 4 <= b * 5 + 1024, "{b} -> {c}");
            assert_eq!(c % 16, 0);
        }
    }
}
