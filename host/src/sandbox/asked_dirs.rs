//! Held directories the person is asked about (`[policy] ask`): the
//! manifest requests them, the lock does not approve them
//! (`policy/grants/asked.rs`), and the plugin reaches into one.
//!
//! A directory the plugin may not reach at all is preopened at its guest
//! path as a *placeholder*: an empty directory that was deleted while held,
//! read-only, so nothing can be read from or created in it. A directory
//! granted read-only whose write access is held is preopened as granted.
//! The descriptor functions that reach through a directory are redefined
//! here, in front of wasmtime-wasi's: the first one used on the placeholder
//! (any of them), or the first that would write through the read-only
//! preopen, asks the person ([`Asker`]). An answer of allow replaces the
//! preopen's handle, in the call's resource table, with the directory at the
//! mode asked for; everything opened through it afterwards inherits that
//! mode. A denial leaves the placeholder refusing everything
//! (`access`), or the read-only grant as it was.
//!
//! The check fails safe: a function not redefined here reaches only the
//! empty placeholder, or the read-only grant. `get-flags` reports the access
//! asked for, so a plugin that checks before writing still tries, and asks.
//! Descriptors opened through a read-only preopen before its write access
//! was allowed stay read-only.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::{Descriptor, OpenMode, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptor, NewTimestamp, OpenFlags, PathFlags,
};

use super::denials::DenialLog;
use super::host::HostState;
use super::permission::{Answer, Asker, Target};
use crate::policy::grants::{DirPreopen, Grants};
use crate::policy::manifest::DirMode;

/// The interfaces whose functions are redefined.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";
const FILESYSTEM_PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

/// The held directories of one call, and what the person said about each.
pub(super) struct CallDirs {
    plugin: Arc<str>,
    grants: Arc<Grants>,
    /// One per `grants.asked_dirs`.
    dirs: Vec<Asked>,
    asker: Option<Arc<Asker>>,
    /// Whether the store serves a call yet (an instance made ahead does
    /// not, and cannot ask).
    attached: bool,
    /// Whether a held directory was reached before then.
    reached_ahead: bool,
    denials: DenialLog,
}

#[derive(Default)]
struct Asked {
    /// The host directory every handle of this preopen shares, learned when
    /// the guest lists its preopens.
    preopen: Option<Arc<File>>,
    answer: Option<Answered>,
}

enum Answered {
    /// The directory, opened at the mode asked for.
    Allowed(Arc<File>),
    Denied,
}

impl CallDirs {
    /// The held directories of a call into `plugin`; none unless `grants`
    /// has some to ask about.
    pub(super) fn new(plugin: Arc<str>, grants: Arc<Grants>, denials: DenialLog) -> Self {
        let dirs = grants.asked_dirs.iter().map(|_| Asked::default()).collect();
        Self {
            plugin,
            grants,
            dirs,
            asker: None,
            attached: false,
            reached_ahead: false,
            denials,
        }
    }

    /// The store serves a call: asks through `asker` from now on (none:
    /// every reach is refused).
    pub(super) fn set_asker(&mut self, asker: Option<Arc<Asker>>) {
        self.asker = asker;
        self.attached = true;
    }

    /// Whether the instance reached a held directory before it served a
    /// call (its start code, made ahead): it was refused without asking.
    pub(super) fn reached_ahead(&self) -> bool {
        self.reached_ahead
    }

    /// Which held directory the directory handle `dir` is a preopen of.
    fn index_of(&self, dir: &Arc<File>) -> Option<usize> {
        self.dirs
            .iter()
            .position(|a| a.preopen.as_ref().is_some_and(|p| Arc::ptr_eq(p, dir)))
    }
}

/// The mode bits and permissions of a directory at `mode`.
fn access(mode: DirMode) -> (OpenMode, FsPerms) {
    match mode {
        DirMode::ReadOnly => (OpenMode::READ, FsPerms::ReadOnly),
        DirMode::ReadWrite => (OpenMode::READ | OpenMode::WRITE, FsPerms::ReadWrite),
    }
}

