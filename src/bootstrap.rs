//! Renders the Envoy bootstrap that runs Iris: a listener whose HTTP filter chain is the wasm
//! filter then the router, a route that sends each request to the cluster the filter picked,
//! and one cluster per provider derived from its `baseurl`.

use crate::config::{env_references, BaseUrl, Config, Scheme};
use crate::filter::CLUSTER_HEADER;
use crate::identity::{JwtSource, JWT_PAYLOAD_KEY};
use serde_json::{json, Value};

/// Where things are and how to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Listener address, `host:port`.
    pub listen: String,
    /// Admin interface address, `host:port`.
    pub admin: String,
    /// Path of the filter's `.wasm`, as Envoy will see it.
    pub wasm_path: String,
    /// CA bundle used to verify https providers.
    pub ca_bundle: String,
    /// Without the filter: every request goes to the first provider (benchmark baseline).
    pub without_filter: bool,
    /// Where Envoy writes one JSON record per request (the filter's `iris_record`), if anywhere.
    pub access_log: Option<String>,
}

/// The access-log line: the record the filter publishes as filter state.
pub const ACCESS_LOG_FORMAT: &str = "%FILTER_STATE(wasm.iris_record:PLAIN)%\n";

/// Default CA bundle on Debian/Ubuntu (and in the envoyproxy/envoy image).
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Idle time allowed on a stream: generous, since a model can think for minutes before it
/// sends a byte. There is no total request timeout (long generations must not be cut).
const STREAM_IDLE_TIMEOUT: &str = "900s";

/// Splits `host:port` (or `[v6]:port`) into an Envoy socket address.
pub fn socket_address(addr: &str) -> Result<Value, String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("address {addr:?} must be host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("address {addr:?} has an invalid port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("address {addr:?} has no host"));
    }
    Ok(json!({"socket_address": {"address": host, "port_value": port}}))
}

/// The complete bootstrap for `config`, whose source text `config_text` is embedded as the
/// filter's configuration (the filter parses it again, resolving `${NAME}` from Envoy's
/// environment; those names are passed through `host_env_keys`).
pub fn render(config: &Config, config_text: &str, opts: &RenderOptions) -> Result<Value, String> {
    // Envoy's own buffer limit sits above Iris's so that Iris answers 413 in the client's format.
    let buffer_limit = config
        .settings
        .max_request_bytes
        .saturating_add(1024 * 1024);
    let route = if opts.without_filter {
        let first = config
            .providers
            .first()
            .ok_or("a benchmark baseline needs at least one provider")?;
        json!({"match": {"prefix": "/"}, "route": {
            "cluster": first.cluster, "timeout": "0s", "idle_timeout": STREAM_IDLE_TIMEOUT,
            "host_rewrite_literal": first.base.authority}})
    } else {
        json!({
            "match": {"prefix": "/"},
            "route": {"cluster_header": CLUSTER_HEADER, "timeout": "0s", "idle_timeout": STREAM_IDLE_TIMEOUT},
            "request_headers_to_remove": headers_to_remove(config)
        })
    };
    let mut http_filters = Vec::new();
    if !opts.without_filter {
        if let Some(jwt) = &config.identity.jwt {
            http_filters.push(jwt_filter(jwt));
        }
        http_filters.push(wasm_filter(config_text, &opts.wasm_path));
    }
    http_filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            // Providers need not see Envoy's x-envoy-* headers.
            "suppress_envoy_headers": true
        }
    }));
    let mut hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "iris",
        "codec_type": "AUTO",
        "stream_idle_timeout": STREAM_IDLE_TIMEOUT,
        "route_config": {
            "name": "iris",
            "virtual_hosts": [{"name": "iris", "domains": ["*"], "routes": [route]}]
        },
        "http_filters": http_filters
    });
    if let (Some(path), Some(obj)) = (&opts.access_log, hcm.as_object_mut()) {
        obj.insert(
            "access_log".into(),
            json!([{
                "name": "envoy.access_loggers.file",
                // Only requests that have a record: model requests and Iris's own errors, not
                // reads of /v1/models and the dashboard (GET requests that Iris answers).
                "filter": {"extension_filter": {
                    "name": "envoy.access_loggers.extension_filters.cel",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                        "expression": "request.method != 'GET' || !(request.path.startsWith('/ui') || request.path.startsWith('/api/sessions') || request.path.startsWith('/v1/models') || request.path.startsWith('/models'))"
                    }
                }},
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": path,
                    "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT}}
                }
            }]),
        );
    }
    let stats_tags: Vec<Value> = crate::telemetry::metrics::TAGS
        .iter()
        .map(|t| json!({"tag_name": t, "regex": crate::telemetry::metrics::tag_regex(t)}))
        .collect();
    let clusters: Vec<Value> = config
        .providers
        .iter()
        .map(|p| cluster(&p.cluster, &p.base, &opts.ca_bundle))
        .chain(
            config
                .identity
                .jwt
                .as_ref()
                .and_then(|j| j.jwks_uri.as_deref())
                .and_then(|uri| BaseUrl::parse(uri).ok())
                .map(|base| cluster(JWKS_CLUSTER, &base, &opts.ca_bundle)),
        )
        .collect();
    Ok(json!({
        "admin": {"address": socket_address(&opts.admin)?},
        // Metric labels encoded in wasm metric names become Prometheus labels.
        "stats_config": {"stats_tags": stats_tags},
        "static_resources": {
            "listeners": [{
                "name": "iris",
                "address": socket_address(&opts.listen)?,
                "per_connection_buffer_limit_bytes": buffer_limit,
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": hcm
                }]}]
            }],
            "clusters": clusters
        }
    }))
}

