//! Outgoing HTTP from plugins (`wasi:http/outgoing-handler`).
//!
//! Every request is decided here, before any connection is made. No plugin is
//! granted outgoing HTTP yet, so every request is refused with
//! `HttpRequestDenied`, which the guest sees as that WASI error code.

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// The HTTP hooks of one call.
#[derive(Debug)]
pub struct OutboundHttp {
    plugin: Arc<str>,
}

impl OutboundHttp {
    /// Hooks for a call into `plugin`.
    pub fn new(plugin: Arc<str>) -> Self {
        Self { plugin }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> ResponseFuture {
        tracing::warn!(
            target: "warden::denied",
            plugin = %self.plugin,
            capability = "http",
            uri = %request.uri(),
            "outgoing HTTP request denied: the plugin has no HTTP grant"
        );
        Box::new(std::future::ready(Err(
            wasmtime_wasi_http::Error::HttpRequestDenied,
        )))
    }
}
