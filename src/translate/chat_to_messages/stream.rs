//! Anthropic Messages SSE events -> OpenAI `chat.completion.chunk` events, as they arrive.
//!
//! | Anthropic event                          | OpenAI chunk                                   |
//! |------------------------------------------|------------------------------------------------|
//! | `message_start`                          | `delta: {role: assistant, content: ""}`        |
//! | `content_block_start` text (non-empty)   | `delta.content`                                |
//! | `text_delta`                             | `delta.content`                                |
//! | `thinking_delta`                         | `delta.reasoning_content`                      |
//! | `content_block_stop` of a thinking block | `delta.thinking_blocks: [{type: thinking, thinking, signature}]` (the whole block, for replay) |
//! | `content_block_start` redacted_thinking  | `delta.thinking_blocks: [the block]`           |
//! | `content_block_start` tool_use           | `delta.tool_calls: [{index, id, type, function: {name, arguments: ""}}]`, `index` counting tool calls from 0 |
//! | `input_json_delta`                       | `delta.tool_calls: [{index, function: {arguments: fragment}}]` |
//! | `message_delta`                          | `delta: {}` with the mapped `finish_reason`    |
//! | `message_stop`                           | usage chunk (`choices: []`) if asked, then `[DONE]` |
//! | `error`                                  | `{"error": {...}}`, then nothing more (no `[DONE]`) |
//! | `ping`, unknown events                   | nothing                                        |
//!
//! Usage: `message_start` sets the input and cache counts, `message_delta` sets whatever it
//! carries (totals, never added).

use super::error::{anthropic_error, openai_kind};
use super::{now_secs, set_finish_reason, AnthropicUsage};
use crate::sse::{encode, SseEvent};
use crate::translate::{StreamTranslator, Translated};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What an open Anthropic content block is translating into.
enum Block {
    Text,
    /// Thinking text and signature, kept to hand the client a replayable block at its end.
    Thinking {
        text: String,
        signature: String,
    },
    /// The OpenAI `tool_calls[].index` of this tool use.
    Tool(u64),
    Other,
}

/// Stream translation state for one response.
pub struct Stream {
    include_usage: bool,
    created: u64,
    id: String,
    model: String,
    usage: AnthropicUsage,
    /// Open content blocks by Anthropic block index.
    blocks: BTreeMap<u64, Block>,
    next_tool: u64,
    /// `message_stop` or `error` was seen: the client stream is closed.
    done: bool,
}

impl Stream {
    /// `translated` is what [`super::request()`] returned for this exchange.
    pub fn new(translated: &Translated) -> Self {
        Self::with_created(translated, now_secs())
    }

    /// [`Stream::new`] with an explicit `created` timestamp (seconds since the epoch).
    pub fn with_created(translated: &Translated, created: u64) -> Self {
        Stream {
            include_usage: translated.include_usage,
            created,
            id: String::new(),
            model: String::new(),
            usage: AnthropicUsage::default(),
            blocks: BTreeMap::new(),
            next_tool: 0,
            done: false,
        }
    }

    fn emit(out: &mut Vec<u8>, value: &Value) {
        out.extend_from_slice(encode(None, &value.to_string()).as_bytes());
    }

    /// A chunk around `choices`; `usage: null` when the client asked for a usage chunk.
    fn chunk(&self, choices: Value, usage: Option<Value>) -> Value {
        let mut c = Map::new();
        c.insert("id".into(), json!(format!("chatcmpl-{}", self.id)));
        c.insert("object".into(), json!("chat.completion.chunk"));
        c.insert("created".into(), json!(self.created));
        c.insert("model".into(), json!(self.model));
        c.insert("choices".into(), choices);
        if self.include_usage {
            c.insert("usage".into(), usage.unwrap_or(Value::Null));
        }
        Value::Object(c)
    }

    fn choice(delta: Value) -> Map<String, Value> {
        let mut choice = Map::new();
        choice.insert("index".into(), json!(0));
        choice.insert("delta".into(), delta);
        choice.insert("logprobs".into(), Value::Null);
        choice.insert("finish_reason".into(), Value::Null);
        choice
    }

    fn delta(&self, delta: Value, out: &mut Vec<u8>) {
        let chunk = self.chunk(json!([Value::Object(Self::choice(delta))]), None);
        Self::emit(out, &chunk);
    }

