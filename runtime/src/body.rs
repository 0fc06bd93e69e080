//! Response bodies: in full, or streamed piece by piece.
//!
//! Most responses carry their whole body in memory ([`Body::from`] bytes or text): that
//! is the fast path, sent with a `Content-Length`. A body may also stream: from an async
//! [`Stream`] ([`Body::from_stream`]), from a sync iterator like a Flask generator view
//! ([`Body::from_iter`], pulled on a blocking thread, never on the runtime's), or from a
//! file ([`send_file`](crate::send_file)). Streams go out chunked on HTTP/1.1 and as DATA
//! frames on HTTP/2; a client that disconnects drops the stream, which ends it.

use std::fmt;
use std::io::{Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

use crate::context::RequestContext;

/// The error type a streaming body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed, `Send` future, as async handlers are stored.
pub type BoxFuture<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A boxed stream of chunks.
pub(crate) type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// How many chunks a sync iterator may run ahead of the client.
const ITER_AHEAD: usize = 2;
/// The read size for files.
const FILE_CHUNK: usize = 64 * 1024;

/// A response body: bytes in full, or a stream.
///
/// ```
/// use erlen::prelude::*;
///
/// #[get("/count")]
/// fn count() -> Body {
///     // A generator view, as in Flask: each item is sent as it is produced.
///     Body::from_iter((1..=3).map(|n| format!("{n}\n")))
/// }
///
/// let client = App::new().register(handlers![count]).test_client();
/// assert_eq!(client.get("/count").send().text(), "1\n2\n3\n");
/// ```
pub struct Body(Kind);

enum Kind {
    Full(Bytes),
    Stream(ChunkStream),
    Iter(Iter),
    File(FileBody),
}

/// A sync iterator, started on a blocking thread at the first poll.
enum Iter {
    /// Not started; with the context of the request that made it, if any.
    Waiting(Box<dyn Iterator<Item = Result<Bytes, BoxError>> + Send>, Option<Arc<RequestContext>>),
    Running(mpsc::Receiver<Result<Bytes, BoxError>>),
}

/// A byte range of an open file, streamed once polled.
pub(crate) struct FileBody {
    pub(crate) file: Option<std::fs::File>,
    pub(crate) start: u64,
    pub(crate) len: u64,
    stream: Option<ChunkStream>,
}

impl FileBody {
    pub(crate) fn new(file: std::fs::File, len: u64) -> FileBody {
        FileBody { file: Some(file), start: 0, len, stream: None }
    }
}

/// What a streamed body may yield: bytes or text, or a `Result` of them (an `Err` ends the
/// response early; the client sees a cut connection, as with any server).
pub trait Chunk {
    /// The bytes of the chunk, or the error that ends the body.
    fn into_chunk(self) -> Result<Bytes, BoxError>;
}

macro_rules! chunk_from_bytes {
    ($($ty:ty),*) => {$(
        impl Chunk for $ty {
            fn into_chunk(self) -> Result<Bytes, BoxError> {
                Ok(Bytes::from(self))
            }
        }
    )*};
}
chunk_from_bytes!(Bytes, String, Vec<u8>, &'static str, &'static [u8]);

impl<T: Into<Bytes>, E: Into<BoxError>> Chunk for Result<T, E> {
    fn into_chunk(self) -> Result<Bytes, BoxError> {
        self.map(Into::into).map_err(Into::into)
    }
}

impl Body {
    /// An empty body.
    pub fn empty() -> Body {
        Body(Kind::Full(Bytes::new()))
    }

    /// A body streamed from an async stream of chunks (bytes, text, or `Result`s of them).
    ///
    /// ```
    /// use erlen::prelude::*;
    ///
    /// #[get("/ticks")]
    /// async fn ticks() -> Body {
    ///     Body::from_stream(futures::stream::iter(["a", "b", "c"]))
    /// }
    ///
    /// let client = App::new().register(handlers![ticks]).test_client();
    /// assert_eq!(client.get("/ticks").send().text(), "abc");
    /// ```
    ///
    /// Made inside a request (in a view or a hook), the stream is polled inside the
    /// request's context, as Flask's `stream_with_context`: `url_for!`, templates and the
    /// session (for reading) work in it while the body is sent.
    pub fn from_stream<S>(stream: S) -> Body
    where
        S: Stream + Send + 'static,
        S::Item: Chunk + 'static,
    {
        let chunks = stream.map(Chunk::into_chunk);
        match crate::context::current() {
            Some(ctx) => Body(Kind::Stream(Box::pin(crate::context::StreamInContext::new(ctx, chunks)))),
            None => Body(Kind::Stream(Box::pin(chunks))),
        }
    }

    /// A body produced by a sync iterator, like a Flask generator view. The iterator runs
    /// on a blocking thread (never on the async runtime's), at most a couple of chunks
    /// ahead of the client; when the client goes away, it is dropped after its current
    /// item. Made inside a request, the iterator runs inside the request's context, as
    /// Flask's `stream_with_context`.
    #[allow(clippy::should_implement_trait)] // Flask's generator views; also a Body::from_stream twin
    pub fn from_iter<I>(iter: I) -> Body
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Chunk + 'static,
    {
        let iter = Box::new(iter.into_iter().map(Chunk::into_chunk));
        Body(Kind::Iter(Iter::Waiting(iter, crate::context::current())))
    }

    pub(crate) fn file(file: FileBody) -> Body {
        Body(Kind::File(file))
    }

    /// The whole body, if it is held in memory (not a stream).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.0 {
            Kind::Full(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Whether the body streams (rather than being held in memory).
    pub fn is_stream(&self) -> bool {
        !matches!(self.0, Kind::Full(_))
    }

    pub(crate) fn file_mut(&mut self) -> Option<&mut FileBody> {
        match &mut self.0 {
            Kind::File(file) => Some(file),
            _ => None,
        }
    }

    /// The body as a stream of chunks, for an `after_request` hook that wraps it:
    /// `Body::from_stream(resp.into_body().into_data_stream().map_ok(..))`.
    pub fn into_data_stream(self) -> impl Stream<Item = Result<Bytes, BoxError>> + Send {
        futures::stream::unfold(self, |mut body| async move {
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_chunk(cx)).await.map(|chunk| (chunk, body))
        })
    }

    /// Reads the whole body into memory.
    ///
    /// # Errors
    ///
    /// The error a stream ended with.
    pub async fn collect(self) -> Result<Bytes, BoxError> {
        if let Kind::Full(bytes) = self.0 {
            return Ok(bytes);
        }
        let chunks: Vec<Bytes> = self.into_data_stream().try_collect().await?;
        Ok(chunks.concat().into())
    }

    /// The next non-empty chunk.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        loop {
            let next = match &mut self.0 {
                Kind::Full(bytes) if bytes.is_empty() => return Poll::Ready(None),
                Kind::Full(bytes) => return Poll::Ready(Some(Ok(std::mem::take(bytes)))),
                Kind::Stream(stream) => ready!(stream.as_mut().poll_next(cx)),
                Kind::Iter(iter) => ready!(iter.poll_next(cx)),
                Kind::File(file) => ready!(file.poll_next(cx)),
            };
            match next {
                // Empty chunks would end a chunked HTTP/1.1 body early: skip them.
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                other => return Poll::Ready(other),
            }
        }
    }
}

