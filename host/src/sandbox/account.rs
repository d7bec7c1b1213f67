//! Host memory charged to the call that caused it.
//!
//! The process's global allocator ([`Accounting`]) wraps the system
//! allocator. While a call's future is being polled ([`Accounted`]), every
//! allocation and free made on that thread (by wasmtime, wasmtime-wasi,
//! wasmtime-wasi-http and Warden's own host functions, on behalf of the
//! guest) is added to or taken from that call's [`CallMemory`]. A call that
//! goes over its `host_memory` limit is stopped at its next yield (the epoch
//! ticker makes a running guest yield every few milliseconds).
//!
//! Bytes that change hands with work done outside the call's polls are moved
//! explicitly: response body frames the connection task allocated are
//! charged when the call takes them, request body frames are released when
//! the connection task takes them ([`CallMemory::charge`],
//! [`CallMemory::release`]). A free never takes the count below zero, so
//! memory allocated elsewhere and freed by the call cannot buy it room.
//!
//! After a call that used much host memory, [`trim_after`] hands the freed
//! pages back to the kernel (glibc keeps them in its arenas otherwise), so
//! the server's resident size returns to where it was.

// A global allocator and `malloc_trim` need `unsafe`; each use is commented.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

/// The system allocator, counting what each call allocates.
#[derive(Debug)]
pub struct Accounting;

#[global_allocator]
static GLOBAL: Accounting = Accounting;

thread_local! {
    /// The call being polled on this thread, if any.
    static CURRENT: Cell<*const CallMemory> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` on the call being polled on this thread.
fn with_current(f: impl FnOnce(&CallMemory)) {
    let _ = CURRENT.try_with(|current| {
        let ptr = current.get();
        if !ptr.is_null() {
            // SAFETY: `CURRENT` is only non-null inside `Scope`, which holds a
            // reference to the `CallMemory` (kept alive by `Accounted`'s
            // `Arc`) for as long as the pointer is set.
            f(unsafe { &*ptr });
        }
    });
}

// SAFETY: every method forwards to `System` with the same arguments; the
// accounting around it neither allocates nor touches the memory.
unsafe impl GlobalAlloc for Accounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            with_current(|m| m.charge(layout.size() as u64));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            with_current(|m| m.charge(layout.size() as u64));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        with_current(|m| m.release(layout.size() as u64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            let old = layout.size();
            if new_size >= old {
                with_current(|m| m.charge((new_size - old) as u64));
            } else {
                with_current(|m| m.release((old - new_size) as u64));
            }
        }
        new
    }
}

/// The host memory one call is using.
#[derive(Debug)]
pub struct CallMemory {
    used: AtomicU64,
    peak: AtomicU64,
    limit: u64,
}

impl CallMemory {
    /// An account for a call allowed `limit` bytes of host memory.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            limit,
        })
    }

    /// Adds `bytes` to the call's use.
    pub fn charge(&self, bytes: u64) {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(used, Ordering::Relaxed);
    }

    /// Takes `bytes` from the call's use, never below zero.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// The most host memory the call held at once, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
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
        let probe = CallMemory::new(u64::MAX);
        {
            let _scope = Scope::enter(&probe);
            std::hint::black_box(vec![0u8; 64]);
        }
        probe.peak() >= 64
    }
}

/// Sets the current call of this thread until dropped, restoring the one
/// before (scopes nest, for example a call polled inside another's poll).
struct Scope {
    previous: *const CallMemory,
}

impl Scope {
    fn enter(memory: &Arc<CallMemory>) -> Self {
        let previous = CURRENT.with(|c| c.replace(Arc::as_ptr(memory)));
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

/// Whether a trim is running; at most one runs at a time.
static TRIMMING: AtomicBool = AtomicBool::new(false);

/// Hands free allocator memory back to the kernel after a call that used at
/// least [`TRIM_THRESHOLD`] bytes of host memory, on a blocking thread.
pub fn trim_after(memory: &CallMemory) {
    if memory.peak() < TRIM_THRESHOLD || TRIMMING.swap(true, Ordering::AcqRel) {
        return;
    }
    let trim = || {
        release_free_memory();
        TRIMMING.store(false, Ordering::Release);
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(trim);
        }
        Err(_) => trim(),
    }
}

/// Returns the allocator's free pages, in every arena, to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    // SAFETY: `malloc_trim` only returns free memory to the kernel; it is
    // thread-safe and takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frees_never_take_the_count_below_zero() {
        let memory = CallMemory::new(100);
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
        let memory = CallMemory::new(1 << 20);
        let kept = Accounted::new(memory.clone(), async { vec![1u8; 256 << 10] })
            .await
            .expect("under the cap");
        assert!(memory.peak() >= 256 << 10);
        drop(kept);
        let memory = CallMemory::new(1 << 20);
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
}
