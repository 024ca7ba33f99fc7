//! Request: an Anthropic Messages body -> an OpenAI Chat Completions body.
//!
//! Mapping rules, and what is dropped or refused on purpose:
//! - `system` (a string or text blocks) becomes one leading `system` message whose content is
//!   a string (blocks joined with a blank line): every OpenAI-compatible server takes a string,
//!   not all take content parts in system messages.
//! - Message content made only of text becomes a string (blocks joined with a blank line), for
//!   the same reason; user content with images or documents becomes content parts. Empty text
//!   blocks are skipped, and a message left with nothing is left out.
//! - `image` blocks become `image_url` parts (base64 sources as `data:<media_type>;base64,...`
//!   URLs, URL sources as they are); `document` blocks with a base64 PDF become `file` parts
//!   with a `file_data` data URL. Other document sources and Files API (`file`) sources are
//!   refused: an OpenAI-compatible provider cannot fetch them.
//! - Assistant `tool_use` blocks become `tool_calls` (`arguments` = the JSON text of `input`);
//!   an assistant turn that only calls tools gets `content: null`, never an empty string.
//! - User `tool_result` blocks become `role: "tool"` messages, placed before the rest of that
//!   user turn, because OpenAI wants tool messages right after the assistant's `tool_calls`.
//!   Their text blocks are joined with a blank line; `is_error: true` prefixes the content with
//!   `Error: ` (OpenAI has no error flag). Images and documents in a tool result have no place
//!   in an OpenAI tool message: they move to a user message that follows the turn's tool
//!   messages, starting with the text `(image from tool result <id>)` (`file` when the result
//!   also holds documents), and the tool message says where they went.
//! - Tool-call ids go through [`super::tool_id`] on the way out and on the way back.
//! - `thinking` and `redacted_thinking` blocks in the history are dropped: Chat Completions has
//!   no field that takes them back (their signatures only mean something to Anthropic).
//! - `cache_control` is dropped wherever it appears: OpenAI has no equivalent and caches long
//!   prompt prefixes automatically.
//! - `max_tokens` is sent as `max_tokens` (vLLM, llama.cpp, Ollama and Groq all take it),
//!   except for OpenAI's reasoning models (`o1`, `o3`, `o4-mini`, `gpt-5` and their snapshots),
//!   which refuse `max_tokens` and get `max_completion_tokens` instead.
//! - `top_k` is dropped: OpenAI has no `top_k` (vLLM takes it as an extension, most servers
//!   refuse unknown fields). `stop_sequences` -> `stop`, `metadata.user_id` -> `user`.
//! - `thinking` becomes `reasoning_effort`: `enabled` with `budget_tokens` up to 2048 -> `low`,
//!   up to 8192 -> `medium`, more -> `high`; `adaptive` -> `medium`; `disabled` -> nothing.
//!   `output_config.effort` (`low`/`medium`/`high`; `xhigh` and `max` -> `high`) takes
//!   precedence unless thinking is disabled. `output_config.format` (and the beta
//!   `output_format`) with a JSON schema becomes `response_format` of type `json_schema`
//!   (not strict: Anthropic schemas need not meet OpenAI's strict-mode rules);
//!   `output_config.task_budget` is advisory and dropped.
//! - `tools`: custom tools (no `type`, or `type: "custom"`) become functions; Anthropic server
//!   tools (`web_search_*`, `bash_*`, `text_editor_*`, `computer_*`, ...) are refused naming the
//!   tool, since an OpenAI-compatible provider cannot run them. `tool_choice`: `auto` -> `auto`,
//!   `any` -> `required`, `tool` -> the named function, `none` -> `none`;
//!   `disable_parallel_tool_use: true` -> `parallel_tool_calls: false`. Both are sent only with
//!   tools (OpenAI refuses `tool_choice` without `tools`).
//! - `stream: true` also sends `stream_options.include_usage`, or the provider reports no usage.
//! - `service_tier` (except `auto`, dropped), `container`, `mcp_servers`,
//!   `context_management` and `inference_geo` cannot be honoured and are refused; any other
//!   unknown top-level field is refused in Anthropic's words (`<name>: Extra inputs are not
//!   permitted`).
//! - Consecutive messages of the same role stay separate messages (OpenAI accepts them). A final
//!   assistant message is sent as history: Chat Completions has no prefill.

use serde_json::{json, Map, Value};

use super::tool_id;
use crate::error::GatewayError;
use crate::translate::{Options, Translated};

/// Top-level fields of a Messages request.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_k",
    "top_p",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
    "inference_geo",
    "cache_control",
    "output_config",
    "output_format",
];

/// A 400 naming the offending field, worded like Anthropic's validation errors.
fn invalid(param: &str, message: impl std::fmt::Display) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!("{param}: {message}"),
        param: Some(param.to_string()),
    }
}

