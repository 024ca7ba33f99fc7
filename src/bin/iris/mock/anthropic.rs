//! `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic Messages API, validated
//! strictly (with Anthropic's error wording), answered deterministically, streamed as named SSE events.

use serde_json::{json, Map, Value};

use super::errors::{self, Api, ApiError};
use super::http::{Request, Response};
use super::reply::{self, Ask, Plan, ToolChoice, ToolSpec, Turn};

/// The documented top-level fields of `/v1/messages`.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "system",
    "temperature",
    "thinking",
    "tool_choice",
    "tools",
    "top_k",
    "top_p",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

/// The documented top-level fields of `/v1/messages/count_tokens`.
const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "thinking",
    "tool_choice",
    "tools",
    "mcp_servers",
    "context_management",
];

const BLOCK_TYPES: &str = "'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', \
                           'redacted_thinking', 'search_result'";

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The validated request, reduced to what the reply needs.
#[derive(Debug)]
struct Messages {
    model: String,
    max_tokens: Option<u64>,
    stream: bool,
    tools: Vec<ToolSpec>,
    choice: ToolChoice,
    parallel: bool,
    turn: Turn,
    input_words: u64,
    /// `tool_use` blocks already in the conversation: numbers the new ids.
    prior_calls: usize,
}

pub fn handle_messages(request: &Request, key: &str) -> Response {
    respond(request, key, false).unwrap_or_else(|err| err.into_response(Api::Anthropic))
}

pub fn handle_count_tokens(request: &Request, key: &str) -> Response {
    respond(request, key, true).unwrap_or_else(|err| err.into_response(Api::Anthropic))
}

fn respond(request: &Request, key: &str, count: bool) -> Result<Response, ApiError> {
    let body = errors::precheck(request, Api::Anthropic, key)?;
    let messages = validate(&body, count)?;
    if let Some(status) = reply::error_status(&messages.model) {
        return Err(errors::mock_error(Api::Anthropic, status, &messages.model));
    }
    if count {
        return Ok(Response::json(
            200,
            &json!({"input_tokens": messages.input_words}),
        ));
    }
    let plan = reply::plan(&Ask {
        api: "Anthropic",
        turn: &messages.turn,
        tools: &messages.tools,
        choice: &messages.choice,
        parallel: messages.parallel,
        max_tokens: messages.max_tokens,
    });
    if messages.stream {
        Ok(Response::stream(
            "text/event-stream",
            stream_events(&messages, &plan),
        ))
    } else {
        Ok(Response::json(200, &message(&messages, &plan)))
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

fn extra(path: &str) -> ApiError {
    invalid(format!("{path}: Extra inputs are not permitted"))
}

fn required(path: &str) -> ApiError {
    invalid(format!("{path}: Field required"))
}

fn not_a(path: &str, what: &str) -> ApiError {
    invalid(format!("{path}: Input should be a valid {what}"))
}

fn check_keys(object: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), ApiError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(extra(&format!("{path}.{k}"))),
        None => Ok(()),
    }
}

