//! `iris mock`: a deterministic mock of the OpenAI (Chat Completions, Responses), Anthropic
//! (Messages) and Gemini (generateContent) HTTP APIs, for tests, demos and benchmarks.
//!
//! It validates requests strictly (like the real APIs, and stricter about leaked credentials),
//! answers `Hello from the mock <api>! You said: <last user text>` with word-count usage,
//! calls tools when asked, streams word by word, records every request for tests
//! (`GET/DELETE /__mock/requests`), and simulates errors with special models
//! (`mock-error-<status>`, `mock-stream-error`, `mock-cache*`).

mod anthropic;
mod check;
mod errors;
mod gemini;
mod http;
mod openai_chat;
mod openai_responses;
mod record;
mod reply;

use std::io::Write as _;
use std::net::TcpListener;
use std::time::Duration;

use errors::{Api, ApiError};
use http::{Request, Response};
use record::Recorder;

const USAGE: &str = "\
usage: iris mock [options]

A mock LLM provider (OpenAI, Anthropic, Gemini APIs) for tests, demos and benchmarks.

options:
  --listen ADDR          address to listen on (default 127.0.0.1:18000)
  --openai-key KEY       expected OpenAI key (default $IRIS_MOCK_OPENAI_KEY, else mock-openai-key)
  --anthropic-key KEY    expected Anthropic key (default $IRIS_MOCK_ANTHROPIC_KEY, else mock-anthropic-key)
  --gemini-key KEY       expected Gemini key (default $IRIS_MOCK_GEMINI_KEY, else mock-gemini-key)
  --quiet                no log line per request
  -h, --help             this help

endpoints:
  POST /v1/chat/completions                       OpenAI Chat Completions
  POST /v1/responses                              OpenAI Responses
  POST /v1/messages, /v1/messages/count_tokens    Anthropic Messages
  POST /v1beta/models/MODEL:generateContent       Gemini (also :streamGenerateContent[?alt=sse], :countTokens)
  GET|DELETE /__mock/requests                     recorded requests (JSON array) / clear them
  GET /__mock/health                              200 ok

special models: mock-error-<status> (e.g. mock-error-429), mock-stream-error, mock-cache*
header x-mock-delay-ms: N   sleep N ms between stream events (before a non-streamed answer)";

/// Longest accepted `x-mock-delay-ms`.
const MAX_DELAY_MS: u64 = 600_000;

/// The mock's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: String,
    pub openai_key: String,
    pub anthropic_key: String,
    pub gemini_key: String,
    pub quiet: bool,
}

/// Runs the mock provider until the process is killed. `args` are the CLI args after `mock`.
pub fn main(args: &[String]) -> Result<(), String> {
    let Some(config) = parse_args(args, |name| std::env::var(name).ok())? else {
        println!("{USAGE}");
        return Ok(());
    };
    let listener = TcpListener::bind(&config.listen)
        .map_err(|err| format!("mock: cannot listen on {}: {err}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("mock: cannot read the bound address: {err}"))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "iris mock listening on http://{addr}")
            .and_then(|()| stdout.flush())
            .map_err(|err| format!("mock: cannot write to stdout: {err}"))?;
    }
    let app = App::new(config);
    http::serve(listener, move |request| app.handle(request))
}

/// Parses the options; `Ok(None)` when help was asked for.
fn parse_args(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Config>, String> {
    let from_env = |name: &str, default: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let mut config = Config {
        listen: "127.0.0.1:18000".to_string(),
        openai_key: from_env("IRIS_MOCK_OPENAI_KEY", "mock-openai-key"),
        anthropic_key: from_env("IRIS_MOCK_ANTHROPIC_KEY", "mock-anthropic-key"),
        gemini_key: from_env("IRIS_MOCK_GEMINI_KEY", "mock-gemini-key"),
        quiet: false,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--quiet" if inline.is_none() => config.quiet = true,
            "--listen" | "--openai-key" | "--anthropic-key" | "--gemini-key" => {
                let value = match inline {
                    Some(value) => value,
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("mock {flag} needs a value\n\n{USAGE}"))?,
                };
                if value.is_empty() {
                    return Err(format!("mock {flag} needs a non-empty value"));
                }
                let slot = match flag {
                    "--listen" => &mut config.listen,
                    "--openai-key" => &mut config.openai_key,
                    "--anthropic-key" => &mut config.anthropic_key,
                    _ => &mut config.gemini_key,
                };
                *slot = value;
            }
            _ => return Err(format!("mock: unknown option {arg}\n\n{USAGE}")),
        }
    }
    Ok(Some(config))
}

