//! `PagePool`: dense storage for compressed pages (and any object of 1 to 4096 bytes), in the manner of
//! the kernel's zsmalloc.
//!
//! # Design
//! - **Size classes.** An object goes to the smallest class whose slot holds it: 8, 16, then every
//!   multiple of 32 bytes up to 4096: [`CLASS_COUNT`] classes. A 32-byte step loses 16 bytes per
//!   object on average (about 1% of a typical LZ4 page) and keeps few classes, each with at most one
//!   partly filled span.
//! - **Spans.** A class keeps its slots back to back in spans of 1 to 16 pages, objects straddling page
//!   boundaries, so that little is lost at a span's end. A span's memory grows a page at a time as
//!   slots are handed out, so a class's partly filled span holds less than one unused page.
//! - **Handles.** [`Handle`] is a `Copy` 64-bit value naming a class and an entry of that class's object
//!   table; the entry holds the object's current span and slot. Compaction moves objects and rewrites
//!   entries, so handles stay valid. A removed handle's entry is reused by a later insert: like a freed
//!   pointer, a handle must not be used after `remove`.
//! - **Compaction.** [`PagePool::compact`] moves each class's objects into its fullest spans, frees the
//!   emptied ones, moves objects to the low slots of partly used spans and gives the pages above them
//!   back: afterwards a class holds at most `ceil(objects / slots_per_span)` spans.
//! - **Accounting.** Every allocation is charged before it is made and made fallibly, so a memory limit
//!   ([`PagePool::set_limit`]) or an exhausted heap makes `insert` return an error, never abort.
//!   `mem_used_total` is the exact sum of the capacity of every allocation the pool holds plus the
//!   pool's own size; for spans, the pages they cover (with feature `std` on Linux spans take their
//!   pages from `mmap` and grow without copying; see `pages.rs`).
//! - **Concurrency.** Each size class has its own spin lock; all methods take `&self`, so a pool is
//!   shared between threads as it is (`PagePool: Send + Sync`, put it in an `Arc` or a `static`).
//!   Operations on objects of different classes never contend. A thread that finds a lock taken spins,
//!   or with feature `std` yields its time slice. [`PagePool::get`] returns a guard that
//!   holds the object's class lock: drop it before calling the pool again from the same thread (an
//!   operation on the same class, or `compact`, `stats`, `clear`, would wait for it forever).
//!
//! # Density
//! On `memdump.bin` (16384 real anonymous pages, each compressed with our LZ4; `cargo xtask bench
//! pool`) all memory the pool holds is 1.035x the compressed bytes when freshly filled, and 1.036x
//! after replacing a random half of the objects with others of new sizes and compacting (1.055x
//! before compacting). Linux zram's zsmalloc: 1.079x fresh, not counting its slot table.
//!
//! ```
//! use trueno_zram_alloc::{PagePool, CompressedPage, Encoding};
//! let pool = PagePool::new();
//! let a = pool.insert(b"hello").unwrap();
//! let page = CompressedPage::from_parts(Encoding::Lz4, &[0x10, 0x41]).unwrap();
//! let b = pool.insert_page(&page).unwrap();
//! assert_eq!(&*pool.get(a).unwrap(), b"hello");
//! assert_eq!(pool.get_page(b).unwrap(), page);
//! pool.remove(a).unwrap();
//! pool.compact();
//! let stats = pool.stats();
//! assert_eq!(stats.orig_data_size, 4096);
//! assert_eq!(stats.compr_data_size, 2);
//! ```

mod account;
mod class;
mod pages;
mod span;
mod store;
#[cfg(test)]
mod tests;

use core::num::NonZeroU64;
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::MutexGuard;
use trueno_zram_core::{CompressedPage, Encoding, PAGE_SIZE, Page, PageCompressor};

use crate::error::{Error, Result};
use account::Accounting;
pub use class::{CLASS_COUNT, MAX_SPAN_PAGES};
use class::{CLASSES, ClassSpec, class_of};
use store::{ClassStore, KIND_RAW, Location};