fn string<'a>(object: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, ApiError> {
    match object.get(key) {
        None => Err(required(&format!("{path}.{key}"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(not_a(&format!("{path}.{key}"), "string")),
    }
}

fn present<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn number_in(
    body: &Map<String, Value>,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, ApiError> {
    let Some(value) = present(body, key) else {
        return Ok(None);
    };
    let Some(n) = value.as_f64() else {
        return Err(not_a(key, "number"));
    };
    if n < min {
        return Err(invalid(format!(
            "{key}: Input should be greater than or equal to {min}"
        )));
    }
    if n > max {
        return Err(invalid(format!(
            "{key}: Input should be less than or equal to {max}"
        )));
    }
    Ok(Some(n))
}

fn validate(body: &Map<String, Value>, count: bool) -> Result<Messages, ApiError> {
    let allowed = if count { COUNT_FIELDS } else { FIELDS };
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(extra(k));
    }
    let model = match body.get("model") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        None | Some(Value::Null) => return Err(required("model")),
        Some(Value::String(_)) => {
            return Err(invalid("model: String should have at least 1 character"))
        }
        Some(_) => return Err(not_a("model", "string")),
    };
    let max_tokens = if count {
        None
    } else {
        match body.get("max_tokens") {
            None | Some(Value::Null) => return Err(required("max_tokens")),
            Some(value) => match value.as_i64() {
                Some(n) if n >= 1 => Some(n.unsigned_abs()),
                Some(_) => {
                    return Err(invalid(
                        "max_tokens: Input should be greater than or equal to 1",
                    ))
                }
                None => return Err(not_a("max_tokens", "integer")),
            },
        }
    };
    let list = match body.get("messages") {
        None | Some(Value::Null) => return Err(required("messages")),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(invalid("messages: at least one message is required"))
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(not_a("messages", "list")),
    };
    let stream = match present(body, "stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(not_a("stream", "boolean")),
    };
    let temperature = number_in(body, "temperature", 0.0, 1.0)?;
    number_in(body, "top_p", 0.0, 1.0)?;
    if let Some(top_k) = present(body, "top_k") {
        match top_k.as_i64() {
            Some(k) if k >= 0 => {}
            Some(_) => return Err(invalid("top_k: Input should be greater than or equal to 0")),
            None => return Err(not_a("top_k", "integer")),
        }
    }
    match present(body, "stop_sequences") {
        None => {}
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
        Some(_) => return Err(not_a("stop_sequences", "list of strings")),
    }
    match present(body, "metadata") {
        None => {}
        Some(Value::Object(metadata)) => check_keys(metadata, &["user_id"], "metadata")?,
        Some(_) => return Err(not_a("metadata", "dictionary")),
    }
    if let Some(tier) = present(body, "service_tier") {
        if !matches!(tier.as_str(), Some("auto" | "standard_only")) {
            return Err(invalid(
                "service_tier: Input should be 'auto' or 'standard_only'",
            ));
        }
    }
    let system_words = system_words(body)?;
    let thinking = thinking_enabled(body, max_tokens)?;
    if thinking && temperature.is_some_and(|t| t != 1.0) {
        return Err(invalid(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our \
             documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
        ));
    }
    let tools = tools(body)?;
    let (choice, parallel) = tool_choice(body)?;
    if thinking && matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) {
        return Err(invalid(
            "Thinking may not be enabled when tool_choice forces tool use.",
        ));
    }
    let conversation = conversation(list)?;
    Ok(Messages {
        model,
        max_tokens,
        stream,
        tools,
        choice,
        parallel,
        turn: conversation.turn,
        input_words: (system_words + conversation.words).max(1),
        prior_calls: conversation.prior_calls,
    })
}

fn system_words(body: &Map<String, Value>) -> Result<u64, ApiError> {
    match present(body, "system") {
        None => Ok(0),
        Some(Value::String(s)) => Ok(reply::words(s)),
        Some(Value::Array(blocks)) => {
            let mut words = 0;
            for (i, block) in blocks.iter().enumerate() {
                let path = format!("system.{i}");
                let Some(block) = block.as_object() else {
                    return Err(not_a(&path, "dictionary"));
                };
                if block.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(invalid(format!("{path}.type: Input should be 'text'")));
                }
                check_keys(
                    block,
                    &["type", "text", "cache_control", "citations"],
                    &path,
                )?;
                let text = string(block, "text", &path)?;
                if text.is_empty() {
                    return Err(invalid("system: text content blocks must be non-empty"));
                }
                words += reply::words(text);
            }
            Ok(words)
        }
        Some(_) => Err(not_a("system", "string")),
    }
}

/// Whether extended thinking is on, checking its budget.
fn thinking_enabled(body: &Map<String, Value>, max_tokens: Option<u64>) -> Result<bool, ApiError> {
    let Some(thinking) = present(body, "thinking") else {
        return Ok(false);
    };
    let Some(thinking) = thinking.as_object() else {
        return Err(not_a("thinking", "dictionary"));
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => {
            check_keys(thinking, &["type", "budget_tokens"], "thinking.enabled")?;
            let budget = match thinking.get("budget_tokens") {
                None => return Err(required("thinking.enabled.budget_tokens")),
                Some(value) => value
                    .as_i64()
                    .ok_or_else(|| not_a("thinking.enabled.budget_tokens", "integer"))?,
            };
            if budget < 1024 {
                return Err(invalid(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                ));
            }
            if let Some(max) = max_tokens {
                if budget.unsigned_abs() >= max {
                    return Err(invalid(
                        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult \
                         our documentation at https://docs.claude.com/en/docs/build-with-claude/\
                         extended-thinking#max-tokens-and-context-window-size",
                    ));
                }
            }
            Ok(true)
        }
        Some("disabled") => Ok(false),
        Some("adaptive") => Ok(true),
        Some(other) => Err(invalid(format!(
            "thinking: Input tag '{other}' found using 'type' does not match any of the expected \
             tags: 'enabled', 'disabled', 'adaptive'"
        ))),
        None => Err(required("thinking.type")),
    }
}

