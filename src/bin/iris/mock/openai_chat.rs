//! `POST /v1/chat/completions`: OpenAI Chat Completions, validated strictly, answered
//! deterministically, streamed as `chat.completion.chunk` SSE events ending with `[DONE]`.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::check;
use super::errors::{self, Api, ApiError};
use super::http::{Request, Response};
use super::reply::{self, Ask, Plan, ToolChoice, ToolSpec, Turn};

/// The documented top-level fields.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// The validated request, reduced to what the reply needs.
#[derive(Debug)]
struct Chat {
    model: String,
    stream: bool,
    include_usage: bool,
    n: u64,
    tools: Vec<ToolSpec>,
    choice: ToolChoice,
    parallel: bool,
    turn: Turn,
    input_words: u64,
    max_tokens: Option<u64>,
    /// Tool calls already in the conversation: numbers the new call ids.
    prior_calls: usize,
}

pub fn handle(request: &Request, key: &str) -> Response {
    match respond(request, key) {
        Ok(response) => response,
        Err(err) => err.into_response(Api::OpenAi),
    }
}

fn respond(request: &Request, key: &str) -> Result<Response, ApiError> {
    let body = errors::precheck(request, Api::OpenAi, key)?;
    let chat = validate(&body)?;
    if let Some(status) = reply::error_status(&chat.model) {
        return Err(errors::mock_error(Api::OpenAi, status, &chat.model));
    }
    let plan = reply::plan(&Ask {
        api: "OpenAI chat",
        turn: &chat.turn,
        tools: &chat.tools,
        choice: &chat.choice,
        parallel: chat.parallel,
        max_tokens: chat.max_tokens,
    });
    if chat.stream {
        Ok(Response::stream(
            "text/event-stream",
            stream_events(&chat, &plan),
        ))
    } else {
        Ok(Response::json(200, &completion(&chat, &plan)))
    }
}

fn validate(body: &Map<String, Value>) -> Result<Chat, ApiError> {
    check::unknown_fields(body, FIELDS)?;
    let model = match body.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(ApiError::invalid("you must provide a model parameter"))
        }
        Some(other) => return Err(check::wrong_type("model", "a string", other)),
    };
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(check::missing("messages")),
        Some(Value::Array(list)) if list.is_empty() => return Err(check::empty_array("messages")),
        Some(Value::Array(list)) => list,
        Some(other) => return Err(check::wrong_type("messages", "an array", other)),
    };

    let stream = check::boolean(body, "stream")?.unwrap_or(false);
    let include_usage = match check::object(body, "stream_options")? {
        Some(_) if !stream => {
            return Err(ApiError::invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            )
            .param("stream_options"))
        }
        Some(options) => check::boolean(options, "include_usage")?.unwrap_or(false),
        None => false,
    };
    check::number(body, "temperature", 0.0, 2.0)?;
    check::number(body, "top_p", 0.0, 1.0)?;
    check::number(body, "frequency_penalty", -2.0, 2.0)?;
    check::number(body, "presence_penalty", -2.0, 2.0)?;
    let n = check::integer(body, "n", 1, Some(128))?
        .unwrap_or(1)
        .unsigned_abs();
    let max_tokens = check::integer(body, "max_tokens", 1, None)?;
    let max_completion_tokens = check::integer(body, "max_completion_tokens", 1, None)?;
    check::boolean(body, "logprobs")?;
    check::integer(body, "top_logprobs", 0, Some(20))?;
    check::boolean(body, "store")?;
    check::object(body, "metadata")?;
    check::object(body, "response_format")?;
    let parallel = check::boolean(body, "parallel_tool_calls")?.unwrap_or(true);
    if let Some(stop) = check::present(body, "stop") {
        match stop {
            Value::String(_) => {}
            Value::Array(list) if list.len() <= 4 && list.iter().all(Value::is_string) => {}
            Value::Array(_) => {
                return Err(ApiError::invalid(
                    "Invalid 'stop': expected a string or an array of at most 4 strings.",
                )
                .param("stop"))
            }
            other => return Err(check::wrong_type("stop", "a string", other)),
        }
    }
    let tools = tools(body)?;
    let choice = tool_choice(body, &tools)?;
    let conversation = conversation(messages)?;

    Ok(Chat {
        model,
        stream,
        include_usage,
        n,
        tools,
        choice,
        parallel,
        turn: conversation.turn,
        input_words: conversation.words.max(1),
        max_tokens: max_completion_tokens.or(max_tokens).map(i64::unsigned_abs),
        prior_calls: conversation.prior_calls,
    })
}

