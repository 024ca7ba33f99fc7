//! `POST /v1/responses`: the OpenAI Responses API, validated strictly, answered
//! deterministically, streamed as typed `response.*` SSE events with sequence numbers.

use serde_json::{json, Map, Value};

use super::check;
use super::errors::{self, Api, ApiError};
use super::http::{Request, Response};
use super::reply::{self, Ask, Plan, ToolChoice, ToolSpec, Turn};

/// The documented top-level fields.
const FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
    "include",
    "background",
    "conversation",
    "max_tool_calls",
    "prompt",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "top_logprobs",
];

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

/// Input item types accepted without a closer look.
const OTHER_ITEMS: &[&str] = &[
    "reasoning",
    "item_reference",
    "custom_tool_call",
    "custom_tool_call_output",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
];

/// The validated request, reduced to what the reply needs.
#[derive(Debug)]
struct Responses<'a> {
    body: &'a Map<String, Value>,
    model: String,
    stream: bool,
    tools: Vec<ToolSpec>,
    choice: ToolChoice,
    parallel: bool,
    turn: Turn,
    input_words: u64,
    max_tokens: Option<u64>,
    /// Function calls already in the input: numbers the new call ids.
    prior_calls: usize,
}

pub fn handle(request: &Request, key: &str) -> Response {
    respond(request, key).unwrap_or_else(|err| err.into_response(Api::OpenAi))
}

fn respond(request: &Request, key: &str) -> Result<Response, ApiError> {
    let body = errors::precheck(request, Api::OpenAi, key)?;
    let req = validate(&body)?;
    if let Some(status) = reply::error_status(&req.model) {
        return Err(errors::mock_error(Api::OpenAi, status, &req.model));
    }
    let plan = reply::plan(&Ask {
        api: "OpenAI responses",
        turn: &req.turn,
        tools: &req.tools,
        choice: &req.choice,
        parallel: req.parallel,
        max_tokens: req.max_tokens,
    });
    let ids = Ids::new();
    if req.stream {
        Ok(Response::stream(
            "text/event-stream",
            stream_events(&req, &plan, &ids),
        ))
    } else {
        Ok(Response::json(200, &response(&req, &plan, &ids, true)))
    }
}

fn validate(body: &Map<String, Value>) -> Result<Responses<'_>, ApiError> {
    check::unknown_fields(body, FIELDS)?;
    let model = match body.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => return Err(check::missing("model")),
        Some(other) => return Err(check::wrong_type("model", "a string", other)),
    };
    let stream = check::boolean(body, "stream")?.unwrap_or(false);
    check::number(body, "temperature", 0.0, 2.0)?;
    check::number(body, "top_p", 0.0, 1.0)?;
    let max_tokens = check::integer(body, "max_output_tokens", 16, None)?.map(i64::unsigned_abs);
    check::integer(body, "top_logprobs", 0, Some(20))?;
    check::integer(body, "max_tool_calls", 1, None)?;
    check::boolean(body, "store")?;
    check::boolean(body, "background")?;
    check::object(body, "metadata")?;
    check::object(body, "reasoning")?;
    check::object(body, "text")?;
    check::object(body, "stream_options")?;
    let parallel = check::boolean(body, "parallel_tool_calls")?.unwrap_or(true);
    let instructions_words = match check::present(body, "instructions") {
        None => 0,
        Some(Value::String(s)) => reply::words(s),
        Some(other) => return Err(check::wrong_type("instructions", "a string", other)),
    };
    let continues = ["previous_response_id", "conversation", "prompt"]
        .iter()
        .any(|k| check::present(body, k).is_some());
    let input = match check::present(body, "input") {
        None if continues => Input {
            turn: Turn::User(String::new()),
            words: 0,
            prior_calls: 0,
        },
        None => return Err(check::missing("input")),
        Some(Value::String(s)) => Input {
            turn: Turn::User(s.clone()),
            words: reply::words(s),
            prior_calls: 0,
        },
        Some(Value::Array(items)) => input_items(items, continues)?,
        Some(other) => return Err(check::wrong_type("input", "a string", other)),
    };
    let tools = tools(body)?;
    let choice = tool_choice(body)?;
    Ok(Responses {
        body,
        model,
        stream,
        tools,
        choice,
        parallel,
        turn: input.turn,
        input_words: (instructions_words + input.words).max(1),
        max_tokens,
        prior_calls: input.prior_calls,
    })
}

