//! CPU cost of the core's per-request work, natively: routing probe, OpenAI <-> Anthropic
//! request/response translation for a 2 KB and a 1 MB chat, and a long stream.
//! `cargo bench --bench translate` prints microseconds per operation. (Inside Envoy the same
//! code runs as wasm under V8; scripts/bench.sh measures that end to end.)

use iris::sse::SseFramer;
use iris::translate::{chat_to_messages, messages_to_chat, Options, StreamTranslator};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

fn time<F: FnMut()>(label: &str, iterations: u32, mut f: F) {
    for _ in 0..iterations.div_ceil(10) {
        f(); // warm-up
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!("{label:<58} {per:>10.1} us");
}

fn chat_body(bytes: usize) -> Vec<u8> {
    let mut messages = vec![json!({"role": "system", "content": "You are a careful assistant."})];
    let turn = "Please review this change and tell me what could break. ".repeat(4);
    let mut i = 0;
    while serde_json::to_vec(&messages).map(|v| v.len()).unwrap_or(0) < bytes {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": turn}));
        i += 1;
    }
    if messages.len() % 2 == 1 {
        messages.push(json!({"role": "user", "content": "and now?"}));
    }
    serde_json::to_vec(
        &json!({"model": "claude-sonnet-4-5", "messages": messages, "max_tokens": 1024}),
    )
    .unwrap_or_default()
}

fn anthropic_body(bytes: usize) -> Vec<u8> {
    let chat: serde_json::Value = serde_json::from_slice(&chat_body(bytes)).unwrap_or_default();
    let messages: Vec<_> = chat
        .get("messages")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .skip(1)
        .collect();
    serde_json::to_vec(&json!({"model": "gpt-4.1", "max_tokens": 1024, "system": "You are careful.", "messages": messages}))
        .unwrap_or_default()
}

fn anthropic_stream(deltas: usize) -> Vec<u8> {
    let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":900,\"output_tokens\":1}}}\n\n");
    s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for i in 0..deltas {
        s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"));
    }
    s.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    );
    s.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2000}}\n\n");
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s.into_bytes()
}

fn openai_stream(deltas: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..deltas {
        s.push_str(&format!("data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}]}}\n\n"));
    }
    s.push_str("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1\",\"choices\":[],\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":2000}}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn stream_through(translator: &mut dyn StreamTranslator, bytes: &[u8], chunk: usize) -> usize {
    let mut framer = SseFramer::new();
    let mut events = Vec::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk) {
        framer.push(piece, &mut events);
        for e in events.drain(..) {
            translator.on_event(&e, &mut out);
        }
    }
    framer.finish(&mut events);
    for e in events.drain(..) {
        translator.on_event(&e, &mut out);
    }
    translator.finish(&mut out);
    out.len()
}

fn main() {
    let opts = Options::default();
    let small = chat_body(2 * 1024);
    let large = chat_body(1024 * 1024);
    println!("bodies: {} B and {} B", small.len(), large.len());
    time(
        "probe (model, stream, session hints), 2 KB chat",
        20_000,
        || {
            black_box(iris::body::probe(black_box(&small)).ok());
        },
    );
    time("probe, 1 MB chat", 50, || {
        black_box(iris::body::probe(black_box(&large)).ok());
    });
    time("OpenAI -> Anthropic request, 2 KB", 20_000, || {
        black_box(chat_to_messages::request(black_box(&small), "claude-sonnet-4-5", &opts).ok());
    });
    time("OpenAI -> Anthropic request, 1 MB", 50, || {
        black_box(chat_to_messages::request(black_box(&large), "claude-sonnet-4-5", &opts).ok());
    });
    let ant_small = anthropic_body(2 * 1024);
    let ant_large = anthropic_body(1024 * 1024);
    time("Anthropic -> OpenAI request, 2 KB", 20_000, || {
        black_box(messages_to_chat::request(black_box(&ant_small), "gpt-4.1", &opts).ok());
    });
    time("Anthropic -> OpenAI request, 1 MB", 50, || {
        black_box(messages_to_chat::request(black_box(&ant_large), "gpt-4.1", &opts).ok());
    });
    let message = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Here is the review you asked for."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":900,"output_tokens":120}}"#;
    time("Anthropic -> OpenAI response", 20_000, || {
        black_box(chat_to_messages::response(black_box(message)).ok());
    });
    let stream = anthropic_stream(2000);
    let translated = chat_to_messages::request(&small, "claude-sonnet-4-5", &opts).ok();
    if let Some(t) = translated {
        time(
            "Anthropic -> OpenAI stream, 2000 deltas (whole stream)",
            50,
            || {
                let mut s = chat_to_messages::Stream::new(&t);
                black_box(stream_through(&mut s, black_box(&stream), 1500));
            },
        );
    }
    let ostream = openai_stream(2000);
    let translated = messages_to_chat::request(&ant_small, "gpt-4.1", &opts).ok();
    if let Some(t) = translated {
        time(
            "OpenAI -> Anthropic stream, 2000 chunks (whole stream)",
            50,
            || {
                let mut s = messages_to_chat::Stream::new(&t);
                black_box(stream_through(&mut s, black_box(&ostream), 1500));
            },
        );
    }
}
