//! OpenAI `chat.completions` request body -> Anthropic Messages request body (rules in the
//! parent module's documentation).

use super::super::{Options, Translated};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

type Obj = Map<String, Value>;

/// Top-level fields dropped without a word (documented in the parent module).
const DROPPED: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "seed",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "verbosity",
];

/// Top-level fields translated (or checked and dropped) below.
const HANDLED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "reasoning_effort",
    "stream",
    "stream_options",
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "audio",
    "modalities",
    "prediction",
    "response_format",
    "functions",
    "function_call",
    "web_search_options",
];

/// Anthropic content blocks accepted as-is inside OpenAI messages (pitfall A2).
const PASSTHROUGH_BLOCKS: &[&str] = &[
    "tool_use",
    "tool_result",
    "image",
    "document",
    "thinking",
    "redacted_thinking",
];

fn invalid(message: impl Into<String>, param: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest {
        message: message.into(),
        param: Some(param.into()),
    }
}

/// A field's value, treating JSON `null` as absent.
fn field<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

pub(super) fn translate(
    body: &[u8],
    upstream_model: &str,
    opts: &Options,
) -> Result<Translated, GatewayError> {
    let req = crate::body::json_object(body)?;
    check_fields(&req)?;

    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));

    let conv = convert_messages(field(&req, "messages"))?;
    if !conv.system.is_empty() {
        let system = if conv.system_cached {
            Value::Array(conv.system)
        } else {
            let texts: Vec<&str> = conv
                .system
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            json!(texts.join("\n\n"))
        };
        out.insert("system".into(), system);
    }
    out.insert("messages".into(), Value::Array(conv.messages));

    let budget = thinking_budget(&req)?;
    let requested = match field(&req, "max_completion_tokens") {
        Some(v) => positive_int(v, "max_completion_tokens")?,
        None => match field(&req, "max_tokens") {
            Some(v) => positive_int(v, "max_tokens")?,
            None => opts.default_max_tokens,
        },
    };
    let max_tokens = match budget {
        Some(b) if requested <= b => b.saturating_add(requested),
        _ => requested,
    };
    out.insert("max_tokens".into(), json!(max_tokens));
    if let Some(b) = budget {
        out.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": b}),
        );
    }

    if let Some(stop) = stop_sequences(field(&req, "stop"))? {
        out.insert("stop_sequences".into(), stop);
    }
    sampling(&req, budget.is_some(), &mut out)?;
    tools(&req, budget.is_some(), &mut out)?;

    if let Some(user) = field(&req, "user") {
        let user = user
            .as_str()
            .ok_or_else(|| invalid("user must be a string", "user"))?;
        out.insert("metadata".into(), json!({ "user_id": user }));
    }

    let stream = match field(&req, "stream") {
        Some(v) => v
            .as_bool()
            .ok_or_else(|| invalid("stream must be a boolean", "stream"))?,
        None => false,
    };
    let mut include_usage = false;
    if stream {
        out.insert("stream".into(), json!(true));
        if let Some(so) = field(&req, "stream_options") {
            let so = so
                .as_object()
                .ok_or_else(|| invalid("stream_options must be an object", "stream_options"))?;
            include_usage = field(so, "include_usage").and_then(Value::as_bool) == Some(true);
        }
    }

    let body = serde_json::to_vec(&Value::Object(out)).map_err(|e| {
        log::error!("cannot serialize the translated request: {e}");
        GatewayError::Internal
    })?;
    Ok(Translated {
        body,
        stream,
        include_usage,
    })
}

/// Rejects unknown fields and OpenAI features Anthropic cannot honour.
fn check_fields(req: &Obj) -> Result<(), GatewayError> {
    for (key, value) in req {
        let k = key.as_str();
        if !HANDLED.contains(&k) && !DROPPED.contains(&k) {
            return Err(invalid(
                format!("Unrecognized request argument supplied: {key}"),
                key.as_str(),
            ));
        }
        if value.is_null() {
            continue;
        }
        let unsupported = |why: &str| Err(invalid(format!("{key} is not supported: {why}"), k));
        match k {
            "n" if value.as_u64() != Some(1) => {
                return unsupported("Anthropic returns one choice per request; n must be 1");
            }
            "logprobs" if value.as_bool() != Some(false) => {
                return unsupported("Anthropic does not return log probabilities");
            }
            "top_logprobs" if value.as_u64() != Some(0) => {
                return unsupported("Anthropic does not return log probabilities");
            }
            "logit_bias" if !value.as_object().is_some_and(Map::is_empty) => {
                return unsupported("Anthropic has no logit bias");
            }
            "presence_penalty" | "frequency_penalty" if value.as_f64() != Some(0.0) => {
                return unsupported(
                    "Anthropic has no presence or frequency penalties; omit it or send 0",
                );
            }
            "audio" => return unsupported("Anthropic does not generate audio"),
            "modalities" if !text_only(value) => {
                return unsupported("Anthropic only answers with text");
            }
            "prediction" => return unsupported("Anthropic has no predicted outputs"),
            "response_format" if value.get("type").and_then(Value::as_str) != Some("text") => {
                return unsupported("this gateway cannot translate structured outputs (json_object / json_schema) to Anthropic; only {\"type\": \"text\"} is accepted");
            }
            "functions" | "function_call" => {
                return unsupported(
                    "the legacy functions API is not translated; use tools and tool_choice",
                );
            }
            "web_search_options" => {
                return unsupported("web search is not translated to Anthropic");
            }
            _ => {}
        }
    }
    Ok(())
}

/// `modalities` asks for text only.
fn text_only(modalities: &Value) -> bool {
    modalities
        .as_array()
        .is_some_and(|m| m.iter().all(|x| x.as_str().is_some_and(|s| s != "audio")))
}

fn positive_int(v: &Value, param: &str) -> Result<u64, GatewayError> {
    v.as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(format!("{param} must be a positive integer"), param))
}

/// `reasoning_effort` -> thinking budget (`None`: thinking off).
fn thinking_budget(req: &Obj) -> Result<Option<u64>, GatewayError> {
    let Some(effort) = field(req, "reasoning_effort") else {
        return Ok(None);
    };
    match effort.as_str() {
        Some("none") => Ok(None),
        Some("minimal") | Some("low") => Ok(Some(1024)),
        Some("medium") => Ok(Some(4096)),
        Some("high") => Ok(Some(16384)),
        Some("xhigh") => Ok(Some(32768)),
        _ => Err(invalid(
            format!("reasoning_effort {effort} is not supported; use none, minimal, low, medium, high or xhigh"),
            "reasoning_effort",
        )),
    }
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let list: Vec<&str> = match stop {
        None => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| invalid("stop must be a string or a list of strings", "stop"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(invalid(
                "stop must be a string or a list of strings",
                "stop",
            ))
        }
    };
    // An empty stop string can never match; Anthropic rejects it.
    let list: Vec<&str> = list.into_iter().filter(|s| !s.is_empty()).collect();
    Ok((!list.is_empty()).then(|| json!(list)))
}

