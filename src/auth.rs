//! Credentials: which inbound headers carry a client credential (all are removed), and what
//! the provider receives instead: its own key, or in passthrough mode the client's headers.

use crate::config::{AuthMode, AuthScheme, Provider};

/// Headers that carry a client credential. Iris removes every one of them from the request.
pub const CLIENT_CREDENTIAL_HEADERS: [&str; 6] = [
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "proxy-authorization",
    crate::identity::GATEWAY_KEY_HEADER,
];

/// The credential headers to send upstream for `provider`, given the client's credential
/// headers (name, value) as received.
pub fn upstream_credentials(
    provider: &Provider,
    client: &[(String, String)],
) -> Vec<(String, String)> {
    match provider.auth_mode {
        AuthMode::Passthrough => client
            .iter()
            // Proxy credentials are for the hop in front of Iris and gateway keys for Iris
            // itself: neither is for the provider.
            .filter(|(name, _)| {
                name != "proxy-authorization" && name != crate::identity::GATEWAY_KEY_HEADER
            })
            .cloned()
            .collect(),
        AuthMode::Inject if provider.apikey.is_empty() => Vec::new(),
        AuthMode::Inject => {
            let key = provider.apikey.expose();
            let header = match provider.authorization {
                AuthScheme::Bearer => ("authorization".to_string(), format!("Bearer {key}")),
                AuthScheme::XApiKey => ("x-api-key".to_string(), key.to_string()),
                AuthScheme::XGoogApiKey => ("x-goog-api-key".to_string(), key.to_string()),
            };
            vec![header]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, EnvMode};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn provider(extra: &str) -> Provider {
        let text = format!(
            r#"{{"providers": {{"p": {{"baseurl": "http://h", "models": ["m"], {extra}}}}}}}"#
        );
        load(&text, &|_| None, EnvMode::Resolve)
            .config
            .unwrap()
            .providers
            .remove(0)
    }

    fn client() -> Vec<(String, String)> {
        vec![
            ("authorization".into(), "Bearer client-token".into()),
            ("x-api-key".into(), "client-key".into()),
            ("proxy-authorization".into(), "Basic abc".into()),
        ]
    }

    #[test]
    fn injects_the_provider_key_in_its_header() {
        let got = upstream_credentials(&provider(r#""apikey": "sk-1""#), &client());
        assert_eq!(
            got,
            vec![("authorization".to_string(), "Bearer sk-1".to_string())]
        );
        let got = upstream_credentials(
            &provider(r#""apikey": "sk-2", "authorization": "x-api-key""#),
            &client(),
        );
        assert_eq!(got, vec![("x-api-key".to_string(), "sk-2".to_string())]);
        let got = upstream_credentials(
            &provider(r#""apikey": "g", "authorization": "x-goog-api-key""#),
            &client(),
        );
        assert_eq!(got, vec![("x-goog-api-key".to_string(), "g".to_string())]);
    }

    #[test]
    fn passthrough_forwards_client_credentials_but_not_proxy_auth() {
        let got = upstream_credentials(&provider(r#""auth_mode": "passthrough""#), &client());
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(n, _)| n != "proxy-authorization"));
    }

    #[test]
    fn no_key_sends_no_credential() {
        assert!(upstream_credentials(&provider(r#""apikey": """#), &client()).is_empty());
    }
}
