//! Anthropic Messages clients -> OpenAI Chat Completions providers (OpenAI, OpenRouter, Groq,
//! vLLM, llama.cpp, Ollama): Claude Code, the Anthropic SDKs and Claude-based agents can use
//! any model Iris routes to a Chat Completions provider.
//!
//! - [`request`] (in `request.rs`): a Messages body -> a Chat Completions body.
//! - [`response`] (in `response.rs`): a `chat.completion` -> a Messages `message`.
//! - [`Stream`] (in `stream.rs`): `chat.completion.chunk` events -> the Messages event sequence.
//! - [`error`] (in `error.rs`): an OpenAI error body -> an Anthropic error body.
//!
//! Tool-call ids cross both ways through [`tool_id`], one deterministic, idempotent function,
//! so a history replayed by the client keeps `tool_use` ids and `tool_result` ids matched.

mod error;
mod request;
mod response;
mod stream;

pub use error::error;
pub use request::request;
pub use response::response;
pub use stream::Stream;

/// Longest tool-call id OpenAI accepts in a request (`messages[].tool_calls[].id`: "string too
/// long. Expected a string with maximum length 40"; seen with ids minted by other providers).
const MAX_TOOL_ID: usize = 40;

/// A tool-call id that both APIs accept: Anthropic requires `^[a-zA-Z0-9_-]+$`, OpenAI at most
/// 40 characters. Ids that already qualify are returned unchanged; any other id has each
/// character outside the set replaced by `_`, is shortened, and gets `_` plus an 8-hex-digit
/// hash of the original appended so that different ids do not collide (`functions.Bash:0` ->
/// `functions_Bash_0_<hash>`). The result qualifies, so applying the function again changes
/// nothing: the request and the response directions use it alike and round trips match.
pub(crate) fn tool_id(id: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !id.is_empty() && id.len() <= MAX_TOOL_ID && id.chars().all(allowed) {
        return id.to_string();
    }
    let mut clean: String = id
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    // `clean` is ASCII now; keep room for `_` and the hash.
    clean.truncate(MAX_TOOL_ID - 9);
    if clean.is_empty() {
        clean.push_str("call");
    }
    format!("{clean}_{:08x}", hash32(id.as_bytes()))
}

/// FNV-1a, folded to 32 bits: a short, stable hash for ids (not for security).
fn hash32(bytes: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((h >> 32) ^ (h & 0xffff_ffff)) as u32
}

/// An Anthropic message id from an OpenAI completion id: `msg_` + the id with every character
/// outside `[A-Za-z0-9_]` replaced by `_` (`chatcmpl-abc` -> `msg_chatcmpl_abc`); a missing id
/// gets a stable one derived from `fallback`.
fn message_id(openai_id: Option<&str>, fallback: &[u8]) -> String {
    match openai_id {
        Some(id) if !id.is_empty() => {
            let clean: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("msg_{clean}")
        }
        _ => format!("msg_iris_{:08x}", hash32(fallback)),
    }
}

/// An id for a tool call the provider sent without one (some OpenAI-compatible servers do):
/// stable for a given message and position.
fn generated_tool_id(message_id: &str, n: usize) -> String {
    format!("toolu_iris_{:08x}_{n}", hash32(message_id.as_bytes()))
}

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        other => {
            log::warn!("unknown OpenAI finish_reason {other:?}; reported as end_turn");
            "end_turn"
        }
    }
}

/// Anthropic usage numbers from an OpenAI `usage` object: OpenAI's `prompt_tokens` includes
/// cached tokens, Anthropic's `input_tokens` does not, so cached tokens are moved to
/// `cache_read_input_tokens`. OpenAI reports no cache writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    input: u64,
    output: u64,
    cache_read: u64,
}