/// The path of an empty directory, deleted while held, that placeholders
/// are preopened from (one per process, made in the temporary directory);
/// `None`, logged once, when it cannot be made.
pub(super) fn placeholder() -> Option<&'static std::path::Path> {
    static PLACEHOLDER: OnceLock<Option<DirPreopen>> = OnceLock::new();
    let made = PLACEHOLDER.get_or_init(|| {
        let path: PathBuf = std::env::temp_dir().join(format!(
            "warden-placeholder-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let made = std::fs::create_dir(&path)
            .and_then(|()| DirPreopen::open_absolute(&path, "/", DirMode::ReadOnly));
        let _ = std::fs::remove_dir(&path);
        made.map_err(|e| {
            tracing::warn!(
                target: "warden::permission",
                "cannot make the placeholder directory {}: {e}; held directories are not \
                 shown to plugins, so nothing asks about them",
                path.display()
            );
        })
        .ok()
    });
    made.as_ref().map(DirPreopen::open_path)
}

/// Whether the guest may go on with a function on `fd` that writes through
/// it when `writes`: asks the person the first time it reaches a held
/// directory, and gives the preopen its answer. `Err(code)` is the error the
/// function returns instead.
pub(super) async fn reach(
    state: &mut HostState,
    fd: &Resource<Descriptor>,
    writes: bool,
) -> wasmtime::Result<Result<(), ErrorCode>> {
    if state.asked_dirs.dirs.is_empty() {
        return Ok(Ok(()));
    }
    let Ok(Descriptor::Dir(dir)) = state.table.get(fd) else {
        return Ok(Ok(()));
    };
    let Some(index) = state.asked_dirs.index_of(&dir.dir) else {
        return Ok(Ok(()));
    };
    let preopen = dir.dir.clone();
    let grants = state.asked_dirs.grants.clone();
    let held = &grants.asked_dirs[index];
    if held.granted_read_only && !writes {
        return Ok(Ok(()));
    }
    if !state.asked_dirs.attached {
        state.asked_dirs.reached_ahead = true;
        return Ok(Err(ErrorCode::Access));
    }
    if state.asked_dirs.dirs[index].answer.is_none() {
        let asker = state.asked_dirs.asker.clone();
        let answer = match asker {
            None => Err(
                "the client cannot ask the person (it does not support form \
                         elicitation)"
                    .to_string(),
            ),
            Some(asker) => {
                let target = Target::Dir {
                    guest: &held.dir.guest,
                    host: &held.request.host,
                    mode: held.dir.mode,
                    granted_read_only: held.granted_read_only,
                };
                match asker.ask(target).await {
                    Answer::Allowed => Ok(()),
                    Answer::Refused(why) => Err(why),
                    // The run stops: the guest never sees an answer.
                    Answer::Deferred => std::future::pending().await,
                }
            }
        };
        let answered = match answer {
            Ok(()) if held.granted_read_only => Answered::Allowed(preopen),
            Ok(()) => {
                let opened = cap_primitives::fs::open_ambient_dir(
                    held.dir.open_path(),
                    cap_primitives::ambient_authority(),
                );
                match opened {
                    Ok(file) => Answered::Allowed(Arc::new(file)),
                    Err(e) => {
                        refused(state, index, format!("it could not be opened: {e}"));
                        Answered::Denied
                    }
                }
            }
            Err(why) => {
                refused(state, index, why);
                Answered::Denied
            }
        };
        state.asked_dirs.dirs[index].answer = Some(answered);
    }
    Ok(give_answer(state, fd, index))
}

/// Records the denial of held directory `index`.
fn refused(state: &HostState, index: usize, why: String) {
    let dirs = &state.asked_dirs;
    let held = &dirs.grants.asked_dirs[index];
    let what = if held.granted_read_only {
        "write access is requested but not approved in warden.lock"
    } else {
        "it is requested but not approved in warden.lock"
    };
    dirs.denials.record(
        &dirs.plugin,
        "fs",
        "not-approved",
        held.dir.guest.clone(),
        format!(
            "{what}; {why} (`warden approve {}` approves it)",
            dirs.plugin
        ),
    );
}

/// Makes the handle `fd` of held directory `index` what the person's answer
/// gives; the error a function on it returns when the answer refuses it.
fn give_answer(
    state: &mut HostState,
    fd: &Resource<Descriptor>,
    index: usize,
) -> Result<(), ErrorCode> {
    let held = &state.asked_dirs.grants.asked_dirs[index];
    let (asked_mode, perms) = access(held.dir.mode);
    let (allowed, open_mode) = match &state.asked_dirs.dirs[index].answer {
        Some(Answered::Allowed(file)) => (Some((file.clone(), perms)), asked_mode),
        // The read-only grant refuses writes itself.
        Some(Answered::Denied) if held.granted_read_only => (None, OpenMode::READ),
        Some(Answered::Denied) => return Err(ErrorCode::Access),
        // Not asked yet: it reports the access asked for.
        None => (None, asked_mode),
    };
    if let Ok(Descriptor::Dir(dir)) = state.table.get_mut(fd) {
        if let Some((file, perms)) = allowed {
            dir.dir = file;
            dir.perms = perms;
        }
        dir.open_mode = open_mode;
    }
    Ok(())
}

/// Learns which of the preopens `listed` are held directories, and gives
/// each the answer it has so far.
fn learn(state: &mut HostState, listed: &[(Resource<Descriptor>, String)]) {
    if state.asked_dirs.dirs.is_empty() {
        return;
    }
    let grants = state.asked_dirs.grants.clone();
    for (fd, guest) in listed {
        let Some(index) = grants.asked_dirs.iter().position(|a| a.dir.guest == *guest) else {
            continue;
        };
        if let Ok(Descriptor::Dir(dir)) = state.table.get(fd) {
            let asked = &mut state.asked_dirs.dirs[index];
            if asked.preopen.is_none() {
                asked.preopen = Some(dir.dir.clone());
            }
        }
        let _ = give_answer(state, fd, index);
    }
}

/// Whether `open-at` with these flags writes through the directory.
pub(super) fn open_writes(oflags: OpenFlags, flags: DescriptorFlags) -> bool {
    oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE)
        || flags.intersects(DescriptorFlags::WRITE | DescriptorFlags::MUTATE_DIRECTORY)
}