fn tools(body: &Map<String, Value>) -> Result<Vec<ToolSpec>, ApiError> {
    let list = match check::present(body, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(check::wrong_type("tools", "an array", other)),
    };
    let mut specs = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let param = format!("tools[{i}]");
        let Some(tool) = tool.as_object() else {
            return Err(check::wrong_type(&param, "an object", tool));
        };
        let kind = check::required_string(tool, "type", &format!("{param}.type"))?;
        if kind == "function" {
            let name_param = format!("{param}.name");
            let name = check::required_string(tool, "name", &name_param)?;
            if !check::valid_tool_name(name) {
                return Err(check::bad_tool_name(&name_param));
            }
            let schema = match tool.get("parameters") {
                None | Some(Value::Null) => json!({}),
                Some(Value::Object(s)) => Value::Object(s.clone()),
                Some(other) => {
                    return Err(check::wrong_type(
                        &format!("{param}.parameters"),
                        "an object",
                        other,
                    ))
                }
            };
            specs.push(ToolSpec {
                name: name.to_string(),
                schema,
            });
        }
    }
    Ok(specs)
}

fn tool_choice(body: &Map<String, Value>) -> Result<ToolChoice, ApiError> {
    match check::present(body, "tool_choice") {
        None => Ok(ToolChoice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            other => Err(check::invalid_value(
                "tool_choice",
                other,
                &["none", "auto", "required"],
            )),
        },
        Some(Value::Object(obj)) => {
            let kind = check::required_string(obj, "type", "tool_choice.type")?;
            match kind {
                "function" => Ok(ToolChoice::Named(
                    check::required_string(obj, "name", "tool_choice.name")?.to_string(),
                )),
                "allowed_tools" => Ok(
                    if obj.get("mode").and_then(Value::as_str) == Some("required") {
                        ToolChoice::Required
                    } else {
                        ToolChoice::Auto
                    },
                ),
                _ => Ok(ToolChoice::Auto),
            }
        }
        Some(other) => Err(check::wrong_type("tool_choice", "a string", other)),
    }
}

struct Input {
    turn: Turn,
    words: u64,
    prior_calls: usize,
}

fn input_items(items: &[Value], continues: bool) -> Result<Input, ApiError> {
    let mut words = 0u64;
    let mut call_ids: Vec<String> = Vec::new();
    let mut last_user = String::new();
    let mut trailing_outputs: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let param = format!("input[{i}]");
        let Some(item) = item.as_object() else {
            return Err(check::wrong_type(&param, "an object", item));
        };
        let kind = match item.get("type") {
            None | Some(Value::Null) => "message",
            Some(Value::String(kind)) => kind.as_str(),
            Some(other) => {
                return Err(check::wrong_type(
                    &format!("{param}.type"),
                    "a string",
                    other,
                ))
            }
        };
        if kind != "function_call_output" {
            trailing_outputs.clear();
        }
        match kind {
            "message" => {
                let role = check::required_string(item, "role", &format!("{param}.role"))?;
                if !ROLES.contains(&role) {
                    return Err(check::invalid_value(&format!("{param}.role"), role, ROLES));
                }
                let content_param = format!("{param}.content");
                let Some(content) = check::present(item, "content") else {
                    return Err(check::missing(&content_param));
                };
                let allowed: &[&str] = if role == "assistant" {
                    &["output_text", "refusal"]
                } else {
                    &["input_text", "input_image", "input_file", "input_audio"]
                };
                let text = content_text(content, &content_param, allowed)?;
                words += reply::words(&text);
                if role == "user" {
                    last_user = text;
                }
            }
            "function_call" => {
                let call_id = check::required_string(item, "call_id", &format!("{param}.call_id"))?;
                check::required_string(item, "name", &format!("{param}.name"))?;
                check::required_string(item, "arguments", &format!("{param}.arguments"))?;
                call_ids.push(call_id.to_string());
            }
            "function_call_output" => {
                let call_id = check::required_string(item, "call_id", &format!("{param}.call_id"))?;
                if !continues && !call_ids.iter().any(|known| known == call_id) {
                    return Err(ApiError::invalid(format!(
                        "No tool call found for function call output with call_id {call_id}."
                    ))
                    .param("input"));
                }
                let output_param = format!("{param}.output");
                let text = match item.get("output") {
                    None | Some(Value::Null) => return Err(check::missing(&output_param)),
                    Some(output) => content_text(
                        output,
                        &output_param,
                        &["input_text", "input_image", "input_file"],
                    )?,
                };
                words += reply::words(&text);
                trailing_outputs.push(text);
            }
            other if OTHER_ITEMS.contains(&other) => {}
            other => {
                let mut supported = vec!["message", "function_call", "function_call_output"];
                supported.extend_from_slice(OTHER_ITEMS);
                return Err(check::invalid_value(
                    &format!("{param}.type"),
                    other,
                    &supported,
                ));
            }
        }
    }
    let turn = if trailing_outputs.is_empty() {
        Turn::User(last_user)
    } else {
        Turn::ToolResult(trailing_outputs.join(" "))
    };
    Ok(Input {
        turn,
        words,
        prior_calls: call_ids.len(),
    })
}

