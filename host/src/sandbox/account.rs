//! Host memory charged to the call that caused it.
//!
//! The process's global allocator ([`Accounting`]) wraps the system
//! allocator and puts a small header before every allocation naming its
//! owner: the call being polled on that thread when it was made
//! ([`Accounted`]), if any. Allocations made by wasmtime, wasmtime-wasi,
//! wasmtime-wasi-http and Warden's own host functions on behalf of a guest
//! are thereby charged to that call's [`CallMemory`], and released from it
//! when they are freed, on whatever thread and by whatever task that happens
//! (a request frame freed by the connection task, a waker dropped by the
//! timer driver). Freeing memory the call did not allocate changes nothing,
//! so memory allocated elsewhere and freed by the call cannot buy it room. A
//! call that goes over its `host_memory` limit is stopped at its next yield
//! (the epoch ticker makes a running guest yield every few milliseconds).
//!
//! Bytes made outside the call and handed to it (response body frames the
//! connection task read) are charged explicitly for as long as the call
//! holds any of them ([`hold`]).
//!
//! Owners are slots in a fixed table, named by index and generation; when a
//! call's [`CallMemory`] is dropped its generation ends, so frees that come
//! later (memory the call left in long-lived host structures) touch nothing.
//!
//! After a call that used much host memory, [`trim_after`] hands the freed
//! pages back to the kernel (glibc keeps them in its arenas otherwise), so
//! the server's resident size returns to where it was; so do
//! `Sandbox::compile` after each compile and the artifact cache after each
//! write ([`release_free_memory`]).

// A global allocator and `malloc_trim` need `unsafe`; each use is commented.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;

/// The system allocator, counting what each call allocates.
#[derive(Debug)]
pub struct Accounting;

#[global_allocator]
static GLOBAL: Accounting = Accounting;

/// Bytes before each allocation; the owner's tag is in the last eight. An
/// allocation aligned to more than this gets a header of its alignment, so
/// the pointer handed out keeps it.
const HEADER: usize = 16;

/// An owner: slot index + 1 in the high half, generation in the low half; 0
/// is no owner.
type Tag = u64;

thread_local! {
    /// The tag of the call being polled on this thread, or 0.
    static CURRENT: Cell<Tag> = const { Cell::new(0) };
}

/// The owner of allocations made now on this thread.
fn current() -> Tag {
    CURRENT.try_with(Cell::get).unwrap_or(0)
}

/// Header size and the layout of the whole block for a `layout` allocation.
fn outer(layout: Layout) -> Option<(usize, Layout)> {
    let header = layout.align().max(HEADER);
    let size = layout.size().checked_add(header)?;
    Some((header, Layout::from_size_align(size, layout.align()).ok()?))
}

/// Writes `tag` into the header of the block at `base`; returns the pointer
/// handed out.
///
/// # Safety
/// `base` is a live block of at least `header` bytes, aligned to 8.
unsafe fn tag_block(base: *mut u8, header: usize, tag: Tag) -> *mut u8 {
    // SAFETY: the caller's block holds `header >= 16` bytes; the pointer
    // handed out is `header` bytes in and the tag sits in the eight before it.
    unsafe {
        let ptr = base.add(header);
        ptr.cast::<Tag>().sub(1).write(tag);
        ptr
    }
}

/// The tag of an allocation handed out by [`Accounting`].
///
/// # Safety
/// `ptr` was returned by [`Accounting`] and is live.
unsafe fn tag_of(ptr: *mut u8) -> Tag {
    // SAFETY: every pointer handed out has its tag in the eight bytes before.
    unsafe { ptr.cast::<Tag>().sub(1).read() }
}

