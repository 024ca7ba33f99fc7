//! Streaming: OpenAI `chat.completion.chunk` events -> the Anthropic Messages event sequence,
//! translated as the chunks arrive.
//!
//! - The first chunk opens the message: `message_start` (empty content; `usage` of
//!   `{input_tokens: 0, output_tokens: 0}`, because an OpenAI-format provider reveals token
//!   counts only at the end; the real counts come in `message_delta`), then a `ping`.
//! - Each run of one kind of delta is a content block (`content_block_start`, deltas,
//!   `content_block_stop`), with a new index whenever the kind changes: `reasoning_content` /
//!   `reasoning` -> `thinking` (`thinking_delta`), `content` (and `refusal`) -> `text`
//!   (`text_delta`), each `tool_calls[].index` -> its own `tool_use` block. Only one block is
//!   open at a time, as Anthropic requires.
//! - A tool call's first delta carries its id and name: it starts a `tool_use` block with
//!   `input: {}`. Argument fragments are forwarded as `input_json_delta` `partial_json` exactly as
//!   they come, never parsed. Providers send tool calls one after another; should a fragment
//!   arrive for a tool whose block was already closed (a later tool started meanwhile), it is
//!   still sent as a `content_block_delta` on that block's own index, so clients that accumulate
//!   by index (the Anthropic SDKs do) still get whole arguments. A delta that reuses an index
//!   with a different id starts a new block (some servers number every call 0).
//! - `finish_reason` is remembered; the message ends when the usage chunk (`choices: []`) comes
//!   after it, or at `[DONE]`: the open block is closed, then `message_delta` (`stop_reason`,
//!   `stop_sequence: null`, final `usage`) and `message_stop`.
//! - A chunk with an `error` object becomes an `event: error` and nothing follows it. If the
//!   provider's stream ends with neither `finish_reason` nor `[DONE]`, the client gets an
//!   `api_error` event saying so instead of a message that looks complete.

use serde_json::{json, Map, Value};

use super::error::{kind_for_error, message_of};
use super::{generated_tool_id, message_id, stop_reason, tool_id, Usage};
use crate::sse::{encode, SseEvent};
use crate::translate::{StreamTranslator, Translated};

/// A string value unless it is missing or empty.
fn nonempty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The kind of the content block being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thinking,
    Text,
    Tool,
}

/// A tool call seen in the stream.
#[derive(Debug)]
struct ToolBlock {
    /// Its `tool_calls[].index` (or position when the provider sent none).
    key: u64,
    /// Its Anthropic id.
    id: String,
    /// Its content block index.
    index: usize,
}

/// Stream translation state for one response.
#[derive(Debug, Default)]
pub struct Stream {
    /// `message_start` was sent.
    started: bool,
    /// `message_stop` or an `error` was sent: nothing more goes out.
    ended: bool,
    /// The provider sent a `finish_reason`.
    finished: bool,
    id: String,
    /// The open block, if any: its index and kind.
    open: Option<(usize, Kind)>,
    next_index: usize,
    tools: Vec<ToolBlock>,
    stop_reason: Option<&'static str>,
    usage: Usage,
}

impl Stream {
    /// `translated` is what [`super::request`] returned for this exchange.
    pub fn new(translated: &Translated) -> Self {
        let _ = translated;
        Stream::default()
    }

    fn emit(out: &mut Vec<u8>, name: &str, data: &Value) {
        out.extend_from_slice(encode(Some(name), &data.to_string()).as_bytes());
    }