/// What a thread does while a class lock is taken: yield to the scheduler where there is one (feature
/// `std`), else spin.
struct Relax;

impl spin::RelaxStrategy for Relax {
    #[inline]
    fn relax() {
        #[cfg(feature = "std")]
        std::thread::yield_now();
        #[cfg(not(feature = "std"))]
        core::hint::spin_loop();
    }
}

type Mutex<T> = spin::mutex::Mutex<T, Relax>;

/// Prefetches every cache line of `bytes` (an object: at most 64 lines) into all cache levels.
/// The whole object, not only its first lines: the processor's own prefetcher does not cross into
/// the next 4 KiB page, nor start before a few misses, and an object copied or decoded soon after
/// then waits for none (128 KiB requests of a device filled with memdump, one interleaved run:
/// 49.3 us of processor time per read against 57.2 with the first 4 lines, 25.2 per write of fio's
/// data against 30.7).
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn prefetch_lines(bytes: &[u8]) {
    use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    for line in bytes.chunks(64) {
        // SAFETY: SSE is part of every x86-64 processor, and a prefetch only hints: it reads
        // nothing into the program and never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn prefetch_lines(_bytes: &[u8]) {}

/// Names one object in a [`PagePool`]: its size class and its entry in that class's object table.
///
/// `Copy`, 8 bytes, and `Option<Handle>` is 8 bytes too. Stays valid across [`PagePool::compact`];
/// invalid after [`PagePool::remove`] (a later insert may reuse it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handle(NonZeroU64);

impl Handle {
    fn new(class: usize, index: u32) -> Self {
        let raw = (u64::from(index) + 1) << 8 | class as u64;
        // `index + 1` is at least 1, shifted into bits 8 and up: never zero.
        Self(NonZeroU64::new(raw).unwrap_or(NonZeroU64::MIN))
    }

    /// The handle as a number, to store it compactly; [`Handle::from_raw`] turns it back.
    pub const fn to_raw(self) -> u64 {
        self.0.get()
    }

    /// A handle from [`Handle::to_raw`]'s number (`None` for 0). A number that names no live object gives
    /// an error when used, never undefined behaviour.
    pub const fn from_raw(raw: u64) -> Option<Self> {
        match NonZeroU64::new(raw) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    fn class(self) -> usize {
        (self.0.get() & 0xff) as usize
    }

    fn index(self) -> usize {
        // A raw value below 256 (never made by `new`) wraps to an index no table reaches.
        usize::try_from((self.0.get() >> 8).wrapping_sub(1)).unwrap_or(usize::MAX)
    }
}

/// What an object is: bytes stored with [`PagePool::insert`], or a compressed page of some encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ObjectKind {
    /// Stored with [`PagePool::insert`].
    Raw,
    /// Stored with [`PagePool::insert_page`] or [`PagePool::insert_encoded`].
    Page(Encoding),
}

impl ObjectKind {
    fn from_code(code: u8) -> Self {
        match Encoding::from_tag(code) {
            Ok(encoding) => Self::Page(encoding),
            Err(_) => Self::Raw,
        }
    }
}

/// The pool's statistics, named and meant as the fields of Linux zram's `mm_stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PoolStats {
    /// Uncompressed bytes of the pages stored: `PAGE_SIZE` per page inserted with `insert_page` or
    /// `insert_encoded` (raw objects stand for no page and count nothing here).
    pub orig_data_size: u64,
    /// Bytes of the objects stored, same-fill pages excluded (zram stores no data for them).
    pub compr_data_size: u64,
    /// Every byte the pool holds: spans, object tables, span records and bitmaps (by capacity), and the
    /// pool structure itself.
    pub mem_used_total: u64,
    /// The highest `mem_used_total` ever.
    pub mem_used_max: u64,
    /// Same-fill pages stored (each keeps its 8-byte word).
    pub same_pages: u64,
    /// Pages stored uncompressed (`Encoding::Stored`).
    pub huge_pages: u64,
    /// Pages given back by compaction, ever.
    pub pages_compacted: u64,
    /// Live objects of every kind.
    pub objects: u64,
    /// The memory limit, `None` if there is none.
    pub mem_limit: Option<u64>,
}

/// Read access to one object: derefs to its bytes, and holds its size class's lock while alive.
pub struct ObjectRef<'a> {
    store: MutexGuard<'a, ClassStore>,
    spec: &'static ClassSpec,
    loc: Location,
}