/// The mock: routes requests, logs and records them.
struct App {
    config: Config,
    recorder: Recorder,
}

impl App {
    fn new(config: Config) -> Self {
        App {
            config,
            recorder: Recorder::default(),
        }
    }

    fn handle(&self, request: Request) -> Response {
        if let Some(response) = self.admin(&request) {
            return response;
        }
        let mut response = self.route(&request);
        response.delay = delay(&request);
        if !self.config.quiet {
            eprintln!(
                "mock: {} {} -> {}",
                request.method, request.path, response.status
            );
        }
        self.recorder.push(request, response.status);
        response
    }

    /// The `/__mock/*` endpoints: no auth, not recorded, not logged.
    fn admin(&self, request: &Request) -> Option<Response> {
        let path = request.path.strip_prefix("/__mock/")?;
        let response = match (request.method.as_str(), path) {
            ("GET", "requests") => Response::json(200, &self.recorder.to_json()),
            ("DELETE", "requests") => {
                self.recorder.clear();
                Response::text(200, "ok")
            }
            ("GET", "health") => Response::text(200, "ok"),
            (_, "requests" | "health") => Response::text(405, "method not allowed"),
            _ => Response::text(404, "not found"),
        };
        Some(response)
    }

    fn route(&self, request: &Request) -> Response {
        let path = request.path.as_str();
        let gemini = gemini::parse_path(path);
        let api = match path {
            "/v1/messages" | "/v1/messages/count_tokens" => Api::Anthropic,
            _ if gemini.is_some() => Api::Gemini,
            _ => Api::OpenAi,
        };
        let known = gemini.is_some()
            || matches!(
                path,
                "/v1/chat/completions"
                    | "/v1/responses"
                    | "/v1/messages"
                    | "/v1/messages/count_tokens"
            );
        if !known {
            return ApiError::new(404, format!("Invalid URL ({} {path})", request.method))
                .into_response(Api::OpenAi);
        }
        if request.method != "POST" {
            return ApiError::new(
                405,
                format!("Invalid method for URL ({} {path})", request.method),
            )
            .into_response(api)
            .with_header("allow", "POST");
        }
        if request.oversized {
            return ApiError::new(
                413,
                format!(
                    "Request body too large: the limit is {} bytes.",
                    http::MAX_BODY
                ),
            )
            .into_response(api);
        }
        let keys = &self.config;
        match (path, gemini) {
            (_, Some((model, method))) => gemini::handle(request, &keys.gemini_key, model, method),
            ("/v1/chat/completions", _) => openai_chat::handle(request, &keys.openai_key),
            ("/v1/responses", _) => openai_responses::handle(request, &keys.openai_key),
            ("/v1/messages", _) => anthropic::handle_messages(request, &keys.anthropic_key),
            _ => anthropic::handle_count_tokens(request, &keys.anthropic_key),
        }
    }
}