/// The value of `key` unless it is absent or null.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn object<'a>(v: &'a Value, param: &str) -> Result<&'a Map<String, Value>, GatewayError> {
    v.as_object()
        .ok_or_else(|| invalid(param, "Input should be a valid dictionary"))
}

fn string<'a>(v: &'a Value, param: &str) -> Result<&'a str, GatewayError> {
    v.as_str()
        .ok_or_else(|| invalid(param, "Input should be a valid string"))
}

fn array<'a>(v: &'a Value, param: &str) -> Result<&'a [Value], GatewayError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| invalid(param, "Input should be a valid list"))
}

fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<&'a Value, GatewayError> {
    present(obj, key).ok_or_else(|| invalid(&format!("{param}.{key}"), "Field required"))
}

fn required_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<&'a str, GatewayError> {
    string(required(obj, key, param)?, &format!("{param}.{key}"))
}

/// OpenAI's reasoning models, which accept only `max_completion_tokens`.
fn is_openai_reasoning_model(model: &str) -> bool {
    let bare = model.rsplit('/').next().unwrap_or(model);
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| {
        bare == *p
            || bare
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(['-', '.']))
    })
}

/// Translates the client's request body for the provider; `upstream_model` replaces `model`.
/// Requests the provider's API cannot honour get a [`GatewayError::InvalidRequest`].
pub fn request(
    body: &[u8],
    upstream_model: &str,
    _opts: &Options,
) -> Result<Translated, GatewayError> {
    let req = crate::body::json_object(body)?;
    if let Some(key) = req.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(key, "Extra inputs are not permitted"));
    }
    refuse_unsupported(&req)?;

    let mut out = Map::new();
    out.insert("model".into(), Value::String(upstream_model.to_string()));

    let mut messages = Vec::new();
    if let Some(system) = present(&req, "system") {
        let text = system_text(system)?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    let list = match present(&req, "messages") {
        Some(v) => array(v, "messages")?,
        None => return Err(invalid("messages", "Field required")),
    };
    if list.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    for (i, message) in list.iter().enumerate() {
        convert_message(message, i, &mut messages)?;
    }
    out.insert("messages".into(), Value::Array(messages));

    let max_tokens = match present(&req, "max_tokens") {
        None => return Err(invalid("max_tokens", "Field required")),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => n,
            Some(_) => {
                return Err(invalid(
                    "max_tokens",
                    "Input should be greater than or equal to 1",
                ))
            }
            None => return Err(invalid("max_tokens", "Input should be a valid integer")),
        },
    };
    let field = if is_openai_reasoning_model(upstream_model) {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    out.insert(field.into(), json!(max_tokens));

    let stream = match present(&req, "stream") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| invalid("stream", "Input should be a valid boolean"))?,
    };
    if stream {
        out.insert("stream".into(), Value::Bool(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }

    for key in ["temperature", "top_p"] {
        if let Some(v) = present(&req, key) {
            if !v.is_number() {
                return Err(invalid(key, "Input should be a valid number"));
            }
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = present(&req, "top_k") {
        if !v.is_number() {
            return Err(invalid("top_k", "Input should be a valid integer"));
        }
    }
    if let Some(v) = present(&req, "stop_sequences") {
        let list = array(v, "stop_sequences")?;
        for (i, s) in list.iter().enumerate() {
            string(s, &format!("stop_sequences.{i}"))?;
        }
        if !list.is_empty() {
            out.insert("stop".into(), Value::Array(list.to_vec()));
        }
    }
    if let Some(v) = present(&req, "metadata") {
        let metadata = object(v, "metadata")?;
        if let Some(user) = present(metadata, "user_id") {
            out.insert(
                "user".into(),
                Value::String(string(user, "metadata.user_id")?.to_string()),
            );
        }
    }

    let tools = match present(&req, "tools") {
        Some(v) => convert_tools(v)?,
        None => Vec::new(),
    };
    let tool_choice = match present(&req, "tool_choice") {
        Some(v) => Some(convert_tool_choice(v)?),
        None => None,
    };
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some((choice, parallel)) = tool_choice {
            out.insert("tool_choice".into(), choice);
            if !parallel {
                out.insert("parallel_tool_calls".into(), Value::Bool(false));
            }
        }
    }

    let (output_effort, format) = match present(&req, "output_config") {
        Some(v) => output_config(v)?,
        None => (None, None),
    };
    let format = match present(&req, "output_format") {
        Some(v) => Some(response_format(v, "output_format")?),
        None => format,
    };
    if let Some(format) = format {
        out.insert("response_format".into(), format);
    }
    let effort = match present(&req, "thinking") {
        Some(v) => thinking_effort(v)?,
        None => Some(None),
    };
    // `None`: thinking is disabled; `Some(e)`: the effort thinking asks for, if any.
    if let Some(from_thinking) = effort {
        if let Some(effort) = output_effort.or(from_thinking) {
            out.insert("reasoning_effort".into(), Value::String(effort.into()));
        }
    }

    let body = serde_json::to_vec(&Value::Object(out)).map_err(|_| GatewayError::Internal)?;
    Ok(Translated {
        body,
        stream,
        include_usage: stream,
    })
}

/// Refuses the fields an OpenAI-compatible provider cannot honour.
fn refuse_unsupported(req: &Map<String, Value>) -> Result<(), GatewayError> {
    if let Some(tier) = present(req, "service_tier") {
        if tier.as_str() != Some("auto") {
            return Err(invalid(
                "service_tier",
                "only \"auto\" can be honoured when the model is served by an OpenAI-compatible provider",
            ));
        }
    }
    for key in ["container", "context_management", "inference_geo"] {
        if present(req, key).is_some() {
            return Err(invalid(
                key,
                "this Anthropic feature cannot be honoured when the model is served by an OpenAI-compatible provider",
            ));
        }
    }
    if let Some(servers) = present(req, "mcp_servers") {
        if !matches!(servers.as_array(), Some(list) if list.is_empty()) {
            return Err(invalid(
                "mcp_servers",
                "MCP servers run by Anthropic's API are not available when the model is served by an OpenAI-compatible provider",
            ));
        }
    }
    Ok(())
}

/// The text of `system`: a string, or text blocks joined with a blank line.
fn system_text(system: &Value) -> Result<String, GatewayError> {
    match system {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut texts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                let param = format!("system.{i}");
                let block = object(block, &param)?;
                let kind = required_str(block, "type", &param)?;
                if kind != "text" {
                    return Err(invalid(
                        &format!("{param}.type"),
                        format!("system blocks must be of type \"text\", not {kind:?}"),
                    ));
                }
                let text = required_str(block, "text", &param)?;
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(invalid("system", "Input should be a valid string or list")),
    }
}

/// The content blocks of a message: a string is one text block.
fn blocks_of(content: &Value, param: &str) -> Result<Vec<Value>, GatewayError> {
    match content {
        Value::String(s) => Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(blocks) => Ok(blocks.clone()),
        _ => Err(invalid(param, "Input should be a valid string or list")),
    }
}

/// Message content from parts: a string when all parts are text, else the parts.
fn content_of(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        Value::String(texts.join("\n\n"))
    } else {
        Value::Array(parts)
    }
}

fn convert_message(message: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    let param = format!("messages.{i}");
    let message = object(message, &param)?;
    let role = required_str(message, "role", &param)?;
    let content_param = format!("{param}.content");
    let blocks = blocks_of(required(message, "content", &param)?, &content_param)?;
    match role {
        "user" => convert_user(&blocks, &content_param, out),
        "assistant" => convert_assistant(&blocks, &content_param, out),
        _ => Err(invalid(
            &format!("{param}.role"),
            "Input should be 'user' or 'assistant'",
        )),
    }
}

/// A block's `type`.
fn block_type<'a>(block: &'a Map<String, Value>, param: &str) -> Result<&'a str, GatewayError> {
    required_str(block, "type", param)
}

