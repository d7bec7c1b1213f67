//! What a plugin learns from a host error (`wasi:io/error`).
//!
//! wasmtime-wasi answers `error.to-debug-string` with the error's `Debug`
//! form, which ends with the host's stack backtrace when one was captured
//! (`RUST_BACKTRACE=1` in Warden's environment is enough). That would hand a
//! plugin the host's code addresses and source paths, and formatting it
//! symbolizes the whole Warden binary on the call's behalf: about 130 MB of
//! debug sections read in, kept by the process after the call, and seconds of
//! CPU. Here the function is redefined to give the error's message and causes
//! only, at most [`MAX_MESSAGE`] bytes.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::IoError;

use super::HostState;

/// The interface whose function is redefined.
const IO_ERROR: &str = "wasi:io/error@0.2.12";
/// The longest message a plugin is given, in bytes.
pub const MAX_MESSAGE: usize = 4096;

/// Redefines `error.to-debug-string` in `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(IO_ERROR)?.func_wrap(
        "[method]error.to-debug-string",
        |mut store, (error,): (Resource<IoError>,)| {
            let error = store.data_mut().table.get(&error)?;
            Ok((message(error),))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The error and its causes on one line, cut at [`MAX_MESSAGE`] bytes.
fn message(error: &IoError) -> String {
    let mut text = format!("{error:#}");
    if text.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_the_causes_and_no_backtrace() {
        let error = IoError::msg("connection reset").context("reading the body");
        assert_eq!(message(&error), "reading the body: connection reset");
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let error = IoError::msg("é".repeat(MAX_MESSAGE));
        let text = message(&error);
        assert!(text.len() <= MAX_MESSAGE && text.len() > MAX_MESSAGE - 2);
        assert!(text.chars().all(|c| c == 'é'));
    }
}