/// `temperature`, `top_p`, `top_k` (Anthropic-only extension), checked against thinking.
fn sampling(req: &Obj, thinking: bool, out: &mut Obj) -> Result<(), GatewayError> {
    if let Some(t) = field(req, "temperature") {
        let value = t
            .as_f64()
            .ok_or_else(|| invalid("temperature must be a number", "temperature"))?;
        if !(0.0..=2.0).contains(&value) {
            return Err(invalid(
                "temperature must be between 0 and 2",
                "temperature",
            ));
        }
        if value > 1.0 {
            return Err(invalid(
                format!("temperature {t} is above 1, the maximum Anthropic models accept; send a value between 0 and 1"),
                "temperature",
            ));
        }
        if thinking && value != 1.0 {
            return Err(invalid(
                "with reasoning_effort set (Anthropic extended thinking), temperature must be 1 or omitted",
                "temperature",
            ));
        }
        out.insert("temperature".into(), t.clone());
    }
    if let Some(p) = field(req, "top_p") {
        let value = p
            .as_f64()
            .filter(|v| (0.0..=1.0).contains(v))
            .ok_or_else(|| invalid("top_p must be a number between 0 and 1", "top_p"))?;
        if thinking && value < 0.95 {
            return Err(invalid(
                "with reasoning_effort set (Anthropic extended thinking), top_p must be between 0.95 and 1 or omitted",
                "top_p",
            ));
        }
        out.insert("top_p".into(), p.clone());
    }
    if let Some(k) = field(req, "top_k") {
        positive_int(k, "top_k")?;
        if thinking {
            return Err(invalid(
                "top_k cannot be combined with reasoning_effort (Anthropic extended thinking)",
                "top_k",
            ));
        }
        out.insert("top_k".into(), k.clone());
    }
    Ok(())
}

/// `tools`, `tool_choice`, `parallel_tool_calls`.
fn tools(req: &Obj, thinking: bool, out: &mut Obj) -> Result<(), GatewayError> {
    let mut defs = Vec::new();
    if let Some(list) = field(req, "tools") {
        let list = list
            .as_array()
            .ok_or_else(|| invalid("tools must be a list", "tools"))?;
        for (k, tool) in list.iter().enumerate() {
            defs.push(tool_def(tool, k)?);
        }
    }
    let has_tools = !defs.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(defs));
    }

    let mut choice = match field(req, "tool_choice") {
        None => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "none" => Some(json!({"type": "none"})),
            "required" => Some(json!({"type": "any"})),
            other => {
                return Err(invalid(
                    format!("tool_choice {other:?} is not supported; use auto, none, required or a function"),
                    "tool_choice",
                ))
            }
        },
        Some(Value::Object(c)) => {
            let name = match c.get("type").and_then(Value::as_str) {
                Some("function") => c
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str),
                _ => None,
            };
            match name {
                Some(name) => Some(json!({"type": "tool", "name": name})),
                None => {
                    return Err(invalid(
                        "tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}",
                        "tool_choice",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                "tool_choice must be a string or an object",
                "tool_choice",
            ))
        }
    };
    let kind = choice
        .as_ref()
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("auto")
        .to_string();
    if !has_tools {
        if kind == "any" || kind == "tool" {
            return Err(invalid(
                "tool_choice requires tools to be specified",
                "tool_choice",
            ));
        }
        // auto / none without tools say nothing; Anthropic wants no choice without tools.
        return Ok(());
    }
    if thinking && (kind == "any" || kind == "tool") {
        return Err(invalid(
            "Anthropic cannot force a tool while extended thinking is on (reasoning_effort); use tool_choice auto, or drop reasoning_effort",
            "tool_choice",
        ));
    }
    let parallel = match field(req, "parallel_tool_calls") {
        None => true,
        Some(v) => v.as_bool().ok_or_else(|| {
            invalid(
                "parallel_tool_calls must be a boolean",
                "parallel_tool_calls",
            )
        })?,
    };
    if !parallel && kind != "none" {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if let Some(c) = c.as_object_mut() {
            c.insert("disable_parallel_tool_use".into(), json!(true));
        }
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
    Ok(())
}

fn tool_def(tool: &Value, k: usize) -> Result<Value, GatewayError> {
    let param = format!("tools[{k}]");
    let tool = tool
        .as_object()
        .ok_or_else(|| invalid("each tool must be an object", param.as_str()))?;
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => {
            return Err(invalid(
                format!("tool type {other:?} is not supported; only function tools are translated"),
                format!("{param}.type"),
            ))
        }
        None => return Err(invalid("tool type is required", format!("{param}.type"))),
    }
    let function = tool
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("function is required", format!("{param}.function")))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                "function name is required",
                format!("{param}.function.name"),
            )
        })?;
    let mut def = Obj::new();
    def.insert("name".into(), json!(name));
    if let Some(d) = field(function, "description") {
        def.insert("description".into(), d.clone());
    }
    let schema = match field(function, "parameters") {
        None => json!({"type": "object", "properties": {}}),
        Some(Value::Object(p)) => {
            let mut p = p.clone();
            // Function parameters are always an object schema; Anthropic insists on the type.
            if !p.contains_key("type") {
                p.insert("type".into(), json!("object"));
            }
            Value::Object(p)
        }
        Some(_) => {
            return Err(invalid(
                "function parameters must be a JSON Schema object",
                format!("{param}.function.parameters"),
            ))
        }
    };
    def.insert("input_schema".into(), schema);
    if let Some(cc) = field(tool, "cache_control").or_else(|| field(function, "cache_control")) {
        def.insert("cache_control".into(), cc.clone());
    }
    Ok(Value::Object(def))
}