fn tools(body: &Map<String, Value>) -> Result<Vec<ToolSpec>, ApiError> {
    let list = match present(body, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(not_a("tools", "list")),
    };
    let mut specs = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let Some(tool) = tool.as_object() else {
            return Err(not_a(&format!("tools.{i}"), "dictionary"));
        };
        let name = match tool.get("type") {
            None | Some(Value::Null) => custom_tool(tool, i, &mut specs)?,
            Some(Value::String(t)) if t == "custom" => custom_tool(tool, i, &mut specs)?,
            Some(Value::String(t)) => string(tool, "name", &format!("tools.{i}.{t}"))?,
            Some(_) => return Err(not_a(&format!("tools.{i}.type"), "string")),
        };
        if names.contains(&name) {
            return Err(invalid("tools: Tool names must be unique."));
        }
        names.push(name);
    }
    Ok(specs)
}

fn custom_tool<'a>(
    tool: &'a Map<String, Value>,
    i: usize,
    specs: &mut Vec<ToolSpec>,
) -> Result<&'a str, ApiError> {
    let path = format!("tools.{i}.custom");
    let name = string(tool, "name", &path)?;
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(invalid(format!(
            "{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
        )));
    }
    let schema = match tool.get("input_schema") {
        None | Some(Value::Null) => return Err(required(&format!("{path}.input_schema"))),
        Some(Value::Object(schema)) => schema,
        Some(_) => return Err(not_a(&format!("{path}.input_schema"), "dictionary")),
    };
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid(format!(
            "{path}.input_schema.type: Input should be 'object'"
        )));
    }
    specs.push(ToolSpec {
        name: name.to_string(),
        schema: Value::Object(schema.clone()),
    });
    Ok(name)
}

/// The tool choice, and whether parallel tool use is allowed.
fn tool_choice(body: &Map<String, Value>) -> Result<(ToolChoice, bool), ApiError> {
    let Some(choice) = present(body, "tool_choice") else {
        return Ok((ToolChoice::Auto, true));
    };
    let Some(choice) = choice.as_object() else {
        return Err(not_a("tool_choice", "dictionary"));
    };
    let parallel = match choice.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(disable)) => !disable,
        Some(_) => return Err(not_a("tool_choice.disable_parallel_tool_use", "boolean")),
    };
    let kind = match choice.get("type") {
        None => return Err(required("tool_choice.type")),
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(not_a("tool_choice.type", "string")),
    };
    let tool_choice = match kind {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Named(string(choice, "name", "tool_choice.tool")?.to_string()),
        other => {
            return Err(invalid(format!(
                "tool_choice: Input tag '{other}' found using 'type' does not match any of the \
                 expected tags: 'auto', 'any', 'tool', 'none'"
            )))
        }
    };
    Ok((tool_choice, parallel))
}

struct Conversation {
    turn: Turn,
    words: u64,
    prior_calls: usize,
}

/// What a content block contributes to the conversation.
enum Block {
    Text(String),
    ToolUse(String),
    ToolResult { id: String, text: String },
    Other,
}

