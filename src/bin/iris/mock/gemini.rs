//! `POST /v1beta/models/{model}:generateContent` (also `:streamGenerateContent`, SSE with
//! `alt=sse` else a streamed JSON array, and `:countTokens`): the Gemini API.

use serde_json::{json, Map, Value};

use super::errors::{self, Api, ApiError};
use super::http::{Request, Response};
use super::reply::{self, Ask, Plan, ToolChoice, ToolSpec, Turn};

/// The documented top-level fields, camelCase and snake_case.
const FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "generationConfig",
    "cachedContent",
    "system_instruction",
    "tool_config",
    "safety_settings",
    "generation_config",
    "cached_content",
];

const GENERATION_CONFIG: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "_responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "mediaResolution",
    "stop_sequences",
    "response_mime_type",
    "response_schema",
    "response_json_schema",
    "response_modalities",
    "candidate_count",
    "max_output_tokens",
    "top_p",
    "top_k",
    "presence_penalty",
    "frequency_penalty",
    "response_logprobs",
    "enable_enhanced_civic_answers",
    "speech_config",
    "thinking_config",
    "image_config",
    "media_resolution",
];

const PART_DATA: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
];

const PART_META: &[&str] = &[
    "thought",
    "thoughtSignature",
    "thought_signature",
    "videoMetadata",
    "video_metadata",
    "partMetadata",
    "part_metadata",
];

/// What a `/models/{model}:{method}` path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Generate,
    Stream,
    CountTokens,
}

/// Splits `/v1beta/models/{model}:{method}` (or `/v1/...`) into the model and method.
pub fn parse_path(path: &str) -> Option<(&str, Method)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "countTokens" => Method::CountTokens,
        _ => return None,
    };
    Some((model, method))
}

/// The validated request, reduced to what the reply needs.
#[derive(Debug)]
struct Generate {
    model: String,
    tools: Vec<ToolSpec>,
    choice: ToolChoice,
    turn: Turn,
    input_words: u64,
    max_tokens: Option<u64>,
}

pub fn handle(request: &Request, key: &str, model: &str, method: Method) -> Response {
    respond(request, key, model, method).unwrap_or_else(|err| err.into_response(Api::Gemini))
}

fn respond(
    request: &Request,
    key: &str,
    model: &str,
    method: Method,
) -> Result<Response, ApiError> {
    let body = errors::precheck(request, Api::Gemini, key)?;
    let generate = if method == Method::CountTokens {
        count_request(&body, model)?
    } else {
        validate(&body, model)?
    };
    if let Some(status) = reply::error_status(model) {
        return Err(errors::mock_error(Api::Gemini, status, model));
    }
    if method == Method::CountTokens {
        return Ok(Response::json(
            200,
            &json!({
                "totalTokens": generate.input_words,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": generate.input_words}]
            }),
        ));
    }
    let plan = reply::plan(&Ask {
        api: "Gemini",
        turn: &generate.turn,
        tools: &generate.tools,
        choice: &generate.choice,
        parallel: true,
        max_tokens: generate.max_tokens,
    });
    match method {
        Method::Stream => {
            let sse = request.query_param("alt") == Some("sse");
            let content_type = if sse {
                "text/event-stream"
            } else {
                "application/json"
            };
            Ok(Response::stream(
                content_type,
                stream_chunks(&generate, &plan, sse),
            ))
        }
        _ => Ok(Response::json(200, &generate_response(&generate, &plan))),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

fn unknown(name: &str, at: Option<&str>) -> ApiError {
    match at {
        Some(at) => invalid(format!(
            "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
        )),
        None => invalid(format!(
            "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
        )),
    }
}

fn field<'a>(object: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    object
        .get(camel)
        .or_else(|| object.get(snake))
        .filter(|v| !v.is_null())
}

/// `countTokens` takes `contents` or a whole `generateContentRequest`.
fn count_request(body: &Map<String, Value>, model: &str) -> Result<Generate, ApiError> {
    if let Some(k) = body.keys().find(|k| {
        !matches!(
            k.as_str(),
            "contents" | "generateContentRequest" | "generate_content_request"
        )
    }) {
        return Err(unknown(k, None));
    }
    match field(body, "generateContentRequest", "generate_content_request") {
        Some(Value::Object(inner)) => {
            let mut inner = inner.clone();
            inner.remove("model");
            validate(&inner, model)
        }
        Some(_) => Err(invalid(
            "Invalid JSON payload received. generateContentRequest must be an object.",
        )),
        None => validate(body, model),
    }
}

fn validate(body: &Map<String, Value>, model: &str) -> Result<Generate, ApiError> {
    if let Some(k) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(unknown(k, None));
    }
    let contents = match body.get("contents") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            return Err(invalid("* GenerateContentRequest.contents: contents is not specified\n"))
        }
        Some(_) => {
            return Err(invalid(
                "Invalid JSON payload received. Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), expected a list",
            ))
        }
    };
    let mut words = 0u64;
    if let Some(system) = field(body, "systemInstruction", "system_instruction") {
        let Some(system) = system.as_object() else {
            return Err(invalid(
                "Invalid JSON payload received. 'system_instruction' must be an object.",
            ));
        };
        words += content_words(system, "system_instruction", true)?.words;
    }
    let max_tokens = generation_config(body)?;
    let tools = tools(body)?;
    let choice = tool_choice(body)?;
    let conversation = conversation(contents)?;
    words += conversation.words;
    Ok(Generate {
        model: model.to_string(),
        tools,
        choice,
        turn: conversation.turn,
        input_words: words.max(1),
        max_tokens,
    })
}