/// The text of a content (a string, or parts whose text is joined with a space).
fn content_text(content: &Value, param: &str, allowed: &[&str]) -> Result<String, ApiError> {
    let parts = match content {
        Value::String(s) => return Ok(s.clone()),
        Value::Array(parts) => parts,
        other => return Err(check::wrong_type(param, "a string", other)),
    };
    let mut texts = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let part_param = format!("{param}[{j}]");
        let Some(part) = part.as_object() else {
            return Err(check::wrong_type(&part_param, "an object", part));
        };
        let kind = check::required_string(part, "type", &format!("{part_param}.type"))?;
        if !allowed.contains(&kind) {
            return Err(check::invalid_value(
                &format!("{part_param}.type"),
                kind,
                allowed,
            ));
        }
        match kind {
            "input_text" | "output_text" => {
                texts.push(check::required_string(
                    part,
                    "text",
                    &format!("{part_param}.text"),
                )?);
            }
            "refusal" => {
                check::required_string(part, "refusal", &format!("{part_param}.refusal"))?;
            }
            "input_image" if !part.contains_key("image_url") && !part.contains_key("file_id") => {
                return Err(check::missing(&format!("{part_param}.image_url")));
            }
            _ => {}
        }
    }
    Ok(texts.join(" "))
}

/// The ids of one response.
struct Ids {
    response: String,
    message: String,
}

impl Ids {
    fn new() -> Self {
        let n = reply::unique();
        Ids {
            response: format!("resp_mock{n}"),
            message: format!("msg_mock{n}"),
        }
    }
}

fn call_id(req: &Responses<'_>, k: usize) -> String {
    format!("call_mock_{}", req.prior_calls + k + 1)
}

fn function_item_id(req: &Responses<'_>, k: usize) -> String {
    format!("fc_mock_{}", req.prior_calls + k + 1)
}

fn usage(req: &Responses<'_>, plan: &Plan) -> Value {
    let cached = if reply::is_cache_model(&req.model) {
        reply::CACHE_READ_TOKENS
    } else {
        0
    };
    let input = req.input_words + cached;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": plan.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + plan.output_tokens
    })
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

fn message_item(ids: &Ids, status: &str, content: Vec<Value>) -> Value {
    json!({"id": ids.message, "type": "message", "status": status, "content": content, "role": "assistant"})
}

fn function_item(
    req: &Responses<'_>,
    plan: &Plan,
    k: usize,
    status: &str,
    arguments: &str,
) -> Value {
    let name = plan
        .calls
        .get(k)
        .map(|c| c.name.as_str())
        .unwrap_or_default();
    json!({
        "id": function_item_id(req, k),
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id(req, k),
        "name": name
    })
}

fn output(req: &Responses<'_>, plan: &Plan, ids: &Ids) -> Vec<Value> {
    if plan.calls.is_empty() {
        vec![message_item(ids, "completed", vec![text_part(&plan.text)])]
    } else {
        plan.calls
            .iter()
            .enumerate()
            .map(|(k, call)| function_item(req, plan, k, "completed", &call.args_json))
            .collect()
    }
}