fn conversation(list: &[Value]) -> Result<Conversation, ApiError> {
    let mut words = 0u64;
    let mut prior_calls = 0usize;
    // The tool_use ids of the previous message, when it was an assistant message.
    let mut open_uses: Vec<String> = Vec::new();
    let mut open_index = 0usize;
    let mut turn = Turn::User(String::new());
    let last = list.len().saturating_sub(1);

    for (i, message) in list.iter().enumerate() {
        let path = format!("messages.{i}");
        let Some(message) = message.as_object() else {
            return Err(not_a(&path, "dictionary"));
        };
        check_keys(message, &["role", "content"], &path)?;
        let role =
            match message.get("role") {
                None => return Err(required(&format!("{path}.role"))),
                Some(Value::String(r)) if r == "user" || r == "assistant" => r.as_str(),
                Some(Value::String(r)) if r == "system" => return Err(invalid(
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level \
                     `system` parameter, not \"system\" as an input message role.",
                )),
                Some(_) => {
                    return Err(invalid(format!(
                        "{path}.role: Input should be 'user' or 'assistant'"
                    )))
                }
            };
        if i == 0 && role != "user" {
            return Err(invalid(
                "messages: first message must use the \"user\" role",
            ));
        }
        let may_be_empty = i == last && role == "assistant";
        let empty_error = || {
            invalid(format!(
                "{path}: all messages must have non-empty content except for the optional final \
                 assistant message"
            ))
        };
        let blocks = match message.get("content") {
            None => return Err(required(&format!("{path}.content"))),
            Some(Value::String(s)) => {
                if s.is_empty() && !may_be_empty {
                    return Err(empty_error());
                }
                vec![Block::Text(s.clone())]
            }
            Some(Value::Array(list)) => {
                if list.is_empty() && !may_be_empty {
                    return Err(empty_error());
                }
                let mut blocks = Vec::with_capacity(list.len());
                for (j, block) in list.iter().enumerate() {
                    blocks.push(block_of(block, &format!("{path}.content.{j}"), role)?);
                }
                blocks
            }
            Some(_) => return Err(not_a(&format!("{path}.content"), "list")),
        };
        if let (true, Some(Block::Text(text))) = (may_be_empty, blocks.last()) {
            if text.ends_with(char::is_whitespace) {
                return Err(invalid(
                    "messages: final assistant content cannot end with trailing whitespace",
                ));
            }
        }

        let mut texts = Vec::new();
        let mut results = Vec::new();
        let mut uses = Vec::new();
        for (j, block) in blocks.into_iter().enumerate() {
            match block {
                Block::Text(text) => {
                    words += reply::words(&text);
                    texts.push(text);
                }
                Block::ToolUse(id) => uses.push(id),
                Block::ToolResult { id, text } => {
                    if !open_uses.contains(&id) {
                        return Err(invalid(format!(
                            "{path}.content.{j}: unexpected `tool_use_id` found in `tool_result` \
                             blocks: {id}. Each `tool_result` block must have a corresponding \
                             `tool_use` block in the previous message."
                        )));
                    }
                    words += reply::words(&text);
                    results.push((id, text));
                }
                Block::Other => {}
            }
        }
        let unanswered: Vec<&str> = open_uses
            .iter()
            .filter(|id| !results.iter().any(|(answered, _)| answered == *id))
            .map(String::as_str)
            .collect();
        if !unanswered.is_empty() {
            return Err(invalid(format!(
                "messages.{open_index}: `tool_use` ids were found without `tool_result` blocks \
                 immediately after: {}. Each `tool_use` block must have a corresponding \
                 `tool_result` block in the next message.",
                unanswered.join(", ")
            )));
        }
        if role == "user" {
            turn = if results.is_empty() {
                Turn::User(texts.join(" "))
            } else {
                Turn::ToolResult(
                    results
                        .into_iter()
                        .map(|(_, text)| text)
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            };
        }
        prior_calls += uses.len();
        open_uses = uses;
        open_index = i;
    }
    Ok(Conversation {
        turn,
        words,
        prior_calls,
    })
}

fn block_of(block: &Value, path: &str, role: &str) -> Result<Block, ApiError> {
    let Some(block) = block.as_object() else {
        return Err(not_a(path, "dictionary or object to extract fields from"));
    };
    let kind = match block.get("type") {
        None => return Err(required(&format!("{path}.type"))),
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(not_a(&format!("{path}.type"), "string")),
    };
    let keys: &[&str] = match kind {
        "text" => &["type", "text", "cache_control", "citations"],
        "image" => &["type", "source", "cache_control"],
        "document" => &[
            "type",
            "source",
            "title",
            "context",
            "citations",
            "cache_control",
        ],
        "tool_use" => &["type", "id", "name", "input", "cache_control"],
        "tool_result" => &[
            "type",
            "tool_use_id",
            "content",
            "is_error",
            "cache_control",
        ],
        "thinking" => &["type", "thinking", "signature"],
        "redacted_thinking" => &["type", "data"],
        "search_result" => &[
            "type",
            "source",
            "title",
            "content",
            "citations",
            "cache_control",
        ],
        other => {
            return Err(invalid(format!(
                "{path}: Input tag '{other}' found using 'type' does not match any of the \
                 expected tags: {BLOCK_TYPES}"
            )))
        }
    };
    let path = format!("{path}.{kind}");
    check_keys(block, keys, &path)?;
    match kind {
        "text" => Ok(Block::Text(text_block(block, &path)?)),
        "image" => {
            image_source(block, &path)?;
            Ok(Block::Other)
        }
        "document" => {
            let source = match block.get("source") {
                None => return Err(required(&format!("{path}.source"))),
                Some(Value::Object(source)) => source,
                Some(_) => return Err(not_a(&format!("{path}.source"), "dictionary")),
            };
            let source_type = source.get("type").and_then(Value::as_str).unwrap_or("");
            if !matches!(source_type, "base64" | "text" | "url" | "content" | "file") {
                return Err(invalid(format!(
                    "{path}.source: Input tag '{source_type}' found using 'type' does not match \
                     any of the expected tags: 'base64', 'text', 'content', 'url', 'file'"
                )));
            }
            Ok(Block::Other)
        }
        "tool_use" => {
            if role != "assistant" {
                return Err(invalid(format!(
                    "{path}: tool_use blocks are only allowed in assistant messages"
                )));
            }
            let id = string(block, "id", &path)?;
            let valid = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(invalid(format!(
                    "{path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
                )));
            }
            string(block, "name", &path)?;
            match block.get("input") {
                None => return Err(required(&format!("{path}.input"))),
                Some(Value::Object(_)) => {}
                Some(_) => return Err(not_a(&format!("{path}.input"), "dictionary")),
            }
            Ok(Block::ToolUse(id.to_string()))
        }
        "tool_result" => {
            if role != "user" {
                return Err(invalid(format!(
                    "{path}: tool_result blocks are only allowed in user messages"
                )));
            }
            let id = string(block, "tool_use_id", &path)?.to_string();
            if let Some(flag) = present(block, "is_error") {
                if !flag.is_boolean() {
                    return Err(not_a(&format!("{path}.is_error"), "boolean"));
                }
            }
            let text = match present(block, "content") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(inner)) => {
                    let mut texts = Vec::new();
                    for (k, item) in inner.iter().enumerate() {
                        let item_path = format!("{path}.content.{k}");
                        match item.get("type").and_then(Value::as_str) {
                            Some("text" | "image" | "search_result" | "document") => {}
                            _ => {
                                return Err(invalid(format!(
                                    "{item_path}: Input tag found using 'type' does not match any \
                                     of the expected tags: 'text', 'image', 'search_result', 'document'"
                                )))
                            }
                        }
                        if let Block::Text(text) = block_of(item, &item_path, role)? {
                            texts.push(text);
                        }
                    }
                    texts.join(" ")
                }
                Some(_) => return Err(not_a(&format!("{path}.content"), "list")),
            };
            Ok(Block::ToolResult { id, text })
        }
        "thinking" => {
            string(block, "thinking", &path)?;
            string(block, "signature", &path)?;
            Ok(Block::Other)
        }
        "redacted_thinking" => {
            string(block, "data", &path)?;
            Ok(Block::Other)
        }
        _ => {
            // search_result
            string(block, "source", &path)?;
            string(block, "title", &path)?;
            match block.get("content") {
                Some(Value::Array(items)) => {
                    for (k, item) in items.iter().enumerate() {
                        let item_path = format!("{path}.content.{k}");
                        let Some(item) = item.as_object() else {
                            return Err(not_a(&item_path, "dictionary"));
                        };
                        text_block(item, &item_path)?;
                    }
                    Ok(Block::Other)
                }
                None => Err(required(&format!("{path}.content"))),
                Some(_) => Err(not_a(&format!("{path}.content"), "list")),
            }
        }
    }
}