/// Checks `generationConfig`; returns `maxOutputTokens`.
fn generation_config(body: &Map<String, Value>) -> Result<Option<u64>, ApiError> {
    let Some(config) = field(body, "generationConfig", "generation_config") else {
        return Ok(None);
    };
    let Some(config) = config.as_object() else {
        return Err(invalid(
            "Invalid JSON payload received. 'generation_config' must be an object.",
        ));
    };
    if let Some(k) = config
        .keys()
        .find(|k| !GENERATION_CONFIG.contains(&k.as_str()))
    {
        return Err(unknown(k, Some("generation_config")));
    }
    if let Some(t) = field(config, "temperature", "temperature") {
        match t.as_f64() {
            Some(t) if (0.0..=2.0).contains(&t) => {}
            _ => {
                return Err(invalid(
                    "* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0.0, 2.0]\n",
                ))
            }
        }
    }
    match field(config, "maxOutputTokens", "max_output_tokens") {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Ok(Some(n.unsigned_abs())),
            _ => Err(invalid(
                "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive\n",
            )),
        },
    }
}

fn tools(body: &Map<String, Value>) -> Result<Vec<ToolSpec>, ApiError> {
    let list = match body.get("tools") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(invalid(
                "Invalid JSON payload received. 'tools' must be a list.",
            ))
        }
    };
    let mut specs = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let Some(tool) = tool.as_object() else {
            return Err(invalid(format!(
                "Invalid JSON payload received. 'tools[{i}]' must be an object."
            )));
        };
        let Some(declarations) = field(tool, "functionDeclarations", "function_declarations")
        else {
            continue;
        };
        let Some(declarations) = declarations.as_array() else {
            return Err(invalid(format!(
                "Invalid JSON payload received. 'tools[{i}].function_declarations' must be a list."
            )));
        };
        for (j, declaration) in declarations.iter().enumerate() {
            let name = declaration
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                return Err(invalid(format!(
                    "* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Name cannot be empty.\n"
                )));
            }
            let schema = declaration
                .get("parameters")
                .or_else(|| declaration.get("parametersJsonSchema"))
                .or_else(|| declaration.get("parameters_json_schema"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            specs.push(ToolSpec {
                name: name.to_string(),
                schema,
            });
        }
    }
    Ok(specs)
}

fn tool_choice(body: &Map<String, Value>) -> Result<ToolChoice, ApiError> {
    let config = field(body, "toolConfig", "tool_config")
        .and_then(|c| {
            field(
                c.as_object()?,
                "functionCallingConfig",
                "function_calling_config",
            )
        })
        .and_then(Value::as_object);
    let Some(config) = config else {
        return Ok(ToolChoice::Auto);
    };
    let allowed: Vec<&str> = field(config, "allowedFunctionNames", "allowed_function_names")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match config.get("mode").and_then(Value::as_str).unwrap_or("AUTO") {
        "AUTO" | "MODE_UNSPECIFIED" | "VALIDATED" => Ok(ToolChoice::Auto),
        "NONE" => Ok(ToolChoice::None),
        "ANY" => Ok(match allowed.as_slice() {
            [only] => ToolChoice::Named((*only).to_string()),
            _ => ToolChoice::Required,
        }),
        other => Err(invalid(format!(
            "Invalid JSON payload received. Invalid value at 'tool_config.function_calling_config.mode' \
             (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"{other}\""
        ))),
    }
}

/// What one content contributes.
struct ContentInfo {
    words: u64,
    texts: Vec<String>,
    responses: Vec<String>,
    calls: usize,
}

