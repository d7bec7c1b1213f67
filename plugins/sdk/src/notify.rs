//! Announcements to the host: a list of this plugin changed, or a resource's
//! contents did. When the current call ends the host describes the plugin
//! again and tells connected clients.
//!
//! Outside `wasm32` (native unit tests) announcements are dropped.

/// Which list changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// The tools.
    Tools,
    /// The prompts.
    Prompts,
    /// The resources or resource templates.
    Resources,
}

/// Asks the host to announce that this plugin's list of `kind` changed.
///
/// ```no_run
/// warden_plugin::notify::list_changed(warden_plugin::notify::ListKind::Resources);
/// ```
pub fn list_changed(kind: ListKind) {
    imp::list_changed(kind);
}

/// Asks the host to announce that the resource at `uri` (this plugin's own
/// URI) changed, to clients subscribed to it.
pub fn resource_updated(uri: &str) {
    imp::resource_updated(uri);
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::ListKind;
    use crate::__bindings::warden::plugin::notify as wit;

    pub(super) fn list_changed(kind: ListKind) {
        wit::list_changed(match kind {
            ListKind::Tools => wit::ListKind::Tools,
            ListKind::Prompts => wit::ListKind::Prompts,
            ListKind::Resources => wit::ListKind::Resources,
        });
    }

    pub(super) fn resource_updated(uri: &str) {
        wit::resource_updated(uri);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::ListKind;

    pub(super) fn list_changed(_kind: ListKind) {}

    pub(super) fn resource_updated(_uri: &str) {}
}