fn text_block(block: &Map<String, Value>, path: &str) -> Result<String, ApiError> {
    let text = string(block, "text", path)?;
    if text.is_empty() {
        return Err(invalid("messages: text content blocks must be non-empty"));
    }
    if text.trim().is_empty() {
        return Err(invalid(
            "messages: text content blocks must contain non-whitespace text",
        ));
    }
    Ok(text.to_string())
}

fn image_source(block: &Map<String, Value>, path: &str) -> Result<(), ApiError> {
    let source = match block.get("source") {
        None => return Err(required(&format!("{path}.source"))),
        Some(Value::Object(source)) => source,
        Some(_) => return Err(not_a(&format!("{path}.source"), "dictionary")),
    };
    let source_path = format!("{path}.source");
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = string(source, "media_type", &format!("{source_path}.base64"))?;
            if !IMAGE_TYPES.contains(&media_type) {
                return Err(invalid(format!(
                    "{source_path}.base64.media_type: Input should be 'image/jpeg', 'image/png', \
                     'image/gif' or 'image/webp'"
                )));
            }
            string(source, "data", &format!("{source_path}.base64"))?;
            Ok(())
        }
        Some("url") => string(source, "url", &format!("{source_path}.url")).map(|_| ()),
        Some("file") => string(source, "file_id", &format!("{source_path}.file")).map(|_| ()),
        _ => Err(invalid(format!(
            "{source_path}: Input tag found using 'type' does not match any of the expected tags: \
             'base64', 'url', 'file'"
        ))),
    }
}