/// A block for `layout` from `allocate` (given the layout with the header),
/// charged to the current call and tagged with it.
///
/// # Safety
/// `allocate` returns null or a live block of the layout it is given.
unsafe fn new_block(layout: Layout, allocate: impl FnOnce(Layout) -> *mut u8) -> *mut u8 {
    let Some((header, outer)) = outer(layout) else {
        return std::ptr::null_mut();
    };
    let base = allocate(outer);
    if base.is_null() {
        return base;
    }
    let tag = current();
    charge(tag, layout.size() as u64);
    // SAFETY: `base` is a fresh block of `outer.size() >= header` bytes.
    unsafe { tag_block(base, header, tag) }
}

// SAFETY: every block comes from `System` with the caller's alignment and
// room for the header in front; the pointer handed out is `header` bytes in
// (a multiple of the alignment), and the same header size is found again
// from the layout the caller passes back. The accounting neither allocates
// nor touches the caller's bytes.
unsafe impl GlobalAlloc for Accounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `System.alloc` gets a layout of non-zero size.
        unsafe { new_block(layout, |outer| System.alloc(outer)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { new_block(layout, |outer| System.alloc_zeroed(outer)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((header, outer)) = outer(layout) else {
            return;
        };
        // SAFETY: `ptr` came from `alloc` with this layout, so its header and
        // block are where `alloc` put them.
        unsafe {
            release(tag_of(ptr), layout.size() as u64);
            System.dealloc(ptr.sub(header), outer);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some((header, outer)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        let Some(new_outer_size) = new_size
            .checked_add(header)
            .filter(|&size| Layout::from_size_align(size, layout.align()).is_ok())
        else {
            return std::ptr::null_mut();
        };
        // SAFETY: `ptr` came from `alloc` with `layout`; the block moves with
        // its header, which `System.realloc` copies along.
        let new = unsafe { System.realloc(ptr.sub(header), outer, new_outer_size) };
        if new.is_null() {
            return new;
        }
        // SAFETY: `new` is the moved block, header first.
        let ptr = unsafe { new.add(header) };
        // SAFETY: the tag moved with the block.
        let tag = unsafe { tag_of(ptr) };
        let now = current();
        if tag == 0 && now != 0 {
            // Memory from outside any call, grown by this one: the call owns
            // it from now on.
            charge(now, new_size as u64);
            // SAFETY: the block is live and has its header.
            unsafe { tag_block(new, header, now) };
        } else if new_size >= layout.size() {
            charge(tag, (new_size - layout.size()) as u64);
        } else {
            release(tag, (layout.size() - new_size) as u64);
        }
        ptr
    }
}

/// Owner slots: more than the calls that can run at once.
const SLOTS: usize = 16_384;

/// The host memory of the call that holds a slot.
struct Slot {
    /// Taken by a live [`CallMemory`].
    busy: AtomicBool,
    /// Counts up each time a call takes the slot; never 0 while it is busy.
    generation: AtomicU32,
    used: AtomicU64,
    peak: AtomicU64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            generation: AtomicU32::new(0),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// Where the search for a free slot starts.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The slot of a live owner `tag`.
fn slot(tag: Tag) -> Option<&'static Slot> {
    let index = usize::try_from(tag >> 32).ok()?.checked_sub(1)?;
    let slot = TABLE.get(index)?;
    (slot.generation.load(Ordering::Acquire) == tag as u32).then_some(slot)
}

fn charge(tag: Tag, bytes: u64) {
    if let Some(slot) = slot(tag) {
        let used = slot.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        slot.peak.fetch_max(used, Ordering::Relaxed);
    }
}

fn release(tag: Tag, bytes: u64) {
    if let Some(slot) = slot(tag) {
        // Never below zero, even if a free races the slot's next call.
        let _ = slot
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

/// The host memory one call is using.
#[derive(Debug)]
pub struct CallMemory {
    tag: Tag,
    limit: u64,
}

impl CallMemory {
    /// An account for a call allowed `limit` bytes of host memory; `None`
    /// when every owner slot is taken (more calls at once than [`SLOTS`]).
    pub fn new(limit: u64) -> Option<Arc<Self>> {
        let start = NEXT.fetch_add(1, Ordering::Relaxed);
        for offset in 0..SLOTS {
            let index = (start + offset) % SLOTS;
            let slot = &TABLE[index];
            if slot
                .busy
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            slot.used.store(0, Ordering::Relaxed);
            slot.peak.store(0, Ordering::Relaxed);
            let mut generation = slot.generation.load(Ordering::Relaxed).wrapping_add(1);
            if generation == 0 {
                generation = 1;
            }
            slot.generation.store(generation, Ordering::Release);
            let tag = ((index as u64 + 1) << 32) | u64::from(generation);
            return Some(Arc::new(Self { tag, limit }));
        }
        None
    }

    fn slot(&self) -> &'static Slot {
        slot(self.tag).expect("a live CallMemory owns its slot")
    }

    /// Adds `bytes` made elsewhere to the call's use.
    pub fn charge(&self, bytes: u64) {
        charge(self.tag, bytes);
    }

    /// Takes `bytes` from the call's use, never below zero.
    pub fn release(&self, bytes: u64) {
        release(self.tag, bytes);
    }

    /// The host memory the call holds now, in bytes.
    pub fn used(&self) -> u64 {
        self.slot().used.load(Ordering::Relaxed)
    }

    /// The most host memory the call held at once, in bytes.
    pub fn peak(&self) -> u64 {
        self.slot().peak.load(Ordering::Relaxed)
    }

    /// The cap, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the call went over its cap at any point.
    pub fn exceeded(&self) -> bool {
        self.peak() > self.limit
    }

    /// Whether the count works in this process (the accounting allocator is
    /// linked in): allocates under a scope and checks it was seen.
    pub fn active() -> bool {
        let Some(probe) = CallMemory::new(u64::MAX) else {
            return false;
        };
        {
            let _scope = Scope::enter(&probe);
            std::hint::black_box(vec![0u8; 64]);
        }
        probe.peak() >= 64
    }
}

impl Drop for CallMemory {
    fn drop(&mut self) {
        let slot = self.slot();
        // End the generation first: frees that come later touch nothing.
        slot.generation.fetch_add(1, Ordering::AcqRel);
        slot.busy.store(false, Ordering::Release);
    }
}

/// `bytes` made outside the call (a response frame read by the connection
/// task), charged to `memory` for as long as the call holds any part of them.
pub fn hold(memory: &Arc<CallMemory>, bytes: Bytes) -> Bytes {
    if bytes.is_empty() {
        return bytes;
    }
    memory.charge(bytes.len() as u64);
    Bytes::from_owner(Held {
        bytes,
        memory: memory.clone(),
    })
}

/// Bytes charged to a call until dropped.
struct Held {
    bytes: Bytes,
    memory: Arc<CallMemory>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.memory.release(self.bytes.len() as u64);
    }
}

/// Sets the current call of this thread until dropped, restoring the one
/// before (scopes nest, for example a call polled inside another's poll).
struct Scope {
    previous: Tag,
}

impl Scope {
    fn enter(memory: &CallMemory) -> Self {
        let previous = CURRENT.with(|c| c.replace(memory.tag));
        Self { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// The call's host memory went over its cap.
#[derive(Debug, Clone, Copy)]
pub struct OverBudget;

/// A future whose polls are charged to one call. Resolves to
/// `Err(OverBudget)` at the first poll that leaves the call over its cap; the
/// inner future is then dropped like a timed-out one.
pub struct Accounted<F> {
    memory: Arc<CallMemory>,
    inner: Pin<Box<F>>,
}

impl<F> std::fmt::Debug for Accounted<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounted")
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Accounted<F> {
    /// Charges `inner`'s polls to `memory`.
    pub fn new(memory: Arc<CallMemory>, inner: F) -> Self {
        Self {
            memory,
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for Accounted<F> {
    type Output = Result<F::Output, OverBudget>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let polled = {
            let _scope = Scope::enter(&this.memory);
            this.inner.as_mut().poll(cx)
        };
        match polled {
            Poll::Ready(output) => Poll::Ready(Ok(output)),
            Poll::Pending if this.memory.exceeded() => Poll::Ready(Err(OverBudget)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Calls whose peak host memory is at least this large hand their freed
/// memory back to the kernel when they end.
const TRIM_THRESHOLD: u64 = 4 << 20;

/// The trims asked for: at most one runs at a time, and one asked for while
/// another runs is run after it, so the memory of the last large call is
/// always handed back.
static TRIMS: Rerun = Rerun::new();

/// Hands free allocator memory back to the kernel after a call that used at
/// least [`TRIM_THRESHOLD`] bytes of host memory, on a blocking thread.
pub fn trim_after(memory: &CallMemory) {
    if memory.peak() < TRIM_THRESHOLD || !TRIMS.request() {
        return;
    }
    let trim = || TRIMS.run(release_free_memory);
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(trim);
        }
        Err(_) => trim(),
    }
}

/// A job that never runs twice at once and runs again when asked while it
/// runs.
struct Rerun {
    requested: AtomicBool,
    running: AtomicBool,
}

impl Rerun {
    const fn new() -> Self {
        Self {
            requested: AtomicBool::new(false),
            running: AtomicBool::new(false),
        }
    }

    /// Asks for a run: true when the caller must start it with [`Rerun::run`]
    /// (none is running), false when the running one will see the request.
    fn request(&self) -> bool {
        self.requested.store(true, Ordering::SeqCst);
        !self.running.swap(true, Ordering::SeqCst)
    }

    /// Runs `job` until no request is left.
    fn run(&self, job: impl Fn()) {
        loop {
            while self.requested.swap(false, Ordering::SeqCst) {
                job();
            }
            self.running.store(false, Ordering::SeqCst);
            // A request made after the last check and before `running` was
            // cleared found it set: take it, unless another caller did.
            if !self.requested.load(Ordering::SeqCst) || self.running.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }
}

/// Returns the allocator's free pages, in every arena, to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn release_free_memory() {
    // SAFETY: `malloc_trim` only returns free memory to the kernel; it is
    // thread-safe and takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn release_free_memory() {}

/// Fixes the allocator's trim and mmap thresholds, once per process.
///
/// glibc raises both when a large mmapped block is freed (up to a 64 MiB
/// trim threshold), and `malloc_trim` hands back the free top of the main
/// arena only. The memory of a call runs on worker threads, in arenas of
/// their own: with raised thresholds, what a large call freed at the top of
/// such an arena stayed resident. Fixed thresholds also turn the raising
/// off: blocks under 32 MiB come from the arenas, and any arena's free top
/// above 1 MiB goes back to the kernel when it is freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(super) fn fix_allocator_thresholds() {
    static FIXED: std::sync::Once = std::sync::Once::new();
    FIXED.call_once(|| {
        // SAFETY: `mallopt` only changes the allocator's parameters; it is
        // thread-safe and takes no pointers.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        }
    });
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn fix_allocator_thresholds() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_asked_for_while_one_runs_runs_after_it() {
        let trims = Rerun::new();
        assert!(trims.request(), "none running: the caller starts it");
        let runs = std::sync::atomic::AtomicU32::new(0);
        trims.run(|| {
            // A large call ends while the first trim runs.
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                assert!(!trims.request(), "the running trim takes it");
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(trims.request(), "done: the next caller starts one again");
    }

    fn account(limit: u64) -> Arc<CallMemory> {
        CallMemory::new(limit).expect("a free slot")
    }

    /// Runs `f` as a poll of a call charged to `memory`.
    fn in_call<T>(memory: &Arc<CallMemory>, f: impl FnOnce() -> T) -> T {
        let _scope = Scope::enter(memory);
        f()
    }

    #[test]
    fn frees_never_take_the_count_below_zero() {
        let memory = account(100);
        memory.charge(10);
        memory.release(50);
        memory.charge(5);
        assert_eq!(memory.peak(), 10);
        assert!(!memory.exceeded());
        memory.charge(200);
        assert!(memory.exceeded());
    }

    #[tokio::test]
    async fn allocations_while_polled_are_charged_to_the_call() {
        assert!(CallMemory::active(), "the accounting allocator is linked");
        let memory = account(1 << 20);
        let kept = Accounted::new(memory.clone(), async { vec![1u8; 256 << 10] })
            .await
            .expect("under the cap");
        assert!(memory.peak() >= 256 << 10);
        drop(kept);
        let memory = account(1 << 20);
        let over: Result<(), OverBudget> = Accounted::new(memory.clone(), async {
            let mut held = Vec::new();
            loop {
                held.push(vec![1u8; 64 << 10]);
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(over.is_err(), "stopped at the first yield over the cap");
        assert!(memory.exceeded());
    }

    #[test]
    fn memory_freed_on_another_thread_leaves_the_call_that_allocated_it() {
        let memory = account(u64::MAX);
        let blocks: Vec<Vec<u8>> = in_call(&memory, || (0..64).map(|_| vec![7u8; 4096]).collect());
        assert!(memory.used() >= 64 * 4096);
        // Dropped by another thread, outside any call: still released.
        std::thread::spawn(move || drop(blocks)).join().unwrap();
        assert!(memory.used() < 4096, "{} bytes left", memory.used());
    }

    #[test]
    fn memory_from_elsewhere_freed_by_the_call_buys_it_nothing() {
        let outside = vec![1u8; 1 << 20];
        let memory = account(u64::MAX);
        in_call(&memory, || {
            let held = vec![2u8; 64 << 10];
            drop(outside);
            assert!(
                memory.used() >= 64 << 10,
                "the call still holds its own block"
            );
            drop(held);
        });
        assert!(memory.used() < 4096);
    }

    #[test]
    fn growing_outside_memory_makes_the_call_its_owner() {
        let mut grown = Vec::<u8>::with_capacity(16);
        let memory = account(u64::MAX);
        in_call(&memory, || grown.reserve_exact(1 << 20));
        assert!(memory.used() >= 1 << 20);
        drop(grown);
        assert!(memory.used() < 4096);
    }

    #[test]
    fn over_aligned_allocations_keep_their_alignment() {
        #[repr(align(4096))]
        struct Page([u8; 4096]);
        let memory = account(u64::MAX);
        let pages: Vec<Box<Page>> = in_call(&memory, || {
            (0..8).map(|_| Box::new(Page([3; 4096]))).collect()
        });
        for page in &pages {
            assert_eq!(std::ptr::from_ref::<Page>(page) as usize % 4096, 0);
            assert_eq!(page.0[4095], 3);
        }
        assert!(memory.used() >= 8 * 4096);
        drop(pages);
        assert!(memory.used() < 4096);
    }

    #[test]
    fn frees_after_the_call_ended_touch_no_later_call() {
        let first = account(u64::MAX);
        let left = in_call(&first, || vec![5u8; 1 << 20]);
        drop(first);
        // Later calls, whichever slot they get, are not credited by the free.
        let later: Vec<_> = (0..4).map(|_| account(u64::MAX)).collect();
        for memory in &later {
            memory.charge(100);
        }
        drop(left);
        for memory in &later {
            assert_eq!(memory.used(), 100);
        }
    }

    #[test]
    fn held_bytes_count_until_the_last_part_is_dropped() {
        let memory = account(u64::MAX);
        let frame = Bytes::from(vec![9u8; 10_000]);
        let held = hold(&memory, frame);
        let mut rest = held.clone();
        let head = rest.split_to(4_000);
        drop(held);
        assert!(memory.used() >= 10_000);
        drop(head);
        assert!(memory.used() >= 10_000);
        drop(rest);
        assert!(memory.used() < 10_000);
    }
}