fn unsupported_block(param: &str, kind: &str) -> GatewayError {
    invalid(
        &format!("{param}.type"),
        format!("content blocks of type {kind:?} cannot be sent to an OpenAI-compatible provider"),
    )
}

fn convert_user(blocks: &[Value], param: &str, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    let mut tool_messages = Vec::new();
    let mut moved = Vec::new();
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let bp = format!("{param}.{j}");
        let block = object(block, &bp)?;
        match block_type(block, &bp)? {
            "text" => {
                let text = required_str(block, "text", &bp)?;
                if !text.is_empty() {
                    parts.push(json!({"type": "text", "text": text}));
                }
            }
            "image" => parts.push(image_part(block, &bp)?),
            "document" => parts.push(document_part(block, &bp)?),
            "tool_result" => {
                let (tool, attachments) = tool_result(block, &bp)?;
                tool_messages.push(tool);
                moved.extend(attachments);
            }
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&bp, other)),
        }
    }
    out.extend(tool_messages);
    out.extend(moved);
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": content_of(parts)}));
    }
    Ok(())
}

fn convert_assistant(
    blocks: &[Value],
    param: &str,
    out: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let bp = format!("{param}.{j}");
        let block = object(block, &bp)?;
        match block_type(block, &bp)? {
            "text" => {
                let text = required_str(block, "text", &bp)?;
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            "tool_use" => {
                let id = required_str(block, "id", &bp)?;
                let name = required_str(block, "name", &bp)?;
                let input = match present(block, "input") {
                    None => "{}".to_string(),
                    Some(v) => {
                        object(v, &format!("{bp}.input"))?;
                        v.to_string()
                    }
                };
                calls.push(json!({
                    "id": tool_id(id),
                    "type": "function",
                    "function": {"name": name, "arguments": input},
                }));
            }
            // Dropped on purpose: Chat Completions cannot take them back.
            "thinking" | "redacted_thinking" => {}
            other => return Err(unsupported_block(&bp, other)),
        }
    }
    if texts.is_empty() && calls.is_empty() {
        return Ok(());
    }
    let mut message = Map::new();
    message.insert("role".into(), Value::String("assistant".into()));
    message.insert(
        "content".into(),
        if texts.is_empty() {
            Value::Null
        } else {
            Value::String(texts.join("\n\n"))
        },
    );
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    out.push(Value::Object(message));
    Ok(())
}