/// Redefines a descriptor function so that it first reaches its
/// descriptors (see [`reach`]), then runs wasmtime-wasi's.
macro_rules! reaching {
    ($types:ident, $name:literal, $method:ident, ($($arg:ident: $ty:ty),*),
     writes = $writes:literal $(, also = $other:ident)?) => {
        $types.func_wrap_async(
            concat!("[method]descriptor.", $name),
            |mut store, (fd, $($arg,)*): (Resource<Descriptor>, $($ty,)*)| {
                Box::new(async move {
                    let state = store.data_mut();
                    if let Err(code) = reach(state, &fd, $writes).await? {
                        return Ok((Err(code),));
                    }
                    $(
                        if let Err(code) = reach(state, &$other, $writes).await? {
                            return Ok((Err(code),));
                        }
                    )?
                    match state.filesystem().$method(fd, $($arg),*).await {
                        Ok(value) => Ok((Ok(value),)),
                        Err(e) => Ok((Err(e.downcast()?),)),
                    }
                })
            },
        )?;
    };
}

/// Redefines `get-directories` and the descriptor functions that reach
/// through a directory (`open-at` is redefined in `files.rs`, which calls
/// [`reach`] itself).
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut preopens = linker.instance(FILESYSTEM_PREOPENS)?;
    preopens.func_wrap("get-directories", |mut store, (): ()| {
        let state = store.data_mut();
        let listed = preopens::Host::get_directories(&mut state.filesystem())?;
        learn(state, &listed);
        Ok((listed,))
    })?;
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    reaching!(types, "read-directory", read_directory, (), writes = false);
    reaching!(types, "stat", stat, (), writes = false);
    reaching!(types, "stat-at", stat_at, (flags: PathFlags, path: String), writes = false);
    reaching!(types, "readlink-at", readlink_at, (path: String), writes = false);
    reaching!(types, "metadata-hash", metadata_hash, (), writes = false);
    reaching!(
        types,
        "metadata-hash-at",
        metadata_hash_at,
        (flags: PathFlags, path: String),
        writes = false
    );
    reaching!(
        types,
        "set-times",
        set_times,
        (atim: NewTimestamp, mtim: NewTimestamp),
        writes = true
    );
    reaching!(
        types,
        "set-times-at",
        set_times_at,
        (flags: PathFlags, path: String, atim: NewTimestamp, mtim: NewTimestamp),
        writes = true
    );
    reaching!(types, "create-directory-at", create_directory_at, (path: String), writes = true);
    reaching!(types, "remove-directory-at", remove_directory_at, (path: String), writes = true);
    reaching!(types, "unlink-file-at", unlink_file_at, (path: String), writes = true);
    reaching!(types, "symlink-at", symlink_at, (old: String, new: String), writes = true);
    reaching!(
        types,
        "link-at",
        link_at,
        (flags: PathFlags, old: String, into: Resource<Descriptor>, new: String),
        writes = true,
        also = into
    );
    reaching!(
        types,
        "rename-at",
        rename_at,
        (old: String, into: Resource<Descriptor>, new: String),
        writes = true,
        also = into
    );
    linker.allow_shadowing(false);
    Ok(())
}