/// The response object; `done` false gives the `in_progress` form of `response.created`.
fn response(req: &Responses<'_>, plan: &Plan, ids: &Ids, done: bool) -> Value {
    let echo =
        |key: &str, default: Value| check::present(req.body, key).cloned().unwrap_or(default);
    let (status, incomplete) = match (done, plan.truncated) {
        (false, _) => ("in_progress", Value::Null),
        (true, true) => ("incomplete", json!({"reason": "max_output_tokens"})),
        (true, false) => ("completed", Value::Null),
    };
    json!({
        "id": ids.response,
        "object": "response",
        "created_at": reply::now(),
        "status": status,
        "background": echo("background", Value::Bool(false)),
        "error": null,
        "incomplete_details": incomplete,
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "max_tool_calls": echo("max_tool_calls", Value::Null),
        "model": req.model,
        "output": if done { output(req, plan, ids) } else { Vec::new() },
        "parallel_tool_calls": req.parallel,
        "previous_response_id": echo("previous_response_id", Value::Null),
        "reasoning": echo("reasoning", json!({"effort": null, "summary": null})),
        "service_tier": "default",
        "store": echo("store", Value::Bool(true)),
        "temperature": echo("temperature", json!(1.0)),
        "text": echo("text", json!({"format": {"type": "text"}, "verbosity": "medium"})),
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_logprobs": echo("top_logprobs", json!(0)),
        "top_p": echo("top_p", json!(1.0)),
        "truncation": echo("truncation", json!("disabled")),
        "usage": if done { usage(req, plan) } else { Value::Null },
        "user": echo("user", Value::Null),
        "metadata": echo("metadata", json!({}))
    })
}

/// Collects `event: <type>\ndata: {..., "type", "sequence_number"}` events.
struct Events {
    events: Vec<Vec<u8>>,
}

impl Events {
    fn push(&mut self, kind: &str, mut data: Value) {
        if let Some(object) = data.as_object_mut() {
            object.insert("type".to_string(), Value::String(kind.to_string()));
            object.insert(
                "sequence_number".to_string(),
                Value::from(self.events.len()),
            );
        }
        self.events.push(reply::sse_event(kind, &data));
    }
}