impl Iter {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if let Iter::Waiting(..) = self {
            let (tx, rx) = mpsc::channel(ITER_AHEAD);
            let Iter::Waiting(iter, ctx) = std::mem::replace(self, Iter::Running(rx)) else {
                unreachable!("checked just above")
            };
            let pull = move || {
                for chunk in iter {
                    // The receiver is gone when the client is: stop pulling.
                    if tx.blocking_send(chunk).is_err() {
                        return;
                    }
                }
            };
            crate::bridge::handle().spawn_blocking(move || match ctx {
                Some(ctx) => crate::context::enter_sync(ctx, pull),
                None => pull(),
            });
        }
        match self {
            Iter::Running(rx) => rx.poll_recv(cx),
            Iter::Waiting(..) => Poll::Ready(None),
        }
    }
}

impl FileBody {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if self.stream.is_none() {
            let Some(mut file) = self.file.take() else { return Poll::Ready(None) };
            if let Err(e) = file.seek(SeekFrom::Start(self.start)) {
                return Poll::Ready(Some(Err(e.into())));
            }
            let reader = tokio::fs::File::from_std(file);
            let limited = tokio::io::AsyncReadExt::take(reader, self.len);
            let stream = tokio_util::io::ReaderStream::with_capacity(limited, FILE_CHUNK);
            self.stream = Some(Box::pin(stream.map_err(BoxError::from)));
        }
        match &mut self.stream {
            Some(stream) => stream.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut().poll_chunk(cx).map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.0, Kind::Full(bytes) if bytes.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Kind::File(file) if file.stream.is_none() => SizeHint::with_exact(file.len),
            _ => SizeHint::default(),
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Full(bytes) => f.debug_tuple("Body::Full").field(&bytes.len()).finish(),
            Kind::Stream(_) | Kind::Iter(_) => f.write_str("Body::Stream"),
            Kind::File(file) => f.debug_struct("Body::File").field("len", &file.len).finish(),
        }
    }
}

macro_rules! body_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Body {
            fn from(value: $ty) -> Body {
                Body(Kind::Full(Bytes::from(value)))
            }
        }
    )*};
}
body_from!(Bytes, String, Vec<u8>, &'static str, &'static [u8]);

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}