    fn start(&mut self, chunk: Option<&Map<String, Value>>, raw: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let field = |k: &str| chunk.and_then(|c| c.get(k)).and_then(Value::as_str);
        self.id = message_id(field("id"), raw.as_bytes());
        let message = json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": field("model").unwrap_or_default(),
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        });
        Self::emit(
            out,
            "message_start",
            &json!({"type": "message_start", "message": message}),
        );
        Self::emit(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((index, _)) = self.open.take() {
            Self::emit(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn open_block(&mut self, kind: Kind, block: Value, out: &mut Vec<u8>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        Self::emit(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        self.open = Some((index, kind));
        index
    }

    fn delta(out: &mut Vec<u8>, index: usize, delta: Value) {
        Self::emit(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    /// A thinking or text fragment: continues the open block of that kind or starts one.
    fn text_like(&mut self, kind: Kind, text: &str, out: &mut Vec<u8>) {
        let index = match self.open {
            Some((index, open)) if open == kind => index,
            _ => {
                let block = match kind {
                    Kind::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
                    _ => json!({"type": "text", "text": ""}),
                };
                self.open_block(kind, block, out)
            }
        };
        let delta = match kind {
            Kind::Thinking => json!({"type": "thinking_delta", "thinking": text}),
            _ => json!({"type": "text_delta", "text": text}),
        };
        Self::delta(out, index, delta);
    }

    fn tool_delta(&mut self, position: usize, call: &Value, out: &mut Vec<u8>) {
        let key = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position as u64);
        let id = nonempty(call.get("id")).map(tool_id);
        let function = call.get("function");
        let name = nonempty(function.and_then(|f| f.get("name")));
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(s)) => s.clone(),
            // A server that sends whole arguments as an object: forwarded as its JSON text.
            Some(Value::Object(o)) => Value::Object(o.clone()).to_string(),
            _ => String::new(),
        };
        let known = self
            .tools
            .iter()
            .find(|t| t.key == key && id.as_ref().is_none_or(|i| *i == t.id))
            .map(|t| t.index);
        let index = match known {
            Some(index) => index,
            None => {
                let id = id.unwrap_or_else(|| generated_tool_id(&self.id, self.tools.len()));
                let block = json!({
                    "type": "tool_use",
                    "id": id,
                    "name": name.unwrap_or_default(),
                    "input": {},
                });
                let index = self.open_block(Kind::Tool, block, out);
                self.tools.retain(|t| t.key != key);
                self.tools.push(ToolBlock { key, id, index });
                index
            }
        };
        if !arguments.is_empty() {
            Self::delta(
                out,
                index,
                json!({"type": "input_json_delta", "partial_json": arguments}),
            );
        }
    }

    fn on_delta(&mut self, delta: &Map<String, Value>, out: &mut Vec<u8>) {
        let text = |k: &str| {
            delta
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(thinking) = text("reasoning_content").or_else(|| text("reasoning")) {
            self.text_like(Kind::Thinking, thinking, out);
        }
        if let Some(content) = text("content") {
            self.text_like(Kind::Text, content, out);
        }
        if let Some(refusal) = text("refusal") {
            self.text_like(Kind::Text, refusal, out);
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, call) in calls.iter().enumerate() {
                self.tool_delta(position, call, out);
            }
        }
    }

    /// Closes the message: the open block, `message_delta` with the final numbers,
    /// `message_stop`.
    fn end(&mut self, out: &mut Vec<u8>) {
        self.start(None, "", out);
        self.close(out);
        let stop = self.stop_reason.unwrap_or(if self.tools.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        });
        Self::emit(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {
                    "input_tokens": self.usage.input,
                    "output_tokens": self.usage.output,
                    "cache_read_input_tokens": self.usage.cache_read,
                },
            }),
        );
        Self::emit(out, "message_stop", &json!({"type": "message_stop"}));
        self.ended = true;
    }

    /// An in-band error; nothing follows it.
    fn fail(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        Self::emit(
            out,
            "error",
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        );
        self.ended = true;
    }
}

