//! A small HTTP/1.1 server on `std::net`: a thread per connection, keep-alive, request bodies
//! with `content-length` or `transfer-encoding: chunked`, and chunked (SSE) streaming responses.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted; larger bodies are answered with 413 and the connection closed.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Longest request line, header line or chunk-size line.
const MAX_LINE: usize = 64 * 1024;
/// Largest total size of the request head.
const MAX_HEAD: usize = 256 * 1024;

/// One parsed request. Header names are lowercase; repeated headers are joined with `", "`.
#[derive(Debug, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?` (empty when there is none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was over [`MAX_BODY`] and was not read: the handler must answer 413.
    pub oversized: bool,
}

impl Request {
    /// The value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The raw value of a query parameter (`Some("")` for `?name` or `?name=`).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key == name).then_some(value)
            })
    }
}

/// A response body: complete, or a sequence of chunks written and flushed one by one.
#[derive(Debug)]
pub enum Body {
    Full(Vec<u8>),
    Stream(Vec<Vec<u8>>),
}

/// A response. `delay` is slept before a full body, or between two chunks of a stream.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    pub delay: Duration,
}

impl Response {
    pub fn full(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: Body::Full(body),
            delay: Duration::ZERO,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::full(status, "application/json", value.to_string().into_bytes())
    }

    pub fn text(status: u16, text: &str) -> Self {
        Self::full(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    pub fn stream(content_type: &'static str, chunks: Vec<Vec<u8>>) -> Self {
        Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: Body::Stream(chunks),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Why reading a request failed.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed or closed mid-request: drop it silently.
    Io,
    /// Malformed HTTP: answer with this status and close.
    Bad(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Accepts connections forever, serving each on its own thread with `handler`.
pub fn serve<H>(listener: TcpListener, handler: H) -> !
where
    H: Fn(Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let handler = Arc::clone(&handler);
                let spawned = std::thread::Builder::new()
                    .name("mock-conn".to_string())
                    .spawn(move || {
                        // A panic ends this connection only; the accept loop keeps going.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            serve_connection(stream, &*handler);
                        }));
                    });
                if let Err(err) = spawned {
                    eprintln!("mock: cannot start a connection thread: {err}");
                }
            }
            Err(err) => {
                // Typically out of file descriptors: back off instead of spinning.
                eprintln!("mock: accept failed: {err}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Serves requests on one connection until it closes or asks to close.
pub fn serve_connection<H>(stream: TcpStream, handler: &H)
where
    H: Fn(Request) -> Response,
{
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let (request, close) = match read_request(&mut reader, &mut writer) {
            Ok(Some(parsed)) => parsed,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Bad(status, message)) => {
                let _ = write_response(&mut writer, Response::text(status, message), true);
                linger_close(&mut reader, &writer);
                return;
            }
        };
        // A panicking handler answers 500 and closes; the server keeps serving.
        let (response, close) =
            match std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) {
                Ok(response) => (response, close),
                Err(_) => (Response::text(500, "mock: internal error"), true),
            };
        if write_response(&mut writer, response, close).is_err() {
            return;
        }
        if close {
            linger_close(&mut reader, &writer);
            return;
        }
    }
}

/// Closes our side, then drains what the client still sends for a moment, so that unread
/// request bytes do not turn the close into a reset that destroys the response in flight.
fn linger_close(reader: &mut BufReader<TcpStream>, writer: &TcpStream) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 16 * 1024];
    let mut drained = 0usize;
    while drained < MAX_BODY {
        match reader.get_mut().read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// Reads one request. `Ok(None)` is a clean end of the connection between requests.
/// The bool is true when the connection must close after the response.
pub fn read_request<R: BufRead, W: Write>(
    reader: &mut R,
    writer: &mut W,
) -> Result<Option<(Request, bool)>, ReadError> {
    let mut line = Vec::with_capacity(256);
    // Skip stray empty lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        if read_line(reader, &mut line, MAX_LINE)? == 0 {
            return Ok(None);
        }
        if !trim_eol(&line).is_empty() {
            break;
        }
    }
    let request_line = std::str::from_utf8(trim_eol(&line))
        .map_err(|_| ReadError::Bad(400, "bad request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "bad request line"));
    };
    if method.is_empty() || !target.starts_with('/') {
        return Err(ReadError::Bad(400, "bad request line"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "HTTP version not supported")),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        ..Request::default()
    };

    let mut head_size = line.len();
    loop {
        line.clear();
        let n = read_line(reader, &mut line, MAX_LINE)?;
        if n == 0 {
            return Err(ReadError::Io);
        }
        head_size += n;
        if head_size > MAX_HEAD {
            return Err(ReadError::Bad(431, "request header fields too large"));
        }
        let text = trim_eol(&line);
        if text.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(text);
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Bad(400, "bad header line"));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(ReadError::Bad(400, "bad header name"));
        }
        add_header(
            &mut request.headers,
            name.to_ascii_lowercase(),
            value.trim(),
        );
    }

    let mut close = if http10 {
        !has_token(request.header("connection"), "keep-alive")
    } else {
        has_token(request.header("connection"), "close")
    };

    enum Framing {
        None,
        Length(usize),
        Chunked,
    }
    let framing = if let Some(te) = request.header("transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(ReadError::Bad(501, "unsupported transfer-encoding"));
        }
        // A message with both headers may be a smuggling attempt: serve it, then close.
        if request.header("content-length").is_some() {
            close = true;
        }
        Framing::Chunked
    } else if let Some(cl) = request.header("content-length") {
        let mut values = cl.split(',').map(|v| v.trim().parse::<u64>());
        let first = values.next().and_then(Result::ok);
        match first {
            Some(len) if values.all(|v| v.ok() == Some(len)) => match usize::try_from(len) {
                Ok(len) if len <= MAX_BODY => Framing::Length(len),
                _ => {
                    request.oversized = true;
                    Framing::None
                }
            },
            _ => return Err(ReadError::Bad(400, "bad content-length")),
        }
    } else {
        Framing::None
    };

    let expects_continue = request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let has_body = match framing {
        Framing::None => false,
        Framing::Length(len) => len > 0,
        Framing::Chunked => true,
    };
    if expects_continue && has_body {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }

    match framing {
        Framing::None => {}
        Framing::Length(len) => {
            // Grow as bytes arrive rather than trusting the announced length up front.
            let mut body = Vec::with_capacity(len.min(1 << 20));
            reader.take(len as u64).read_to_end(&mut body)?;
            if body.len() != len {
                return Err(ReadError::Io);
            }
            request.body = body;
        }
        Framing::Chunked => match read_chunked(reader, MAX_BODY)? {
            Some(body) => request.body = body,
            None => request.oversized = true,
        },
    }
    if request.oversized {
        close = true;
    }
    Ok(Some((request, close)))
}