impl ObjectRef<'_> {
    /// What the object is.
    pub fn kind(&self) -> ObjectKind {
        ObjectKind::from_code(self.loc.kind)
    }

    /// The page encoding, or `None` for a raw object.
    pub fn encoding(&self) -> Option<Encoding> {
        match self.kind() {
            ObjectKind::Page(e) => Some(e),
            ObjectKind::Raw => None,
        }
    }
}

impl Deref for ObjectRef<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // `get` checked that these bytes exist, and the guard keeps them from moving since; the empty
        // fallback is never taken.
        self.store.bytes(self.spec, &self.loc).unwrap_or(&[])
    }
}

impl core::fmt::Debug for ObjectRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ObjectRef")
            .field("kind", &self.kind())
            .field("len", &self.loc.len)
            .finish()
    }
}

/// A pool of compressed objects of 1 to 4096 bytes, densely packed; see the [module](self) documentation.
pub struct PagePool {
    classes: [Mutex<ClassStore>; CLASS_COUNT],
    /// Whether each class holds memory, written under its lock, so that pool-wide walks (`compact`,
    /// `stats`) skip idle classes without taking their locks.
    active: [AtomicBool; CLASS_COUNT],
    acct: Accounting,
}

impl Default for PagePool {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for PagePool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PagePool")
            .field("stats", &self.stats())
            .finish()
    }
}

impl PagePool {
    /// An empty pool without a memory limit. Allocates nothing (usable in a `static`); the structure
    /// itself is about 16 KiB, so put it in a `Box`, an `Arc` or a `static` rather than on a small stack.
    pub const fn new() -> Self {
        Self {
            classes: [const { Mutex::new(ClassStore::new()) }; CLASS_COUNT],
            active: [const { AtomicBool::new(false) }; CLASS_COUNT],
            acct: Accounting::new(core::mem::size_of::<Self>()),
        }
    }

    /// An empty pool that holds at most `limit` bytes in all (`mem_used_total`).
    pub fn with_limit(limit: usize) -> Self {
        let pool = Self::new();
        pool.set_limit(Some(limit));
        pool
    }

    /// Sets or lifts the memory limit. Memory already held above a new limit stays; growth is refused
    /// until use falls below it.
    pub fn set_limit(&self, limit: Option<usize>) {
        self.acct.set_limit(limit.unwrap_or(usize::MAX));
    }

    /// The memory limit, if any.
    pub fn limit(&self) -> Option<usize> {
        Some(self.acct.limit()).filter(|&l| l != usize::MAX)
    }

    /// Stores `bytes` (1 to 4096 of them) as a raw object.
    pub fn insert(&self, bytes: &[u8]) -> Result<Handle> {
        self.insert_kind(KIND_RAW, bytes)
    }

    /// Stores a compressed page; statistics count it by its encoding (same-fill pages as `same_pages`,
    /// stored pages as `huge_pages`).
    pub fn insert_page(&self, page: &CompressedPage) -> Result<Handle> {
        self.insert_kind(page.encoding().tag(), page.payload())
    }

    /// Stores a compressed page given as its encoding and payload, checking the payload length that the
    /// encoding allows.
    pub fn insert_encoded(&self, encoding: Encoding, payload: &[u8]) -> Result<Handle> {
        encoding.check_payload_len(payload.len())?;
        self.insert_kind(encoding.tag(), payload)
    }

