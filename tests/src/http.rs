//! A hand-written HTTP/1.1 client over `TcpStream`: exact control of what is sent, for error cases and streams.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single exchange may take unless a test asks for another deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
enum RequestBody {
    None,
    /// Sent with `Content-Length`.
    Sized(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked`, in pieces of this many bytes.
    Chunked(Vec<u8>, usize),
}

/// One request, written byte for byte as built.
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: RequestBody,
}

impl RawRequest {
    /// A request with `Host: localhost`, `Connection: close` and no body.
    pub fn new(method: &str, target: &str) -> Self {
        RawRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: vec![
                ("Host".to_owned(), "localhost".to_owned()),
                ("Connection".to_owned(), "close".to_owned()),
            ],
            body: RequestBody::None,
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    /// A POST of a JSON value with `Content-Type: application/json`.
    pub fn post_json(target: &str, json: &serde_json::Value) -> Self {
        Self::new("POST", target)
            .header("Content-Type", "application/json")
            .body(json.to_string().into_bytes())
    }

    /// Sets a header, replacing one of the same name.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn host(self, host: &str) -> Self {
        self.header("Host", host)
    }

    /// A body sent with `Content-Length`.
    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = RequestBody::Sized(bytes);
        self
    }

    /// A body sent with `Transfer-Encoding: chunked` (no length known in advance).
    pub fn chunked_body(mut self, bytes: Vec<u8>, chunk_size: usize) -> Self {
        self.body = RequestBody::Chunked(bytes, chunk_size.max(1));
        self
    }

    fn encode_head(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        match &self.body {
            RequestBody::None => {}
            RequestBody::Sized(bytes) => {
                head.push_str(&format!("Content-Length: {}\r\n", bytes.len()))
            }
            RequestBody::Chunked(..) => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    fn encode_body(&self) -> Vec<u8> {
        match &self.body {
            RequestBody::None => Vec::new(),
            RequestBody::Sized(bytes) => bytes.clone(),
            RequestBody::Chunked(bytes, chunk_size) => {
                let mut encoded =
                    Vec::with_capacity(bytes.len() + bytes.len() / chunk_size * 12 + 8);
                for chunk in bytes.chunks(*chunk_size) {
                    encoded.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    encoded.extend_from_slice(chunk);
                    encoded.extend_from_slice(b"\r\n");
                }
                encoded.extend_from_slice(b"0\r\n\r\n");
                encoded
            }
        }
    }

    /// Sends the request and reads the whole response, panicking with context on IO errors.
    pub fn send(&self, addr: SocketAddr) -> RawResponse {
        self.try_send(addr, DEFAULT_TIMEOUT)
            .unwrap_or_else(|error| {
                panic!("{} {} to {addr} failed: {error}", self.method, self.target)
            })
    }

    /// Sends the request and reads the whole response within `timeout`.
    pub fn try_send(&self, addr: SocketAddr, timeout: Duration) -> io::Result<RawResponse> {
        let deadline = Instant::now() + timeout;
        let mut response = self.try_open(addr, timeout)?;
        response.read_to_end(deadline)?;
        Ok(response.into_complete())
    }

    /// Sends the request and returns once the response head has arrived; the body is read on demand.
    pub fn open(&self, addr: SocketAddr) -> StreamingResponse {
        self.try_open(addr, DEFAULT_TIMEOUT)
            .unwrap_or_else(|error| {
                panic!("{} {} to {addr} failed: {error}", self.method, self.target)
            })
    }

    /// Like [`RawRequest::open`] with a deadline for the head. The body is
    /// written on its own thread while the head is awaited, because a server
    /// may answer (413) before it has read everything.
    pub fn try_open(&self, addr: SocketAddr, timeout: Duration) -> io::Result<StreamingResponse> {
        let deadline = Instant::now() + timeout;
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(&self.encode_head())?;
        let body = self.encode_body();
        let writer = if body.is_empty() {
            None
        } else {
            let mut body_stream = stream.try_clone()?;
            Some(thread::spawn(move || body_stream.write_all(&body)))
        };
        let mut connection = Connection {
            stream,
            buffer: Vec::new(),
        };
        let head = connection.read_head(deadline)?;
        // A write error after the head is expected when the server rejected the body early.
        drop(writer);
        StreamingResponse::from_head(connection, &head, self.method == "HEAD")
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "status {} body is not JSON ({error}): {}",
                self.status,
                self.text()
            )
        })
    }
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(read)
    }

    fn read_head(&mut self, deadline: Instant) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = self.buffer[..end + 4].to_vec();
                self.buffer.drain(..end + 4);
                return Ok(head);
            }
            if self.fill(deadline)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a response head; got {:?}",
                        String::from_utf8_lossy(&self.buffer)
                    ),
                ));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// A response whose head has arrived and whose body is read on demand.
pub struct StreamingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    connection: Connection,
    framing: Framing,
    closed: bool,
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("framing", &self.framing)
            .field("closed", &self.closed)
            .finish()
    }
}

impl StreamingResponse {
    fn from_head(connection: Connection, head: &[u8], head_request: bool) -> io::Result<Self> {
        let (status, headers, framing) = parse_head(head, head_request)?;
        Ok(StreamingResponse {
            status,
            headers,
            connection,
            framing,
            closed: false,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The body received so far (chunked framing removed) and whether it is complete.
    pub fn body_so_far(&self) -> (Vec<u8>, bool) {
        let raw = &self.connection.buffer;
        match self.framing {
            Framing::Empty => (Vec::new(), true),
            Framing::Length(length) => (raw[..raw.len().min(length)].to_vec(), raw.len() >= length),
            Framing::Chunked => decode_chunked(raw),
            Framing::UntilClose => (raw.clone(), self.closed),
        }
    }

    /// The body received so far as text.
    pub fn text_so_far(&self) -> String {
        String::from_utf8_lossy(&self.body_so_far().0).into_owned()
    }

    /// Reads until the decoded body satisfies `done`, the body ends, or the deadline passes.
    /// Returns whether `done` was satisfied.
    pub fn read_until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&[u8]) -> bool,
    ) -> io::Result<bool> {
        loop {
            let (body, complete) = self.body_so_far();
            if done(&body) {
                return Ok(true);
            }
            if complete || self.closed {
                return Ok(false);
            }
            match self.connection.fill(deadline) {
                Ok(0) => self.closed = true,
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(false);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Reads until the decoded body contains `needle`; false if it ended or timed out first.
    pub fn read_until_contains(&mut self, needle: &str, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        self.read_until(deadline, |body| find(body, needle.as_bytes()).is_some())
    }

    /// Reads the rest of the body. Errors if the connection closes before the body is complete
    /// or the deadline passes.
    pub fn read_to_end(&mut self, deadline: Instant) -> io::Result<()> {
        loop {
            let (_, complete) = self.body_so_far();
            if complete {
                return Ok(());
            }
            if self.closed {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-body",
                ));
            }
            if self.connection.fill(deadline)? == 0 {
                self.closed = true;
                if self.framing == Framing::UntilClose {
                    return Ok(());
                }
            }
        }
    }

    /// Closes the connection abruptly, as a client that goes away mid-stream.
    pub fn disconnect(self) {
        let _ = self.connection.stream.shutdown(Shutdown::Both);
    }

    fn into_complete(self) -> RawResponse {
        let body = self.body_so_far().0;
        RawResponse {
            status: self.status,
            headers: self.headers,
            body,
        }
    }
}

/// Status, headers and body framing of a response head.
type ParsedHead = (u16, Vec<(String, String)>, Framing);

/// Parses a response head.
fn parse_head(head: &[u8], head_request: bool) -> io::Result<ParsedHead> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = header_value(&headers, "transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    let length = header_value(&headers, "content-length").and_then(|value| value.parse().ok());
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status)
    {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    Ok((status, headers, framing))
}

/// One HTTP/1.1 connection reused for request after request (keep-alive),
/// the way SDK clients and load balancers talk to a gateway.
pub struct KeepAliveConnection {
    connection: Connection,
}

impl KeepAliveConnection {
    pub fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, DEFAULT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
        Ok(KeepAliveConnection {
            connection: Connection {
                stream,
                buffer: Vec::new(),
            },
        })
    }

    /// Sends `request` (with `Connection: keep-alive`) and reads its whole
    /// response, leaving the connection ready for the next one.
    pub fn send(&mut self, request: &RawRequest) -> io::Result<RawResponse> {
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        let request = request.clone().header("Connection", "keep-alive");
        let mut bytes = request.encode_head();
        bytes.extend_from_slice(&request.encode_body());
        self.connection.stream.write_all(&bytes)?;
        let head = self.connection.read_head(deadline)?;
        let (status, headers, framing) = parse_head(&head, request.method == "HEAD")?;
        let body = loop {
            let raw = &self.connection.buffer;
            let done = match framing {
                Framing::Empty => Some((Vec::new(), 0)),
                Framing::Length(length) => {
                    (raw.len() >= length).then(|| (raw[..length].to_vec(), length))
                }
                Framing::Chunked => {
                    chunked_body_end(raw).map(|end| (decode_chunked(&raw[..end]).0, end))
                }
                Framing::UntilClose => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a keep-alive response without length or chunked framing",
                    ));
                }
            };
            if let Some((body, consumed)) = done {
                self.connection.buffer.drain(..consumed);
                break body;
            }
            if self.connection.fill(deadline)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-body",
                ));
            }
        };
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// Where a complete chunked body ends (after the last chunk and the trailer
/// section's empty line), or `None` while it has not all arrived.
fn chunked_body_end(raw: &[u8]) -> Option<usize> {
    let mut offset = 0;
    loop {
        let line_end = offset + find(&raw[offset..], b"\r\n")?;
        let size_text = String::from_utf8_lossy(&raw[offset..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        if size == 0 {
            // `0\r\n`, optional trailers, then an empty line.
            return find(&raw[line_end..], b"\r\n\r\n").map(|at| line_end + at + 4);
        }
        offset = line_end + 2 + size + 2;
        if raw.len() < offset {
            return None;
        }
    }
}

/// Decodes as much of a chunked body as has arrived; `true` once the last chunk was seen.
fn decode_chunked(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut decoded = Vec::new();
    let mut rest = raw;
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return (decoded, false);
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (decoded, false);
        };
        if size == 0 {
            return (decoded, true);
        }
        let data_start = line_end + 2;
        if rest.len() < data_start + size + 2 {
            return (decoded, false);
        }
        decoded.extend_from_slice(&rest[data_start..data_start + size]);
        rest = &rest[data_start + size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `data:` payloads of an SSE body, in order (without the `data: ` prefix).
pub fn sse_data(body: &str) -> Vec<String> {
    body.split('\n')
        .map(|line| line.trim_end_matches('\r'))
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{chunked_body_end, decode_chunked, sse_data};

    #[test]
    fn decodes_a_chunked_body_as_it_arrives() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        assert_eq!(decode_chunked(raw), (b"hello world".to_vec(), true));
        assert_eq!(decode_chunked(&raw[..12]), (b"hello".to_vec(), false));
        assert_eq!(decode_chunked(&raw[..3]), (Vec::new(), false));
    }

    #[test]
    fn finds_where_a_chunked_body_ends() {
        let raw = b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200";
        assert_eq!(chunked_body_end(raw), Some(15));
        assert_eq!(chunked_body_end(&raw[..13]), None);
        assert_eq!(chunked_body_end(b"5\r\nhel"), None);
    }

    #[test]
    fn extracts_sse_data_payloads() {
        let body = "data: {\"a\":1}\n\n: comment\r\ndata:[DONE]\r\n\r\n";
        assert_eq!(
            sse_data(body),
            vec!["{\"a\":1}".to_owned(), "[DONE]".to_owned()]
        );
    }
}