fn tools(body: &Map<String, Value>) -> Result<Vec<ToolSpec>, ApiError> {
    let list = match check::present(body, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) if list.is_empty() => return Err(check::empty_array("tools")),
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
        match kind {
            "function" => {
                let function = match tool.get("function") {
                    Some(Value::Object(f)) => f,
                    None | Some(Value::Null) => {
                        return Err(check::missing(&format!("{param}.function")))
                    }
                    Some(other) => {
                        return Err(check::wrong_type(
                            &format!("{param}.function"),
                            "an object",
                            other,
                        ))
                    }
                };
                let name_param = format!("{param}.function.name");
                let name = check::required_string(function, "name", &name_param)?;
                if !check::valid_tool_name(name) {
                    return Err(check::bad_tool_name(&name_param));
                }
                let schema = match function.get("parameters") {
                    None | Some(Value::Null) => json!({}),
                    Some(Value::Object(s)) => Value::Object(s.clone()),
                    Some(other) => {
                        return Err(check::wrong_type(
                            &format!("{param}.function.parameters"),
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
            "custom" => {
                let custom = tool.get("custom").and_then(Value::as_object);
                let Some(custom) = custom else {
                    return Err(check::missing(&format!("{param}.custom")));
                };
                check::required_string(custom, "name", &format!("{param}.custom.name"))?;
            }
            other => {
                return Err(check::invalid_value(
                    &format!("{param}.type"),
                    other,
                    &["function", "custom"],
                ))
            }
        }
    }
    Ok(specs)
}

fn tool_choice(body: &Map<String, Value>, tools: &[ToolSpec]) -> Result<ToolChoice, ApiError> {
    let Some(choice) = check::present(body, "tool_choice") else {
        return Ok(ToolChoice::Auto);
    };
    if check::present(body, "tools").is_none() {
        return Err(ApiError::invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        )
        .param("tool_choice"));
    }
    match choice {
        Value::String(s) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            other => Err(check::invalid_value(
                "tool_choice",
                other,
                &["none", "auto", "required"],
            )),
        },
        Value::Object(obj) => {
            let kind = check::required_string(obj, "type", "tool_choice.type")?;
            match kind {
                "function" => {
                    let function = obj.get("function").and_then(Value::as_object);
                    let Some(function) = function else {
                        return Err(check::missing("tool_choice.function"));
                    };
                    let name =
                        check::required_string(function, "name", "tool_choice.function.name")?;
                    if !tools.iter().any(|t| t.name == name) {
                        return Err(ApiError::invalid(format!(
                            "Invalid 'tool_choice': function '{name}' not found in 'tools'."
                        ))
                        .param("tool_choice"));
                    }
                    Ok(ToolChoice::Named(name.to_string()))
                }
                "allowed_tools" => {
                    let mode = obj
                        .get("allowed_tools")
                        .and_then(|a| a.get("mode"))
                        .and_then(Value::as_str);
                    Ok(if mode == Some("required") {
                        ToolChoice::Required
                    } else {
                        ToolChoice::Auto
                    })
                }
                "custom" => Ok(ToolChoice::Auto),
                other => Err(check::invalid_value(
                    "tool_choice.type",
                    other,
                    &["function", "allowed_tools", "custom"],
                )),
            }
        }
        other => Err(check::wrong_type("tool_choice", "a string", other)),
    }
}

struct Conversation {
    turn: Turn,
    words: u64,
    prior_calls: usize,
}

/// An assistant message's tool calls still waiting for their `tool` messages.
struct Pending {
    index: usize,
    ids: Vec<String>,
    answered: BTreeSet<String>,
}

impl Pending {
    fn check_complete(&self) -> Result<(), ApiError> {
        let missing: Vec<&str> = self
            .ids
            .iter()
            .filter(|id| !self.answered.contains(*id))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding \
             to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            missing.join(", ")
        ))
        .param(format!("messages.[{}].role", self.index)))
    }
}