    fn insert_kind(&self, kind: u8, bytes: &[u8]) -> Result<Handle> {
        let len = bytes.len();
        let size_error = Error::ObjectSize {
            len,
            max: PAGE_SIZE,
        };
        let class = class_of(len).ok_or(size_error)?;
        let (store, spec, active) = self.class(class).ok_or(size_error)?;
        let mut store = store.lock();
        let inserted = store.insert(class, spec, kind, bytes, &self.acct);
        // Even a failed insert may have grown the table.
        active.store(store.holds_memory(), Ordering::Release);
        Ok(Handle::new(class, inserted?))
    }

    fn class(&self, class: usize) -> Option<(&Mutex<ClassStore>, &'static ClassSpec, &AtomicBool)> {
        Some((
            self.classes.get(class)?,
            CLASSES.get(class)?,
            self.active.get(class)?,
        ))
    }

    /// The classes that hold memory, each with its shape and its flag. A class that becomes active
    /// meanwhile may be missed, as if the walk had come first.
    fn active_classes(
        &self,
    ) -> impl Iterator<Item = (&Mutex<ClassStore>, &'static ClassSpec, &AtomicBool)> {
        self.classes
            .iter()
            .zip(CLASSES.iter())
            .zip(self.active.iter())
            .filter(|(_, active)| active.load(Ordering::Acquire))
            .map(|((store, spec), active)| (store, spec, active))
    }

