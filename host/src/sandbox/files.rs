//! Files a call holds open and bytes it writes to its read-write grants.
//!
//! wasmtime-wasi opens a host descriptor for every `open-at` and keeps it
//! until the guest drops the handle (or a stream made from it). These host
//! functions are redefined here, in front of wasmtime-wasi's own
//! implementation, which they call:
//!
//! - `[method]descriptor.open-at` refuses to open more than the call's
//!   `max_open_files` at once, and more than the server-wide pool
//!   ([`FilePool`]) sized from the process's descriptor limit;
//! - `[method]descriptor.write`, `write-via-stream` and `append-via-stream`
//!   count the bytes written against the call's `max_write`.
//!
//! Each ends the call with a limit error ([`HostLimit`]). Other descriptors a
//! call can hold are bounded elsewhere: `read-directory` reads the whole
//! directory and closes it at once; preopens share the descriptor opened at
//! load; sockets are denied; outgoing HTTP connections are bounded by
//! `max_requests_per_call`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, Filesize, HostDescriptor, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{
    DynOutputStream, FsError, OutputStream, Pollable, StreamError, StreamResult,
};

use super::HostState;
use super::error::{HostLimit, LimitHit};

/// The interface whose functions are redefined.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
/// Descriptors kept for the server itself (listeners, client connections,
/// log and audit files, the compiled-component cache) out of the process's
/// limit.
const SERVER_RESERVE: u64 = 1024;

/// The descriptors open for calls across the whole server.
#[derive(Debug)]
pub struct FilePool {
    open: AtomicU64,
    size: u64,
    per_call: u64,
}

impl FilePool {
    /// A pool sized from the process's descriptor limit (the soft limit is
    /// raised to the hard one first), shared by `calls` concurrent calls.
    pub fn for_process(calls: u32) -> Self {
        let limit = raise_descriptor_limit();
        let size = limit.saturating_sub(SERVER_RESERVE.min(limit / 2));
        let per_call = size / u64::from(calls.max(1));
        Self {
            open: AtomicU64::new(0),
            size,
            per_call,
        }
    }

    /// How many files one call may hold open so that every concurrent call
    /// can hold as many at once.
    pub fn per_call(&self) -> u64 {
        self.per_call
    }

    /// How many descriptors calls may hold open together.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns it.
#[allow(unsafe_code)]
// `rlim_t` is `u64` on Linux but not on every target.
#[allow(clippy::useless_conversion)]
fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes into the struct it is given.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if got != 0 {
        return 1024;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `setrlimit` reads the struct it is given.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        if set == 0 {
            limit = raised;
        }
    }
    u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX)
}

/// The files of one call: which it holds open, and what it wrote.
#[derive(Debug)]
pub struct CallFiles {
    pool: Arc<FilePool>,
    /// One entry per descriptor `open-at` returned; dead once the guest
    /// dropped it and every stream made from it.
    opened: Vec<Weak<std::fs::File>>,
    /// How many of `opened` the pool counts.
    counted: u64,
    peak_open: u64,
    max_open: u64,
    written: Arc<WriteBudget>,
}

impl CallFiles {
    /// The files of a call allowed `max_open` open files and `max_write`
    /// written bytes.
    pub fn new(pool: Arc<FilePool>, max_open: u64, max_write: u64) -> Self {
        Self {
            max_open: max_open.min(pool.per_call),
            pool,
            opened: Vec::new(),
            counted: 0,
            peak_open: 0,
            written: Arc::new(WriteBudget {
                written: AtomicU64::new(0),
                limit: max_write,
            }),
        }
    }

    /// The most files the call held open at once.
    pub fn peak_open(&self) -> u64 {
        self.peak_open
    }

    /// Bytes written to read-write grants.
    pub fn written(&self) -> u64 {
        self.written.written.load(Ordering::Relaxed)
    }

    /// Forgets descriptors the guest closed; returns how many are open.
    fn sweep(&mut self) -> u64 {
        self.opened.retain(|file| file.strong_count() > 0);
        let open = self.opened.len() as u64;
        self.recount(open);
        open
    }

    fn recount(&mut self, open: u64) {
        if open >= self.counted {
            self.pool
                .open
                .fetch_add(open - self.counted, Ordering::Relaxed);
        } else {
            self.pool
                .open
                .fetch_sub(self.counted - open, Ordering::Relaxed);
        }
        self.counted = open;
        self.peak_open = self.peak_open.max(open);
    }

    /// Whether one more descriptor may be opened.
    fn admit(&mut self) -> Result<(), LimitHit> {
        let open = self.sweep();
        if open >= self.max_open || self.pool.open.load(Ordering::Relaxed) >= self.pool.size {
            return Err(LimitHit::OpenFiles(self.max_open));
        }
        Ok(())
    }