fn conversation(messages: &[Value]) -> Result<Conversation, ApiError> {
    let mut words = 0u64;
    let mut prior_calls = 0usize;
    let mut pending: Option<Pending> = None;
    let mut last_user = String::new();
    let mut trailing_results: Vec<String> = Vec::new();

    for (i, message) in messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        let Some(message) = message.as_object() else {
            return Err(check::wrong_type(&param, "an object", message));
        };
        let role = check::required_string(message, "role", &format!("{param}.role"))?;
        if !ROLES.contains(&role) {
            return Err(check::invalid_value(&format!("{param}.role"), role, ROLES));
        }
        let keys: &[&str] = match role {
            "assistant" => &[
                "role",
                "content",
                "name",
                "tool_calls",
                "function_call",
                "refusal",
                "audio",
                "annotations",
            ],
            "tool" => &["role", "content", "tool_call_id"],
            _ => &["role", "content", "name"],
        };
        additional_properties(message, keys, &format!("messages.{i}"))?;
        if role != "tool" {
            if let Some(done) = pending.take() {
                done.check_complete()?;
            }
            trailing_results.clear();
        }
        let content_param = format!("{param}.content");
        match role {
            "system" | "developer" | "user" => {
                let allowed: &[&str] = if role == "user" {
                    &["text", "image_url", "input_audio", "file"]
                } else {
                    &["text"]
                };
                let Some(content) = check::present(message, "content") else {
                    return Err(check::missing(&content_param));
                };
                let text = content_text(content, &content_param, allowed)?;
                words += reply::words(&text);
                if role == "user" {
                    last_user = text;
                }
            }
            "assistant" => {
                let content = check::present(message, "content");
                if let Some(content) = content {
                    words += reply::words(&content_text(
                        content,
                        &content_param,
                        &["text", "refusal"],
                    )?);
                }
                let calls = tool_call_ids(message, &param)?;
                let has_legacy = check::present(message, "function_call").is_some()
                    || check::present(message, "audio").is_some();
                if content.is_none() && calls.is_none() && !has_legacy {
                    return Err(check::missing(&content_param));
                }
                if let Some(ids) = calls {
                    prior_calls += ids.len();
                    pending = Some(Pending {
                        index: i,
                        ids,
                        answered: BTreeSet::new(),
                    });
                }
            }
            "tool" => {
                let id = check::required_string(
                    message,
                    "tool_call_id",
                    &format!("{param}.tool_call_id"),
                )?;
                let Some(content) = check::present(message, "content") else {
                    return Err(check::missing(&content_param));
                };
                let text = content_text(content, &content_param, &["text"])?;
                match pending.as_mut() {
                    Some(p) if p.ids.iter().any(|known| known == id) => {
                        p.answered.insert(id.to_string());
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            "Invalid parameter: messages with role 'tool' must be a response to a \
                             preceeding message with 'tool_calls'.",
                        )
                        .param(format!("messages.[{i}].role")))
                    }
                }
                words += reply::words(&text);
                trailing_results.push(text);
            }
            _ => {
                // "function" (deprecated): a name and a string content.
                check::required_string(message, "name", &format!("{param}.name"))?;
                if let Some(content) = check::present(message, "content") {
                    words += reply::words(&content_text(content, &content_param, &["text"])?);
                }
            }
        }
    }
    if let Some(done) = pending {
        done.check_complete()?;
    }
    let turn = if trailing_results.is_empty() {
        Turn::User(last_user)
    } else {
        Turn::ToolResult(trailing_results.join(" "))
    };
    Ok(Conversation {
        turn,
        words,
        prior_calls,
    })
}

/// Rejects keys outside `allowed`, worded like the real API's schema validation.
fn additional_properties(
    object: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
) -> Result<(), ApiError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ApiError::invalid(format!(
            "Additional properties are not allowed ('{key}' was unexpected) - '{at}'"
        ))),
        None => Ok(()),
    }
}