/// Checks a content's parts; `system` allows a missing role.
fn content_words(
    content: &Map<String, Value>,
    at: &str,
    system: bool,
) -> Result<ContentInfo, ApiError> {
    if let Some(k) = content
        .keys()
        .find(|k| !matches!(k.as_str(), "role" | "parts"))
    {
        return Err(unknown(k, Some(at)));
    }
    let parts = match content.get("parts") {
        Some(Value::Array(parts)) if !parts.is_empty() => parts,
        _ => {
            return Err(invalid(format!(
                "* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n"
            )))
        }
    };
    let mut info = ContentInfo {
        words: 0,
        texts: Vec::new(),
        responses: Vec::new(),
        calls: 0,
    };
    for (k, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.parts[{k}]");
        let Some(part) = part.as_object() else {
            return Err(invalid(format!(
                "Invalid JSON payload received. '{part_at}' must be an object."
            )));
        };
        if let Some(key) = part
            .keys()
            .find(|key| !PART_DATA.contains(&key.as_str()) && !PART_META.contains(&key.as_str()))
        {
            return Err(unknown(key, Some(&part_at)));
        }
        let data: Vec<&str> = part
            .keys()
            .map(String::as_str)
            .filter(|key| PART_DATA.contains(key))
            .collect();
        match data.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "* GenerateContentRequest.{part_at}.data: required oneof field 'data' must have one initialized field\n"
                )))
            }
            [_] => {}
            _ => {
                return Err(invalid(format!(
                    "Invalid JSON payload received. Oneof field 'data' is already set at '{part_at}'."
                )))
            }
        }
        if let Some(text) = part.get("text") {
            let Some(text) = text.as_str() else {
                return Err(invalid(format!(
                    "Invalid JSON payload received. '{part_at}.text' must be a string."
                )));
            };
            if part.get("thought").and_then(Value::as_bool) != Some(true) {
                info.words += reply::words(text);
                info.texts.push(text.to_string());
            }
        }
        if system {
            continue;
        }
        if let Some(call) = field(part, "functionCall", "function_call") {
            if call
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err(invalid(format!(
                    "* GenerateContentRequest.{part_at}.function_call.name: Name cannot be empty.\n"
                )));
            }
            info.calls += 1;
        }
        if let Some(response) = field(part, "functionResponse", "function_response") {
            if response
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err(invalid(format!(
                    "* GenerateContentRequest.{part_at}.function_response.name: Name cannot be empty.\n"
                )));
            }
            let mut leaves = Vec::new();
            string_leaves(
                response.get("response").unwrap_or(&Value::Null),
                &mut leaves,
            );
            let text = leaves.join(" ");
            info.words += reply::words(&text);
            info.responses.push(text);
        }
    }
    Ok(info)
}

/// All string values in a JSON value, depth first.
fn string_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| string_leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| string_leaves(v, out)),
        _ => {}
    }
}

struct Conversation {
    turn: Turn,
    words: u64,
}

fn conversation(contents: &[Value]) -> Result<Conversation, ApiError> {
    let mut words = 0;
    let mut turn = Turn::User(String::new());
    // Function calls in the previous content, when it was a model turn.
    let mut open_calls = 0usize;
    let mut previous_role = "";
    for (i, content) in contents.iter().enumerate() {
        let at = format!("contents[{i}]");
        let Some(content) = content.as_object() else {
            return Err(invalid(format!(
                "Invalid JSON payload received. '{at}' must be an object."
            )));
        };
        // Like the real API, a content without a role is a user turn.
        let role = match content.get("role") {
            None | Some(Value::Null) => "user",
            Some(Value::String(role)) if role == "user" || role == "model" => role.as_str(),
            Some(_) => return Err(invalid("Please use a valid role: user, model.")),
        };
        let info = content_words(content, &at, false)?;
        words += info.words;
        if info.calls > 0 && role == "model" && previous_role != "user" {
            return Err(invalid(
                "Please ensure that function call turn comes immediately after a user turn or after a function response turn.",
            ));
        }
        if !info.responses.is_empty() {
            if open_calls == 0 {
                return Err(invalid(
                    "Please ensure that function response turn comes immediately after a function call turn.",
                ));
            }
            if info.responses.len() != open_calls {
                return Err(invalid(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
                ));
            }
        }
        if role == "user" {
            turn = if info.responses.is_empty() {
                Turn::User(info.texts.join(" "))
            } else {
                Turn::ToolResult(info.responses.join(" "))
            };
        }
        open_calls = if role == "model" { info.calls } else { 0 };
        previous_role = role;
    }
    Ok(Conversation { turn, words })
}