impl Usage {
    fn from_openai(u: &serde_json::Map<String, serde_json::Value>) -> Usage {
        let num =
            |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_u64).unwrap_or(0);
        let prompt = num(u.get("prompt_tokens"));
        let cached = num(u
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")));
        Usage {
            input: prompt.saturating_sub(cached),
            output: num(u.get("completion_tokens")),
            cache_read: cached,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Golden fixtures (`src/translate/fixtures/messages_to_chat/`), loaded with `include_str!`
    //! so that they also run compiled to wasm with no filesystem.

    use super::*;
    use crate::sse::{SseEvent, SseFramer};
    use crate::translate::{Options, StreamTranslator, Translated};
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    macro_rules! fixture {
        ($case:literal, $suffix:literal) => {
            include_str!(concat!("../fixtures/messages_to_chat/", $case, $suffix))
        };
    }

    macro_rules! request_cases {
        ($($case:literal),* $(,)?) => {
            [$(($case, fixture!($case, ".request.json"), fixture!($case, ".openai.json"))),*]
        };
    }

    macro_rules! response_cases {
        ($($case:literal),* $(,)?) => {
            [$((
                $case,
                fixture!($case, ".response.openai.json"),
                fixture!($case, ".response.anthropic.json")
            )),*]
        };
    }

    macro_rules! stream_cases {
        ($($case:literal),* $(,)?) => {
            [$((
                $case,
                fixture!($case, ".stream.openai.sse"),
                fixture!($case, ".stream.anthropic.sse")
            )),*]
        };
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn request_fixtures() {
        let cases = request_cases![
            "basic",
            "system_blocks_and_params",
            "tools_and_choice",
            "tool_history",
            "images_and_documents",
            "thinking_history",
        ];
        for (case, input, expected) in cases {
            let got = request(input.as_bytes(), "gpt-test", &Options::default())
                .unwrap_or_else(|e| panic!("{case}: {e:?}"));
            assert_eq!(
                json(std::str::from_utf8(&got.body).unwrap()),
                json(expected),
                "{case}"
            );
            assert_eq!(got.stream, json(input)["stream"] == true, "{case}");
        }
    }

    #[test]
    fn response_fixtures() {
        let cases = response_cases!["text", "tool_calls", "reasoning_cached", "length",];
        for (case, input, expected) in cases {
            let got = response(input.as_bytes()).unwrap_or_else(|e| panic!("{case}: {e:?}"));
            let got: Value = serde_json::from_slice(&got).unwrap();
            assert_eq!(got, json(expected), "{case}");
        }
    }

    const STREAM_CASES: [(&str, &str, &str); 6] = stream_cases![
        "text",
        "text_usage",
        "parallel_tools",
        "reasoning_text",
        "mid_error",
        "cut",
    ];

    fn stream_translator() -> Stream {
        Stream::new(&Translated {
            body: Vec::new(),
            stream: true,
            include_usage: true,
        })
    }

    /// Feeds `input` to a framer in pieces of the sizes `sizes` yields, and the framed events
    /// to a translator; returns the translator's output.
    fn translate_split(input: &[u8], sizes: &mut dyn FnMut() -> usize) -> Vec<u8> {
        let mut framer = SseFramer::new();
        let mut translator = stream_translator();
        let mut events = Vec::new();
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = sizes().clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(n);
            framer.push(chunk, &mut events);
            for e in events.drain(..) {
                translator.on_event(&e, &mut out);
            }
            rest = tail;
        }
        framer.finish(&mut events);
        for e in events.drain(..) {
            translator.on_event(&e, &mut out);
        }
        translator.finish(&mut out);
        out
    }

    /// The (event name, parsed data) pairs of an SSE text.
    fn pairs(sse: &[u8]) -> Vec<(Option<String>, Value)> {
        let mut framer = SseFramer::new();
        let mut events: Vec<SseEvent> = Vec::new();
        framer.push(sse, &mut events);
        framer.finish(&mut events);
        events
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data)
                    .unwrap_or_else(|err| panic!("bad data {:?}: {err}", e.data));
                (e.event, data)
            })
            .collect()
    }

    #[test]
    fn stream_fixtures() {
        for (case, input, expected) in STREAM_CASES {
            let got = translate_split(input.as_bytes(), &mut || usize::MAX);
            assert_eq!(pairs(&got), pairs(expected.as_bytes()), "{case}");
        }
    }

    #[test]
    fn stream_fixtures_are_chunk_split_invariant() {
        for (case, input, _) in STREAM_CASES {
            let input = input.as_bytes();
            let whole = translate_split(input, &mut || usize::MAX);
            assert_eq!(
                translate_split(input, &mut || 1),
                whole,
                "{case} byte by byte"
            );
            let mut seed = 0x5eed_u64 ^ input.len() as u64;
            for round in 0..50 {
                let got = translate_split(input, &mut || {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 33) as usize % 64 + 1
                });
                assert_eq!(got, whole, "{case} random split round {round}");
            }
        }
    }

    /// Every stream fixture that completes is a valid Anthropic event sequence: it starts with
    /// `message_start`, block indexes count up from 0, every started block is stopped before
    /// the next starts (deltas may still reach an earlier block), `message_delta` comes before
    /// `message_stop`, and an `error` event is the last event.
    #[test]
    fn stream_fixtures_are_valid_anthropic_sequences() {
        for (case, input, _) in STREAM_CASES {
            let events = pairs(&translate_split(input.as_bytes(), &mut || usize::MAX));
            let names: Vec<&str> = events.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
            for (name, data) in &events {
                assert_eq!(data["type"].as_str(), name.as_deref(), "{case}");
            }
            if let Some(pos) = names.iter().position(|n| *n == "error") {
                assert_eq!(pos, names.len() - 1, "{case}: error is last");
                continue;
            }
            assert_eq!(names.first(), Some(&"message_start"), "{case}");
            assert_eq!(
                &names[names.len() - 2..],
                ["message_delta", "message_stop"],
                "{case}"
            );
            let mut open: Option<u64> = None;
            let mut started = 0u64;
            for (name, data) in &events {
                match name.as_deref().unwrap() {
                    "content_block_start" => {
                        assert_eq!(open, None, "{case}: one open block at a time");
                        assert_eq!(data["index"].as_u64(), Some(started), "{case}");
                        open = Some(started);
                        started += 1;
                    }
                    "content_block_delta" => {
                        assert!(data["index"].as_u64().unwrap() < started, "{case}");
                    }
                    "content_block_stop" => {
                        assert_eq!(data["index"].as_u64(), open, "{case}");
                        open = None;
                    }
                    _ => {}
                }
            }
            assert_eq!(open, None, "{case}: every block stopped");
        }
    }

    #[test]
    fn tool_ids_that_qualify_are_kept() {
        assert_eq!(
            tool_id("toolu_01A09q90qw90lq917835lq9"),
            "toolu_01A09q90qw90lq917835lq9"
        );
        assert_eq!(tool_id("call_abc-DEF_123"), "call_abc-DEF_123");
    }

    #[test]
    fn tool_call_ids_are_sanitised_deterministically_with_a_hash_suffix() {
        let a = tool_id("functions.Bash:0");
        assert!(a.starts_with("functions_Bash_0_"), "{a}");
        assert_eq!(a.len(), "functions_Bash_0_".len() + 8);
        assert_eq!(tool_id("functions.Bash:0"), a, "deterministic");
        // Ids that clean to the same text still differ.
        assert_ne!(tool_id("functions.Bash:0"), tool_id("functions:Bash.0"));
        for id in [
            "functions.Bash:0",
            "a b",
            "é",
            "",
            &"x".repeat(90),
            "ws_689e2d4880a0819d98acca37694989b00b15d90494fc6b87",
        ] {
            let clean = tool_id(id);
            assert!(!clean.is_empty() && clean.len() <= 40, "{clean}");
            assert!(
                clean
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{clean}"
            );
            assert_eq!(tool_id(&clean), clean, "idempotent, so round trips match");
        }
    }

    #[test]
    fn message_ids_keep_only_anthropic_id_characters() {
        assert_eq!(
            message_id(Some("chatcmpl-A1b.2"), b""),
            "msg_chatcmpl_A1b_2"
        );
        let generated = message_id(None, b"body");
        assert!(generated.starts_with("msg_iris_"));
        assert_eq!(generated, message_id(Some(""), b"body"));
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        assert_eq!(stop_reason("stop"), "end_turn");
        assert_eq!(stop_reason("length"), "max_tokens");
        assert_eq!(stop_reason("tool_calls"), "tool_use");
        assert_eq!(stop_reason("function_call"), "tool_use");
        assert_eq!(stop_reason("content_filter"), "refusal");
        assert_eq!(stop_reason("eos"), "end_turn");
    }
}