fn usage(messages: &Messages, output_tokens: u64) -> Value {
    let (read, creation) = if reply::is_cache_model(&messages.model) {
        (reply::CACHE_READ_TOKENS, reply::CACHE_CREATION_TOKENS)
    } else {
        (0, 0)
    };
    json!({
        "input_tokens": messages.input_words,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read
    })
}

fn stop_reason(plan: &Plan) -> &'static str {
    if !plan.calls.is_empty() {
        "tool_use"
    } else if plan.truncated {
        "max_tokens"
    } else {
        "end_turn"
    }
}

fn tool_use_id(messages: &Messages, k: usize) -> String {
    format!("toolu_mock_{}", messages.prior_calls + k + 1)
}

fn message(messages: &Messages, plan: &Plan) -> Value {
    let content: Vec<Value> = if plan.calls.is_empty() {
        vec![json!({"type": "text", "text": plan.text})]
    } else {
        plan.calls
            .iter()
            .enumerate()
            .map(|(k, call)| {
                json!({"type": "tool_use", "id": tool_use_id(messages, k), "name": call.name, "input": call.args})
            })
            .collect()
    };
    json!({
        "id": format!("msg_mock{}", reply::unique()),
        "type": "message",
        "role": "assistant",
        "model": messages.model,
        "content": content,
        "stop_reason": stop_reason(plan),
        "stop_sequence": null,
        "usage": usage(messages, plan.output_tokens)
    })
}

