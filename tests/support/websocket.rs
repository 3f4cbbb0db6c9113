//! A minimal blocking WebSocket client (RFC 6455) for the tests: the
//! handshake, masked text frames out, text frames in, pings answered.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub struct WebSocket {
    reader: BufReader<TcpStream>,
    conn: TcpStream,
    /// Feeds the masks: a client must mask, not be unpredictable.
    seed: u64,
}

impl WebSocket {
    /// Connects to `ws://<addr><path>` with `Host: localhost`; the 101
    /// response's headers, or the status line that came instead.
    pub fn connect(addr: &str, path: &str) -> Result<(WebSocket, String), String> {
        let conn = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let mut seed = seed();
        let key: Vec<u8> = (0..2).flat_map(|_| next(&mut seed).to_be_bytes()).collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            STANDARD.encode(&key)
        );
        (&conn).write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(conn.try_clone().map_err(|e| e.to_string())?);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        if head.split_whitespace().nth(1) != Some("101") {
            return Err(head.lines().next().unwrap_or("no answer").to_owned());
        }
        Ok((WebSocket { reader, conn, seed }, head))
    }

    /// Sends one masked text frame.
    pub fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mask = (next(&mut self.seed) as u32).to_be_bytes();
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.conn.write_all(&out)
    }

    /// The next text message; `None` once the server closed (a close frame,
    /// or the connection ended).
    pub fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<String>> {
        self.conn.set_read_timeout(Some(timeout))?;
        loop {
            let mut head = [0u8; 2];
            match self.reader.read_exact(&mut head) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b)?;
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b)?;
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            // Server frames are unmasked, but skip a mask rather than misread one.
            if head[1] & 0x80 != 0 {
                self.reader.read_exact(&mut [0u8; 4])?;
            }
            let mut payload = vec![0u8; len as usize];
            self.reader.read_exact(&mut payload)?;
            match head[0] & 0x0f {
                0x1 => return Ok(Some(String::from_utf8_lossy(&payload).into_owned())),
                0x8 => return Ok(None),
                0x9 => self.send_frame(0xA, &payload)?,
                _ => {}
            }
        }
    }
}

/// Different for each connection: the time, the pid and a counter.
fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// splitmix64: enough spread for a key and masks.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
