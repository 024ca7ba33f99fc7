//! Server-sent events: a push-based framer that turns arbitrary body chunks into events
//! (CR, LF and CRLF line ends; events, lines and UTF-8 split anywhere), and an encoder.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser with a bounded carry buffer.
#[derive(Debug, Default)]
pub struct SseFramer {
    /// Bytes of an incomplete line.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    /// A line grew past the limit; it is skipped up to its end.
    skipping: bool,
    event: Option<String>,
    data: Option<String>,
    /// Whether any line was dropped for being too long.
    pub overflowed: bool,
}

/// Longest line kept; longer ones are dropped (and `overflowed` set).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

impl SseFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (head, tail) = rest.split_at(pos);
            let is_cr = tail.first() == Some(&b'\r');
            let mut after = tail.get(1..).unwrap_or_default();
            if is_cr {
                match after.first() {
                    Some(b'\n') => after = after.get(1..).unwrap_or_default(),
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            if self.skipping {
                self.skipping = false;
                self.line.clear();
            } else if self.line.is_empty() {
                self.line_done(head, out);
            } else {
                self.line.extend_from_slice(head);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, out);
            }
            rest = after;
        }
        if !self.skipping {
            if self.line.len() + rest.len() > MAX_LINE_BYTES {
                self.line.clear();
                self.skipping = true;
                self.overflowed = true;
            } else {
                self.line.extend_from_slice(rest);
            }
        }
    }

    /// End of stream: a last line or event without its terminator is dispatched.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() && !self.skipping {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
        self.line_done(b"", out);
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(SseEvent {
                    event: self.event.take(),
                    data,
                });
            }
            self.event = None;
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
    }
}

/// Encodes one event (`event:` line when named, one `data:` line per line of data).
pub fn encode(event: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(name) = event {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn frame_whole(input: &[u8]) -> Vec<SseEvent> {
        let mut f = SseFramer::new();
        let mut out = Vec::new();
        f.push(input, &mut out);
        f.finish(&mut out);
        out
    }

    fn frame_split(input: &[u8], sizes: &mut dyn FnMut() -> usize) -> Vec<SseEvent> {
        let mut f = SseFramer::new();
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = sizes().clamp(1, rest.len());
            let (a, b) = rest.split_at(n);
            f.push(a, &mut out);
            rest = b;
        }
        f.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
        }
    }

    const SAMPLE: &[u8] = b"event: message_start\r\ndata: {\"a\":\"\xc3\xa9\xe2\x82\xac\"}\r\n\r\n: comment\n\nevent: ping\ndata: {}\n\ndata:  padded\rdata: two\r\r\ndata: [DONE]\n\n";

    #[test]
    fn crlf_lf_cr_and_comments() {
        assert_eq!(
            frame_whole(SAMPLE),
            vec![
                ev(Some("message_start"), "{\"a\":\"é€\"}"),
                ev(Some("ping"), "{}"),
                ev(None, " padded\ntwo"),
                ev(None, "[DONE]"),
            ]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = frame_whole(SAMPLE);
        assert_eq!(frame_split(SAMPLE, &mut || 1), whole);
        for first in 1..SAMPLE.len() {
            let mut sizes = [first, SAMPLE.len()].into_iter();
            assert_eq!(
                frame_split(SAMPLE, &mut || sizes.next().unwrap_or(1)),
                whole,
                "split at {first}"
            );
        }
        let mut seed = 7u64;
        for _ in 0..200 {
            let got = frame_split(SAMPLE, &mut || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % 9 + 1
            });
            assert_eq!(got, whole);
        }
    }

    #[test]
    fn last_event_without_blank_line_is_flushed_at_end() {
        assert_eq!(frame_whole(b"data: x"), vec![ev(None, "x")]);
        assert_eq!(frame_whole(b"event: e\n"), vec![]);
    }

    #[test]
    fn encode_round_trips() {
        let text = encode(Some("content_block_delta"), "{\"x\":1}\nsecond");
        assert_eq!(
            frame_whole(text.as_bytes()),
            vec![ev(Some("content_block_delta"), "{\"x\":1}\nsecond")]
        );
    }
}