/// Decodes a chunked body (after the head). `Ok(None)` when it grows over `limit`;
/// the rest of it is then left unread.
pub fn read_chunked<R: BufRead>(
    reader: &mut R,
    limit: usize,
) -> Result<Option<Vec<u8>>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::with_capacity(32);
    loop {
        line.clear();
        if read_line(reader, &mut line, MAX_LINE)? == 0 {
            return Err(ReadError::Io);
        }
        let size_line = String::from_utf8_lossy(trim_eol(&line)).into_owned();
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Bad(400, "bad chunk size"))?;
        if size == 0 {
            // Trailer fields, up to the empty line; ignored.
            loop {
                line.clear();
                if read_line(reader, &mut line, MAX_LINE)? == 0 {
                    return Err(ReadError::Io);
                }
                if trim_eol(&line).is_empty() {
                    return Ok(Some(body));
                }
            }
        }
        match body.len().checked_add(size) {
            Some(total) if total <= limit => {}
            _ => return Ok(None),
        }
        let before = body.len();
        reader.take(size as u64).read_to_end(&mut body)?;
        if body.len() - before != size {
            return Err(ReadError::Io);
        }
        line.clear();
        if read_line(reader, &mut line, MAX_LINE)? == 0 {
            return Err(ReadError::Io);
        }
        if !trim_eol(&line).is_empty() {
            return Err(ReadError::Bad(400, "bad chunk terminator"));
        }
    }
}

/// Reads up to and including `\n`, at most `limit` bytes. Returns the bytes read (0 at EOF).
fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, ReadError> {
    let start = buf.len();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(pos) => (pos + 1, true),
            None => (available.len(), false),
        };
        buf.extend_from_slice(available.get(..taken).unwrap_or_default());
        reader.consume(taken);
        if buf.len() - start > limit {
            return Err(ReadError::Bad(431, "line too long"));
        }
        if done {
            return Ok(buf.len() - start);
        }
    }
}