/// Messages split into Anthropic's `system` and alternating turns.
struct Conversation {
    system: Vec<Value>,
    /// Some system part carries `cache_control`: `system` must stay a list of blocks.
    system_cached: bool,
    messages: Vec<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

fn convert_messages(messages: Option<&Value>) -> Result<Conversation, GatewayError> {
    let messages = messages
        .ok_or_else(|| invalid("messages is required", "messages"))?
        .as_array()
        .ok_or_else(|| invalid("messages must be a list", "messages"))?;
    let mut system = Vec::new();
    let mut system_cached = false;
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let msg = msg
            .as_object()
            .ok_or_else(|| invalid("each message must be an object", path.as_str()))?;
        let role = msg
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("message role is required", format!("{path}.role")))?;
        let (role, blocks) = match role {
            "system" | "developer" => {
                let mut blocks = system_blocks(field(msg, "content"), &path)?;
                set_cache_control(&mut blocks, msg);
                system_cached |= blocks.iter().any(|b| b.get("cache_control").is_some());
                system.extend(blocks);
                continue;
            }
            "user" => {
                let mut blocks = content_blocks(field(msg, "content"), &path)?;
                set_cache_control(&mut blocks, msg);
                (Role::User, blocks)
            }
            "assistant" => (Role::Assistant, assistant_blocks(msg, &path)?),
            "tool" => (Role::User, vec![tool_result(msg, &path)?]),
            "function" => {
                return Err(invalid(
                    "legacy function messages are not translated; use tool messages",
                    format!("{path}.role"),
                ))
            }
            other => {
                return Err(invalid(
                    format!("unknown message role {other:?}"),
                    format!("{path}.role"),
                ))
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    match turns.first() {
        None => {
            return Err(invalid(
                "messages must include at least one user message with non-empty content",
                "messages",
            ))
        }
        Some((Role::Assistant, _)) => {
            return Err(invalid(
                "the first message after system and developer messages must come from the user: Anthropic's Messages API requires conversations to start with a user turn",
                "messages",
            ))
        }
        Some((Role::User, _)) => {}
    }
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| match role {
            Role::User => {
                // Anthropic wants the tool results first in the turn after a tool call.
                let (mut results, rest): (Vec<Value>, Vec<Value>) = blocks
                    .into_iter()
                    .partition(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"));
                results.extend(rest);
                json!({"role": "user", "content": results})
            }
            Role::Assistant => json!({"role": "assistant", "content": blocks}),
        })
        .collect();
    Ok(Conversation {
        system,
        system_cached,
        messages,
    })
}

/// A message-level `cache_control` (vendor extension) marks the message's last block.
fn set_cache_control(blocks: &mut [Value], msg: &Obj) {
    if let (Some(cc), Some(Value::Object(last))) = (field(msg, "cache_control"), blocks.last_mut())
    {
        last.insert("cache_control".into(), cc.clone());
    }
}

fn text_block(text: &str, part: Option<&Obj>) -> Value {
    let mut b = Obj::new();
    b.insert("type".into(), json!("text"));
    b.insert("text".into(), json!(text));
    if let Some(cc) = part.and_then(|p| field(p, "cache_control")) {
        b.insert("cache_control".into(), cc.clone());
    }
    Value::Object(b)
}

fn system_blocks(content: Option<&Value>, path: &str) -> Result<Vec<Value>, GatewayError> {
    blocks(content, path, &|part, param| {
        let text = part
            .as_object()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .and_then(|p| p.get("text").and_then(Value::as_str).map(|t| (p, t)));
        match text {
            Some((_, t)) if is_blank(t) => Ok(None),
            Some((p, t)) => Ok(Some(text_block(t, Some(p)))),
            None => Err(invalid(
                "system and developer messages may only contain text parts",
                param.to_string(),
            )),
        }
    })
}

/// User and tool content (string or parts) -> Anthropic blocks.
fn content_blocks(content: Option<&Value>, path: &str) -> Result<Vec<Value>, GatewayError> {
    blocks(content, path, &part_block)
}

/// Turns one content part (and its JSON path, for errors) into a block, or nothing.
type PartFn = dyn Fn(&Value, &str) -> Result<Option<Value>, GatewayError>;

/// Message content (a string, or parts each turned into a block by `part`) -> blocks; blank
/// text is left out.
fn blocks(content: Option<&Value>, path: &str, part: &PartFn) -> Result<Vec<Value>, GatewayError> {
    let param = format!("{path}.content");
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(if is_blank(s) {
            Vec::new()
        } else {
            vec![text_block(s, None)]
        }),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                if let Some(b) = part(p, &format!("{param}[{j}]"))? {
                    blocks.push(b);
                }
            }
            Ok(blocks)
        }
        Some(_) => Err(invalid(
            "message content must be a string or a list of parts",
            param,
        )),
    }
}

fn part_block(part: &Value, param: &str) -> Result<Option<Value>, GatewayError> {
    let part = part
        .as_object()
        .ok_or_else(|| invalid("each content part must be an object", param))?;
    let kind = part
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("content part type is required", format!("{param}.type")))?;
    let with_cache = |mut block: Value| {
        if let (Some(cc), Some(b)) = (field(part, "cache_control"), block.as_object_mut()) {
            b.insert("cache_control".into(), cc.clone());
        }
        block
    };
    match kind {
        "text" | "refusal" => {
            let text = part.get(kind).and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    format!("{kind} part needs a {kind} string"),
                    format!("{param}.{kind}"),
                )
            })?;
            Ok((!is_blank(text)).then(|| text_block(text, Some(part))))
        }
        "image_url" => {
            let url = match part.get("image_url") {
                Some(Value::String(u)) => Some(u.as_str()),
                Some(Value::Object(o)) => o.get("url").and_then(Value::as_str),
                _ => None,
            }
            .ok_or_else(|| {
                invalid(
                    "image_url.url is required",
                    format!("{param}.image_url.url"),
                )
            })?;
            Ok(Some(with_cache(image_block(
                url,
                &format!("{param}.image_url.url"),
            )?)))
        }
        "file" => Ok(Some(with_cache(file_block(part, param)?))),
        "input_audio" => Err(invalid(
            "audio input is not supported by Anthropic",
            format!("{param}.type"),
        )),
        k if PASSTHROUGH_BLOCKS.contains(&k) => Ok(Some(passthrough_block(part))),
        other => Err(invalid(
            format!("content part type {other:?} is not supported"),
            format!("{param}.type"),
        )),
    }
}

/// An Anthropic block sent inside an OpenAI message, unchanged but for tool-call ids.
fn passthrough_block(part: &Obj) -> Value {
    let mut block = part.clone();
    for key in ["id", "tool_use_id"] {
        if let Some(Value::String(id)) = block.get_mut(key) {
            *id = sanitize_tool_id(id);
        }
    }
    Value::Object(block)
}

const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A parsed `data:` URL: lowercased media type (without parameters) and base64 payload.
fn data_url<'a>(url: &'a str, param: &str) -> Result<Option<(String, &'a str)>, GatewayError> {
    let Some(rest) = url
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .and_then(|_| url.get(5..))
    else {
        return Ok(None);
    };
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| invalid("malformed data URL", param))?;
    let mut meta = meta.split(';');
    let media_type = meta.next().unwrap_or("").trim().to_ascii_lowercase();
    if !meta.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err(invalid("data URLs must be base64-encoded", param));
    }
    if data.trim().is_empty() {
        return Err(invalid("the data URL is empty", param));
    }
    Ok(Some((media_type, data)))
}