    /// Read access to an object. The guard holds the object's size-class lock until dropped.
    pub fn get(&self, handle: Handle) -> Result<ObjectRef<'_>> {
        let invalid = Error::InvalidHandle {
            raw: handle.to_raw(),
        };
        let (store, spec, _) = self.class(handle.class()).ok_or(invalid)?;
        let store = store.lock();
        let loc = store.locate(handle.index()).ok_or(invalid)?;
        if store.bytes(spec, &loc).is_none() {
            return Err(Error::Inconsistent("an object lies outside its span"));
        }
        Ok(ObjectRef { store, spec, loc })
    }

    /// Asks the processor to start loading an object's bytes into its caches, so that a copy of it
    /// soon after finds them there: a reader of many objects prefetches the next one while it copies
    /// this one, and the two waits for memory overlap (128 KiB reads of pages stored in random
    /// order: 44 us of processor time per request against 60 without). Does nothing for an unknown
    /// handle, or off x86-64.
    pub fn prefetch(&self, handle: Handle) {
        let Some((store, spec, _)) = self.class(handle.class()) else {
            return;
        };
        let store = store.lock();
        if let Some(bytes) = store
            .locate(handle.index())
            .and_then(|loc| store.bytes(spec, &loc))
        {
            prefetch_lines(bytes);
        }
    }

    /// Copies an object into `dst` and returns its length.
    pub fn read_into(&self, handle: Handle, dst: &mut [u8]) -> Result<usize> {
        let object = self.get(handle)?;
        let len = object.len();
        let available = dst.len();
        dst.get_mut(..len)
            .ok_or(trueno_zram_core::Error::OutputTooSmall {
                needed: len,
                available,
            })?
            .copy_from_slice(&object);
        Ok(len)
    }

    /// The length of an object.
    pub fn object_len(&self, handle: Handle) -> Result<usize> {
        Ok(self.get(handle)?.len())
    }

    /// A copy of a stored page; an error if the handle names a raw object.
    pub fn get_page(&self, handle: Handle) -> Result<CompressedPage> {
        let object = self.get(handle)?;
        let encoding = object.encoding().ok_or(Error::NotAPage {
            raw: handle.to_raw(),
        })?;
        Ok(CompressedPage::from_parts(encoding, &object)?)
    }

    /// Decompresses a stored page into `out` with `compressor`. The class lock is held only while the
    /// compressed bytes are copied out, not while decompressing.
    pub fn decompress_into<C: PageCompressor + ?Sized>(
        &self,
        handle: Handle,
        compressor: &mut C,
        out: &mut Page,
    ) -> Result<()> {
        let page = self.get_page(handle)?;
        Ok(compressor.decompress_into(&page, out)?)
    }

    /// Replaces the object at `handle` with a compressed page given as its encoding and payload, in
    /// the old object's slot, when the payload belongs to the same size class: nothing is allocated
    /// or freed and the handle stays valid. Returns `Ok(false)` and changes nothing when the payload
    /// belongs to another class (insert it and remove the old object instead). Rewriting in place
    /// also keeps a device's layout: pages written in order stay in order in their spans however
    /// often they are rewritten, which sequential reads feel.
    pub fn overwrite_encoded(
        &self,
        handle: Handle,
        encoding: Encoding,
        payload: &[u8],
    ) -> Result<bool> {
        encoding.check_payload_len(payload.len())?;
        if class_of(payload.len()) != Some(handle.class()) {
            return Ok(false);
        }
        let invalid = Error::InvalidHandle {
            raw: handle.to_raw(),
        };
        let (store, spec, _) = self.class(handle.class()).ok_or(invalid)?;
        if store
            .lock()
            .overwrite(spec, handle.index(), encoding.tag(), payload)
        {
            Ok(true)
        } else {
            Err(invalid)
        }
    }

    /// Removes an object; its handle becomes invalid.
    pub fn remove(&self, handle: Handle) -> Result<()> {
        let invalid = Error::InvalidHandle {
            raw: handle.to_raw(),
        };
        let (store, spec, _) = self.class(handle.class()).ok_or(invalid)?;
        store
            .lock()
            .remove(spec, handle.index(), &self.acct)
            .map(|_| ())
            .ok_or(invalid)
    }

    /// Moves objects so that every size class holds only the spans and pages its objects need, and gives
    /// the rest back to the allocator. Handles stay valid. Locks one class at a time, so other threads
    /// keep working meanwhile. Returns the pages given back (also added to `pages_compacted`).
    pub fn compact(&self) -> usize {
        let freed = self
            .active_classes()
            .map(|(store, spec, active)| {
                let mut store = store.lock();
                let freed = store.compact(spec, &self.acct);
                active.store(store.holds_memory(), Ordering::Release);
                freed
            })
            .sum();
        self.acct.add_compacted(freed);
        freed
    }

    /// Removes every object and gives all memory back; handles become invalid. Statistics restart, but
    /// `mem_used_max` and `pages_compacted` keep their history.
    pub fn clear(&self) {
        for (store, _, active) in self.active_classes() {
            let mut store = store.lock();
            store.clear(&self.acct);
            active.store(store.holds_memory(), Ordering::Release);
        }
    }

    /// The statistics, summed over the classes (each locked in turn, so under concurrent use the sum is
    /// a consistent figure per class, not a snapshot of the whole pool).
    pub fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            mem_limit: self.limit().map(|l| l as u64),
            ..PoolStats::default()
        };
        for (store, _, _) in self.active_classes() {
            let s = store.lock().stats;
            stats.objects += s.objects;
            stats.orig_data_size += s.pages * PAGE_SIZE as u64;
            stats.compr_data_size += s.compr_bytes;
            stats.same_pages += s.same_pages;
            stats.huge_pages += s.huge_pages;
        }
        stats.pages_compacted = self.acct.compacted() as u64;
        stats.mem_used_total = self.acct.used() as u64;
        // A charge raises the use before the maximum: never report a maximum below the use just read.
        stats.mem_used_max = (self.acct.max() as u64).max(stats.mem_used_total);
        stats
    }

    /// Live objects.
    pub fn len(&self) -> usize {
        usize::try_from(self.stats().objects).unwrap_or(usize::MAX)
    }

    /// Whether the pool holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sums the capacity of every allocation by walking the pool (slow; the accounting keeps the same
    /// figure incrementally). For tests that check `mem_used_total`.
    #[doc(hidden)]
    pub fn audit_heap_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + self
                .classes
                .iter()
                .map(|s| s.lock().heap_bytes())
                .sum::<usize>()
    }
}