    fn error_chunk(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        let chunk =
            json!({"error": {"message": message, "type": kind, "code": null, "param": null}});
        Self::emit(out, &chunk);
        self.done = true;
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let Some(block) = data.get("content_block") else {
            return;
        };
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
        let state = match str_of("type") {
            "text" => {
                if !str_of("text").is_empty() {
                    self.delta(json!({"content": str_of("text")}), out);
                }
                Block::Text
            }
            "thinking" => {
                if !str_of("thinking").is_empty() {
                    self.delta(json!({"reasoning_content": str_of("thinking")}), out);
                }
                Block::Thinking {
                    text: str_of("thinking").to_string(),
                    signature: str_of("signature").to_string(),
                }
            }
            "redacted_thinking" => {
                self.delta(json!({"thinking_blocks": [block]}), out);
                Block::Other
            }
            "tool_use" => {
                let tool = self.next_tool;
                self.next_tool += 1;
                // Anthropic starts tool blocks with `input: {}` and streams the arguments.
                let arguments = match block.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                    _ => String::new(),
                };
                self.delta(
                    json!({"tool_calls": [{
                        "index": tool, "id": str_of("id"), "type": "function",
                        "function": {"name": str_of("name"), "arguments": arguments},
                    }]}),
                    out,
                );
                Block::Tool(tool)
            }
            other => {
                log::debug!("ignoring Anthropic {other:?} block in stream");
                Block::Other
            }
        };
        self.blocks.insert(index, state);
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let Some(delta) = data.get("delta") else {
            return;
        };
        let str_of = |key: &str| delta.get(key).and_then(Value::as_str).unwrap_or("");
        match (str_of("type"), self.blocks.get_mut(&index)) {
            ("text_delta", _) => {
                if !str_of("text").is_empty() {
                    self.delta(json!({"content": str_of("text")}), out);
                }
            }
            ("thinking_delta", block) => {
                let piece = str_of("thinking");
                if let Some(Block::Thinking { text, .. }) = block {
                    text.push_str(piece);
                }
                if !piece.is_empty() {
                    self.delta(json!({"reasoning_content": piece}), out);
                }
            }
            ("signature_delta", Some(Block::Thinking { signature, .. })) => {
                signature.push_str(str_of("signature"));
            }
            ("input_json_delta", Some(Block::Tool(tool))) => {
                let tool = *tool;
                let fragment = str_of("partial_json");
                if !fragment.is_empty() {
                    self.delta(
                        json!({"tool_calls": [{"index": tool, "function": {"arguments": fragment}}]}),
                        out,
                    );
                }
            }
            (other, _) => log::debug!("ignoring Anthropic {other:?} delta in stream"),
        }
    }

    fn block_stop(&mut self, data: &Value, out: &mut Vec<u8>) {
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        if let Some(Block::Thinking { text, signature }) = self.blocks.remove(&index) {
            self.delta(
                json!({"thinking_blocks": [{"type": "thinking", "thinking": text, "signature": signature}]}),
                out,
            );
        }
    }

    fn message_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        self.usage.set_from(data.get("usage"));
        let stop_reason = data
            .get("delta")
            .and_then(|d| d.get("stop_reason"))
            .and_then(Value::as_str);
        let mut choice = Self::choice(json!({}));
        set_finish_reason(&mut choice, stop_reason);
        let chunk = self.chunk(json!([Value::Object(choice)]), None);
        Self::emit(out, &chunk);
    }

    fn message_stop(&mut self, out: &mut Vec<u8>) {
        if self.include_usage {
            let chunk = self.chunk(json!([]), Some(self.usage.to_openai()));
            Self::emit(out, &chunk);
        }
        out.extend_from_slice(encode(None, "[DONE]").as_bytes());
        self.done = true;
    }
}

