//! Prometheus's own scrape of a service's own metrics route
//! ([`Contract::metrics_route`](crate::Contract::metrics_route)): an HTTP/1.1
//! GET over madsim TCP, with the `Accept` header Prometheus 2 sends, within
//! the scrape timeout, and the answer judged as Prometheus judges it. The
//! route is the service's, so its own bugs (a 500 under load, a content type
//! Prometheus cannot read, a body that does not parse) are what this sees.
//!
//! hyper's client runs on any IO that implements tokio's `AsyncRead` and
//! `AsyncWrite` (through `hyper_util::rt::TokioIo`), which madsim's
//! `TcpStream` does, and it needs no runtime of its own: the connection is
//! driven here, beside the request, on the scraper's own task.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::{select, Either};
use http_body_util::{BodyExt, Empty, Limited};

/// The `Accept` header Prometheus 2 sends: OpenMetrics first, then the text
/// format 0.0.4.
pub(crate) const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
     application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The largest body a scrape reads, as Prometheus's `body_size_limit`:
/// past it the scrape fails. Far above any reference system's exposition,
/// and a bound on what one scrape can hold in memory.
pub(crate) const SCRAPE_BODY_BYTES_MAX: usize = 16 << 20;

/// What one scrape of a route got.
pub(crate) enum RouteAnswer {
    /// The service answered: its status, content type and body.
    Answered {
        status: u16,
        content_type: String,
        body: String,
    },
    /// The service answered, but the body could not be read whole (past
    /// the size bound, cut off, not UTF-8).
    BadBody(String),
    /// Nothing came back: no connection, a reset, the timeout.
    Failed(String),
}

/// One GET of `path` on `addr`, bounded by `timeout`.
pub(crate) async fn get(addr: SocketAddr, path: &str, timeout: Duration) -> RouteAnswer {
    match madsim::time::timeout(timeout, exchange(addr, path, timeout)).await {
        Ok(answer) => answer,
        Err(_) => RouteAnswer::Failed(format!(
            "scrape timed out after {timeout:?} (Prometheus's context deadline exceeded)"
        )),
    }
}

async fn exchange(addr: SocketAddr, path: &str, timeout: Duration) -> RouteAnswer {
    let stream = match madsim::net::TcpStream::connect(addr).await {
        Ok(stream) => stream,
        Err(error) => return RouteAnswer::Failed(format!("connecting to {addr}: {error}")),
    };
    let io = hyper_util::rt::TokioIo::new(FlushWhenWritten::new(stream));
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(error) => return RouteAnswer::Failed(format!("HTTP handshake with {addr}: {error}")),
    };
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::ACCEPT, PROMETHEUS_ACCEPT)
        .header(hyper::header::ACCEPT_ENCODING, "identity")
        .header(hyper::header::USER_AGENT, "Prometheus/2.42.0 (obsim)")
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", timeout.as_secs_f64()),
        )
        .body(Empty::<bytes::Bytes>::new());
    let request = match request {
        Ok(request) => request,
        Err(error) => return RouteAnswer::Failed(format!("building the GET of {path:?}: {error}")),
    };
    let response = async move {
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(error) => return RouteAnswer::Failed(format!("GET {path} on {addr}: {error}")),
        };
        read(response).await
    };
    // The connection is driven beside the request: once it is done (the
    // server closed it, or it failed), the request finishes alone.
    match select(Box::pin(response), Box::pin(connection)).await {
        Either::Left((answer, _)) => answer,
        Either::Right((_, response)) => response.await,
    }
}

async fn read(response: hyper::Response<hyper::body::Incoming>) -> RouteAnswer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let body = match Limited::new(response.into_body(), SCRAPE_BODY_BYTES_MAX)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            return RouteAnswer::BadBody(format!(
                "reading the body (status {status}): {error} (at most {SCRAPE_BODY_BYTES_MAX} \
                 bytes are read, as Prometheus's body_size_limit)"
            ))
        }
    };
    match String::from_utf8(body.to_vec()) {
        Ok(body) => RouteAnswer::Answered {
            status,
            content_type,
            body,
        },
        Err(error) => RouteAnswer::BadBody(format!("the body is not UTF-8: {error}")),
    }
}

/// A stream whose flush with nothing written since the last one does
/// nothing, as on a real socket. madsim's `TcpStream` sends a packet on
/// every flush, empty or not, and fails it once the peer has closed; hyper
/// flushes after the peer answered and closed (`Connection: close`), and
/// would report a complete answer as a failed write.
pub(crate) struct FlushWhenWritten<S> {
    inner: S,
    written: bool,
}

impl<S> FlushWhenWritten<S> {
    pub(crate) fn new(inner: S) -> FlushWhenWritten<S> {
        FlushWhenWritten {
            inner,
            written: false,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for FlushWhenWritten<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for FlushWhenWritten<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.written = true;
        }
        written
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.written {
            return std::task::Poll::Ready(Ok(()));
        }
        let flushed = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        if flushed.is_ready() {
            self.written = false;
        }
        flushed
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