impl StreamTranslator for Stream {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let data = event.data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.end(out);
            return;
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                let short: String = data.chars().take(200).collect();
                log::warn!("skipping an OpenAI stream event that is not JSON ({e}): {short}");
                return;
            }
        };
        let error = match chunk.get("error") {
            Some(e) if !e.is_null() => Some(e),
            _ if event.event.as_deref() == Some("error") => Some(&chunk),
            _ => None,
        };
        if let Some(error) = error {
            let message = message_of(error)
                .unwrap_or_else(|| "the provider reported an error mid-stream".to_string());
            log::warn!("OpenAI-format provider error mid-stream: {message}");
            self.fail(kind_for_error(error), &message, out);
            return;
        }
        let Some(chunk) = chunk.as_object() else {
            return;
        };
        self.start(Some(chunk), data, out);
        // Groq reports usage in `x_groq.usage`.
        let usage = chunk
            .get("usage")
            .or_else(|| chunk.get("x_groq").and_then(|x| x.get("usage")))
            .and_then(Value::as_object);
        if let Some(usage) = usage {
            self.usage = Usage::from_openai(usage);
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                self.on_delta(delta, out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop_reason = Some(stop_reason(reason));
                self.finished = true;
            }
        }
        let usage_chunk = usage.is_some() && choices.is_none_or(|c| c.is_empty());
        if self.finished && usage_chunk {
            self.end(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if self.finished {
            self.end(out);
        } else {
            self.fail(
                "api_error",
                "the provider's stream ended early (no finish_reason and no [DONE]): the response is incomplete",
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseFramer;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn chunk(choices: Value) -> String {
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-x", "choices": choices})
            .to_string()
    }

    fn delta(delta: Value) -> String {
        chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]))
    }

    fn finish(reason: &str) -> String {
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]))
    }

    fn usage(prompt: u64, completion: u64, cached: u64) -> String {
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "gpt-x", "choices": [],
               "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                         "prompt_tokens_details": {"cached_tokens": cached}}})
        .to_string()
    }

    /// Runs data payloads through a translator (`finish` at the end when `close`), returning
    /// (event name, data) pairs.
    fn run(datas: &[String], close: bool) -> Vec<(String, Value)> {
        let mut s = Stream::new(&Translated {
            body: Vec::new(),
            stream: true,
            include_usage: true,
        });
        let mut out = Vec::new();
        for d in datas {
            s.on_event(
                &SseEvent {
                    event: None,
                    data: d.clone(),
                },
                &mut out,
            );
        }
        if close {
            s.finish(&mut out);
        }
        let mut framer = SseFramer::new();
        let mut events = Vec::new();
        framer.push(&out, &mut events);
        framer.finish(&mut events);
        events
            .into_iter()
            .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
            .collect()
    }

    fn names(events: &[(String, Value)]) -> Vec<&str> {
        events.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn text_stream_is_a_full_anthropic_sequence() {
        let ev = run(
            &[
                delta(json!({"role": "assistant", "content": ""})),
                delta(json!({"content": "Hel"})),
                delta(json!({"content": "lo"})),
                finish("stop"),
                "[DONE]".to_string(),
            ],
            true,
        );
        assert_eq!(
            names(&ev),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(ev[0].1["message"]["id"], "msg_chatcmpl_9");
        assert_eq!(
            ev[0].1["message"]["usage"],
            json!({"input_tokens": 0, "output_tokens": 0})
        );
        assert_eq!(
            ev[3].1["delta"],
            json!({"type": "text_delta", "text": "Hel"})
        );
        assert_eq!(
            ev[6].1["delta"],
            json!({"stop_reason": "end_turn", "stop_sequence": null})
        );
    }

    #[test]
    fn message_delta_carries_final_usage_from_usage_chunk() {
        let ev = run(
            &[
                delta(json!({"content": "x"})),
                finish("length"),
                usage(100, 7, 60),
                "[DONE]".to_string(),
            ],
            true,
        );
        let n = names(&ev);
        assert_eq!(&n[n.len() - 2..], ["message_delta", "message_stop"]);
        let md = &ev[ev.len() - 2].1;
        assert_eq!(md["delta"]["stop_reason"], "max_tokens");
        assert_eq!(
            md["usage"],
            json!({"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 60})
        );
    }

    #[test]
    fn message_ends_when_usage_chunk_follows_finish_reason() {
        // No [DONE] and no finish(): the usage chunk after finish_reason already ends it.
        let ev = run(
            &[
                delta(json!({"content": "x"})),
                finish("stop"),
                usage(3, 1, 0),
            ],
            false,
        );
        assert_eq!(names(&ev).last(), Some(&"message_stop"));
    }

    #[test]
    fn parallel_tool_call_fragments_become_separate_input_json_deltas() {
        let ev = run(
            &[
                delta(json!({"role": "assistant", "content": null})),
                delta(
                    json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "w", "arguments": ""}}]}),
                ),
                delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]})),
                delta(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}),
                ),
                delta(
                    json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{\"city\":"}}]}),
                ),
                delta(
                    json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"Rome\"}"}}]}),
                ),
                finish("tool_calls"),
                "[DONE]".to_string(),
            ],
            true,
        );
        let starts: Vec<&Value> = ev
            .iter()
            .filter(|(n, _)| n == "content_block_start")
            .map(|(_, d)| d)
            .collect();
        assert_eq!(
            starts,
            [
                &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "call_a", "name": "w", "input": {}}}),
                &json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "call_b", "name": "w", "input": {}}}),
            ]
        );
        let joined = |index: u64| -> String {
            ev.iter()
                .filter(|(n, d)| n == "content_block_delta" && d["index"] == index)
                .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
                .collect()
        };
        assert_eq!(joined(0), "{\"city\":\"Paris\"}");
        assert_eq!(joined(1), "{\"city\":\"Rome\"}");
        // Fragments are forwarded as they came, not re-parsed.
        assert_eq!(ev[3].1["delta"]["partial_json"], "{\"ci");
        assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn late_fragment_for_a_closed_tool_block_goes_to_its_own_index() {
        let ev = run(
            &[
                delta(
                    json!({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "a", "arguments": "{\"x\":"}}]}),
                ),
                delta(
                    json!({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "b", "arguments": "{}"}}]}),
                ),
                delta(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]})),
                finish("tool_calls"),
                "[DONE]".to_string(),
            ],
            true,
        );
        let late = ev
            .iter()
            .rfind(|(n, _)| n == "content_block_delta")
            .unwrap();
        assert_eq!(late.1["index"], 0);
        assert_eq!(late.1["delta"]["partial_json"], "1}");
        // Block 0 was closed before block 1 started; only one block is open at a time.
        let order: Vec<(String, Value)> = ev
            .iter()
            .filter(|(n, _)| n.starts_with("content_block_st"))
            .map(|(n, d)| (n.clone(), d["index"].clone()))
            .collect();
        assert_eq!(
            order,
            [
                ("content_block_start".to_string(), json!(0)),
                ("content_block_stop".to_string(), json!(0)),
                ("content_block_start".to_string(), json!(1)),
                ("content_block_stop".to_string(), json!(1)),
            ]
        );
    }

    #[test]
    fn a_reused_tool_index_with_a_new_id_starts_a_new_block() {
        let ev = run(
            &[
                delta(
                    json!({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "a", "arguments": "{}"}}]}),
                ),
                delta(
                    json!({"tool_calls": [{"index": 0, "id": "call_b", "function": {"name": "b", "arguments": "{}"}}]}),
                ),
                finish("tool_calls"),
            ],
            true,
        );
        let ids: Vec<&Value> = ev
            .iter()
            .filter(|(n, _)| n == "content_block_start")
            .map(|(_, d)| &d["content_block"]["id"])
            .collect();
        assert_eq!(ids, [&json!("call_a"), &json!("call_b")]);
    }

    #[test]
    fn stream_tool_ids_are_sanitised() {
        let ev = run(
            &[
                delta(
                    json!({"tool_calls": [{"index": 0, "id": "functions.Bash:0", "function": {"name": "Bash", "arguments": "{}"}}]}),
                ),
                finish("tool_calls"),
            ],
            true,
        );
        assert_eq!(ev[2].1["content_block"]["id"], tool_id("functions.Bash:0"));
    }

    #[test]
    fn reasoning_then_text_are_two_blocks() {
        let ev = run(
            &[
                delta(json!({"reasoning_content": "Let me "})),
                delta(json!({"reasoning": "think"})),
                delta(json!({"content": "Done"})),
                finish("stop"),
                "[DONE]".to_string(),
            ],
            true,
        );
        assert_eq!(
            ev[2].1["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(
            ev[3].1["delta"],
            json!({"type": "thinking_delta", "thinking": "Let me "})
        );
        assert_eq!(
            ev[4].1["delta"],
            json!({"type": "thinking_delta", "thinking": "think"})
        );
        assert_eq!(names(&ev)[5], "content_block_stop");
        assert_eq!(ev[6].1["index"], 1);
        assert_eq!(ev[6].1["content_block"]["type"], "text");
    }

    #[test]
    fn mid_stream_error_chunk_becomes_error_event_and_ends_stream() {
        let error = json!({"error": {"message": "The server had an error", "type": "server_error", "param": null, "code": null}});
        let ev = run(
            &[
                delta(json!({"content": "Hel"})),
                error.to_string(),
                delta(json!({"content": "lo"})),
                "[DONE]".to_string(),
            ],
            true,
        );
        let (name, data) = ev.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(
            data,
            &json!({"type": "error", "error": {"type": "api_error", "message": "The server had an error"}})
        );
        assert_eq!(names(&ev).iter().filter(|n| **n == "error").count(), 1);
        assert!(!names(&ev).contains(&"message_stop"));
    }

    #[test]
    fn mid_stream_rate_limit_error_keeps_its_kind() {
        let error = json!({"error": {"message": "slow down", "code": 429}});
        let ev = run(&[error.to_string()], true);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].1["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn stream_cut_without_done_ends_with_error_event() {
        let ev = run(&[delta(json!({"content": "Hel"}))], true);
        let (name, data) = ev.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(data["error"]["type"], "api_error");
        assert!(data["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended early"));
        // An empty stream too.
        assert_eq!(names(&run(&[], true)), ["error"]);
    }

    #[test]
    fn finish_reason_without_done_still_completes() {
        let ev = run(&[delta(json!({"content": "x"})), finish("stop")], true);
        assert_eq!(names(&ev).last(), Some(&"message_stop"));
    }

    #[test]
    fn done_without_finish_reason_completes_with_end_turn() {
        let ev = run(&["[DONE]".to_string()], true);
        assert_eq!(
            names(&ev),
            ["message_start", "ping", "message_delta", "message_stop"]
        );
        assert_eq!(ev[2].1["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn non_json_events_and_other_choices_are_ignored() {
        let ev = run(
            &[
                "not json".to_string(),
                chunk(json!([{"index": 1, "delta": {"content": "other"}, "finish_reason": null}])),
                delta(json!({"content": "mine"})),
                finish("stop"),
                "[DONE]".to_string(),
            ],
            true,
        );
        let texts: Vec<&Value> = ev
            .iter()
            .filter(|(n, _)| n == "content_block_delta")
            .map(|(_, d)| &d["delta"]["text"])
            .collect();
        assert_eq!(texts, [&json!("mine")]);
    }
}