/// The ids of an assistant message's `tool_calls`, validated.
fn tool_call_ids(
    message: &Map<String, Value>,
    param: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    let list = match check::present(message, "tool_calls") {
        None => return Ok(None),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(check::empty_array(&format!("{param}.tool_calls")))
        }
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(check::wrong_type(
                &format!("{param}.tool_calls"),
                "an array",
                other,
            ))
        }
    };
    let mut ids = Vec::new();
    for (j, call) in list.iter().enumerate() {
        let call_param = format!("{param}.tool_calls[{j}]");
        let Some(call) = call.as_object() else {
            return Err(check::wrong_type(&call_param, "an object", call));
        };
        let id = check::required_string(call, "id", &format!("{call_param}.id"))?;
        let kind = check::required_string(call, "type", &format!("{call_param}.type"))?;
        match kind {
            "function" => {
                let function = call.get("function").and_then(Value::as_object);
                let Some(function) = function else {
                    return Err(check::missing(&format!("{call_param}.function")));
                };
                check::required_string(function, "name", &format!("{call_param}.function.name"))?;
                check::required_string(
                    function,
                    "arguments",
                    &format!("{call_param}.function.arguments"),
                )?;
            }
            "custom" => {
                let custom = call.get("custom").and_then(Value::as_object);
                let Some(custom) = custom else {
                    return Err(check::missing(&format!("{call_param}.custom")));
                };
                check::required_string(custom, "name", &format!("{call_param}.custom.name"))?;
            }
            other => {
                return Err(check::invalid_value(
                    &format!("{call_param}.type"),
                    other,
                    &["function", "custom"],
                ))
            }
        }
        ids.push(id.to_string());
    }
    Ok(Some(ids))
}

/// The text of a message content (a string, or parts whose text is joined with a space),
/// checking the parts' types against `allowed`.
fn content_text(content: &Value, param: &str, allowed: &[&str]) -> Result<String, ApiError> {
    let parts = match content {
        Value::String(s) => return Ok(s.clone()),
        Value::Array(parts) if parts.is_empty() => return Err(check::empty_array(param)),
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
        additional_properties(
            part,
            &["type", kind],
            &format!("{}.{j}", param.replace('[', ".").replace(']', "")),
        )?;
        match kind {
            "text" => texts.push(check::required_string(
                part,
                "text",
                &format!("{part_param}.text"),
            )?),
            "refusal" => {
                check::required_string(part, "refusal", &format!("{part_param}.refusal"))?;
            }
            "image_url" => {
                let image = part.get("image_url").and_then(Value::as_object);
                let Some(image) = image else {
                    return Err(check::missing(&format!("{part_param}.image_url")));
                };
                check::required_string(image, "url", &format!("{part_param}.image_url.url"))?;
            }
            "input_audio" => {
                let audio = part.get("input_audio").and_then(Value::as_object);
                let Some(audio) = audio else {
                    return Err(check::missing(&format!("{part_param}.input_audio")));
                };
                check::required_string(audio, "data", &format!("{part_param}.input_audio.data"))?;
                let format_param = format!("{part_param}.input_audio.format");
                let format = check::required_string(audio, "format", &format_param)?;
                if !matches!(format, "wav" | "mp3") {
                    return Err(check::invalid_value(&format_param, format, &["wav", "mp3"]));
                }
            }
            _ => {
                // "file": a file_id or inline file_data.
                let file = part.get("file").and_then(Value::as_object);
                let Some(file) = file else {
                    return Err(check::missing(&format!("{part_param}.file")));
                };
                if !file.contains_key("file_id") && !file.contains_key("file_data") {
                    return Err(check::missing(&format!("{part_param}.file.file_id")));
                }
            }
        }
    }
    Ok(texts.join(" "))
}

fn usage(chat: &Chat, plan: &Plan) -> Value {
    let cached = if reply::is_cache_model(&chat.model) {
        reply::CACHE_READ_TOKENS
    } else {
        0
    };
    let prompt = chat.input_words + cached;
    let completion = plan.output_tokens * chat.n;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

fn finish_reason(plan: &Plan) -> &'static str {
    if !plan.calls.is_empty() {
        "tool_calls"
    } else if plan.truncated {
        "length"
    } else {
        "stop"
    }
}

fn call_id(chat: &Chat, k: usize) -> String {
    format!("call_mock_{}", chat.prior_calls + k + 1)
}

fn completion(chat: &Chat, plan: &Plan) -> Value {
    let message = if plan.calls.is_empty() {
        json!({"role": "assistant", "content": plan.text, "refusal": null, "annotations": []})
    } else {
        let calls: Vec<Value> = plan
            .calls
            .iter()
            .enumerate()
            .map(|(k, call)| {
                json!({
                    "id": call_id(chat, k),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.args_json}
                })
            })
            .collect();
        json!({"role": "assistant", "content": null, "tool_calls": calls, "refusal": null, "annotations": []})
    };
    let choices: Vec<Value> = (0..chat.n)
        .map(|index| {
            json!({
                "index": index,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(plan)
            })
        })
        .collect();
    json!({
        "id": format!("chatcmpl-mock{}", reply::unique()),
        "object": "chat.completion",
        "created": reply::now(),
        "model": chat.model,
        "choices": choices,
        "usage": usage(chat, plan),
        "service_tier": "default",
        "system_fingerprint": "fp_mock"
    })
}

