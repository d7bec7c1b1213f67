//! Stdin and stdout as the MCP transport, driven by the runtime's reactor.
//!
//! Tokio's own `stdin()`/`stdout()` run every read and write on the blocking
//! pool: a hand-off to another thread and back per message, about a third of
//! a small tool call's round trip. MCP clients start servers with pipes
//! (Python, Rust) or Unix socket pairs (Node.js, so Claude Desktop, VS Code,
//! Cursor, the Inspector); both can be read and written non-blocking
//! instead:
//!
//! - pipes are reopened through `/proc/self/fd` with `O_NONBLOCK`
//!   ([`rmcp::transport::stdio_pipes`]), on open file descriptions of their
//!   own;
//! - sockets cannot be reopened, so a duplicate of the descriptor is made
//!   non-blocking, which the descriptor it duplicates shares. That is
//!   Warden's own end of the pair (the client's end is another description),
//!   and nothing else in Warden touches stdin or stdout while it serves
//!   them: plugins never see the host's standard streams, and the log goes
//!   to stderr.
//!
//! Anything else (a terminal, a file) keeps the blocking handles.
//!
//! The messages on them are read and written by [`LineTransport`].

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::fs::FileType;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

use crate::mcp::lines::LineTransport;

/// The transport for `warden serve` on stdio. Needs the runtime's IO driver.
pub(super) fn transport() -> LineTransport<Reader, Writer> {
    let (read, write) = handles();
    LineTransport::new(read, write)
}

/// Stdin and stdout, non-blocking where they can be.
fn handles() -> (Reader, Writer) {
    // Both or neither: a socket made non-blocking and then read through the
    // blocking fallback would fail with `WouldBlock`.
    if let (Some(read), Some(write)) = (unix_socket(&io::stdin()), unix_socket(&io::stdout()))
        && let (Some(read), Some(write)) = (non_blocking(read), non_blocking(write))
    {
        tracing::debug!("stdio: non-blocking Unix sockets");
        return (Reader::Socket(read), Writer::Socket(write));
    }
    let (read, write) = rmcp::transport::stdio_pipes();
    (Reader::Stdio(read), Writer::Stdio(write))
}

/// A duplicate of `stream` if it is a Unix stream socket.
fn unix_socket(stream: &impl AsFd) -> Option<std::os::unix::net::UnixStream> {
    let mode = rustix::fs::fstat(stream).ok()?.st_mode;
    if FileType::from_raw_mode(mode) != FileType::Socket {
        return None;
    }
    let fd: OwnedFd = stream.as_fd().try_clone_to_owned().ok()?;
    let socket = std::os::unix::net::UnixStream::from(fd);
    // Only a Unix-domain socket has a Unix local address.
    socket.local_addr().ok()?;
    Some(socket)
}

/// `socket` made non-blocking and registered with the runtime.
fn non_blocking(socket: std::os::unix::net::UnixStream) -> Option<UnixStream> {
    socket.set_nonblocking(true).ok()?;
    UnixStream::from_std(socket).ok()
}

/// The reading half of [`transport`].
#[derive(Debug)]
pub(super) enum Reader {
    /// A pipe (non-blocking) or anything else (blocking), as rmcp opens it.
    Stdio(rmcp::transport::StdioReader),
    /// A Unix socket.
    Socket(UnixStream),
}

/// The writing half of [`transport`].
#[derive(Debug)]
pub(super) enum Writer {
    /// A pipe (non-blocking) or anything else (blocking), as rmcp opens it.
    Stdio(rmcp::transport::StdioWriter),
    /// A Unix socket.
    Socket(UnixStream),
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Stdio(reader) => Pin::new(reader).poll_read(cx, buf),
            Self::Socket(socket) => Pin::new(socket).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Stdio(writer) => Pin::new(writer).poll_write(cx, buf),
            Self::Socket(socket) => Pin::new(socket).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Stdio(writer) => Pin::new(writer).poll_flush(cx),
            Self::Socket(socket) => Pin::new(socket).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Stdio(writer) => Pin::new(writer).poll_shutdown(cx),
            Self::Socket(socket) => Pin::new(socket).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_unix_socket_is_made_non_blocking_and_carries_lines() {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let socket = unix_socket(&ours).expect("a Unix socket is taken");
        let mut writer = Writer::Socket(non_blocking(socket).expect("registered"));
        writer.write_all(b"{\"jsonrpc\":\"2.0\"}\n").await.unwrap();
        writer.flush().await.unwrap();
        let theirs = UnixStream::from_std({
            theirs.set_nonblocking(true).unwrap();
            theirs
        })
        .unwrap();
        let mut line = String::new();
        BufReader::new(theirs).read_line(&mut line).await.unwrap();
        assert_eq!(line, "{\"jsonrpc\":\"2.0\"}\n");
    }

    #[tokio::test]
    async fn pipes_files_and_tcp_sockets_are_not_taken_as_unix_sockets() {
        let (read, _write) = std::io::pipe().unwrap();
        assert!(unix_socket(&read).is_none());
        let file = tempfile::tempfile().unwrap();
        assert!(unix_socket(&file).is_none());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(unix_socket(&tcp).is_none());
    }
}
