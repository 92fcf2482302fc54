//! A tiny recording upstream on a fixed loopback port: sees exactly what the gateway forwards, and notices when it hangs up.
//!
//! Specs bake upstream URLs into the gateway at build time, so stubs listen on
//! the fixed ports named in `tests/specs/*`; each port belongs to one test.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// What the stub answers to every request.
#[derive(Debug, Clone)]
pub enum StubReply {
    /// 200 with this JSON body.
    Json(String),
    /// 200 `text/event-stream`: these `data:` payloads, one every `interval`, then `[DONE]`.
    SlowStream {
        events: Vec<String>,
        interval: Duration,
    },
}

/// A request as the stub received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target: path plus query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What happened on the stub, in order.
#[derive(Debug, Clone)]
pub enum StubEvent {
    Request(RecordedRequest),
    /// A streamed reply could not be written: the gateway closed the connection.
    PeerGone {
        events_sent: usize,
        at: Instant,
    },
    /// A streamed reply was written to the end.
    StreamFinished,
}

/// A running stub; its threads stop with the test process.
#[derive(Debug)]
pub struct StubUpstream {
    events: Receiver<StubEvent>,
}

impl StubUpstream {
    /// Listens on `addr` (e.g. `127.0.0.1:29311`) and answers every request with `reply`.
    pub fn start(addr: &str, reply: StubReply) -> Self {
        let listener = TcpListener::bind(addr)
            .unwrap_or_else(|error| panic!("stub upstream cannot listen on {addr}: {error}"));
        let (sender, events) = mpsc::channel();
        thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(connection) = connection else { continue };
                let sender = sender.clone();
                let reply = reply.clone();
                thread::spawn(move || serve_connection(connection, &reply, &sender));
            }
        });
        StubUpstream { events }
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<StubEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The next request received, skipping other events, waiting at most `timeout`.
    pub fn next_request(&self, timeout: Duration) -> Option<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left).ok()? {
                StubEvent::Request(request) => return Some(request),
                _ => continue,
            }
        }
    }
}

fn serve_connection(connection: TcpStream, reply: &StubReply, events: &Sender<StubEvent>) {
    let _ = connection.set_nodelay(true);
    let _ = connection.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = connection.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(connection);
    // Keep-alive: the gateway's pool may send several requests on one connection.
    while let Ok(Some(request)) = read_request(&mut reader) {
        let _ = events.send(StubEvent::Request(request));
        let keep_going = match reply {
            StubReply::Json(body) => write_json(&mut writer, body).is_ok(),
            StubReply::SlowStream {
                events: payloads,
                interval,
            } => write_stream(&mut writer, payloads, *interval, events),
        };
        if !keep_going {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<RecordedRequest>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = RecordedRequest {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            let mut line = String::new();
            while reader.read_line(&mut line)? > 2 {
                line.clear();
            }
            return Ok(body);
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk[..size]);
    }
}

fn write_json(writer: &mut TcpStream, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    writer.write_all(response.as_bytes())
}

/// Writes a chunked SSE reply event by event; false once the peer is gone.
fn write_stream(
    writer: &mut TcpStream,
    payloads: &[String],
    interval: Duration,
    events: &Sender<StubEvent>,
) -> bool {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    if writer.write_all(head.as_bytes()).is_err() {
        let _ = events.send(StubEvent::PeerGone {
            events_sent: 0,
            at: Instant::now(),
        });
        return false;
    }
    let all = payloads
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("[DONE]"));
    for (sent, payload) in all.enumerate() {
        if sent > 0 {
            thread::sleep(interval);
        }
        let event = format!("data: {payload}\n\n");
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        if writer
            .write_all(chunk.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            let _ = events.send(StubEvent::PeerGone {
                events_sent: sent,
                at: Instant::now(),
            });
            return false;
        }
    }
    let finished = writer.write_all(b"0\r\n\r\n").is_ok();
    let _ = events.send(StubEvent::StreamFinished);
    finished
}
