//! MCP's stdio transport: one JSON-RPC message per line, the frequent
//! requests read by [`super::wire`].
//!
//! It behaves as rmcp's `AsyncRwTransport`, which it replaces:
//! `\r\n` is accepted and empty lines are skipped; a line over 16 MiB is
//! dropped with an error in the log and the session goes on; text that is
//! not JSON is ignored (answering it can start an error storm with a peer
//! that echoes); JSON that is not a message is answered with an Invalid
//! Request error without an id, except a notification outside MCP, which is
//! ignored. All but the frequent requests are decoded by rmcp's own codec,
//! so those rules are rmcp's.

use std::sync::Arc;
use std::{fmt, io};

use bytes::{Buf as _, BytesMut};
use futures_util::{SinkExt as _, StreamExt as _};
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ErrorData, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::{DEFAULT_MAX_LINE_LENGTH, JsonRpcMessageCodec};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};

use super::wire;

/// The writing half, shared by every reply being sent.
type Writer<W> = Arc<Mutex<Option<FramedWrite<W, JsonRpcMessageCodec<ServerJsonRpcMessage>>>>>;

/// JSON-RPC lines over a reader and a writer, for [`rmcp::ServiceExt::serve`].
pub struct LineTransport<R, W> {
    read: FramedRead<R, Lines>,
    write: Writer<W>,
    /// The Invalid Request answer owed for a line that was not a message.
    /// Kept here because `receive` can be dropped at any await.
    owed: Option<Owed>,
}

impl<R, W> fmt::Debug for LineTransport<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineTransport")
            .field("owes_an_answer", &self.owed.is_some())
            .finish_non_exhaustive()
    }
}