/// Removes line breaks some encoders put in base64 text.
fn compact_base64(data: &str) -> String {
    if data.bytes().any(|b| b.is_ascii_whitespace()) {
        data.chars().filter(|c| !c.is_ascii_whitespace()).collect()
    } else {
        data.to_string()
    }
}

fn image_block(url: &str, param: &str) -> Result<Value, GatewayError> {
    if let Some((declared, data)) = data_url(url, param)? {
        let declared = if declared == "image/jpg" {
            "image/jpeg".to_string()
        } else {
            declared
        };
        let sniffed = sniff_image(&decode_base64(data, 12));
        let media_type = match sniffed {
            Some(real) => {
                if real != declared {
                    log::debug!("image declared as {declared:?} is {real}; sending {real}");
                }
                real.to_string()
            }
            None if IMAGE_TYPES.contains(&declared.as_str()) => declared,
            None => {
                return Err(invalid(
                    format!("image type {declared:?} is not supported; Anthropic accepts image/png, image/jpeg, image/gif and image/webp"),
                    param,
                ))
            }
        };
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": compact_base64(data)},
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(invalid(
        "image URLs must be data: URLs or http(s) URLs",
        param,
    ))
}

/// `file` parts: PDF and plain-text data URLs become Anthropic `document` blocks.
fn file_block(part: &Obj, param: &str) -> Result<Value, GatewayError> {
    let file = part
        .get("file")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("file part needs a file object", format!("{param}.file")))?;
    let fparam = format!("{param}.file.file_data");
    let Some(data) = field(file, "file_data").and_then(Value::as_str) else {
        return Err(invalid(
            "only inline file_data can be translated; OpenAI file ids are not readable by Anthropic",
            format!("{param}.file"),
        ));
    };
    let Some((media_type, payload)) = data_url(data, &fparam)? else {
        return Err(invalid("file_data must be a base64 data: URL", fparam));
    };
    match media_type.as_str() {
        "application/pdf" => Ok(json!({
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": compact_base64(payload)},
        })),
        "text/plain" => {
            let text = String::from_utf8(decode_base64(payload, usize::MAX))
                .map_err(|_| invalid("the text file is not valid UTF-8", fparam.as_str()))?;
            Ok(json!({
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": text},
            }))
        }
        other => Err(invalid(
            format!("file type {other:?} is not supported; Anthropic documents are application/pdf or text/plain"),
            fparam,
        )),
    }
}

/// Decodes up to `max` bytes of base64 (standard or URL-safe, whitespace skipped, stops at
/// padding or an invalid character).
fn decode_base64(data: &str, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in data.bytes() {
        if out.len() >= max {
            break;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            c if c.is_ascii_whitespace() => continue,
            _ => break,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The image type the magic bytes announce.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice()) {
        Some("image/webp")
    } else {
        None
    }
}

fn assistant_blocks(msg: &Obj, path: &str) -> Result<Vec<Value>, GatewayError> {
    let mut blocks = Vec::new();
    // Replayed thinking goes first and unchanged: its signature covers it (pitfall G).
    if let Some(tb) = field(msg, "thinking_blocks") {
        let param = format!("{path}.thinking_blocks");
        let list = tb
            .as_array()
            .ok_or_else(|| invalid("thinking_blocks must be a list", param.as_str()))?;
        for (k, b) in list.iter().enumerate() {
            let ok = matches!(
                b.get("type").and_then(Value::as_str),
                Some("thinking") | Some("redacted_thinking")
            );
            if !ok {
                return Err(invalid(
                    "thinking_blocks may only hold Anthropic thinking and redacted_thinking blocks",
                    format!("{param}[{k}]"),
                ));
            }
            blocks.push(b.clone());
        }
    }
    let content = content_blocks(field(msg, "content"), path)?;
    let has_text = content
        .iter()
        .any(|b| b.get("type").and_then(Value::as_str) == Some("text"));
    blocks.extend(content);
    if !has_text {
        if let Some(refusal) = field(msg, "refusal").and_then(Value::as_str) {
            if !is_blank(refusal) {
                blocks.push(text_block(refusal, None));
            }
        }
    }
    if field(msg, "function_call").is_some() {
        return Err(invalid(
            "legacy function_call is not translated; use tool_calls",
            format!("{path}.function_call"),
        ));
    }
    if field(msg, "audio").is_some() {
        return Err(invalid(
            "assistant audio cannot be sent to Anthropic",
            format!("{path}.audio"),
        ));
    }
    if let Some(calls) = field(msg, "tool_calls") {
        let param = format!("{path}.tool_calls");
        let calls = calls
            .as_array()
            .ok_or_else(|| invalid("tool_calls must be a list", param.as_str()))?;
        for (j, call) in calls.iter().enumerate() {
            blocks.push(tool_use(call, &format!("{param}[{j}]"))?);
        }
    }
    set_cache_control(&mut blocks, msg);
    Ok(blocks)
}

fn tool_use(call: &Value, param: &str) -> Result<Value, GatewayError> {
    let call = call
        .as_object()
        .ok_or_else(|| invalid("each tool call must be an object", param))?;
    match call.get("type").and_then(Value::as_str) {
        None | Some("function") => {}
        Some(other) => {
            return Err(invalid(
                format!("tool call type {other:?} is not supported"),
                format!("{param}.type"),
            ))
        }
    }
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("tool call id is required", format!("{param}.id")))?;
    let function = call
        .get("function")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid(
                "tool call function is required",
                format!("{param}.function"),
            )
        })?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                "tool call function name is required",
                format!("{param}.function.name"),
            )
        })?;
    let aparam = format!("{param}.function.arguments");
    let input = match function.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Value::Object(o),
            Ok(Value::Null) => json!({}),
            Ok(_) => {
                return Err(invalid(
                    "tool call arguments must encode a JSON object",
                    aparam,
                ))
            }
            Err(e) => {
                return Err(invalid(
                    format!("tool call arguments are not valid JSON: {e}"),
                    aparam,
                ))
            }
        },
        // Some clients send the arguments already parsed.
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(_) => return Err(invalid("tool call arguments must be a JSON string", aparam)),
    };
    Ok(json!({
        "type": "tool_use",
        "id": sanitize_tool_id(id),
        "name": name,
        "input": input,
    }))
}

fn tool_result(msg: &Obj, path: &str) -> Result<Value, GatewayError> {
    let id = msg
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                "tool messages need a tool_call_id",
                format!("{path}.tool_call_id"),
            )
        })?;
    let mut block = Obj::new();
    block.insert("type".into(), json!("tool_result"));
    block.insert("tool_use_id".into(), json!(sanitize_tool_id(id)));
    match field(msg, "content") {
        Some(Value::String(s)) => {
            if !s.is_empty() {
                block.insert("content".into(), json!(s));
            }
        }
        other => {
            let blocks = content_blocks(other, path)?;
            if !blocks.is_empty() {
                block.insert("content".into(), Value::Array(blocks));
            }
        }
    }
    if let Some(cc) = field(msg, "cache_control") {
        block.insert("cache_control".into(), cc.clone());
    }
    Ok(Value::Object(block))
}