/// The SSE events of a streamed message.
fn stream_events(messages: &Messages, plan: &Plan) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    events.push(reply::sse_event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": format!("msg_mock{}", reply::unique()),
            "type": "message",
            "role": "assistant",
            "model": messages.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": usage(messages, 1)
        }}),
    ));
    let ping = |events: &mut Vec<Vec<u8>>, index: usize| {
        if index == 0 {
            events.push(reply::sse_event("ping", &json!({"type": "ping"})));
        }
    };
    if plan.calls.is_empty() {
        events.push(reply::sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        ping(&mut events, 0);
        for (w, piece) in reply::split_words(&plan.text).into_iter().enumerate() {
            if w == 2 && messages.model == reply::STREAM_ERROR_MODEL {
                events.push(reply::sse_event(
                    "error",
                    &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                ));
                return events;
            }
            events.push(reply::sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        events.push(reply::sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ));
    }
    for (index, call) in plan.calls.iter().enumerate() {
        events.push(reply::sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": tool_use_id(messages, index), "name": call.name, "input": {}
            }}),
        ));
        ping(&mut events, index);
        for fragment in reply::split_fragments(&call.args_json) {
            events.push(reply::sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": fragment}}),
            ));
        }
        events.push(reply::sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(reply::sse_event(
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(plan), "stop_sequence": null},
                "usage": {"output_tokens": plan.output_tokens}}),
    ));
    events.push(reply::sse_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    events
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mock::http::Body;

    fn post(path: &str, body: Value) -> Response {
        let request = Request {
            method: "POST".into(),
            path: path.into(),
            headers: vec![
                ("x-api-key".into(), "k".into()),
                ("anthropic-version".into(), "2023-06-01".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
            ..Request::default()
        };
        if path.ends_with("count_tokens") {
            handle_count_tokens(&request, "k")
        } else {
            handle_messages(&request, "k")
        }
    }

    fn json_of(response: &Response) -> Value {
        match &response.body {
            Body::Full(bytes) => serde_json::from_slice(bytes).unwrap(),
            Body::Stream(_) => panic!("expected a full body"),
        }
    }

    /// (event name, data) of each SSE event.
    fn events_of(response: &Response) -> Vec<(String, Value)> {
        let Body::Stream(chunks) = &response.body else {
            panic!("expected a stream")
        };
        chunks
            .iter()
            .map(|chunk| {
                let text = String::from_utf8(chunk.clone()).unwrap();
                assert!(text.ends_with("\n\n"));
                let (event, data) = text.trim_end().split_once('\n').unwrap();
                (
                    event.strip_prefix("event: ").unwrap().to_string(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    fn weather_tools() -> Value {
        json!([
            {"name":"get_weather","description":"d","input_schema":{"type":"object",
                "properties":{"location":{"type":"string"}},"required":["location"]}},
            {"name":"get_time","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}
        ])
    }

    #[test]
    fn answers_with_text_and_usage() {
        let r = post(
            "/v1/messages",
            json!({"model":"claude-x","max_tokens":100,"system":"Be nice.",
            "messages":[{"role":"user","content":[{"type":"text","text":"Hello"},{"type":"text","text":"world"}]}]}),
        );
        assert_eq!(r.status, 200);
        let v = json_of(&r);
        assert_eq!(v["type"], "message");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["model"], "claude-x");
        assert!(v["id"].as_str().unwrap().starts_with("msg_mock"));
        assert_eq!(
            v["content"][0]["text"],
            "Hello from the mock Anthropic! You said: Hello world"
        );
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(v["stop_sequence"], Value::Null);
        assert_eq!(
            v["usage"],
            json!({"input_tokens":4,"output_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0})
        );
    }

    #[test]
    fn cache_model_and_count_tokens() {
        let v = json_of(&post(
            "/v1/messages",
            json!({"model":"mock-cache-x","max_tokens":5,
            "messages":[{"role":"user","content":"a b c"}]}),
        ));
        assert_eq!(v["usage"]["cache_read_input_tokens"], 100);
        assert_eq!(v["usage"]["cache_creation_input_tokens"], 20);
        assert_eq!(v["usage"]["input_tokens"], 3);
        assert_eq!(v["stop_reason"], "max_tokens");
        assert_eq!(v["usage"]["output_tokens"], 5);
        assert_eq!(v["content"][0]["text"], "Hello from the mock Anthropic!");
        let v = json_of(&post(
            "/v1/messages/count_tokens",
            json!({"model":"m","system":"x y",
            "messages":[{"role":"user","content":"a b c"}]}),
        ));
        assert_eq!(v, json!({"input_tokens": 5}));
    }

    #[test]
    fn rejections() {
        let user = json!([{"role":"user","content":"hi"}]);
        let cases = [
            (
                json!({"model":"m","messages":user}),
                "max_tokens: Field required",
            ),
            (
                json!({"model":"m","max_tokens":0,"messages":user}),
                "max_tokens: Input should be greater than or equal to 1",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":user,"frequency_penalty":1}),
                "frequency_penalty: Extra inputs are not permitted",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[]}),
                "at least one message",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"},{"role":"user","content":"hi"}]}),
                "top-level `system` parameter",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]}),
                "first message must use the \"user\" role",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}),
                "messages: text content blocks must be non-empty",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}),
                "must have non-empty content",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}),
                "does not match any of the expected tags",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"x"}}]}]}),
                "media_type",
            ),
            (
                json!({"model":"m","max_tokens":5,"temperature":1.5,"messages":user}),
                "temperature: Input should be less than or equal to 1",
            ),
            (
                json!({"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":100},"messages":user}),
                "greater than or equal to 1024",
            ),
            (
                json!({"model":"m","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":2000},"messages":user}),
                "`max_tokens` must be greater than `thinking.budget_tokens`",
            ),
            (
                json!({"model":"m","max_tokens":5,"tools":[{"name":"f"}],"messages":user}),
                "tools.0.custom.input_schema: Field required",
            ),
            (
                json!({"model":"m","max_tokens":5,"tool_choice":{"type":"tool"},"messages":user}),
                "tool_choice.tool.name: Field required",
            ),
            (
                json!({"model":"m","max_tokens":5,"tool_choice":{"type":"required"},"messages":user}),
                "tool_choice: Input tag 'required'",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi","name":"bob"}]}),
                "messages.0.name: Extra inputs are not permitted",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Sure "}]}),
                "cannot end with trailing whitespace",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"},"foo":1}]}]}),
                "messages.0.content.0.text.foo: Extra inputs are not permitted",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[
                {"role":"user","content":"hi"},
                {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"r"}]}]}),
                "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[
                {"role":"user","content":"hi"},
                {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},
                {"role":"user","content":"no result"}]}),
                "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r"}]}]}),
                "unexpected `tool_use_id`",
            ),
            (
                json!({"model":"m","max_tokens":5,"messages":[
                {"role":"user","content":"hi"},
                {"role":"assistant","content":[{"type":"tool_use","id":"bad id","name":"f","input":{}}]}]}),
                "String should match pattern",
            ),
        ];
        for (body, expected) in cases {
            let r = post("/v1/messages", body.clone());
            assert_eq!(r.status, 400, "{body}");
            let v = json_of(&r);
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], "invalid_request_error");
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(expected), "{body}: {message}");
        }
        let r = post(
            "/v1/messages/count_tokens",
            json!({"model":"m","max_tokens":5,"messages":user}),
        );
        assert_eq!(
            json_of(&r)["error"]["message"],
            "max_tokens: Extra inputs are not permitted"
        );
    }

    #[test]
    fn tool_use_round_trip() {
        let v = json_of(&post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"tools":weather_tools(),
            "messages":[{"role":"user","content":"What's the weather in Paris?"}]}),
        ));
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(
            v["content"],
            json!([{"type":"tool_use","id":"toolu_mock_1","name":"get_weather","input":{"location":"Paris"}}])
        );

        let v = json_of(&post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"tools":weather_tools(),
            "tool_choice":{"type":"any"},"messages":[{"role":"user","content":"use both please"}]}),
        ));
        assert_eq!(v["content"].as_array().unwrap().len(), 2);
        assert_eq!(v["content"][1]["id"], "toolu_mock_2");
        assert_eq!(v["content"][1]["input"], json!({"city":"Paris"}));

        let v = json_of(&post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"tools":weather_tools(),
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"use both please"}]}),
        ));
        assert_eq!(v["content"].as_array().unwrap().len(), 1);

        let v = json_of(&post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"tools":weather_tools(),
            "messages":[
                {"role":"user","content":"What's the weather in Paris?"},
                {"role":"assistant","content":[{"type":"tool_use","id":"toolu_mock_1","name":"get_weather","input":{"location":"Paris"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_mock_1","content":[{"type":"text","text":"sunny"}]}]}]}),
        ));
        assert_eq!(v["stop_reason"], "end_turn");
        assert_eq!(
            v["content"][0]["text"],
            "Hello from the mock Anthropic! You said: tool result: sunny"
        );
        assert_eq!(v["usage"]["input_tokens"], 6);
    }

    #[test]
    fn streams_text_events_in_order() {
        let r = post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"stream":true,
            "messages":[{"role":"user","content":"hi"}]}),
        );
        let events = events_of(&r);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        let deltas = names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count();
        assert_eq!(deltas, 8);
        let mut expected = vec!["message_start", "content_block_start", "ping"];
        expected.extend(std::iter::repeat_n("content_block_delta", deltas));
        expected.extend(["content_block_stop", "message_delta", "message_stop"]);
        assert_eq!(names, expected);
        assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 1);
        assert_eq!(events[0].1["message"]["usage"]["output_tokens"], 1);
        let text: String = events
            .iter()
            .filter_map(|(_, d)| d["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, "Hello from the mock Anthropic! You said: hi");
        let delta = &events[events.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["output_tokens"], 8);
    }

    #[test]
    fn streams_tool_use_as_input_json_deltas() {
        let r = post(
            "/v1/messages",
            json!({"model":"m","max_tokens":100,"stream":true,"tools":weather_tools(),
            "tool_choice":{"type":"tool","name":"get_time"},"messages":[{"role":"user","content":"hi"}]}),
        );
        let events = events_of(&r);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type":"tool_use","id":"toolu_mock_1","name":"get_time","input":{}})
        );
        let fragments: Vec<&str> = events
            .iter()
            .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
            .collect();
        assert!(fragments.len() >= 2);
        assert_eq!(fragments.concat(), r#"{"city":"Paris"}"#);
        assert_eq!(
            events[events.len() - 2].1["delta"]["stop_reason"],
            "tool_use"
        );
    }

    #[test]
    fn stream_error_model() {
        let r = post(
            "/v1/messages",
            json!({"model":"mock-stream-error","max_tokens":100,"stream":true,
            "messages":[{"role":"user","content":"hi"}]}),
        );
        let events = events_of(&r);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "error"
            ]
        );
        assert_eq!(
            events[5].1,
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
        );
    }

    #[test]
    fn error_models() {
        let r = post(
            "/v1/messages",
            json!({"model":"mock-error-529","max_tokens":5,"messages":[{"role":"user","content":"x"}]}),
        );
        assert_eq!(r.status, 529);
        assert_eq!(json_of(&r)["error"]["type"], "overloaded_error");
    }
}