/// Identity headers a proxy in front of Envoy may set. They never reach a provider: Iris reads
/// the configured one itself, and with none configured a client-sent copy means nothing.
pub const IDENTITY_HEADERS: [&str; 7] = [
    "tailscale-user-login",
    "tailscale-user-name",
    "tailscale-user-profile-pic",
    "x-forwarded-email",
    "x-forwarded-user",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
];

/// Headers the route strips before a request leaves: the routing header and identity headers.
fn headers_to_remove(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = std::iter::once(CLUSTER_HEADER)
        .chain(IDENTITY_HEADERS)
        .map(str::to_string)
        .collect();
    if let Some(th) = &config.identity.trusted_header {
        names.push(th.user.clone());
        names.extend(th.groups.clone());
    }
    names.sort();
    names.dedup();
    names
}

/// The cluster Envoy fetches a remote JWKS from.
const JWKS_CLUSTER: &str = "iris_jwks";

/// Envoy's `jwt_authn`, in front of Iris: it verifies a bearer JWT (signature, issuer,
/// audience, expiry) and puts the payload in dynamic metadata, where Iris reads it. A missing
/// or failed token is let through without a payload, so Iris answers 401 in the client's
/// format (or identifies the caller another way); a verified token is removed from the request.
fn jwt_filter(j: &JwtSource) -> Value {
    let mut provider = json!({
        "issuer": j.issuer,
        "payload_in_metadata": JWT_PAYLOAD_KEY,
        "forward": false,
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}]
    });
    if let Some(obj) = provider.as_object_mut() {
        if !j.audiences.is_empty() {
            obj.insert("audiences".into(), json!(j.audiences));
        }
        match (&j.jwks, &j.jwks_uri) {
            (Some(jwks), _) => {
                obj.insert("local_jwks".into(), json!({"inline_string": jwks}));
            }
            (None, Some(uri)) => {
                obj.insert(
                    "remote_jwks".into(),
                    json!({"http_uri": {"uri": uri, "cluster": JWKS_CLUSTER, "timeout": "5s"}, "cache_duration": "600s"}),
                );
            }
            (None, None) => {}
        }
    }
    json!({
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"iris": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "iris"}, {"allow_missing_or_failed": {}}
            ]}}}]
        }
    })
}

fn wasm_filter(config_text: &str, wasm_path: &str) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "iris",
                "root_id": "iris",
                "vm_config": {
                    "vm_id": "iris",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm_path}},
                    "environment_variables": {"host_env_keys": env_references(config_text)}
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": config_text
                },
                // A trapped VM is replaced by a fresh one; FAIL_OPEN would skip routing and auth.
                "failure_policy": "FAIL_RELOAD",
                // Lets the filter hold headers while it reads the body to route on `model`.
                "allow_on_headers_stop_iteration": true
            }
        }
    })
}