/// Longest tool-call id Anthropic accepts (kept safe: its documented pattern has no length,
/// but ids over 64 characters are rejected by some of its models and by OpenAI).
const MAX_TOOL_ID: usize = 64;

/// Makes a tool-call id match Anthropic's `^[a-zA-Z0-9_-]+$` (at most 64 characters),
/// deterministically: valid ids are unchanged; otherwise other characters become `_`, the
/// result is cut to leave room, and `_` + 12 hex digits of a hash of the original id are
/// appended, so that two different ids never map to the same one.
pub fn sanitize_tool_id(id: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !id.is_empty() && id.len() <= MAX_TOOL_ID && id.chars().all(valid) {
        return id.to_string();
    }
    let hash = fnv1a(id.as_bytes()) & 0xffff_ffff_ffff;
    let suffix = format!("_{hash:012x}");
    let keep = MAX_TOOL_ID - suffix.len();
    let mut out: String = id
        .chars()
        .map(|c| if valid(c) { c } else { '_' })
        .take(keep)
        .collect();
    out.push_str(&suffix);
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn opts() -> Options {
        Options::default()
    }

    /// Translates `req` (model and a user message added when missing) and parses the body.
    fn tr(req: Value) -> Value {
        let t = translate(req.to_string().as_bytes(), "claude-x", &opts())
            .unwrap_or_else(|e| panic!("{e:?}"));
        serde_json::from_slice(&t.body).unwrap()
    }

    fn with_user(mut extra: Value) -> Value {
        let obj = extra.as_object_mut().unwrap();
        obj.entry("model").or_insert(json!("gpt-4o"));
        obj.entry("messages")
            .or_insert(json!([{"role": "user", "content": "hi"}]));
        extra
    }

    fn err(req: Value) -> (String, Option<String>) {
        match translate(req.to_string().as_bytes(), "claude-x", &opts()) {
            Err(GatewayError::InvalidRequest { message, param }) => (message, param),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    fn err_param(req: Value) -> String {
        err(req).1.unwrap_or_default()
    }

    #[test]
    fn model_is_replaced_and_default_max_tokens_applies() {
        let out = tr(with_user(json!({})));
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["max_tokens"], 8192);
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
        );
        let t = translate(
            with_user(json!({})).to_string().as_bytes(),
            "m",
            &Options {
                default_max_tokens: 77,
            },
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["max_tokens"], 77);
        assert!(!t.stream && !t.include_usage);
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let out = tr(with_user(
            json!({"max_tokens": 100, "max_completion_tokens": 200}),
        ));
        assert_eq!(out["max_tokens"], 200);
        assert_eq!(tr(with_user(json!({"max_tokens": 100})))["max_tokens"], 100);
        assert_eq!(err_param(with_user(json!({"max_tokens": 0}))), "max_tokens");
        assert_eq!(
            err_param(with_user(json!({"max_completion_tokens": "5"}))),
            "max_completion_tokens"
        );
    }

    #[test]
    fn system_and_developer_messages_anywhere_join_the_top_level_system() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {"role": "assistant", "content": "hello"},
            {"role": "system", "content": "Late rule."},
            {"role": "user", "content": "how far?"}
        ]}));
        assert_eq!(
            out["system"],
            "You are terse.\n\nUse metric units.\n\nLate rule."
        );
        let roles: Vec<&str> = out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
    }

    #[test]
    fn system_cache_control_keeps_system_as_blocks() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "system", "content": [
                {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "developer", "content": "More"},
            {"role": "user", "content": "hi"}
        ]}));
        assert_eq!(
            out["system"],
            json!([
                {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "More"}
            ])
        );
        let msg_level = tr(json!({"model": "m", "messages": [
            {"role": "system", "content": "Rules", "cache_control": {"type": "ephemeral"}},
            {"role": "user", "content": "hi"}
        ]}));
        assert_eq!(
            msg_level["system"],
            json!([{"type": "text", "text": "Rules", "cache_control": {"type": "ephemeral"}}])
        );
    }

    #[test]
    fn system_with_non_text_part_is_rejected() {
        let req = json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "user", "content": "hi"}
        ]});
        assert_eq!(err_param(req), "messages[0].content[0]");
    }

    fn tool_conversation() -> Value {
        json!({"model": "m", "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
            {"role": "user", "content": "thanks, which is warmer?"}
        ]})
    }

    #[test]
    fn tool_messages_merge_into_one_user_turn() {
        let out = tr(tool_conversation());
        let msgs = out["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(
            msgs[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "24C"}]},
                {"type": "text", "text": "thanks, which is warmer?"}
            ])
        );
    }

    #[test]
    fn assistant_tool_calls_become_tool_use_blocks() {
        let out = tr(tool_conversation());
        assert_eq!(
            out["messages"][1],
            json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}
            ]})
        );
    }

    #[test]
    fn tool_results_go_before_user_text_in_the_same_turn() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": "also note this"},
            {"role": "tool", "tool_call_id": "a", "content": "done"}
        ]}));
        let turn = &out["messages"][2]["content"];
        assert_eq!(turn[0]["type"], "tool_result");
        assert_eq!(turn[1]["text"], "also note this");
    }

    #[test]
    fn consecutive_same_role_messages_merge() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": "b"}
        ]}));
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ])
        );
    }

    #[test]
    fn empty_tool_arguments_become_empty_object() {
        for args in [json!(""), json!("  "), json!(null), json!("null")] {
            let out = tr(json!({"model": "m", "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": args}}]}
            ]}));
            assert_eq!(
                out["messages"][1]["content"][0]["input"],
                json!({}),
                "{args}"
            );
        }
    }

    #[test]
    fn invalid_tool_arguments_are_a_400() {
        for args in ["{not json", "[1,2]", "\"text\""] {
            let (msg, param) = err(json!({"model": "m", "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": args}}]}
            ]}));
            assert_eq!(
                param.as_deref(),
                Some("messages[1].tool_calls[0].function.arguments"),
                "{msg}"
            );
        }
    }

    #[test]
    fn empty_assistant_content_is_omitted() {
        for content in [
            json!(""),
            json!(null),
            json!([]),
            json!([{"type": "text", "text": ""}]),
        ] {
            let out = tr(json!({"model": "m", "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": content, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "a", "content": "ok"}
            ]}));
            assert_eq!(
                out["messages"][1]["content"],
                json!([{"type": "tool_use", "id": "a", "name": "f", "input": {}}]),
                "{content}"
            );
        }
    }

    #[test]
    fn message_with_empty_content_is_dropped_and_neighbours_merge() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "two"}
        ]}));
        assert_eq!(out["messages"].as_array().unwrap().len(), 1);
        assert_eq!(out["messages"][0]["content"][1]["text"], "two");
    }

    #[test]
    fn only_user_turn_empty_is_a_400() {
        assert_eq!(
            err_param(json!({"model": "m", "messages": [{"role": "user", "content": ""}]})),
            "messages"
        );
        assert_eq!(
            err_param(json!({"model": "m", "messages": [{"role": "system", "content": "x"}]})),
            "messages"
        );
        assert_eq!(err_param(json!({"model": "m", "messages": []})), "messages");
        assert_eq!(err_param(json!({"model": "m"})), "messages");
    }

    #[test]
    fn conversation_starting_with_assistant_is_a_400() {
        let (msg, param) = err(json!({"model": "m", "messages": [
            {"role": "system", "content": "x"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "hi"}
        ]}));
        assert_eq!(param.as_deref(), Some("messages"));
        assert!(msg.contains("must come from the user"), "{msg}");
    }

    #[test]
    fn whitespace_only_text_parts_are_omitted() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "  \n"}, {"type": "text", "text": "real"}]}
        ]}));
        assert_eq!(
            out["messages"][0]["content"],
            json!([{"type": "text", "text": "real"}])
        );
    }

    #[test]
    fn tool_ids_are_sanitized_the_same_on_use_and_result() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [{"id": "functions.Bash:0", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "functions.Bash:0", "content": "ok"}
        ]}));
        let use_id = out["messages"][1]["content"][0]["id"].as_str().unwrap();
        let result_id = out["messages"][2]["content"][0]["tool_use_id"]
            .as_str()
            .unwrap();
        assert_eq!(use_id, result_id);
        assert!(use_id.starts_with("functions_Bash_0_"), "{use_id}");
    }

    #[test]
    fn tool_id_sanitizing_is_deterministic_and_collision_free() {
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        assert_eq!(sanitize_tool_id("toolu_01AbC-x"), "toolu_01AbC-x");
        let a = sanitize_tool_id("functions.Bash:0");
        let b = sanitize_tool_id("functions.Bash:1");
        let c = sanitize_tool_id("functions_Bash:0");
        assert_eq!(a, sanitize_tool_id("functions.Bash:0"));
        assert!(a != b && a != c && b != c);
        let long = "x".repeat(100);
        let long2 = format!("{}y", "x".repeat(99));
        let (l1, l2) = (sanitize_tool_id(&long), sanitize_tool_id(&long2));
        assert_ne!(l1, l2);
        for id in [
            &a,
            &b,
            &c,
            &l1,
            &l2,
            &sanitize_tool_id(""),
            &sanitize_tool_id("é/ü"),
        ] {
            assert!(valid(id), "{id}");
        }
        assert_eq!(sanitize_tool_id(&"y".repeat(64)), "y".repeat(64));
    }

    #[test]
    fn anthropic_blocks_inside_openai_messages_pass_through() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r", "is_error": true}
            ]}
        ]}));
        assert_eq!(out["messages"][0]["content"][1]["type"], "image");
        assert_eq!(
            out["messages"][1]["content"][1],
            json!({"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}})
        );
        assert_eq!(
            out["messages"][2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "r", "is_error": true})
        );
    }

    #[test]
    fn passthrough_tool_ids_are_sanitized_too() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "tool_calls": [{"id": "a.b", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a.b", "content": "r"}]}
        ]}));
        assert_eq!(
            out["messages"][1]["content"][0]["id"],
            out["messages"][2]["content"][0]["tool_use_id"]
        );
    }

    const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    const JPEG_B64: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/";
    const GIF_B64: &str = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
    const WEBP_B64: &str = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==";

    fn image_source(url: &str) -> Value {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url, "detail": "high"}}]}
        ]}));
        out["messages"][0]["content"][0]["source"].clone()
    }

    #[test]
    fn data_url_images_become_base64_blocks() {
        assert_eq!(
            image_source(&format!("data:image/png;base64,{PNG_B64}")),
            json!({"type": "base64", "media_type": "image/png", "data": PNG_B64})
        );
    }

    #[test]
    fn image_jpg_media_type_is_normalized_to_jpeg() {
        // Unrecognisable bytes: the declared type is used, normalised.
        let src = image_source("data:image/jpg;base64,AAAAAAAAAAAAAAAA");
        assert_eq!(src["media_type"], "image/jpeg");
        let src = image_source(&format!("data:IMAGE/JPG;base64,{JPEG_B64}"));
        assert_eq!(src["media_type"], "image/jpeg");
    }

    #[test]
    fn image_magic_bytes_win_over_declared_type() {
        for (declared, data, real) in [
            ("image/jpeg", PNG_B64, "image/png"),
            ("image/png", JPEG_B64, "image/jpeg"),
            ("image/png", GIF_B64, "image/gif"),
            ("image/jpeg", WEBP_B64, "image/webp"),
            ("application/octet-stream", PNG_B64, "image/png"),
        ] {
            let src = image_source(&format!("data:{declared};base64,{data}"));
            assert_eq!(src["media_type"], real, "{declared} {real}");
        }
    }

    #[test]
    fn unsupported_image_type_is_a_400() {
        let req = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0AAAAA"}}
        ]}]});
        assert_eq!(err_param(req), "messages[0].content[0].image_url.url");
        let not_b64 = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}
        ]}]});
        assert_eq!(err_param(not_b64), "messages[0].content[0].image_url.url");
        let ftp = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}
        ]}]});
        assert_eq!(err_param(ftp), "messages[0].content[0].image_url.url");
    }

    #[test]
    fn http_image_urls_stay_urls() {
        assert_eq!(
            image_source("https://example.com/cat.png"),
            json!({"type": "url", "url": "https://example.com/cat.png"})
        );
    }

    #[test]
    fn base64_with_line_breaks_is_compacted() {
        let broken = format!("{}\n{}", &PNG_B64[..20], &PNG_B64[20..]);
        let src = image_source(&format!("data:image/png;base64,{broken}"));
        assert_eq!(src["data"], PNG_B64);
        assert_eq!(src["media_type"], "image/png");
    }

    #[test]
    fn pdf_and_text_files_become_documents() {
        let out = tr(
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQ="}},
                {"type": "file", "file": {"file_data": "data:text/plain;base64,aGVsbG8gd29ybGQ="}}
            ]}]}),
        );
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello world"}}
            ])
        );
        let file_id = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_id": "file-abc"}}
        ]}]});
        assert_eq!(err_param(file_id), "messages[0].content[0].file");
    }

    #[test]
    fn images_inside_tool_results_are_kept() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "screenshot please"},
            {"role": "assistant", "tool_calls": [{"id": "s", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "s", "content": [
                {"type": "text", "text": "here"},
                {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}}
            ]}
        ]}));
        let result = &out["messages"][2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert_eq!(result["content"][1]["type"], "image");
        assert_eq!(result["content"][1]["source"]["media_type"], "image/png");
    }

    #[test]
    fn audio_input_is_a_400() {
        let req = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
        ]}]});
        assert_eq!(err_param(req), "messages[0].content[0].type");
    }

    #[test]
    fn cache_control_on_parts_tools_and_messages_is_carried_over() {
        let cc = json!({"type": "ephemeral"});
        let out = tr(json!({"model": "m",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "doc", "cache_control": cc},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}, "cache_control": cc}
                ]},
                {"role": "assistant", "content": "ok", "cache_control": cc},
                {"role": "user", "content": "q", "cache_control": cc}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}, "cache_control": cc}]
        }));
        assert_eq!(out["messages"][0]["content"][0]["cache_control"], cc);
        assert_eq!(out["messages"][0]["content"][1]["cache_control"], cc);
        assert_eq!(out["messages"][1]["content"][0]["cache_control"], cc);
        assert_eq!(out["messages"][2]["content"][0]["cache_control"], cc);
        assert_eq!(out["tools"][0]["cache_control"], cc);
    }

    #[test]
    fn replayed_thinking_blocks_come_first_unchanged() {
        let thinking = json!({"type": "thinking", "thinking": "Let me check.", "signature": "EqQBCkYIBxgCKkA="});
        let redacted = json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"});
        let out = tr(
            json!({"model": "m", "reasoning_effort": "low", "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "Checking.", "reasoning_content": "Let me check.",
                 "thinking_blocks": [thinking, redacted],
                 "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
            ]}),
        );
        let content = &out["messages"][1]["content"];
        assert_eq!(content[0], thinking);
        assert_eq!(content[1], redacted);
        assert_eq!(content[2]["type"], "text");
        assert_eq!(content[3]["type"], "tool_use");
    }

    #[test]
    fn reasoning_content_without_signature_is_dropped() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning_content": "hmm"}
        ]}));
        assert_eq!(
            out["messages"][1]["content"],
            json!([{"type": "text", "text": "a"}])
        );
    }

    #[test]
    fn stop_string_or_list_becomes_stop_sequences() {
        assert_eq!(
            tr(with_user(json!({"stop": "END"})))["stop_sequences"],
            json!(["END"])
        );
        assert_eq!(
            tr(with_user(json!({"stop": ["a", "b"]})))["stop_sequences"],
            json!(["a", "b"])
        );
        assert!(tr(with_user(json!({"stop": null})))
            .get("stop_sequences")
            .is_none());
        assert!(tr(with_user(json!({"stop": [""]})))
            .get("stop_sequences")
            .is_none());
        assert_eq!(err_param(with_user(json!({"stop": 3}))), "stop");
    }

    #[test]
    fn temperature_above_one_is_a_400_not_clamped() {
        let (msg, param) = err(with_user(json!({"temperature": 1.5})));
        assert_eq!(param.as_deref(), Some("temperature"));
        assert!(msg.contains("maximum"), "{msg}");
        assert_eq!(
            err_param(with_user(json!({"temperature": -0.1}))),
            "temperature"
        );
        let out = tr(with_user(json!({"temperature": 0.7, "top_p": 0.9})));
        assert_eq!(
            (out["temperature"].as_f64(), out["top_p"].as_f64()),
            (Some(0.7), Some(0.9))
        );
        assert_eq!(tr(with_user(json!({"temperature": 1})))["temperature"], 1);
    }

    #[test]
    fn top_k_extension_passes_through() {
        assert_eq!(tr(with_user(json!({"top_k": 40})))["top_k"], 40);
    }

    #[test]
    fn tools_map_to_input_schema() {
        let out = tr(with_user(json!({"tools": [
            {"type": "function", "function": {"name": "w", "description": "Weather", "strict": true,
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "now"}},
            {"type": "function", "function": {"name": "p", "parameters": {"properties": {}}}}
        ]})));
        assert_eq!(
            out["tools"],
            json!([
                {"name": "w", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}},
                {"name": "p", "input_schema": {"type": "object", "properties": {}}}
            ])
        );
        assert_eq!(
            err_param(with_user(
                json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]})
            )),
            "tools[0].type"
        );
    }

    fn with_tool(extra: Value) -> Value {
        let mut v = with_user(extra);
        v["tools"] = json!([{"type": "function", "function": {"name": "w"}}]);
        v
    }

    #[test]
    fn tool_choice_strings_map() {
        for (openai, anthropic) in [
            ("auto", json!({"type": "auto"})),
            ("none", json!({"type": "none"})),
            ("required", json!({"type": "any"})),
        ] {
            assert_eq!(
                tr(with_tool(json!({"tool_choice": openai})))["tool_choice"],
                anthropic
            );
        }
        assert_eq!(
            err_param(with_tool(json!({"tool_choice": "sometimes"}))),
            "tool_choice"
        );
    }

    #[test]
    fn named_tool_choice_maps_to_tool() {
        let out = tr(with_tool(
            json!({"tool_choice": {"type": "function", "function": {"name": "w"}}}),
        ));
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "w"}));
    }

    #[test]
    fn tool_choice_none_object_shape_is_rejected_cleanly() {
        // LiteLLM once answered 500 for {"type": "none"}; here it is a clear 400.
        assert_eq!(
            err_param(with_tool(json!({"tool_choice": {"type": "none"}}))),
            "tool_choice"
        );
    }

    #[test]
    fn parallel_tool_calls_false_disables_parallel_tool_use() {
        assert_eq!(
            tr(with_tool(json!({"parallel_tool_calls": false})))["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            tr(with_tool(
                json!({"parallel_tool_calls": false, "tool_choice": "required"})
            ))["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert_eq!(
            tr(with_tool(
                json!({"parallel_tool_calls": false, "tool_choice": "none"})
            ))["tool_choice"],
            json!({"type": "none"})
        );
        assert!(tr(with_tool(json!({"parallel_tool_calls": true})))
            .get("tool_choice")
            .is_none());
    }

    #[test]
    fn tool_choice_without_tools() {
        assert!(tr(with_user(
            json!({"tool_choice": "auto", "parallel_tool_calls": false})
        ))
        .get("tool_choice")
        .is_none());
        assert_eq!(
            err_param(with_user(json!({"tool_choice": "required"}))),
            "tool_choice"
        );
    }

    #[test]
    fn user_maps_to_metadata_user_id() {
        let out = tr(with_user(json!({"user": "u-42", "metadata": {"k": "v"}})));
        assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
    }

    #[test]
    fn reasoning_effort_maps_to_thinking_budget() {
        for (effort, budget) in [
            ("minimal", 1024),
            ("low", 1024),
            ("medium", 4096),
            ("high", 16384),
        ] {
            let out = tr(with_user(json!({"reasoning_effort": effort})));
            assert_eq!(
                out["thinking"],
                json!({"type": "enabled", "budget_tokens": budget}),
                "{effort}"
            );
            assert!(out["max_tokens"].as_u64().unwrap() > budget);
        }
        assert!(tr(with_user(json!({"reasoning_effort": "none"})))
            .get("thinking")
            .is_none());
        assert_eq!(
            err_param(with_user(json!({"reasoning_effort": "max"}))),
            "reasoning_effort"
        );
    }

    #[test]
    fn thinking_budget_stays_below_max_tokens() {
        // Default 8192 is above medium's 4096: unchanged.
        assert_eq!(
            tr(with_user(json!({"reasoning_effort": "medium"})))["max_tokens"],
            8192
        );
        // Default 8192 is not above high's 16384: budget + the requested room.
        assert_eq!(
            tr(with_user(json!({"reasoning_effort": "high"})))["max_tokens"],
            16384 + 8192
        );
        // An explicit 1000 with low (1024): 1024 + 1000.
        assert_eq!(
            tr(with_user(
                json!({"reasoning_effort": "low", "max_completion_tokens": 1000})
            ))["max_tokens"],
            2024
        );
        assert_eq!(
            tr(with_user(
                json!({"reasoning_effort": "low", "max_tokens": 5000})
            ))["max_tokens"],
            5000
        );
    }

    #[test]
    fn forced_tool_choice_with_thinking_is_a_400() {
        for choice in [
            json!("required"),
            json!({"type": "function", "function": {"name": "w"}}),
        ] {
            assert_eq!(
                err_param(with_tool(
                    json!({"reasoning_effort": "low", "tool_choice": choice})
                )),
                "tool_choice"
            );
        }
        let out = tr(with_tool(
            json!({"reasoning_effort": "low", "tool_choice": "auto"}),
        ));
        assert_eq!(out["tool_choice"], json!({"type": "auto"}));
    }

    #[test]
    fn thinking_requires_temperature_one_or_absent() {
        assert_eq!(
            err_param(with_user(
                json!({"reasoning_effort": "low", "temperature": 0.2})
            )),
            "temperature"
        );
        assert_eq!(
            tr(with_user(
                json!({"reasoning_effort": "low", "temperature": 1.0})
            ))["temperature"],
            1.0
        );
        assert_eq!(
            err_param(with_user(json!({"reasoning_effort": "low", "top_p": 0.5}))),
            "top_p"
        );
        assert_eq!(
            err_param(with_user(json!({"reasoning_effort": "low", "top_k": 5}))),
            "top_k"
        );
    }

    #[test]
    fn stream_and_include_usage() {
        let t = translate(
            with_user(json!({"stream": true, "stream_options": {"include_usage": true}}))
                .to_string()
                .as_bytes(),
            "m",
            &opts(),
        )
        .unwrap();
        assert!(t.stream && t.include_usage);
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["stream"], true);
        assert!(v.get("stream_options").is_none());
        let t = translate(
            with_user(json!({"stream": false, "stream_options": {"include_usage": true}}))
                .to_string()
                .as_bytes(),
            "m",
            &opts(),
        )
        .unwrap();
        assert!(!t.stream && !t.include_usage);
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert!(v.get("stream").is_none());
    }

    #[test]
    fn unsupported_parameters_are_400s_naming_the_param() {
        for (field, value) in [
            ("n", json!(2)),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(3)),
            ("logit_bias", json!({"50256": -100})),
            ("presence_penalty", json!(0.5)),
            ("frequency_penalty", json!(-1)),
            ("audio", json!({"voice": "alloy", "format": "wav"})),
            ("modalities", json!(["text", "audio"])),
            ("prediction", json!({"type": "content", "content": "x"})),
            ("response_format", json!({"type": "json_object"})),
            (
                "response_format",
                json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
            ),
            ("functions", json!([{"name": "f"}])),
            ("function_call", json!("auto")),
            ("web_search_options", json!({})),
        ] {
            let (msg, param) = err(with_user(json!({ field: value })));
            assert_eq!(param.as_deref(), Some(field), "{field}: {msg}");
            assert!(msg.contains(field), "{msg}");
        }
    }

    #[test]
    fn harmless_parameters_are_dropped() {
        let out = tr(with_user(json!({
            "store": true, "metadata": {"a": "b"}, "service_tier": "auto", "seed": 7,
            "prompt_cache_key": "k", "prompt_cache_retention": "24h", "safety_identifier": "s",
            "verbosity": "low", "web_search_options": null, "n": 1, "presence_penalty": 0,
            "frequency_penalty": 0.0, "logprobs": false, "top_logprobs": 0, "logit_bias": {},
            "modalities": ["text"], "response_format": {"type": "text"}, "audio": null
        })));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["max_tokens", "messages", "model"]);
    }

    #[test]
    fn unknown_top_level_field_is_unrecognized_argument() {
        let (msg, param) = err(with_user(json!({"temprature": 0.5})));
        assert_eq!(msg, "Unrecognized request argument supplied: temprature");
        assert_eq!(param.as_deref(), Some("temprature"));
    }

    #[test]
    fn legacy_function_role_and_unknown_roles_are_rejected() {
        assert_eq!(
            err_param(
                json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]})
            ),
            "messages[0].role"
        );
        assert_eq!(
            err_param(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})),
            "messages[0].role"
        );
    }

    #[test]
    fn tool_message_without_id_is_rejected() {
        assert_eq!(
            err_param(json!({"model": "m", "messages": [
                {"role": "user", "content": "x"},
                {"role": "tool", "content": "x"}
            ]})),
            "messages[1].tool_call_id"
        );
    }

    #[test]
    fn invalid_json_is_invalid_json() {
        assert!(matches!(
            translate(b"{nope", "m", &opts()),
            Err(GatewayError::InvalidJson { .. })
        ));
        assert!(matches!(
            translate(b"[1]", "m", &opts()),
            Err(GatewayError::InvalidJson { .. })
        ));
    }

    #[test]
    fn refusal_replayed_as_text() {
        let out = tr(json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "refusal": "I can't help with that."},
            {"role": "user", "content": "ok"}
        ]}));
        assert_eq!(
            out["messages"][1]["content"],
            json!([{"type": "text", "text": "I can't help with that."}])
        );
    }

    #[test]
    fn decode_base64_prefix() {
        assert_eq!(decode_base64("aGVsbG8=", 100), b"hello");
        assert_eq!(decode_base64("aGVs bG8", 3), b"hel");
        assert_eq!(decode_base64("", 3), b"");
    }
}