fn stream_events(req: &Responses<'_>, plan: &Plan, ids: &Ids) -> Vec<Vec<u8>> {
    let mut out = Events { events: Vec::new() };
    let pending = response(req, plan, ids, false);
    out.push("response.created", json!({"response": pending}));
    out.push("response.in_progress", json!({"response": pending}));
    if plan.calls.is_empty() {
        let item_id = &ids.message;
        out.push(
            "response.output_item.added",
            json!({"output_index": 0, "item": message_item(ids, "in_progress", Vec::new())}),
        );
        out.push(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": text_part("")}),
        );
        for (w, piece) in reply::split_words(&plan.text).into_iter().enumerate() {
            if w == 2 && req.model == reply::STREAM_ERROR_MODEL {
                out.push(
                    "error",
                    json!({
                        "code": "server_error",
                        "message": "The server had an error while processing your request. Sorry about that!",
                        "param": null
                    }),
                );
                return out.events;
            }
            out.push(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}),
            );
        }
        out.push(
            "response.output_text.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": plan.text, "logprobs": []}),
        );
        out.push(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": text_part(&plan.text)}),
        );
        out.push(
            "response.output_item.done",
            json!({"output_index": 0, "item": message_item(ids, "completed", vec![text_part(&plan.text)])}),
        );
    }
    for (k, call) in plan.calls.iter().enumerate() {
        let item_id = function_item_id(req, k);
        out.push(
            "response.output_item.added",
            json!({"output_index": k, "item": function_item(req, plan, k, "in_progress", "")}),
        );
        for fragment in reply::split_fragments(&call.args_json) {
            out.push(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": k, "delta": fragment}),
            );
        }
        out.push(
            "response.function_call_arguments.done",
            json!({"item_id": item_id, "output_index": k, "name": call.name, "arguments": call.args_json}),
        );
        out.push(
            "response.output_item.done",
            json!({"output_index": k, "item": function_item(req, plan, k, "completed", &call.args_json)}),
        );
    }
    let last = if plan.truncated {
        "response.incomplete"
    } else {
        "response.completed"
    };
    out.push(last, json!({"response": response(req, plan, ids, true)}));
    out.events
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mock::http::Body;

    fn post(body: Value) -> Response {
        let request = Request {
            method: "POST".into(),
            path: "/v1/responses".into(),
            headers: vec![
                ("authorization".into(), "Bearer k".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
            ..Request::default()
        };
        handle(&request, "k")
    }

    fn json_of(response: &Response) -> Value {
        match &response.body {
            Body::Full(bytes) => serde_json::from_slice(bytes).unwrap(),
            Body::Stream(_) => panic!("expected a full body"),
        }
    }

    fn events_of(response: &Response) -> Vec<(String, Value)> {
        let Body::Stream(chunks) = &response.body else {
            panic!("expected a stream")
        };
        chunks
            .iter()
            .map(|chunk| {
                let text = String::from_utf8(chunk.clone()).unwrap();
                let (event, data) = text.trim_end().split_once('\n').unwrap();
                (
                    event.strip_prefix("event: ").unwrap().to_string(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn answers_a_string_input() {
        let v = json_of(&post(
            json!({"model":"gpt-4.1","instructions":"Be terse.","input":"Hi there"}),
        ));
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert!(v["id"].as_str().unwrap().starts_with("resp_mock"));
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
        assert_eq!(
            v["output"][0]["content"][0]["text"],
            "Hello from the mock OpenAI responses! You said: Hi there"
        );
        assert_eq!(v["usage"]["input_tokens"], 4);
        assert_eq!(v["usage"]["output_tokens"], 10);
        assert_eq!(v["usage"]["total_tokens"], 14);
        assert_eq!(v["instructions"], "Be terse.");
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!({"input":"x"}), "Missing required parameter: 'model'."),
            (json!({"model":"m"}), "Missing required parameter: 'input'."),
            (json!({"model":"m","input":5}), "Invalid type for 'input'"),
            (
                json!({"model":"m","input":"x","messages":[]}),
                "Unrecognized request argument supplied: messages",
            ),
            (
                json!({"model":"m","input":"x","max_output_tokens":5}),
                "Expected a value >= 16",
            ),
            (
                json!({"model":"m","input":[{"type":"function_call_output","call_id":"call_1","output":"r"}]}),
                "No tool call found for function call output with call_id call_1.",
            ),
            (
                json!({"model":"m","input":[{"role":"robot","content":"x"}]}),
                "Invalid value: 'robot'",
            ),
        ];
        for (body, expected) in cases {
            let r = post(body.clone());
            assert_eq!(r.status, 400, "{body}");
            let message = json_of(&r)["error"]["message"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(message.contains(expected), "{body}: {message}");
        }
    }

    #[test]
    fn function_calls_and_outputs() {
        let tools = json!([{"type":"function","name":"get_weather","parameters":{"type":"object",
            "properties":{"location":{"type":"string"}},"required":["location"]}}]);
        let v = json_of(&post(
            json!({"model":"m","tools":tools,"input":"weather in Paris?"}),
        ));
        assert_eq!(v["output"][0]["type"], "function_call");
        assert_eq!(v["output"][0]["call_id"], "call_mock_1");
        assert_eq!(v["output"][0]["arguments"], r#"{"location":"Paris"}"#);
        let v = json_of(&post(json!({"model":"m","tools":tools,"input":[
            {"role":"user","content":[{"type":"input_text","text":"weather in Paris?"}]},
            {"type":"function_call","call_id":"call_mock_1","name":"get_weather","arguments":"{}"},
            {"type":"function_call_output","call_id":"call_mock_1","output":"rainy"}]})));
        assert_eq!(
            v["output"][0]["content"][0]["text"],
            "Hello from the mock OpenAI responses! You said: tool result: rainy"
        );
    }

    #[test]
    fn streams_the_real_event_sequence() {
        let r = post(json!({"model":"m","stream":true,"input":"hi"}));
        let events = events_of(&r);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let deltas = names
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count();
        assert_eq!(deltas, 9);
        let mut expected = vec![
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
        ];
        expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
        expected.extend([
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]);
        assert_eq!(names, expected);
        for (i, (name, data)) in events.iter().enumerate() {
            assert_eq!(data["type"], name.as_str());
            assert_eq!(data["sequence_number"], i);
        }
        assert_eq!(events[0].1["response"]["status"], "in_progress");
        let done = &events.last().unwrap().1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["usage"]["output_tokens"], 9);
        let text: String = events
            .iter()
            .filter_map(|(_, d)| d["delta"].as_str())
            .collect();
        assert_eq!(text, "Hello from the mock OpenAI responses! You said: hi");
    }

    #[test]
    fn stream_error_model() {
        let events = events_of(&post(
            json!({"model":"mock-stream-error","stream":true,"input":"hi"}),
        ));
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(data["code"], "server_error");
        assert_eq!(
            events
                .iter()
                .filter(|(n, _)| n == "response.output_text.delta")
                .count(),
            2
        );
    }
}