/// A `tool_result` block -> a `tool` message, plus the user message its images and documents
/// move to (if any).
fn tool_result(
    block: &Map<String, Value>,
    param: &str,
) -> Result<(Value, Option<Value>), GatewayError> {
    let id = tool_id(required_str(block, "tool_use_id", param)?);
    let mut texts = Vec::new();
    let mut attachments = Vec::new();
    let mut documents = false;
    match present(block, "content") {
        Some(Value::String(s)) if !s.is_empty() => texts.push(s.as_str()),
        None | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => {
            for (k, inner) in blocks.iter().enumerate() {
                let ip = format!("{param}.content.{k}");
                let inner = object(inner, &ip)?;
                match block_type(inner, &ip)? {
                    "text" => {
                        let text = required_str(inner, "text", &ip)?;
                        if !text.is_empty() {
                            texts.push(text);
                        }
                    }
                    "image" => attachments.push(image_part(inner, &ip)?),
                    "document" => {
                        documents = true;
                        attachments.push(document_part(inner, &ip)?);
                    }
                    other => return Err(unsupported_block(&ip, other)),
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                &format!("{param}.content"),
                "Input should be a valid string or list",
            ))
        }
    }
    let what = if documents { "file" } else { "image" };
    let mut text = texts.join("\n\n");
    if text.is_empty() && !attachments.is_empty() {
        text = format!("(the result is the {what} in the next user message)");
    }
    let is_error = present(block, "is_error").and_then(Value::as_bool) == Some(true);
    if is_error {
        text = if text.is_empty() {
            "Error".to_string()
        } else {
            format!("Error: {text}")
        };
    }
    let tool = json!({"role": "tool", "tool_call_id": id, "content": text});
    let moved = if attachments.is_empty() {
        None
    } else {
        let mut parts =
            vec![json!({"type": "text", "text": format!("({what} from tool result {id})")})];
        parts.extend(attachments);
        Some(json!({"role": "user", "content": parts}))
    };
    Ok((tool, moved))
}