/// The line without its trailing `\r\n` or `\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn add_header(headers: &mut Vec<(String, String)>, name: String, value: &str) {
    if let Some((_, existing)) = headers.iter_mut().find(|(n, _)| *n == name) {
        existing.push_str(", ");
        existing.push_str(value);
    } else {
        headers.push((name, value.to_string()));
    }
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Writes a response; a stream is written and flushed one chunk at a time.
pub fn write_response<W: Write>(writer: &mut W, response: Response, close: bool) -> io::Result<()> {
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type
    );
    for (name, value) in &response.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    match response.body {
        Body::Full(body) => {
            if !response.delay.is_zero() {
                std::thread::sleep(response.delay);
            }
            let _ = write!(head, "content-length: {}\r\n\r\n", body.len());
            let mut out = head.into_bytes();
            out.extend_from_slice(&body);
            writer.write_all(&out)?;
            writer.flush()
        }
        Body::Stream(chunks) => {
            head.push_str("transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n");
            writer.write_all(head.as_bytes())?;
            writer.flush()?;
            for (i, chunk) in chunks.iter().enumerate() {
                if i > 0 && !response.delay.is_zero() {
                    std::thread::sleep(response.delay);
                }
                if chunk.is_empty() {
                    continue;
                }
                let mut out = format!("{:x}\r\n", chunk.len()).into_bytes();
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
                writer.write_all(&out)?;
                writer.flush()?;
            }
            writer.write_all(b"0\r\n\r\n")?;
            writer.flush()
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        529 => "Site Overloaded",
        _ => "Status",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Option<(Request, bool)>, ReadError> {
        let mut reader = io::BufReader::with_capacity(7, raw);
        let mut sink = Vec::new();
        read_request(&mut reader, &mut sink)
    }

    #[test]
    fn decodes_chunked_body_with_extensions_and_trailers() {
        let raw = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let mut reader = io::BufReader::with_capacity(3, &raw[..]);
        let body = read_chunked(&mut reader, 1024).unwrap().unwrap();
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT");
    }

    #[test]
    fn chunked_body_over_limit_is_flagged() {
        let raw = b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
        let mut reader = io::BufReader::new(&raw[..]);
        assert!(read_chunked(&mut reader, 10).unwrap().is_none());
    }

    #[test]
    fn bad_chunk_size_is_400() {
        let raw = b"zz\r\nabc\r\n0\r\n\r\n";
        let mut reader = io::BufReader::new(&raw[..]);
        assert!(matches!(
            read_chunked(&mut reader, 10),
            Err(ReadError::Bad(400, _))
        ));
    }

    #[test]
    fn truncated_chunked_body_is_io_error() {
        let raw = b"8\r\n1234";
        let mut reader = io::BufReader::new(&raw[..]);
        assert!(matches!(read_chunked(&mut reader, 100), Err(ReadError::Io)));
    }

    #[test]
    fn parses_chunked_request_with_mixed_case_headers() {
        let raw = b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n3\r\n{}\n\r\n0\r\n\r\n";
        let (req, close) = parse(raw).unwrap().unwrap();
        assert!(!close);
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/messages");
        assert_eq!(req.query, "beta=true");
        assert_eq!(req.query_param("beta"), Some("true"));
        assert_eq!(req.header("x-a"), Some("1, 2"));
        assert_eq!(req.body, b"{}\n");
    }

    #[test]
    fn content_length_and_connection_close() {
        let raw = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nConnection: Close\r\n\r\nhello";
        let (req, close) = parse(raw).unwrap().unwrap();
        assert!(close);
        assert_eq!(req.body, b"hello");
        let (_, close10) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(close10);
    }

    #[test]
    fn oversized_content_length_is_flagged_not_read() {
        let raw = format!(
            "POST /a HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let (req, close) = parse(raw.as_bytes()).unwrap().unwrap();
        assert!(req.oversized);
        assert!(close);
        assert!(req.body.is_empty());
    }

    #[test]
    fn expect_continue_gets_interim_response() {
        let raw = b"POST /a HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\nhi";
        let mut reader = io::BufReader::new(&raw[..]);
        let mut sink = Vec::new();
        let (req, _) = read_request(&mut reader, &mut sink).unwrap().unwrap();
        assert_eq!(req.body, b"hi");
        assert_eq!(sink, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn malformed_requests() {
        assert!(matches!(
            parse(b"GARBAGE\r\n\r\n"),
            Err(ReadError::Bad(400, _))
        ));
        assert!(matches!(
            parse(b"POST /a HTTP/1.1\r\ncontent-length: x\r\n\r\n"),
            Err(ReadError::Bad(400, _))
        ));
        assert!(parse(b"").unwrap().is_none());
        assert!(parse(b"\r\n").unwrap().is_none());
    }

    #[test]
    fn a_panicking_handler_answers_500_and_the_server_keeps_going() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            serve(listener, |request: Request| {
                if request.path == "/panic" {
                    panic!("boom");
                }
                Response::text(200, "fine")
            })
        });
        let exchange = |path: &str| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nconnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            stream.read_to_string(&mut out).unwrap();
            out
        };
        assert!(exchange("/panic").starts_with("HTTP/1.1 500 "));
        let ok = exchange("/ok");
        assert!(ok.starts_with("HTTP/1.1 200 OK"));
        assert!(ok.ends_with("\r\n\r\nfine"));
    }

    #[test]
    fn writes_stream_as_chunks() {
        let mut out = Vec::new();
        let response = Response::stream(
            "text/event-stream",
            vec![b"data: a\n\n".to_vec(), Vec::new()],
        );
        write_response(&mut out, response, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(text.contains("transfer-encoding: chunked\r\n"));
        assert!(text.ends_with("\r\n\r\n9\r\ndata: a\n\n\r\n0\r\n\r\n"));
    }
}