impl StreamTranslator for Stream {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let name = event
            .event
            .as_deref()
            .or_else(|| data.get("type").and_then(Value::as_str))
            .unwrap_or("");
        if data.is_null() && name != "error" && name != "ping" {
            log::warn!("ignoring Anthropic {name:?} event whose data is not JSON");
            return;
        }
        match name {
            "message_start" => {
                let message = data.get("message");
                let str_of = |key: &str| {
                    message
                        .and_then(|m| m.get(key))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                self.id = str_of("id");
                self.model = str_of("model");
                self.usage.set_from(message.and_then(|m| m.get("usage")));
                self.delta(json!({"role": "assistant", "content": ""}), out);
            }
            "content_block_start" => self.block_start(&data, out),
            "content_block_delta" => self.block_delta(&data, out),
            "content_block_stop" => self.block_stop(&data, out),
            "message_delta" => self.message_delta(&data, out),
            "message_stop" => self.message_stop(out),
            "error" => {
                let (kind, message) = match anthropic_error(&data) {
                    Some((kind, message)) => (kind, message.to_string()),
                    None => ("", "the provider reported an error mid-stream".to_string()),
                };
                log::warn!("provider error mid-stream: {kind} {message}");
                let (t, _) = openai_kind(kind, 500, &message);
                self.error_chunk(t, &message, out);
            }
            "ping" => {}
            other => log::debug!("ignoring Anthropic {other:?} event"),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.done {
            log::warn!("provider stream ended without message_stop");
            self.error_chunk(
                "server_error",
                "the provider's stream ended before the response was complete",
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ev(name: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(name.to_string()),
            data: data.to_string(),
        }
    }

    fn stream(include_usage: bool) -> Stream {
        Stream::with_created(
            &Translated {
                body: Vec::new(),
                stream: true,
                include_usage,
            },
            42,
        )
    }

    /// The data payloads of `out`, parsed (`[DONE]` as a string).
    fn payloads(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let data = e.strip_prefix("data: ").unwrap();
                serde_json::from_str(data).unwrap_or_else(|_| json!(data))
            })
            .collect()
    }

    fn start() -> SseEvent {
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
                "role": "assistant", "model": "claude-x", "content": [], "stop_reason": null,
                "usage": {"input_tokens": 20, "cache_read_input_tokens": 100,
                          "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
        )
    }

    fn run(s: &mut Stream, events: &[SseEvent]) -> Vec<Value> {
        let mut out = Vec::new();
        for e in events {
            s.on_event(e, &mut out);
        }
        s.finish(&mut out);
        payloads(&out)
    }

    fn tool_events() -> Vec<SseEvent> {
        vec![
            start(),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "w", "input": {}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"ci"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ty\":\"Paris\"}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "w", "input": {}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":\"Rome\"}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 2}),
            ),
            ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 55}}),
            ),
            ev("message_stop", json!({"type": "message_stop"})),
        ]
    }

    #[test]
    fn first_chunk_carries_role_and_every_interior_chunk_null_finish_reason() {
        let p = run(&mut stream(false), &tool_events());
        assert_eq!(
            p[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(p[0]["id"], "chatcmpl-msg_1");
        assert_eq!(p[0]["object"], "chat.completion.chunk");
        assert_eq!(p[0]["model"], "claude-x");
        assert_eq!(p[0]["created"], 42);
        let (last, interior) = p.split_last().unwrap();
        assert_eq!(last, &json!("[DONE]"));
        let (finish, interior) = interior.split_last().unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(finish["choices"][0]["delta"], json!({}));
        for c in interior {
            assert_eq!(c["choices"][0]["finish_reason"], Value::Null, "{c}");
            assert!(c.get("usage").is_none());
        }
    }

    #[test]
    fn tool_call_indexes_count_tools_not_blocks() {
        let p = run(&mut stream(false), &tool_events());
        let calls: Vec<&Value> = p
            .iter()
            .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
            .collect();
        assert_eq!(
            calls,
            [
                &json!([{"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "w", "arguments": ""}}]),
                &json!([{"index": 0, "function": {"arguments": "{\"ci"}}]),
                &json!([{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]),
                &json!([{"index": 1, "id": "toolu_b", "type": "function", "function": {"name": "w", "arguments": ""}}]),
                &json!([{"index": 1, "function": {"arguments": "{\"city\":\"Rome\"}"}}]),
            ]
        );
    }

    #[test]
    fn tool_argument_fragments_join_into_valid_json() {
        let p = run(&mut stream(false), &tool_events());
        let mut args = [String::new(), String::new()];
        for c in &p {
            for call in c["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let i = call["index"].as_u64().unwrap() as usize;
                args[i].push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
        let parsed: Vec<Value> = args
            .iter()
            .map(|a| serde_json::from_str(a).unwrap())
            .collect();
        assert_eq!(parsed, [json!({"city": "Paris"}), json!({"city": "Rome"})]);
    }

    #[test]
    fn usage_chunk_has_empty_choices_and_interior_usage_is_null() {
        let p = run(&mut stream(true), &tool_events());
        let n = p.len();
        assert_eq!(p[n - 1], json!("[DONE]"));
        let usage = &p[n - 2];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens": 120, "completion_tokens": 55, "total_tokens": 175,
                   "prompt_tokens_details": {"cached_tokens": 100, "cache_creation_tokens": 0}})
        );
        for c in &p[..n - 2] {
            assert_eq!(c["usage"], Value::Null, "{c}");
            assert!(c.get("usage").is_some());
        }
    }

    #[test]
    fn message_delta_usage_is_set_not_added() {
        let mut events = tool_events();
        events[12] = ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"input_tokens": 25, "cache_read_input_tokens": 100,
                             "cache_creation_input_tokens": 7, "output_tokens": 60}}),
        );
        let p = run(&mut stream(true), &events);
        let usage = &p[p.len() - 2]["usage"];
        assert_eq!(usage["prompt_tokens"], 132);
        assert_eq!(usage["completion_tokens"], 60);
    }

    #[test]
    fn mid_stream_error_is_an_in_band_chunk_without_done() {
        let events = vec![
            start(),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "late"}}),
            ),
            ev("message_stop", json!({"type": "message_stop"})),
        ];
        let p = run(&mut stream(true), &events);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[1],
            json!({"error": {"message": "Overloaded", "type": "server_error", "code": null, "param": null}})
        );
    }

    #[test]
    fn stream_cut_before_message_stop_ends_with_an_error_chunk() {
        let events = &tool_events()[..7];
        let p = run(&mut stream(false), events);
        let last = p.last().unwrap();
        assert_eq!(last["error"]["type"], "server_error");
        assert!(last["error"]["message"].as_str().unwrap().contains("ended"));
        assert!(!p.contains(&json!("[DONE]")));
    }

    #[test]
    fn finish_after_done_adds_nothing() {
        let mut s = stream(false);
        let mut out = Vec::new();
        for e in tool_events() {
            s.on_event(&e, &mut out);
        }
        let before = out.len();
        s.finish(&mut out);
        s.finish(&mut out);
        assert_eq!(out.len(), before);
        assert!(out.ends_with(b"data: [DONE]\n\n"));
    }

    #[test]
    fn ping_and_unknown_events_are_ignored() {
        let mut s = stream(false);
        let mut out = Vec::new();
        s.on_event(&ev("ping", json!({"type": "ping"})), &mut out);
        s.on_event(
            &ev("future_event", json!({"type": "future_event"})),
            &mut out,
        );
        s.on_event(
            &SseEvent {
                event: Some("content_block_delta".into()),
                data: "not json".into(),
            },
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn event_name_falls_back_to_data_type() {
        let mut s = stream(false);
        let mut out = Vec::new();
        let mut e = start();
        e.event = None;
        s.on_event(&e, &mut out);
        assert_eq!(payloads(&out)[0]["id"], "chatcmpl-msg_1");
    }

    #[test]
    fn thinking_streams_as_reasoning_content_and_a_replayable_block() {
        let events = vec![
            start(),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm, "}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "easy."}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB=="}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "opaque"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ),
        ];
        let p = run(&mut stream(false), &events);
        let deltas: Vec<&Value> = p.iter().map(|c| &c["choices"][0]["delta"]).collect();
        assert_eq!(deltas[1], &json!({"reasoning_content": "Hmm, "}));
        assert_eq!(deltas[2], &json!({"reasoning_content": "easy."}));
        assert_eq!(
            deltas[3],
            &json!({"thinking_blocks": [{"type": "thinking", "thinking": "Hmm, easy.", "signature": "EqQB=="}]})
        );
        assert_eq!(
            deltas[4],
            &json!({"thinking_blocks": [{"type": "redacted_thinking", "data": "opaque"}]})
        );
    }

    #[test]
    fn pause_turn_in_stream_keeps_the_original_reason() {
        let events = vec![
            start(),
            ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "pause_turn"}, "usage": {"output_tokens": 3}}),
            ),
            ev("message_stop", json!({"type": "message_stop"})),
        ];
        let p = run(&mut stream(false), &events);
        assert_eq!(p[1]["choices"][0]["finish_reason"], "stop");
        assert_eq!(p[1]["choices"][0]["stop_reason"], "pause_turn");
    }
}