fn image_part(block: &Map<String, Value>, param: &str) -> Result<Value, GatewayError> {
    let sp = format!("{param}.source");
    let source = object(required(block, "source", param)?, &sp)?;
    let url = match required_str(source, "type", &sp)? {
        "base64" => {
            let media_type = required_str(source, "media_type", &sp)?;
            let data = required_str(source, "data", &sp)?;
            format!("data:{media_type};base64,{data}")
        }
        "url" => required_str(source, "url", &sp)?.to_string(),
        other => {
            return Err(invalid(
                &format!("{sp}.type"),
                format!("image sources of type {other:?} cannot be sent to an OpenAI-compatible provider; send the image as base64 or a URL"),
            ))
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

fn document_part(block: &Map<String, Value>, param: &str) -> Result<Value, GatewayError> {
    let sp = format!("{param}.source");
    let source = object(required(block, "source", param)?, &sp)?;
    let kind = required_str(source, "type", &sp)?;
    let media_type = present(source, "media_type").and_then(Value::as_str);
    if kind != "base64" || media_type != Some("application/pdf") {
        return Err(invalid(
            &sp,
            "only base64 PDF documents can be sent to an OpenAI-compatible provider",
        ));
    }
    let data = required_str(source, "data", &sp)?;
    let filename = match present(block, "title").and_then(Value::as_str) {
        Some(title) if !title.is_empty() => title.to_string(),
        _ => "document.pdf".to_string(),
    };
    Ok(json!({
        "type": "file",
        "file": {"filename": filename, "file_data": format!("data:application/pdf;base64,{data}")},
    }))
}

fn convert_tools(v: &Value) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::new();
    for (i, tool) in array(v, "tools")?.iter().enumerate() {
        let param = format!("tools.{i}");
        let tool = object(tool, &param)?;
        let name = required_str(tool, "name", &param)?;
        if let Some(kind) = present(tool, "type") {
            let kind = string(kind, &format!("{param}.type"))?;
            if kind != "custom" {
                return Err(invalid(
                    &format!("{param}.type"),
                    format!(
                        "tool {name:?} is an Anthropic server tool ({kind}), which an OpenAI-compatible provider cannot run; only custom tools with an input_schema are supported"
                    ),
                ));
            }
        }
        let schema = required(tool, "input_schema", &param)?;
        object(schema, &format!("{param}.input_schema"))?;
        let mut function = Map::new();
        function.insert("name".into(), Value::String(name.to_string()));
        if let Some(d) = present(tool, "description") {
            function.insert(
                "description".into(),
                Value::String(string(d, &format!("{param}.description"))?.to_string()),
            );
        }
        function.insert("parameters".into(), schema.clone());
        if let Some(strict) = present(tool, "strict").and_then(Value::as_bool) {
            function.insert("strict".into(), Value::Bool(strict));
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// `tool_choice` -> (OpenAI `tool_choice`, whether parallel tool calls stay allowed).
fn convert_tool_choice(v: &Value) -> Result<(Value, bool), GatewayError> {
    let choice = object(v, "tool_choice")?;
    let parallel =
        present(choice, "disable_parallel_tool_use").and_then(Value::as_bool) != Some(true);
    let value = match required_str(choice, "type", "tool_choice")? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = required_str(choice, "name", "tool_choice")?;
            json!({"type": "function", "function": {"name": name}})
        }
        other => {
            return Err(invalid(
                "tool_choice.type",
                format!("Input tag {other:?} does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"),
            ))
        }
    };
    Ok((value, parallel))
}

/// `thinking` -> `None` when disabled, else the reasoning effort it asks for.
fn thinking_effort(v: &Value) -> Result<Option<Option<&'static str>>, GatewayError> {
    let thinking = object(v, "thinking")?;
    match required_str(thinking, "type", "thinking")? {
        "disabled" => Ok(None),
        "adaptive" => Ok(Some(Some("medium"))),
        "enabled" => {
            let budget = required(thinking, "budget_tokens", "thinking")?
                .as_u64()
                .ok_or_else(|| invalid("thinking.budget_tokens", "Input should be a valid integer"))?;
            Ok(Some(Some(match budget {
                0..=2048 => "low",
                2049..=8192 => "medium",
                _ => "high",
            })))
        }
        other => Err(invalid(
            "thinking.type",
            format!("Input tag {other:?} does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"),
        )),
    }
}

/// `output_config` -> (reasoning effort, `response_format`).
fn output_config(v: &Value) -> Result<(Option<&'static str>, Option<Value>), GatewayError> {
    let config = object(v, "output_config")?;
    if let Some(key) = config
        .keys()
        .find(|k| !matches!(k.as_str(), "effort" | "format" | "task_budget"))
    {
        return Err(invalid(
            &format!("output_config.{key}"),
            "Extra inputs are not permitted",
        ));
    }
    let effort = match present(config, "effort") {
        None => None,
        Some(e) => Some(match string(e, "output_config.effort")? {
            "low" => "low",
            "medium" => "medium",
            "high" | "xhigh" | "max" => "high",
            other => {
                return Err(invalid(
                    "output_config.effort",
                    format!(
                        "Input should be 'low', 'medium', 'high', 'xhigh' or 'max', not {other:?}"
                    ),
                ))
            }
        }),
    };
    let format = match present(config, "format") {
        None => None,
        Some(f) => Some(response_format(f, "output_config.format")?),
    };
    Ok((effort, format))
}

/// A structured-output format (`{"type": "json_schema", "schema": {...}}`) -> OpenAI's
/// `response_format`.
fn response_format(v: &Value, param: &str) -> Result<Value, GatewayError> {
    let format = object(v, param)?;
    let kind = required_str(format, "type", param)?;
    if kind != "json_schema" {
        return Err(invalid(
            &format!("{param}.type"),
            format!("Input tag {kind:?} does not match the expected tag: 'json_schema'"),
        ));
    }
    let schema = required(format, "schema", param)?;
    object(schema, &format!("{param}.schema"))?;
    Ok(json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn translate(body: Value) -> Result<Value, GatewayError> {
        let t = request(body.to_string().as_bytes(), "up-model", &Options::default())?;
        Ok(serde_json::from_slice(&t.body).unwrap())
    }

    fn ok(body: Value) -> Value {
        translate(body).unwrap()
    }

    fn err(body: Value) -> (String, Option<String>) {
        match translate(body) {
            Err(GatewayError::InvalidRequest { message, param }) => (message, param),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    fn base(messages: Value) -> Value {
        json!({"model": "claude-x", "max_tokens": 100, "messages": messages})
    }

    fn with(mut body: Value, key: &str, value: Value) -> Value {
        body[key] = value;
        body
    }

    fn user(text: &str) -> Value {
        json!([{"role": "user", "content": text}])
    }

    #[test]
    fn model_is_replaced_and_max_tokens_kept_as_max_tokens() {
        let out = ok(base(user("hi")));
        assert_eq!(out["model"], "up-model");
        assert_eq!(out["max_tokens"], 100);
        assert!(out.get("max_completion_tokens").is_none());
        assert_eq!(out["messages"], json!([{"role": "user", "content": "hi"}]));
    }

    #[test]
    fn unknown_top_level_fields_are_refused_in_anthropic_words() {
        let (message, param) = err(with(base(user("hi")), "frequency_penalty", json!(1)));
        assert_eq!(message, "frequency_penalty: Extra inputs are not permitted");
        assert_eq!(param.as_deref(), Some("frequency_penalty"));
    }

    #[test]
    fn features_that_cannot_be_honoured_are_refused() {
        for (key, value) in [
            ("service_tier", json!("standard_only")),
            ("container", json!("c_1")),
            (
                "mcp_servers",
                json!([{"type": "url", "url": "https://x", "name": "x"}]),
            ),
            ("context_management", json!({"edits": []})),
            ("inference_geo", json!("us")),
        ] {
            let (_, param) = err(with(base(user("hi")), key, value));
            assert_eq!(param.as_deref(), Some(key));
        }
        let out = ok(with(base(user("hi")), "service_tier", json!("auto")));
        assert!(out.get("service_tier").is_none());
        ok(with(base(user("hi")), "mcp_servers", json!([])));
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens() {
        for model in [
            "gpt-5",
            "gpt-5-mini",
            "openai/o3",
            "o4-mini",
            "o1-2024-12-17",
        ] {
            let body = json!({"model": "x", "max_tokens": 7, "messages": [{"role": "user", "content": "hi"}]});
            let t = request(body.to_string().as_bytes(), model, &Options::default()).unwrap();
            let out: Value = serde_json::from_slice(&t.body).unwrap();
            assert_eq!(out["max_completion_tokens"], 7, "{model}");
            assert!(out.get("max_tokens").is_none(), "{model}");
        }
        assert!(!is_openai_reasoning_model("gpt-4.1"));
        assert!(!is_openai_reasoning_model("o1x"));
    }

    #[test]
    fn missing_max_tokens_or_messages_is_refused() {
        let mut body = base(user("hi"));
        body.as_object_mut().unwrap().remove("max_tokens");
        assert_eq!(err(body).1.as_deref(), Some("max_tokens"));
        assert_eq!(err(base(json!([]))).1.as_deref(), Some("messages"));
        assert_eq!(
            err(json!({"model": "m", "max_tokens": 1})).1.as_deref(),
            Some("messages")
        );
    }

    #[test]
    fn system_blocks_join_into_one_leading_string_message() {
        let body = with(
            base(user("hi")),
            "system",
            json!([{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": ""}, {"type": "text", "text": "B"}]),
        );
        let out = ok(body);
        assert_eq!(
            out["messages"][0],
            json!({"role": "system", "content": "A\n\nB"})
        );
        assert_eq!(out["messages"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn empty_text_blocks_are_skipped() {
        let out = ok(base(json!([
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": ""}]},
            {"role": "user", "content": [{"type": "text", "text": ""}]},
            {"role": "user", "content": "again"}
        ])));
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}])
        );
    }

    #[test]
    fn assistant_turn_with_only_tool_use_has_null_content() {
        let out = ok(base(json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": ""}, {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}
        ])));
        let assistant = &out["messages"][1];
        assert_eq!(assistant["content"], Value::Null);
        assert_eq!(
            assistant["tool_calls"],
            json!([{"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(
            out["messages"][2],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"})
        );
    }

    #[test]
    fn tool_results_come_before_the_rest_of_the_user_turn() {
        let out = ok(base(json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "a", "name": "t", "input": {}},
                {"type": "tool_use", "id": "b", "name": "t", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "text", "text": "before"},
                {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
                {"type": "tool_result", "tool_use_id": "b", "content": "three", "is_error": true},
                {"type": "text", "text": "after"}
            ]}
        ])));
        let roles: Vec<&str> = out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "tool", "tool", "user"]);
        assert_eq!(out["messages"][2]["content"], "one\n\ntwo");
        assert_eq!(out["messages"][3]["content"], "Error: three");
        assert_eq!(out["messages"][4]["content"], "before\n\nafter");
    }

    #[test]
    fn tool_result_errors_are_prefixed_with_error() {
        let out = ok(base(json!([
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "t", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "is_error": true}]}
        ])));
        assert_eq!(out["messages"][1]["content"], "Error");
    }

    #[test]
    fn tool_result_images_move_to_a_following_user_message() {
        let out = ok(base(json!([
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "a", "name": "shot", "input": {}},
                {"type": "tool_use", "id": "b", "name": "shot", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "a", "content": [
                    {"type": "text", "text": "screenshot taken"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
                ]},
                {"type": "tool_result", "tool_use_id": "b", "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
                ]},
                {"type": "text", "text": "what now?"}
            ]}
        ])));
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 6);
        assert_eq!(
            m[1],
            json!({"role": "tool", "tool_call_id": "a", "content": "screenshot taken"})
        );
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "b", "content": "(the result is the image in the next user message)"})
        );
        assert_eq!(
            m[3],
            json!({"role": "user", "content": [
                {"type": "text", "text": "(image from tool result a)"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]})
        );
        assert_eq!(m[4]["content"][0]["text"], "(image from tool result b)");
        assert_eq!(m[4]["content"][1]["image_url"]["url"], "https://x/y.png");
        assert_eq!(m[5], json!({"role": "user", "content": "what now?"}));
    }

    #[test]
    fn tool_ids_are_sanitised_the_same_way_in_tool_calls_and_tool_messages() {
        let out = ok(base(json!([
            {"role": "assistant", "content": [{"type": "tool_use", "id": "functions.Bash:0", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "functions.Bash:0", "content": "ok"}]}
        ])));
        let call_id = out["messages"][0]["tool_calls"][0]["id"].as_str().unwrap();
        assert_eq!(call_id, tool_id("functions.Bash:0"));
        assert_eq!(out["messages"][1]["tool_call_id"], call_id);
    }

    #[test]
    fn thinking_blocks_in_history_are_dropped() {
        let out = ok(base(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "answer"}
            ]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": "s"}]}
        ])));
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": "q"}, {"role": "assistant", "content": "answer"}])
        );
    }

    #[test]
    fn cache_control_is_dropped_everywhere() {
        let out = ok(json!({
            "model": "m", "max_tokens": 5, "cache_control": {"type": "ephemeral"},
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]
        }));
        assert!(!out.to_string().contains("cache_control"));
    }

    #[test]
    fn images_become_image_url_parts() {
        let out = ok(base(json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "Zm9v"}},
            {"type": "image", "source": {"type": "url", "url": "https://e.com/a.png"}},
            {"type": "text", "text": "what?"}
        ]}])));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,Zm9v"}},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}},
                {"type": "text", "text": "what?"}
            ])
        );
    }

    #[test]
    fn file_sources_and_non_pdf_documents_are_refused() {
        let (_, param) = err(base(json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
        ]}])));
        assert_eq!(param.as_deref(), Some("messages.0.content.0.source.type"));
        for source in [
            json!({"type": "url", "url": "https://e.com/a.pdf"}),
            json!({"type": "text", "media_type": "text/plain", "data": "plain"}),
            json!({"type": "file", "file_id": "file_1"}),
        ] {
            let (_, param) = err(base(json!([{"role": "user", "content": [
                {"type": "document", "source": source}
            ]}])));
            assert_eq!(param.as_deref(), Some("messages.0.content.0.source"));
        }
    }

    #[test]
    fn pdf_documents_become_file_parts() {
        let out = ok(base(json!([{"role": "user", "content": [
            {"type": "document", "title": "report.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "text", "text": "summarise"}
        ]}])));
        assert_eq!(
            out["messages"][0]["content"][0],
            json!({"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBE"}})
        );
    }

    #[test]
    fn server_tools_are_refused_naming_the_tool() {
        for tool in [
            json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3}),
            json!({"type": "bash_20250124", "name": "bash"}),
            json!({"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}),
            json!({"type": "computer_20250124", "name": "computer", "display_width_px": 1, "display_height_px": 1}),
        ] {
            let name = tool["name"].as_str().unwrap().to_string();
            let (message, param) = err(with(base(user("hi")), "tools", json!([tool])));
            assert_eq!(param.as_deref(), Some("tools.0.type"));
            assert!(message.contains(&format!("{name:?}")), "{message}");
        }
    }

    #[test]
    fn tools_become_functions() {
        let body = with(
            base(user("hi")),
            "tools",
            json!([
                {"name": "a", "description": "A", "input_schema": {"type": "object", "properties": {}}},
                {"type": "custom", "name": "b", "input_schema": {"type": "object"}, "strict": true}
            ]),
        );
        assert_eq!(
            ok(body)["tools"],
            json!([
                {"type": "function", "function": {"name": "a", "description": "A", "parameters": {"type": "object", "properties": {}}}},
                {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}, "strict": true}}
            ])
        );
    }

    #[test]
    fn tool_choice_maps_and_disable_parallel_tool_use_inverts() {
        let tools = json!([{"name": "t", "input_schema": {"type": "object"}}]);
        let cases = [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "any"}), json!("required")),
            (json!({"type": "none"}), json!("none")),
            (
                json!({"type": "tool", "name": "t"}),
                json!({"type": "function", "function": {"name": "t"}}),
            ),
        ];
        for (choice, expected) in cases {
            let body = with(
                with(base(user("hi")), "tools", tools.clone()),
                "tool_choice",
                choice,
            );
            let out = ok(body);
            assert_eq!(out["tool_choice"], expected);
            assert!(out.get("parallel_tool_calls").is_none());
        }
        let body = with(
            with(base(user("hi")), "tools", tools),
            "tool_choice",
            json!({"type": "any", "disable_parallel_tool_use": true}),
        );
        assert_eq!(ok(body)["parallel_tool_calls"], false);
        // Without tools neither is sent: OpenAI refuses tool_choice without tools.
        let out = ok(with(
            base(user("hi")),
            "tool_choice",
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ));
        assert!(out.get("tool_choice").is_none() && out.get("parallel_tool_calls").is_none());
    }

    #[test]
    fn thinking_budget_maps_to_reasoning_effort() {
        let effort = |thinking: Value| {
            ok(with(base(user("hi")), "thinking", thinking))["reasoning_effort"].clone()
        };
        assert_eq!(
            effort(json!({"type": "enabled", "budget_tokens": 1024})),
            "low"
        );
        assert_eq!(
            effort(json!({"type": "enabled", "budget_tokens": 2048})),
            "low"
        );
        assert_eq!(
            effort(json!({"type": "enabled", "budget_tokens": 2049})),
            "medium"
        );
        assert_eq!(
            effort(json!({"type": "enabled", "budget_tokens": 8192})),
            "medium"
        );
        assert_eq!(
            effort(json!({"type": "enabled", "budget_tokens": 8193})),
            "high"
        );
        assert_eq!(effort(json!({"type": "adaptive"})), "medium");
        assert_eq!(effort(json!({"type": "disabled"})), Value::Null);
    }

    #[test]
    fn output_config_effort_and_format() {
        let body = with(
            with(base(user("hi")), "thinking", json!({"type": "adaptive"})),
            "output_config",
            json!({"effort": "max", "format": {"type": "json_schema", "schema": {"type": "object"}}}),
        );
        let out = ok(body);
        assert_eq!(out["reasoning_effort"], "high");
        assert_eq!(
            out["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}}})
        );
        let body = with(
            with(base(user("hi")), "thinking", json!({"type": "disabled"})),
            "output_config",
            json!({"effort": "low"}),
        );
        assert!(ok(body).get("reasoning_effort").is_none());
    }

    #[test]
    fn stream_request_asks_for_include_usage() {
        let t = request(
            with(base(user("hi")), "stream", json!(true))
                .to_string()
                .as_bytes(),
            "m",
            &Options::default(),
        )
        .unwrap();
        assert!(t.stream && t.include_usage);
        let out: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(out["stream"], true);
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        let t = request(
            base(user("hi")).to_string().as_bytes(),
            "m",
            &Options::default(),
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&t.body).unwrap();
        assert!(!t.stream && out.get("stream").is_none() && out.get("stream_options").is_none());
    }

    #[test]
    fn sampling_parameters_stop_sequences_and_user() {
        let mut body = base(user("hi"));
        body["temperature"] = json!(0.5);
        body["top_p"] = json!(0.9);
        body["top_k"] = json!(40);
        body["stop_sequences"] = json!(["END"]);
        body["metadata"] = json!({"user_id": "u-1"});
        let out = ok(body);
        assert_eq!(out["temperature"], 0.5);
        assert_eq!(out["top_p"], 0.9);
        assert!(out.get("top_k").is_none());
        assert_eq!(out["stop"], json!(["END"]));
        assert_eq!(out["user"], "u-1");
    }

    #[test]
    fn wrong_roles_and_misplaced_blocks_are_refused() {
        assert_eq!(
            err(base(json!([{"role": "system", "content": "x"}])))
                .1
                .as_deref(),
            Some("messages.0.role")
        );
        assert_eq!(
            err(base(json!([{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "t", "input": {}}]}])))
                .1
                .as_deref(),
            Some("messages.0.content.0.type")
        );
        assert_eq!(
            err(base(json!([{"role": "assistant", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]}])))
                .1
                .as_deref(),
            Some("messages.0.content.0.type")
        );
        assert_eq!(
            err(base(
                json!([{"role": "user", "content": [{"type": "text"}]}])
            ))
            .1
            .as_deref(),
            Some("messages.0.content.0.text")
        );
    }

    #[test]
    fn non_json_bodies_are_invalid_json() {
        let e = request(b"nope", "m", &Options::default()).unwrap_err();
        assert!(matches!(e, GatewayError::InvalidJson { .. }));
        let e = request(b"[1]", "m", &Options::default()).unwrap_err();
        assert!(matches!(e, GatewayError::InvalidJson { .. }));
    }
}