/// The `x-mock-delay-ms` header as a duration (0 when absent or invalid).
fn delay(request: &Request) -> Duration {
    let ms = request
        .header("x-mock-delay-ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_millis(ms.min(MAX_DELAY_MS))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpStream;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_options_and_env_defaults() {
        let env = |name: &str| (name == "IRIS_MOCK_GEMINI_KEY").then(|| "from-env".to_string());
        let config = parse_args(
            &args(&["--listen", "0.0.0.0:1", "--openai-key=o", "--quiet"]),
            env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:1");
        assert_eq!(config.openai_key, "o");
        assert_eq!(config.anthropic_key, "mock-anthropic-key");
        assert_eq!(config.gemini_key, "from-env");
        assert!(config.quiet);
        assert!(parse_args(&args(&["--help"]), |_| None).unwrap().is_none());
        assert!(parse_args(&args(&["--bogus"]), |_| None).is_err());
        assert!(parse_args(&args(&["--listen"]), |_| None).is_err());
    }

    /// Starts the server on an ephemeral port.
    fn start() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let config = parse_args(
            &args(&["--quiet", "--openai-key", "ok", "--anthropic-key", "ak"]),
            |_| None,
        )
        .unwrap()
        .unwrap();
        let app = App::new(config);
        std::thread::spawn(move || http::serve(listener, move |request| app.handle(request)));
        addr
    }

    /// Reads one response: (status, headers, body), de-chunking a chunked body.
    fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(": ").unwrap();
            headers.push((name.to_string(), value.to_string()));
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if let Some(len) = header("content-length") {
            body.resize(len.parse().unwrap(), 0);
            reader.read_exact(&mut body).unwrap();
        } else if header("transfer-encoding").as_deref() == Some("chunked") {
            body = http::read_chunked(reader, usize::MAX)
                .ok()
                .flatten()
                .unwrap();
        }
        (status, headers, body)
    }

    #[test]
    fn serves_keep_alive_requests_over_one_connection() {
        let addr = start();
        let stream = TcpStream::connect(addr).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);

        let clear = "DELETE /__mock/requests HTTP/1.1\r\nhost: x\r\n\r\n";
        writer.write_all(clear.as_bytes()).unwrap();
        assert_eq!(read_response(&mut reader).0, 200);

        // 1: chunked request body, non-streaming answer.
        let body = json!({"model":"claude-x","max_tokens":64,"messages":[{"role":"user","content":"ping pong"}]}).to_string();
        let (first, second) = body.split_at(10);
        let request = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-Api-Key: ak\r\nAnthropic-Version: 2023-06-01\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        );
        writer.write_all(request.as_bytes()).unwrap();
        let (status, _, body) = read_response(&mut reader);
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["content"][0]["text"],
            "Hello from the mock Anthropic! You said: ping pong"
        );

        // 2: same connection, streaming answer with content-length request body.
        let body =
            json!({"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"hi"}]})
                .to_string();
        let request = format!(
            "POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ok\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        writer.write_all(request.as_bytes()).unwrap();
        let (status, headers, body) = read_response(&mut reader);
        assert_eq!(status, 200);
        assert!(headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "text/event-stream"));
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with("data: {"));
        assert!(text.ends_with("data: [DONE]\n\n"));

        // 3: a rejected request (wrong key) is recorded too; then the log.
        let request = "POST /v1/chat/completions HTTP/1.1\r\nauthorization: Bearer nope\r\n\
                       content-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        writer.write_all(request.as_bytes()).unwrap();
        assert_eq!(read_response(&mut reader).0, 401);

        writer
            .write_all(b"GET /__mock/requests HTTP/1.1\r\nconnection: close\r\n\r\n")
            .unwrap();
        let (status, headers, body) = read_response(&mut reader);
        assert_eq!(status, 200);
        assert!(headers
            .iter()
            .any(|(n, v)| n == "connection" && v == "close"));
        let log: Value = serde_json::from_slice(&body).unwrap();
        let log = log.as_array().unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0]["path"], "/v1/messages");
        assert_eq!(log[0]["headers"]["x-api-key"], "ak");
        assert_eq!(log[0]["status"], 200);
        assert!(log[0]["body"].as_str().unwrap().contains("ping pong"));
        assert_eq!(log[1]["query"], "x=1");
        assert_eq!(log[2]["status"], 401);
        let mut rest = Vec::new();
        assert_eq!(reader.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn routes_unknown_paths_methods_and_oversized_bodies() {
        let app = App::new(parse_args(&args(&["--quiet"]), |_| None).unwrap().unwrap());
        let request = |method: &str, path: &str| Request {
            method: method.into(),
            path: path.into(),
            ..Request::default()
        };
        let r = app.handle(request("POST", "/v1/nope"));
        assert_eq!(r.status, 404);
        let r = app.handle(request("GET", "/v1/messages"));
        assert_eq!(r.status, 405);
        let mut big = request("POST", "/v1/messages");
        big.oversized = true;
        let r = app.handle(big);
        assert_eq!(r.status, 413);
        assert_eq!(app.handle(request("GET", "/__mock/health")).status, 200);
        assert_eq!(app.recorder.to_json().as_array().unwrap().len(), 3);
    }
}