    fn opened(&mut self, descriptor: &Descriptor) {
        let file = match descriptor {
            Descriptor::File(f) => &f.file,
            Descriptor::Dir(d) => &d.dir,
        };
        self.opened.push(Arc::downgrade(file));
        let open = self.opened.len() as u64;
        self.recount(open);
    }
}

impl Drop for CallFiles {
    fn drop(&mut self) {
        // The store's table (and with it every descriptor) is gone by now.
        self.recount(0);
    }
}

/// Bytes one call may still write; shared with the streams it opened.
#[derive(Debug)]
struct WriteBudget {
    written: AtomicU64,
    limit: u64,
}

impl WriteBudget {
    /// Counts `bytes` about to be written, or refuses them.
    fn spend(&self, bytes: u64) -> Result<(), HostLimit> {
        let before = self.written.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.written.fetch_sub(bytes, Ordering::Relaxed);
            return Err(HostLimit(LimitHit::Write(self.limit)));
        }
        Ok(())
    }
}

/// Redefines the counted filesystem functions in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                let writes = super::asked_dirs::open_writes(oflags, flags);
                if let Err(code) = super::asked_dirs::reach(state, &fd, writes).await? {
                    return Ok((Err(code),));
                }
                if let Err(limit) = state.files.admit() {
                    return Err(HostLimit(limit).into());
                }
                let opened = state
                    .filesystem()
                    .open_at(fd, path_flags, path, oflags, flags)
                    .await;
                let opened = match opened {
                    Ok(fd) => fd,
                    Err(e) => return Ok((Err(error_code(e)?),)),
                };
                if let Ok(descriptor) = state.table.get(&opened) {
                    state.files.opened(descriptor);
                }
                Ok((Ok(opened),))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.write",
        |mut store, (fd, buf, offset): (Resource<Descriptor>, Vec<u8>, Filesize)| {
            Box::new(async move {
                let state = store.data_mut();
                state.files.written.spend(buf.len() as u64)?;
                match state.filesystem().write(fd, buf, offset).await {
                    Ok(n) => Ok((Ok(n),)),
                    Err(e) => Ok((Err(error_code(e)?),)),
                }
            })
        },
    )?;
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store, (fd, offset): (Resource<Descriptor>, Filesize)| {
            let state = store.data_mut();
            let stream = state.filesystem().write_via_stream(fd, offset);
            counted_stream(state, stream)
        },
    )?;
    types.func_wrap(
        "[method]descriptor.append-via-stream",
        |mut store, (fd,): (Resource<Descriptor>,)| {
            let state = store.data_mut();
            let stream = state.filesystem().append_via_stream(fd);
            counted_stream(state, stream)
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

type StreamReturn = (Result<Resource<DynOutputStream>, ErrorCode>,);

/// Replaces a file's output stream in the table with one that counts what
/// is written through it.
fn counted_stream(
    state: &mut HostState,
    stream: Result<Resource<DynOutputStream>, FsError>,
) -> wasmtime::Result<StreamReturn> {
    let stream = match stream {
        Ok(stream) => stream,
        Err(e) => return Ok((Err(error_code(e)?),)),
    };
    let inner = state.table.delete(stream)?;
    let counted: DynOutputStream = Box::new(CountedOutput {
        inner,
        budget: state.files.written.clone(),
    });
    Ok((Ok(state.table.push(counted)?),))
}

/// The guest-visible error code of a filesystem error, or the trap it is.
fn error_code(error: FsError) -> wasmtime::Result<ErrorCode> {
    error.downcast()
}

/// A file output stream that spends the call's write budget.
struct CountedOutput {
    inner: DynOutputStream,
    budget: Arc<WriteBudget>,
}

impl CountedOutput {
    fn spend(&self, bytes: usize) -> StreamResult<()> {
        self.budget
            .spend(bytes as u64)
            .map_err(|limit| StreamError::Trap(limit.into()))
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CountedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.spend(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.spend(nelem)?;
        self.inner.write_zeroes(nelem)
    }

    async fn write_ready(&mut self) -> StreamResult<usize> {
        self.inner.write_ready().await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountedOutput {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_budget_refuses_what_does_not_fit_and_keeps_counting_right() {
        let budget = WriteBudget {
            written: AtomicU64::new(0),
            limit: 100,
        };
        assert!(budget.spend(60).is_ok());
        assert_eq!(
            budget.spend(41).unwrap_err(),
            HostLimit(LimitHit::Write(100))
        );
        assert!(budget.spend(40).is_ok());
        assert_eq!(budget.written.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn the_pool_leaves_room_for_the_server_and_splits_the_rest() {
        let pool = FilePool::for_process(64);
        assert!(pool.size() >= 512, "the descriptor limit is raised");
        assert_eq!(pool.per_call(), pool.size() / 64);
    }
}
