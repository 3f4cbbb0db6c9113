//! A tiny HTTP/1.0 GET for health probes, proxy checks and `[checks]`: one
//! request per connection, the status line and headers (and the body when
//! asked), every step under a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers larger than this are not a probe answer worth reading.
const MAX_HEAD: usize = 64 * 1024;
/// What a check reads of a body; a `contains` looks at this much.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Empty unless asked for ([`get_with_body`]); at most [`MAX_BODY`].
    pub body: Vec<u8>,
}

impl Response {
    /// 2xx or 3xx: what a health probe accepts.
    pub fn is_ok(&self) -> bool {
        (200..400).contains(&self.status)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` with `Host: host`, within `limit` in all.
pub async fn get(addr: SocketAddr, host: &str, path: &str, limit: Duration) -> std::io::Result<Response> {
    within(limit, async {
        exchange(TcpStream::connect(addr).await?, host, path, false).await
    })
    .await
}

/// As [`get`], over TLS: for bgctl's own nginx on its TLS port. The route
/// is what is checked, not the certificate (`tls::check_pair` did that), so
/// any certificate is taken, a self-signed or test CA's too.
pub async fn get_tls(addr: SocketAddr, host: &str, path: &str, limit: Duration) -> std::io::Result<Response> {
    within(limit, async {
        let tcp = TcpStream::connect(addr).await?;
        exchange(crate::loopback_tls::connect(tcp, addr).await?, host, path, false).await
    })
    .await
}

/// As [`get`], with the body (its first [`MAX_BODY`] bytes) read too.
pub async fn get_with_body(addr: SocketAddr, host: &str, path: &str, limit: Duration) -> std::io::Result<Response> {
    within(limit, async {
        exchange(TcpStream::connect(addr).await?, host, path, true).await
    })
    .await
}

async fn within(
    limit: Duration,
    exchange: impl std::future::Future<Output = std::io::Result<Response>>,
) -> std::io::Result<Response> {
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {limit:?}")))?
}

async fn exchange(
    mut conn: impl AsyncRead + AsyncWrite + Unpin,
    host: &str,
    path: &str,
    with_body: bool,
) -> std::io::Result<Response> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: bgctl\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let mut response = parse_head(&String::from_utf8_lossy(&head))
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))?;
    if with_body {
        // HTTP/1.0 with `Connection: close`: the body ends with the connection.
        let start = head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(head.len(), |i| i + 4);
        let mut body = head.split_off(start);
        while body.len() < MAX_BODY {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        body.truncate(MAX_BODY);
        response.body = body;
    }
    Ok(response)
}

fn parse_head(text: &str) -> Option<Response> {
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_head_reads_status_and_headers() {
        let r = parse_head("HTTP/1.1 503 Service Unavailable\r\nX-Bgctl-Color: blue\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.header("x-bgctl-color"), Some("blue"));
        assert!(!r.is_ok());
        assert!(parse_head("HTTP/1.0 302 Found\r\n\r\n").unwrap().is_ok());
        assert_eq!(parse_head("garbage"), None);
    }
}
