//! The client other services call the visit service with.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracing::Span;

use crate::{trace, TcpStream};

/// Why a visit did not count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VisitError {
    /// No answer within the client's timeout.
    Timeout(Duration),
    /// The server answered that it failed.
    Failed(String),
    /// The connection failed, or the answer made no sense.
    Io(String),
}

impl fmt::Display for VisitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VisitError::Timeout(timeout) => write!(f, "no answer within {timeout:?}"),
            VisitError::Failed(why) => write!(f, "the server failed: {why}"),
            VisitError::Io(why) => write!(f, "connection: {why}"),
        }
    }
}

/// Visits pages on a set of visit servers, one connection per visit.
#[derive(Clone, Debug)]
pub struct VisitClient {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl VisitClient {
    pub fn new(servers: Vec<SocketAddr>) -> VisitClient {
        VisitClient {
            servers,
            timeout: Duration::from_secs(1),
        }
    }

    /// Counts a visit to `page` on server `server % servers`, and returns
    /// its new count. The current span's trace context goes with it.
    pub async fn visit(&self, server: usize, page: impl AsRef<str>) -> Result<u64, VisitError> {
        let addr = self.servers[server % self.servers.len()];
        let traceparent = trace::traceparent(&Span::current());
        let line = format!("VISIT {} {traceparent}\n", page.as_ref());
        let exchange = async {
            let stream = TcpStream::connect(addr).await?;
            let mut stream = BufReader::new(stream);
            stream.get_mut().write_all(line.as_bytes()).await?;
            stream.get_mut().flush().await?;
            let mut reply = String::new();
            stream.read_line(&mut reply).await?;
            Ok::<String, std::io::Error>(reply)
        };
        let reply = match madsim::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(VisitError::Timeout(self.timeout)),
            Ok(Err(error)) => return Err(VisitError::Io(error.to_string())),
            Ok(Ok(reply)) => reply,
        };
        let reply = reply.trim();
        if let Some(why) = reply.strip_prefix("ERR ") {
            return Err(VisitError::Failed(why.to_string()));
        }
        let count = reply.strip_prefix("OK ").and_then(|n| n.parse().ok());
        count.ok_or_else(|| VisitError::Io(format!("unexpected answer {reply:?}")))
    }
}
