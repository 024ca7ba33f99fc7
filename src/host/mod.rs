//! The only proxy-wasm code: the module entry point, the root context that loads the config,
//! and the HTTP context that adapts Envoy's callbacks to [`RequestFilter`] through [`Host`].

use crate::config::{self, Config, EnvMode};
use crate::filter::{Action as FilterAction, Host, RequestFilter};
use crate::telemetry::metrics;
use crate::telemetry::record::Record;
use crate::telemetry::sessions::{self, SharedStore};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(IrisRoot { config: None }) });
}}

struct IrisRoot {
    config: Option<Rc<Config>>,
}

impl Context for IrisRoot {}

impl RootContext for IrisRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let Some(bytes) = self.get_plugin_configuration() else {
            log::error!("iris: no plugin configuration; refusing to start");
            return false;
        };
        let text = String::from_utf8_lossy(&bytes);
        let loaded = config::load(&text, &|name| std::env::var(name).ok(), EnvMode::Resolve);
        for w in &loaded.warnings {
            log::warn!("iris config warning: {w}");
        }
        for e in &loaded.errors {
            log::error!("iris config error: {e}");
        }
        match loaded.config {
            Some(c) => {
                log::info!("iris: loaded {} provider(s)", c.providers.len());
                sessions::ensure_store(&mut EnvoyStore);
                if hostcalls::set_tick_period(SESSION_FLUSH).is_err() {
                    log::warn!("iris: no timer: the sessions dashboard will not be updated");
                }
                self.config = Some(Rc::new(c));
                true
            }
            None => false,
        }
    }

    fn on_tick(&mut self) {
        flush_sessions();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(IrisHttp {
            filter: RequestFilter::new(config),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct IrisHttp {
    filter: RequestFilter,
}

/// [`Host`] over the proxy-wasm hostcalls of the current HTTP context. The core calls each
/// hostcall only in a phase where Envoy allows it (proxy-wasm panics on an unexpected status).
struct EnvoyHost;

thread_local! {
    /// Metric ids by name: each name is defined once per VM.
    static METRICS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
    /// Finished requests waiting to be added to the session store (flushed on the tick).
    static PENDING_SESSIONS: RefCell<Vec<(Record, String)>> = const { RefCell::new(Vec::new()) };
}

/// How often queued session updates are written to shared data.
const SESSION_FLUSH: Duration = Duration::from_millis(250);
/// Queued session updates kept at most between flushes (the oldest are dropped beyond).
const MAX_PENDING_SESSIONS: usize = 10_000;

/// Shared data of the whole Envoy, for the session store.
struct EnvoyStore;

impl SharedStore for EnvoyStore {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        hostcalls::set_shared_data(key, Some(value), cas).is_ok()
    }
}

fn flush_sessions() {
    let pending = PENDING_SESSIONS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.is_empty() {
        return;
    }
    let batch: Vec<(&Record, &str)> = pending.iter().map(|(r, v)| (r, v.as_str())).collect();
    sessions::record_batch(&mut EnvoyStore, &batch);
}

#[link(wasm_import_module = "env")]
extern "C" {
    /// The raw ABI call, so a refusal from Envoy is a status rather than a panic (the SDK's
    /// wrapper panics on any status but Ok).
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
}

/// Filter-state name of the request record (`%FILTER_STATE(wasm.iris_record:PLAIN)%`).
pub const RECORD_PROPERTY: &str = "iris_record";

impl Host for EnvoyHost {
    fn metric(&mut self, kind: metrics::Kind, name: &str, value: u64) {
        let id = METRICS.with(|m| {
            if let Some(id) = m.borrow().get(name) {
                return Some(*id);
            }
            let t = match kind {
                metrics::Kind::Counter => MetricType::Counter,
                metrics::Kind::Histogram => MetricType::Histogram,
            };
            let id = hostcalls::define_metric(t, name).ok()?;
            m.borrow_mut().insert(name.to_string(), id);
            Some(id)
        });
        let Some(id) = id else { return };
        let _ = match kind {
            metrics::Kind::Counter => {
                hostcalls::increment_metric(id, i64::try_from(value).unwrap_or(i64::MAX))
            }
            metrics::Kind::Histogram => hostcalls::record_metric(id, value),
        };
    }
    fn set_record(&mut self, json: &str) {
        // SAFETY: both buffers are valid for the lengths passed, for the duration of the call.
        let status = unsafe {
            proxy_set_property(
                RECORD_PROPERTY.as_ptr(),
                RECORD_PROPERTY.len(),
                json.as_ptr(),
                json.len(),
            )
        };
        if status != 0 {
            log::debug!("could not set the request record as filter state (status {status})");
        }
    }
    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        hostcalls::set_shared_data(key, Some(value), cas).is_ok()
    }
    fn jwt_metadata(&self) -> Option<Vec<u8>> {
        hostcalls::get_property(vec![
            "metadata",
            "filter_metadata",
            "envoy.filters.http.jwt_authn",
        ])
        .ok()
        .flatten()
    }
    fn queue_session(&mut self, record: Record, json: String) {
        PENDING_SESSIONS.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() >= MAX_PENDING_SESSIONS {
                p.remove(0);
            }
            p.push((record, json));
        });
    }
    fn set_request_headers(&mut self, headers: Vec<(String, String)>) {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let _ = hostcalls::set_map(MapType::HttpRequestHeaders, pairs);
    }
    fn request_headers(&self) -> Vec<(String, String)> {
        hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, value);
    }
    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
            .ok()
            .flatten()
    }
    fn set_request_body(&mut self, body: &[u8]) {
        let _ = hostcalls::set_buffer(BufferType::HttpRequestBody, 0, usize::MAX, body);
    }
    fn response_header(&self, name: &str) -> Option<String> {
        hostcalls::get_map_value(MapType::HttpResponseHeaders, name)
            .ok()
            .flatten()
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, name, value);
    }
    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
            .ok()
            .flatten()
    }
    fn set_response_body(&mut self, body: &[u8]) {
        let _ = hostcalls::set_buffer(BufferType::HttpResponseBody, 0, usize::MAX, body);
    }
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let _ = hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body));
    }
    fn now_ms(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

fn action(a: FilterAction) -> Action {
    match a {
        FilterAction::Continue => Action::Continue,
        FilterAction::Pause => Action::Pause,
    }
}

impl IrisHttp {
    /// Runs `f` with the filter and the host.
    fn with<R>(&mut self, f: impl FnOnce(&mut RequestFilter, &mut dyn Host) -> R) -> R {
        f(&mut self.filter, &mut EnvoyHost)
    }
}

impl Context for IrisHttp {}

impl HttpContext for IrisHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.with(|f, h| f.on_request_headers(h, end_of_stream)))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.with(|f, h| f.on_request_body(h, body_size, end_of_stream)))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        action(self.with(|f, h| f.on_response_headers(h)))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.with(|f, h| f.on_response_body(h, body_size, end_of_stream)))
    }

    fn on_log(&mut self) {
        self.with(|f, h| f.on_log(h));
    }
}