/// How far the Invalid Request answer has got.
enum Owed {
    /// Not yet handed to the writer.
    Queued,
    /// In the writer's buffer, not yet flushed.
    Fed,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> LineTransport<R, W> {
    /// Reads messages from `read` and writes them to `write`.
    pub fn new(read: R, write: W) -> Self {
        Self {
            read: FramedRead::new(read, Lines::new(DEFAULT_MAX_LINE_LENGTH)),
            write: Arc::new(Mutex::new(Some(FramedWrite::new(
                write,
                JsonRpcMessageCodec::default(),
            )))),
            owed: None,
        }
    }

    /// Sends the owed Invalid Request answer; `false` when the writer is
    /// gone or broken.
    async fn answer_owed(&mut self) -> bool {
        let Some(owed) = &mut self.owed else {
            return true;
        };
        let mut write = self.write.lock().await;
        let Some(framed) = write.as_mut() else {
            return false;
        };
        if matches!(owed, Owed::Queued) {
            let answer = ServerJsonRpcMessage::error(
                ErrorData::invalid_request("Invalid request", None),
                None,
            );
            if framed.feed(answer).await.is_err() {
                return false;
            }
            *owed = Owed::Fed;
        }
        if framed.flush().await.is_err() {
            return false;
        }
        self.owed = None;
        true
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Error = io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let write = Arc::clone(&self.write);
        async move {
            match write.lock().await.as_mut() {
                Some(framed) => framed.send(item).await.map_err(io::Error::from),
                None => Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the transport is closed",
                )),
            }
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if !self.answer_owed().await {
                return None;
            }
            // `FramedRead` keeps a partial line across a dropped `next`.
            match self.read.next().await? {
                Ok(Frame::Message(message)) => return Some(*message),
                Ok(Frame::Skip) => {}
                Ok(Frame::NotAMessage) => self.owed = Some(Owed::Queued),
                Ok(Frame::Oversized) => tracing::error!(
                    max_line_length = DEFAULT_MAX_LINE_LENGTH,
                    "an incoming message exceeded the maximum line length; it was dropped"
                ),
                Err(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> io::Result<()> {
        self.write.lock().await.take();
        Ok(())
    }
}

/// One line read.
#[derive(Debug)]
enum Frame {
    Message(Box<ClientJsonRpcMessage>),
    /// An empty line, text that is not JSON, or a notification outside MCP
    /// that rmcp cannot read.
    Skip,
    /// JSON that is not a JSON-RPC message.
    NotAMessage,
    /// A line over the limit, dropped.
    Oversized,
}

/// Splits the input into lines of at most `max` bytes; the rest of a longer
/// line is dropped as it arrives, so it is never held whole.
struct Lines {
    max: usize,
    /// How far the buffer has been searched for a newline.
    searched: usize,
    /// Dropping the rest of an oversized line.
    discarding: bool,
}

impl Lines {
    fn new(max: usize) -> Self {
        Self {
            max,
            searched: 0,
            discarding: false,
        }
    }
}

impl Decoder for Lines {
    type Item = Frame;
    type Error = io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Option<Frame>> {
        loop {
            let end = buf.len().min(self.max.saturating_add(1));
            let newline = buf[self.searched..end]
                .iter()
                .position(|byte| *byte == b'\n')
                .map(|at| self.searched + at);
            match (self.discarding, newline) {
                (true, Some(at)) => {
                    buf.advance(at + 1);
                    self.discarding = false;
                    self.searched = 0;
                }
                (true, None) => {
                    buf.advance(end);
                    self.searched = 0;
                    if buf.is_empty() {
                        return Ok(None);
                    }
                }
                (false, Some(at)) => {
                    let line = buf.split_to(at + 1);
                    self.searched = 0;
                    return Ok(Some(frame(line)));
                }
                (false, None) if buf.len() > self.max => {
                    self.discarding = true;
                    self.searched = 0;
                    return Ok(Some(Frame::Oversized));
                }
                (false, None) => {
                    self.searched = end;
                    return Ok(None);
                }
            }
        }
    }

    /// A last line without a newline is an incomplete message: dropped.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> io::Result<Option<Frame>> {
        let frame = self.decode(buf)?;
        if frame.is_none() {
            buf.clear();
        }
        Ok(frame)
    }
}

/// What one line (ending in its `\n`) holds.
fn frame(mut line: BytesMut) -> Frame {
    let text = line.strip_suffix(b"\n").unwrap_or(&line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.is_empty() {
        return Frame::Skip;
    }
    if let Some(message) = wire::frequent(text) {
        return Frame::Message(Box::new(message));
    }
    // rmcp's codec takes the line as it came, its `\r\n` or `\n` included.
    match JsonRpcMessageCodec::<ClientJsonRpcMessage>::default().decode(&mut line) {
        Ok(Some(message)) => Frame::Message(Box::new(message)),
        Ok(None) => Frame::Skip,
        Err(rmcp::transport::async_rw::JsonRpcMessageCodecError::Serde(e)) if e.is_data() => {
            tracing::debug!("a message that is not JSON-RPC: {e}");
            Frame::NotAMessage
        }
        Err(e) => {
            tracing::debug!("ignoring a line that is not JSON: {e}");
            Frame::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize) -> Vec<String> {
        let mut lines = Lines::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Byte by byte, the worst split a pipe can give.
        for byte in input {
            buf.extend_from_slice(&[*byte]);
            while let Some(frame) = lines.decode(&mut buf).unwrap() {
                out.push(describe(frame));
            }
        }
        while let Some(frame) = lines.decode_eof(&mut buf).unwrap() {
            out.push(describe(frame));
        }
        out
    }

    fn describe(frame: Frame) -> String {
        match frame {
            Frame::Message(message) => serde_json::to_value(*message).unwrap()["method"]
                .as_str()
                .map_or("message".to_string(), str::to_string),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn lines_become_messages_and_the_rest_is_told_apart() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\
            \n\
            {oops\n\
            {\"hello\":1}\n\
            {\"jsonrpc\":\"2.0\",\"method\":\"$/lsp-thing\"}\n\
            {\"jsonrpc\":\"2.0\",\"method\":\"$/lsp-thing\",\"params\":7}\n\
            {\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n\
            {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"t\"}}\n\
            {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}";
        assert_eq!(
            frames(input, 1 << 20),
            [
                "ping",
                "Skip",
                "Skip",
                "NotAMessage",
                "$/lsp-thing",
                "Skip",
                "notifications/initialized",
                "tools/call",
            ]
        );
    }

    #[test]
    fn an_oversized_line_is_dropped_and_the_next_one_read() {
        let long = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}\n",
            "x".repeat(200)
        );
        let input = [
            long.as_bytes(),
            b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n",
        ]
        .concat();
        assert_eq!(frames(&input, 100), ["Oversized", "ping"]);
        // A line of exactly the limit is kept.
        let exact = b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n";
        assert_eq!(frames(exact, exact.len() - 1), ["ping"]);
        assert_eq!(frames(exact, exact.len() - 2), ["Oversized"]);
    }
}
