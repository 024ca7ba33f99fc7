//! The request log behind `GET/DELETE /__mock/requests`: the last [`CAPACITY`] requests, oldest first.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value};

use super::http::Request;

/// How many requests are kept.
pub const CAPACITY: usize = 1000;

struct Entry {
    request: Request,
    status: u16,
}

/// A bounded, thread-safe log of requests and the status they were answered with.
#[derive(Default)]
pub struct Recorder {
    entries: Mutex<VecDeque<Entry>>,
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // A panic elsewhere must not disable recording: ignore poisoning.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn push(&self, request: Request, status: u16) {
        let mut entries = self.lock();
        while entries.len() >= CAPACITY {
            entries.pop_front();
        }
        entries.push_back(Entry { request, status });
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The log as a JSON array of
    /// `{"method","path","query","headers":{name: value},"body","status"}`.
    pub fn to_json(&self) -> Value {
        let entries = self.lock();
        Value::Array(entries.iter().map(entry_json).collect())
    }
}

fn entry_json(entry: &Entry) -> Value {
    let request = &entry.request;
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let mut object = Map::new();
    object.insert("method".into(), Value::String(request.method.clone()));
    object.insert("path".into(), Value::String(request.path.clone()));
    object.insert("query".into(), Value::String(request.query.clone()));
    object.insert("headers".into(), Value::Object(headers));
    object.insert(
        "body".into(),
        Value::String(String::from_utf8_lossy(&request.body).into_owned()),
    );
    object.insert("status".into(), Value::from(entry.status));
    Value::Object(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_entries_oldest_first() {
        let recorder = Recorder::default();
        for i in 0..(CAPACITY + 5) {
            let request = Request {
                method: "POST".into(),
                path: format!("/{i}"),
                headers: vec![("x-a".into(), "1, 2".into())],
                body: vec![b'{', 0xff, b'}'],
                ..Request::default()
            };
            recorder.push(request, 200);
        }
        let json = recorder.to_json();
        let list = json.as_array().unwrap();
        assert_eq!(list.len(), CAPACITY);
        assert_eq!(list[0]["path"], "/5");
        assert_eq!(list[0]["headers"]["x-a"], "1, 2");
        assert_eq!(list[0]["body"], "{\u{fffd}}");
        assert_eq!(list[0]["status"], 200);
        assert_eq!(list[0]["query"], "");
        recorder.clear();
        assert_eq!(recorder.to_json(), Value::Array(Vec::new()));
    }
}