/// The SSE events of a streamed completion, each a `data: {...}\n\n`, ending with `[DONE]`.
fn stream_events(chat: &Chat, plan: &Plan) -> Vec<Vec<u8>> {
    let id = format!("chatcmpl-mock{}", reply::unique());
    let created = reply::now();
    let chunk = |index: u64, delta: Value, finish: Option<&str>| -> Vec<u8> {
        let mut value = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}]
        });
        if chat.include_usage {
            if let Some(object) = value.as_object_mut() {
                object.insert("usage".to_string(), Value::Null);
            }
        }
        reply::sse_data(&value)
    };
    let failing = chat.model == reply::STREAM_ERROR_MODEL;
    let mut events = Vec::new();
    for index in 0..chat.n {
        events.push(chunk(
            index,
            json!({"role": "assistant", "content": ""}),
            None,
        ));
        for (w, piece) in reply::split_words(&plan.text).into_iter().enumerate() {
            if failing && w == 2 {
                events.push(reply::sse_data(&json!({"error": {
                    "message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error",
                    "param": null,
                    "code": null
                }})));
                return events;
            }
            events.push(chunk(index, json!({"content": piece}), None));
        }
        for (k, call) in plan.calls.iter().enumerate() {
            events.push(chunk(
                index,
                json!({"tool_calls": [{
                    "index": k,
                    "id": call_id(chat, k),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""}
                }]}),
                None,
            ));
            for fragment in reply::split_fragments(&call.args_json) {
                events.push(chunk(
                    index,
                    json!({"tool_calls": [{"index": k, "function": {"arguments": fragment}}]}),
                    None,
                ));
            }
        }
        events.push(chunk(index, json!({}), Some(finish_reason(plan))));
    }
    if chat.include_usage {
        events.push(reply::sse_data(&json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": usage(chat, plan)
        })));
    }
    events.push(b"data: [DONE]\n\n".to_vec());
    events
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mock::http::Body;

    fn post(body: Value) -> Response {
        let request = Request {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
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

    fn events_of(response: &Response) -> Vec<String> {
        match &response.body {
            Body::Stream(chunks) => chunks
                .iter()
                .map(|c| String::from_utf8(c.clone()).unwrap())
                .collect(),
            Body::Full(_) => panic!("expected a stream"),
        }
    }

    fn data(event: &str) -> Value {
        serde_json::from_str(event.strip_prefix("data: ").unwrap().trim_end()).unwrap()
    }

    fn weather_tool() -> Value {
        json!([{"type":"function","function":{"name":"get_weather","parameters":{
            "type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}])
    }

    #[test]
    fn completes_with_text_and_usage() {
        let r = post(json!({"model":"gpt-4o","messages":[
            {"role":"system","content":"Be brief."},
            {"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"there"}]}]}));
        assert_eq!(r.status, 200);
        let v = json_of(&r);
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "gpt-4o");
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-mock"));
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Hello from the mock OpenAI chat! You said: Hi there"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["prompt_tokens"], 4);
        assert_eq!(v["usage"]["completion_tokens"], 10);
        assert_eq!(v["usage"]["total_tokens"], 14);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    }

    #[test]
    fn cache_model_reports_cached_tokens() {
        let v = json_of(&post(
            json!({"model":"mock-cache","messages":[{"role":"user","content":"a b"}]}),
        ));
        assert_eq!(v["usage"]["prompt_tokens"], 102);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"foo":1}), "Unrecognized request argument supplied: foo"),
            (json!({"messages":[{"role":"user","content":"x"}]}), "you must provide a model parameter"),
            (json!({"model":"m","messages":[]}), "empty array"),
            (json!({"model":"m","messages":[{"role":"bot","content":"x"}]}), "Invalid value: 'bot'"),
            (json!({"model":"m","messages":[{"role":"user"}]}), "Missing required parameter: 'messages[0].content'."),
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":2.5}), "decimal above maximum value"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"top_p":-1}), "decimal below minimum value"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":0}), "integer below minimum value"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}), "only allowed when 'stream' is enabled"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}), "only allowed when 'tools' are specified"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_1","content":"r"}]}), "must be a response to a preceeding message with 'tool_calls'"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"},
                {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"call_2","content":"r"}]}), "must be a response to a preceeding message"),
            (json!({"model":"m","messages":[{"role":"user","content":"x"},
                {"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"user","content":"y"}]}), "did not have response messages: call_1"),
            (json!({"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"u"}}]}]}), "Invalid value: 'image_url'"),
            (json!({"model":"m","messages":[{"role":"assistant"}]}), "Missing required parameter: 'messages[0].content'."),
            (json!({"model":"m","messages":[{"role":"user","content":"x","cache_control":{}}]}), "Additional properties are not allowed ('cache_control' was unexpected) - 'messages.0'"),
            (json!({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}), "('cache_control' was unexpected) - 'messages.0.content.0'"),
        ];
        for (body, expected) in cases {
            let r = post(body.clone());
            assert_eq!(r.status, 400, "{body}");
            let v = json_of(&r);
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(expected), "{body}: {message}");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
    }

    #[test]
    fn calls_a_tool_and_answers_the_result() {
        let v = json_of(&post(json!({"model":"m","tools":weather_tool(),
            "messages":[{"role":"user","content":"What is the weather in Paris?"}]})));
        let message = &v["choices"][0]["message"];
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(message["content"], Value::Null);
        assert_eq!(message["tool_calls"][0]["id"], "call_mock_1");
        assert_eq!(message["tool_calls"][0]["function"]["name"], "get_weather");
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            r#"{"location":"Paris"}"#
        );

        let v = json_of(&post(
            json!({"model":"m","tools":weather_tool(),"messages":[
            {"role":"user","content":"What is the weather in Paris?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_mock_1","type":"function",
                "function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_mock_1","content":"sunny"}]}),
        ));
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Hello from the mock OpenAI chat! You said: tool result: sunny"
        );
        assert_eq!(v["usage"]["prompt_tokens"], 7);
    }

    #[test]
    fn streams_text_with_usage() {
        let r = post(
            json!({"model":"m","stream":true,"stream_options":{"include_usage":true},
            "messages":[{"role":"user","content":"hi"}]}),
        );
        assert_eq!(r.content_type, "text/event-stream");
        let events = events_of(&r);
        assert_eq!(events.last().unwrap(), "data: [DONE]\n\n");
        let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| data(e)).collect();
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role":"assistant","content":""})
        );
        assert_eq!(chunks[0]["usage"], Value::Null);
        assert!(chunks[0].as_object().unwrap().contains_key("usage"));
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, "Hello from the mock OpenAI chat! You said: hi");
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[1]["choices"][0]["finish_reason"], Value::Null);
        let usage = &chunks[chunks.len() - 1];
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["completion_tokens"], 9);
        assert!(chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "m"));
    }

    #[test]
    fn streams_tool_calls_in_fragments() {
        let r = post(
            json!({"model":"m","stream":true,"tools":weather_tool(),"tool_choice":"required",
            "messages":[{"role":"user","content":"hi"}]}),
        );
        let events = events_of(&r);
        let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| data(e)).collect();
        assert!(!chunks[0].as_object().unwrap().contains_key("usage"));
        let first = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(first["id"], "call_mock_1");
        assert_eq!(first["function"]["arguments"], "");
        let fragments: Vec<&str> = chunks[2..chunks.len() - 1]
            .iter()
            .map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(fragments.len() >= 2);
        assert_eq!(fragments.concat(), r#"{"location":"Paris"}"#);
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    #[test]
    fn stream_error_model_fails_mid_stream() {
        let r = post(
            json!({"model":"mock-stream-error","stream":true,"messages":[{"role":"user","content":"hi"}]}),
        );
        let events = events_of(&r);
        assert_eq!(events.len(), 4);
        assert_eq!(data(&events[3])["error"]["type"], "server_error");
        assert!(!events.iter().any(|e| e.contains("[DONE]")));
    }

    #[test]
    fn error_models() {
        let r = post(json!({"model":"mock-error-429","messages":[{"role":"user","content":"x"}]}));
        assert_eq!(r.status, 429);
        assert_eq!(json_of(&r)["error"]["code"], "rate_limit_exceeded");
    }
}
