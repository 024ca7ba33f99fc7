//! Golden fixtures (`src/translate/fixtures/chat_to_messages/`), compiled in with
//! `include_str!` so that they also run under wasm without a filesystem: requests, responses and
//! streams, the streams also framed whole, byte by byte and at seeded random split points.

use super::{request, response, Stream};
use crate::sse::{SseEvent, SseFramer};
use crate::translate::{Options, StreamTranslator, Translated};
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! fixture {
    ($name:literal, $suffix:literal) => {
        include_str!(concat!("../fixtures/chat_to_messages/", $name, $suffix))
    };
}

macro_rules! request_case {
    ($name:literal) => {
        (
            $name,
            fixture!($name, ".request.json"),
            fixture!($name, ".anthropic.json"),
        )
    };
}

macro_rules! response_case {
    ($name:literal) => {
        (
            $name,
            fixture!($name, ".response.anthropic.json"),
            fixture!($name, ".response.openai.json"),
        )
    };
}

macro_rules! stream_case {
    ($name:literal, $include_usage:literal) => {
        (
            $name,
            $include_usage,
            fixture!($name, ".stream.anthropic.sse"),
            fixture!($name, ".stream.openai.sse"),
        )
    };
}

const REQUESTS: &[(&str, &str, &str)] = &[
    request_case!("basic_text"),
    request_case!("system_and_developer"),
    request_case!("tool_roundtrip"),
    request_case!("tool_id_sanitize"),
    request_case!("images"),
    request_case!("thinking_replay"),
    request_case!("params"),
    request_case!("anthropic_blocks"),
];

const RESPONSES: &[(&str, &str, &str)] = &[
    response_case!("text"),
    response_case!("parallel_tools"),
    response_case!("thinking_tool"),
    response_case!("pause_turn"),
];

/// (name, include_usage, Anthropic stream, expected OpenAI stream)
const STREAMS: &[(&str, bool, &str, &str)] = &[
    stream_case!("text", false),
    stream_case!("parallel_tools", true),
    stream_case!("thinking", true),
    stream_case!("error_mid_stream", true),
    stream_case!("cut_off", false),
];

fn parse(name: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: bad fixture JSON: {e}"))
}

#[test]
fn request_fixtures() {
    for (name, input, expected) in REQUESTS {
        let t = request(input.as_bytes(), "claude-sonnet-4-5", &Options::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let got: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(got, parse(name, expected), "{name}\n{got:#}");
        // Only `params` streams, with stream_options.include_usage.
        let streams = *name == "params";
        assert_eq!((t.stream, t.include_usage), (streams, streams), "{name}");
    }
}

#[test]
fn response_fixtures() {
    for (name, input, expected) in RESPONSES {
        let out = response(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut got: Value = serde_json::from_slice(&out).unwrap();
        assert!(got["created"].is_u64(), "{name}");
        got["created"] = Value::Null;
        let mut want = parse(name, expected);
        want["created"] = Value::Null;
        assert_eq!(got, want, "{name}\n{got:#}");
    }
}

/// Frames `input` in pieces of the sizes `sizes` yields and translates it.
fn translate_stream(
    input: &[u8],
    include_usage: bool,
    created: Option<u64>,
    sizes: &mut dyn FnMut() -> usize,
) -> Vec<u8> {
    let translated = Translated {
        body: Vec::new(),
        stream: true,
        include_usage,
    };
    let mut stream = match created {
        Some(c) => Stream::with_created(&translated, c),
        None => Stream::new(&translated),
    };
    let mut framer = SseFramer::new();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = sizes().clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        framer.push(piece, &mut events);
        for e in events.drain(..) {
            stream.on_event(&e, &mut out);
        }
        rest = tail;
    }
    framer.finish(&mut events);
    for e in events.drain(..) {
        stream.on_event(&e, &mut out);
    }
    stream.finish(&mut out);
    out
}

/// The data payloads of an OpenAI stream: JSON with `created` removed, `[DONE]` as a string.
fn payloads(name: &str, sse: &[u8]) -> Vec<Value> {
    let mut framer = SseFramer::new();
    let mut events = Vec::new();
    framer.push(sse, &mut events);
    framer.finish(&mut events);
    events
        .into_iter()
        .map(|e| {
            assert_eq!(e.event, None, "{name}: OpenAI streams have no event names");
            if e.data == "[DONE]" {
                return Value::String(e.data);
            }
            let mut v: Value = serde_json::from_str(&e.data)
                .unwrap_or_else(|err| panic!("{name}: bad payload {}: {err}", e.data));
            if let Some(obj) = v.as_object_mut() {
                if let Some(created) = obj.remove("created") {
                    assert!(created.is_u64(), "{name}: created {created}");
                }
            }
            v
        })
        .collect()
}

#[test]
fn stream_fixtures() {
    for (name, include_usage, input, expected) in STREAMS {
        let out = translate_stream(input.as_bytes(), *include_usage, None, &mut || usize::MAX);
        let got = payloads(name, &out);
        let want = payloads(name, expected.as_bytes());
        assert_eq!(got, want, "{name}\n{}", String::from_utf8_lossy(&out));
        // Every event is a single `data: ` line; [DONE] only at the very end, if at all.
        let text = std::str::from_utf8(&out).unwrap();
        for event in text.split_terminator("\n\n") {
            assert!(
                event.starts_with("data: ") && !event.contains('\n'),
                "{name}: {event:?}"
            );
        }
        let done = want.last() == Some(&Value::String("[DONE]".into()));
        assert_eq!(text.ends_with("data: [DONE]\n\n"), done, "{name}");
        assert!(text.matches("[DONE]").count() <= 1, "{name}");
    }
}

#[test]
fn stream_fixtures_give_the_same_output_however_they_are_split() {
    for (name, include_usage, input, _) in STREAMS {
        let bytes = input.as_bytes();
        let whole = translate_stream(bytes, *include_usage, Some(7), &mut || usize::MAX);
        let bytewise = translate_stream(bytes, *include_usage, Some(7), &mut || 1);
        assert_eq!(whole, bytewise, "{name}: byte by byte");
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ bytes.len() as u64;
        for round in 0..50 {
            let got = translate_stream(bytes, *include_usage, Some(7), &mut || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % 23 + 1
            });
            assert_eq!(whole, got, "{name}: random split round {round}");
        }
    }
}

#[test]
fn stream_fixtures_cover_the_pitfalls() {
    let all: String = STREAMS.iter().map(|(_, _, input, _)| *input).collect();
    assert!(all.contains("event: ping"));
    assert!(
        all.contains("      }"),
        "padded data lines, as Anthropic sends them"
    );
    assert!(all.contains("\r\n"), "a CRLF fixture");
    assert!(all.contains("input_json_delta"));
    assert!(all.contains("thinking_delta") && all.contains("signature_delta"));
    assert!(all.contains("event: error"));
    assert!(!all.is_ascii(), "multi-byte UTF-8 to split");
}
