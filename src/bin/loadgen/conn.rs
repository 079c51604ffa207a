//! The closed- and open-loop clients' HTTP connection: keep-alive HTTP/1.1 over one TCP stream,
//! each request written in one `write` as Kraken's real clients send it (Python's `http.client`,
//! under krakenex and requests, joins a bytes body to the headers). ureq writes the headers and
//! the body of a POST separately: two segments per signed request, so the server took two reads
//! and sent an extra ACK for every signed call that GET Time never paid (18.7% of the server's
//! samples were `recv` under signed Balance, 5.4% under Time). The answer is read by its
//! `Content-Length` (every answer of the server has one); anything but HTTP 200 is an error, as
//! it was with ureq.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub(super) struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection to the server at `url` (`http://host:port`), opened at the first request.
    pub(super) fn new(url: &str) -> Conn {
        Conn { addr: url.trim_start_matches("http://").trim_end_matches('/').to_string(), stream: None, buf: Vec::with_capacity(4096) }
    }

    pub(super) fn get(&mut self, path: &str) -> Result<String, String> {
        let head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n\r\n", self.addr);
        self.round_trip(head.into_bytes())
    }

    /// A signed private call (`API-Key`, `API-Sign`, a form body), as `super::signed` makes it.
    pub(super) fn signed(&mut self, key: &super::Key, method: &str, nonce: u64, params: &str) -> Result<String, String> {
        let path = format!("/0/private/{method}");
        let body = if params.is_empty() { format!("nonce={nonce}") } else { format!("nonce={nonce}&{params}") };
        let sign = calamari::auth::sign(&path, &nonce.to_string(), body.as_bytes(), &key.secret);
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\nAPI-Key: {}\r\nAPI-Sign: {sign}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            key.key,
            body.len()
        );
        self.round_trip(request.into_bytes())
    }

    fn round_trip(&mut self, request: Vec<u8>) -> Result<String, String> {
        let out = self.exchange(&request);
        if out.is_err() {
            // A broken or confused connection is not reused.
            self.stream = None;
        }
        out
    }

    fn exchange(&mut self, request: &[u8]) -> Result<String, String> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).map_err(|e| format!("connect {}: {e}", self.addr))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
            self.stream = Some(s);
        }
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(request).map_err(|e| format!("write: {e}"))?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed before the answer's headers".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| "headers not UTF-8".to_string())?;
        let status = head.split(' ').nth(1).unwrap_or("").to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim()))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        while self.buf.len() < head_end + length {
            let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed inside the answer's body".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + length]).into_owned();
        if status != "200" {
            return Err(format!("status {status}: {body}"));
        }
        Ok(body)
    }
}