fn cluster(name: &str, base: &BaseUrl, ca_bundle: &str) -> Value {
    let kind = if base.host_is_ip() {
        "STATIC"
    } else {
        "LOGICAL_DNS"
    };
    let mut c = json!({
        "name": name,
        "type": kind,
        "connect_timeout": "10s",
        "dns_lookup_family": "V4_PREFERRED",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": base.host, "port_value": base.port}
            }}}]}]
        }
    });
    let protocol = match base.scheme {
        // HTTP/2 or HTTP/1.1, whichever the provider offers in ALPN.
        Scheme::Https => {
            json!({"auto_config": {"http_protocol_options": {}, "http2_protocol_options": {}}})
        }
        Scheme::Http => json!({"explicit_http_config": {"http_protocol_options": {}}}),
    };
    let mut options = json!({"@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"});
    if let (Some(o), Some(p)) = (options.as_object_mut(), protocol.as_object()) {
        o.extend(p.clone());
    }
    if let Some(obj) = c.as_object_mut() {
        obj.insert(
            "typed_extension_protocol_options".into(),
            json!({"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options}),
        );
        if base.scheme == Scheme::Https {
            obj.insert(
                "transport_socket".into(),
                json!({
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                        "sni": base.host,
                        "common_tls_context": {"validation_context": {
                            "trusted_ca": {"filename": ca_bundle},
                            "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": base.host}}]
                        }}
                    }
                }),
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, EnvMode};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &str = r#"{"providers": {
        "anthropic": {"baseurl": "https://api.anthropic.com", "apikey": "${ANTHROPIC_API_KEY}", "authorization": "x-api-key",
                      "models": ["claude-*"], "compatibility": {"anthropic_messages": true}},
        "local": {"baseurl": "http://127.0.0.1:18000/v1", "apikey": "k", "models": ["m"]}}}"#;

    fn opts() -> RenderOptions {
        RenderOptions {
            listen: "127.0.0.1:10000".into(),
            admin: "127.0.0.1:9901".into(),
            wasm_path: "/x/iris.wasm".into(),
            ca_bundle: DEFAULT_CA_BUNDLE.into(),
            without_filter: false,
            access_log: None,
        }
    }

    #[test]
    fn renders_a_cluster_per_provider_with_tls_for_https() {
        let c = load(TEXT, &|_| None, EnvMode::Defer).config.unwrap();
        let b = render(&c, TEXT, &opts()).unwrap();
        let clusters = b["static_resources"]["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0]["name"], "iris_p0_anthropic");
        assert_eq!(clusters[0]["type"], "LOGICAL_DNS");
        let tls = &clusters[0]["transport_socket"]["typed_config"];
        assert_eq!(tls["sni"], "api.anthropic.com");
        assert_eq!(
            tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"][0]
                ["matcher"]["exact"],
            "api.anthropic.com"
        );
        assert_eq!(clusters[1]["type"], "STATIC");
        assert!(clusters[1].get("transport_socket").is_none());
    }

    #[test]
    fn wasm_filter_settings_the_design_depends_on() {
        let c = load(TEXT, &|_| None, EnvMode::Defer).config.unwrap();
        let b = render(&c, TEXT, &opts()).unwrap();
        let listener = &b["static_resources"]["listeners"][0];
        let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
        let wasm = &hcm["http_filters"][0]["typed_config"]["config"];
        assert_eq!(wasm["failure_policy"], "FAIL_RELOAD");
        assert_eq!(wasm["allow_on_headers_stop_iteration"], true);
        assert_eq!(
            wasm["vm_config"]["environment_variables"]["host_env_keys"],
            json!(["ANTHROPIC_API_KEY"])
        );
        assert_eq!(wasm["configuration"]["value"], TEXT);
        let route = &hcm["route_config"]["virtual_hosts"][0]["routes"][0];
        assert_eq!(route["route"]["cluster_header"], CLUSTER_HEADER);
        assert_eq!(route["route"]["timeout"], "0s");
        let removed = route["request_headers_to_remove"].as_array().unwrap();
        assert!(removed.contains(&json!(CLUSTER_HEADER)));
        assert!(removed.contains(&json!("tailscale-user-login")));
        assert!(
            listener["per_connection_buffer_limit_bytes"]
                .as_u64()
                .unwrap()
                > c.settings.max_request_bytes as u64
        );
    }

    #[test]
    fn bad_addresses_are_errors() {
        assert!(socket_address("nope").is_err());
        assert!(socket_address(":80").is_err());
        assert_eq!(
            socket_address("[::1]:80").unwrap()["socket_address"]["address"],
            "::1"
        );
    }
}