fn usage(generate: &Generate, candidates: u64) -> Value {
    let cached = if reply::is_cache_model(&generate.model) {
        reply::CACHE_READ_TOKENS
    } else {
        0
    };
    let prompt = generate.input_words + cached;
    let mut usage = json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]
    });
    if cached > 0 {
        if let Some(object) = usage.as_object_mut() {
            object.insert("cachedContentTokenCount".to_string(), Value::from(cached));
        }
    }
    usage
}

fn finish_reason(plan: &Plan) -> &'static str {
    if plan.truncated {
        "MAX_TOKENS"
    } else {
        "STOP"
    }
}

fn candidate(parts: Vec<Value>, finish: Option<&str>) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let (Some(finish), Some(object)) = (finish, candidate.as_object_mut()) {
        object.insert(
            "finishReason".to_string(),
            Value::String(finish.to_string()),
        );
    }
    candidate
}

fn call_parts(plan: &Plan) -> Vec<Value> {
    plan.calls
        .iter()
        .map(|call| json!({"functionCall": {"name": call.name, "args": call.args}}))
        .collect()
}

fn chunk(
    generate: &Generate,
    response_id: &str,
    candidate: Value,
    candidates_tokens: u64,
) -> Value {
    json!({
        "candidates": [candidate],
        "usageMetadata": usage(generate, candidates_tokens),
        "modelVersion": generate.model,
        "responseId": response_id
    })
}

fn generate_response(generate: &Generate, plan: &Plan) -> Value {
    let parts = if plan.calls.is_empty() {
        vec![json!({"text": plan.text})]
    } else {
        call_parts(plan)
    };
    let id = format!("mock{}", reply::unique());
    chunk(
        generate,
        &id,
        candidate(parts, Some(finish_reason(plan))),
        plan.output_tokens,
    )
}

/// The chunks of a streamed answer: SSE `data:` events, or the pieces of a JSON array.
fn stream_chunks(generate: &Generate, plan: &Plan, sse: bool) -> Vec<Vec<u8>> {
    let id = format!("mock{}", reply::unique());
    let mut values = Vec::new();
    if plan.calls.is_empty() {
        let pieces = reply::split_words(&plan.text);
        let mut so_far = 0u64;
        for (w, piece) in pieces.iter().enumerate() {
            if w == 2 && generate.model == reply::STREAM_ERROR_MODEL {
                values.push(json!({"error": {
                    "code": 503,
                    "message": "The model is overloaded. Please try again later.",
                    "status": "UNAVAILABLE"
                }}));
                break;
            }
            so_far += reply::words(piece);
            let finish = (w + 1 == pieces.len()).then(|| finish_reason(plan));
            values.push(chunk(
                generate,
                &id,
                candidate(vec![json!({"text": piece})], finish),
                so_far,
            ));
        }
        if pieces.is_empty() {
            values.push(chunk(
                generate,
                &id,
                candidate(vec![json!({"text": ""})], Some(finish_reason(plan))),
                0,
            ));
        }
    } else {
        values.push(chunk(
            generate,
            &id,
            candidate(call_parts(plan), Some("STOP")),
            plan.output_tokens,
        ));
    }
    if sse {
        return values
            .iter()
            .map(|v| format!("data: {v}\r\n\r\n").into_bytes())
            .collect();
    }
    let mut chunks: Vec<Vec<u8>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let lead = if i == 0 { "[" } else { ",\r\n" };
            format!("{lead}{v}").into_bytes()
        })
        .collect();
    chunks.push(b"]".to_vec());
    chunks
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mock::http::Body;

    fn post(path: &str, query: &str, body: Value) -> Response {
        let request = Request {
            method: "POST".into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("x-goog-api-key".into(), "k".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
            ..Request::default()
        };
        let (model, method) = parse_path(path).unwrap();
        handle(&request, "k", model, method)
    }

    fn json_of(response: &Response) -> Value {
        match &response.body {
            Body::Full(bytes) => serde_json::from_slice(bytes).unwrap(),
            Body::Stream(_) => panic!("expected a full body"),
        }
    }

    fn chunks_of(response: &Response) -> Vec<String> {
        let Body::Stream(chunks) = &response.body else {
            panic!("expected a stream")
        };
        chunks
            .iter()
            .map(|c| String::from_utf8(c.clone()).unwrap())
            .collect()
    }

    const GEN: &str = "/v1beta/models/gemini-x:generateContent";
    const STREAM: &str = "/v1beta/models/gemini-x:streamGenerateContent";

    #[test]
    fn parses_paths() {
        assert_eq!(parse_path(GEN), Some(("gemini-x", Method::Generate)));
        assert_eq!(
            parse_path("/v1/models/g:countTokens"),
            Some(("g", Method::CountTokens))
        );
        assert_eq!(parse_path("/v1beta/models/g:embed"), None);
        assert_eq!(parse_path("/v1beta/models/:generateContent"), None);
    }

    #[test]
    fn generates_text_with_usage() {
        let v = json_of(&post(
            GEN,
            "",
            json!({
            "systemInstruction":{"parts":[{"text":"Be kind."}]},
            "contents":[{"role":"user","parts":[{"text":"Hello"},{"text":"there"}]}]}),
        ));
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"],
            "Hello from the mock Gemini! You said: Hello there"
        );
        assert_eq!(v["candidates"][0]["content"]["role"], "model");
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        assert_eq!(v["usageMetadata"]["promptTokenCount"], 4);
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 9);
        assert_eq!(v["usageMetadata"]["totalTokenCount"], 13);
        assert_eq!(v["modelVersion"], "gemini-x");
    }

    #[test]
    fn rejections() {
        let cases = [
            (json!({"contents":[]}), "contents is not specified"),
            (
                json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"model":"x"}),
                "Unknown name \"model\"",
            ),
            (
                json!({"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}),
                "valid role",
            ),
            (
                json!({"contents":[{"role":"user","parts":[{"text":"x","cache_control":{}}]}]}),
                "Unknown name \"cache_control\" at 'contents[0].parts[0]'",
            ),
            (
                json!({"contents":[{"role":"user","parts":[]}]}),
                "must not be empty",
            ),
            (
                json!({"contents":[{"role":"user","parts":[{}]}]}),
                "required oneof field 'data'",
            ),
            (
                json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],"generationConfig":{"max_tokens":5}}),
                "Unknown name \"max_tokens\" at 'generation_config'",
            ),
            (
                json!({"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}),
                "function response turn comes immediately after a function call turn",
            ),
        ];
        for (body, expected) in cases {
            let r = post(GEN, "", body.clone());
            assert_eq!(r.status, 400, "{body}");
            let v = json_of(&r);
            assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
            assert_eq!(v["error"]["code"], 400);
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(expected), "{body}: {message}");
        }
    }

    #[test]
    fn function_calling() {
        let tools = json!([{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT",
            "properties":{"location":{"type":"STRING"}},"required":["location"]}}]}]);
        let v = json_of(&post(
            GEN,
            "",
            json!({"tools":tools,
            "contents":[{"role":"user","parts":[{"text":"weather in Paris?"}]}]}),
        ));
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["functionCall"],
            json!({"name":"get_weather","args":{"location":"Paris"}})
        );
        let v = json_of(&post(
            GEN,
            "",
            json!({"tools":tools,"contents":[
            {"role":"user","parts":[{"text":"weather in Paris?"}]},
            {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}}}]},
            {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"cloudy"}}}]}]}),
        ));
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"],
            "Hello from the mock Gemini! You said: tool result: cloudy"
        );
    }

    #[test]
    fn streams_sse_and_json_array() {
        let body = json!({"contents":[{"role":"user","parts":[{"text":"hi"}]}]});
        let r = post(STREAM, "alt=sse", body.clone());
        assert_eq!(r.content_type, "text/event-stream");
        let chunks = chunks_of(&r);
        assert_eq!(chunks.len(), 8);
        let values: Vec<Value> = chunks
            .iter()
            .map(|c| {
                serde_json::from_str(
                    c.strip_prefix("data: ")
                        .unwrap()
                        .strip_suffix("\r\n\r\n")
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        let text: String = values
            .iter()
            .map(|v| {
                v["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, "Hello from the mock Gemini! You said: hi");
        assert!(values[..7]
            .iter()
            .all(|v| v["candidates"][0].get("finishReason").is_none()));
        assert_eq!(values[7]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(values[7]["usageMetadata"]["candidatesTokenCount"], 8);

        let r = post(STREAM, "", body);
        assert_eq!(r.content_type, "application/json");
        let joined = chunks_of(&r).concat();
        let array: Vec<Value> = serde_json::from_str(&joined).unwrap();
        assert_eq!(array.len(), 8);
    }

    #[test]
    fn content_without_role_is_a_user_turn() {
        let v = json_of(&post(
            GEN,
            "",
            json!({"contents":[{"parts":[{"text":"yo"}]}]}),
        ));
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"],
            "Hello from the mock Gemini! You said: yo"
        );
    }

    #[test]
    fn count_tokens() {
        let v = json_of(&post(
            "/v1beta/models/g:countTokens",
            "",
            json!({"contents":[{"role":"user","parts":[{"text":"a b c"}]}]}),
        ));
        assert_eq!(v["totalTokens"], 3);
    }
}
