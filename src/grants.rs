//! Aperture grants: who may use what. Deny by default; a caller's access is the union of the
//! grants whose `src` matches them (`*`, their login, `group:...` they belong to, or their
//! `tag:...` string). Roles are `user` and `admin` (admin wins); `models` globs run over
//! `provider/model`, where `*` matches within one segment and `**` any number of segments.

use crate::glob;
use crate::identity::Identity;

/// A role granted by a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    User,
    Admin,
}

/// One element of a grant's `tailscale.com/cap/aperture` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capability {
    pub role: Option<Role>,
    /// A glob over `provider/model`; `None` is a "floating" capability for every request.
    pub models: Option<String>,
    /// Headers added upstream when this capability applies.
    pub add_headers: Vec<(String, String)>,
}

/// One grant: who (`src`) and what (`caps`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub src: Vec<String>,
    pub caps: Vec<Capability>,
}

/// Everything access control needs from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub grants: Vec<Grant>,
    /// Config-defined groups: `group:eng` -> members.
    pub groups: Vec<(String, Vec<String>)>,
}

/// Why access was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No matching grant gives a role.
    NoRole,
    /// A role, but no `models` grant covers this `provider/model`.
    Model(String),
}

/// Whether a `models` glob matches `provider/model`.
pub fn model_glob_matches(pattern: &str, target: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = target.split('/').collect();
    segments_match(&p, &t)
}

fn segments_match(p: &[&str], t: &[&str]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((&"**", rest)) => {
            (0..=t.len()).any(|skip| t.get(skip..).is_some_and(|tail| segments_match(rest, tail)))
        }
        Some((first, rest)) => match t.split_first() {
            Some((seg, tail)) => glob::matches(first, seg) && segments_match(rest, tail),
            None => false,
        },
    }
}

impl Policy {
    /// Whether `src` names this caller.
    fn src_matches(&self, src: &str, who: &Identity) -> bool {
        if src == "*" || src == who.user {
            return true;
        }
        if src.starts_with("group:") || src.contains('@') {
            if who.groups.iter().any(|g| g == src) {
                return true;
            }
            return self
                .groups
                .iter()
                .any(|(name, members)| name == src && members.iter().any(|m| m == &who.user));
        }
        false
    }

    /// The capabilities of every grant that matches the caller.
    fn caps<'a>(&'a self, who: &'a Identity) -> impl Iterator<Item = &'a Capability> + 'a {
        self.grants
            .iter()
            .filter(move |g| g.src.iter().any(|s| self.src_matches(s, who)))
            .flat_map(|g| g.caps.iter())
    }

    /// The caller's role: the highest granted, `None` without one.
    pub fn role(&self, who: &Identity) -> Option<Role> {
        self.caps(who).filter_map(|c| c.role).max()
    }

    /// Whether the caller may use `model` at `provider`.
    pub fn allows(&self, who: &Identity, provider: &str, model: &str) -> bool {
        let target = format!("{provider}/{model}");
        self.caps(who).any(|c| {
            c.models
                .as_deref()
                .is_some_and(|m| model_glob_matches(m, &target))
        })
    }

    /// Whether the caller may use `model` at `provider`, and why not.
    pub fn check(&self, who: &Identity, provider: &str, model: &str) -> Result<(), Denied> {
        if self.role(who).is_none() {
            return Err(Denied::NoRole);
        }
        if !self.allows(who, provider, model) {
            return Err(Denied::Model(format!("{provider}/{model}")));
        }
        Ok(())
    }

    /// The headers the grants that apply to this request add upstream.
    pub fn add_headers(
        &self,
        who: &Identity,
        provider: &str,
        model: &str,
    ) -> Vec<(String, String)> {
        let target = format!("{provider}/{model}");
        self.caps(who)
            .filter(|c| {
                c.models
                    .as_deref()
                    .is_none_or(|m| model_glob_matches(m, &target))
            })
            .flat_map(|c| c.add_headers.iter().cloned())
            .collect()
    }

    /// Checks a request and returns the headers the matching grants add upstream.
    pub fn authorize(
        &self,
        who: &Identity,
        provider: &str,
        model: &str,
    ) -> Result<Vec<(String, String)>, Denied> {
        self.check(who, provider, model)?;
        Ok(self.add_headers(who, provider, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn who(user: &str, groups: &[&str]) -> Identity {
        Identity {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            source: "test",
        }
    }

    fn cap(role: Option<Role>, models: Option<&str>) -> Capability {
        Capability {
            role,
            models: models.map(str::to_string),
            add_headers: Vec::new(),
        }
    }

    fn policy() -> Policy {
        Policy {
            grants: vec![
                Grant {
                    src: vec!["*".into()],
                    caps: vec![cap(Some(Role::User), None)],
                },
                Grant {
                    src: vec!["alice@example.com".into()],
                    caps: vec![cap(None, Some("anthropic/**"))],
                },
                Grant {
                    src: vec!["group:eng".into()],
                    caps: vec![Capability {
                        role: None,
                        models: Some("openai/gpt-4.1*".into()),
                        add_headers: vec![("x-team".into(), "eng".into())],
                    }],
                },
                Grant {
                    src: vec!["tag:ci".into()],
                    caps: vec![cap(Some(Role::Admin), Some("**"))],
                },
                Grant {
                    src: vec!["bob@example.com".into()],
                    caps: vec![Capability {
                        add_headers: vec![("x-bob".into(), "1".into())],
                        ..Capability::default()
                    }],
                },
            ],
            groups: vec![("group:eng".into(), vec!["bob@example.com".into()])],
        }
    }

    #[test]
    fn globs_over_provider_and_model() {
        assert!(model_glob_matches("**", "openai/gpt-5"));
        assert!(model_glob_matches(
            "anthropic/**",
            "anthropic/claude-sonnet-4-5"
        ));
        assert!(!model_glob_matches("anthropic/**", "openai/gpt-5"));
        assert!(model_glob_matches(
            "*/claude-sonnet*",
            "vertex/claude-sonnet-4-5"
        ));
        assert!(model_glob_matches(
            "openrouter/**",
            "openrouter/anthropic/claude-3.5"
        ));
        assert!(!model_glob_matches(
            "openrouter/*",
            "openrouter/anthropic/claude-3.5"
        ));
        assert!(model_glob_matches("aperture-*/**", "aperture-eu/m"));
        assert!(model_glob_matches("openai/gpt-5", "openai/gpt-5"));
        assert!(!model_glob_matches("openai/gpt-5", "openai/gpt-5-mini"));
    }

    #[test]
    fn users_groups_and_tags() {
        let p = policy();
        assert!(p
            .authorize(&who("alice@example.com", &[]), "anthropic", "claude")
            .is_ok());
        assert_eq!(
            p.authorize(&who("alice@example.com", &[]), "openai", "gpt-4.1"),
            Err(Denied::Model("openai/gpt-4.1".into()))
        );
        // bob is in group:eng by config; carol by her identity source's groups.
        assert_eq!(
            p.authorize(&who("bob@example.com", &[]), "openai", "gpt-4.1-mini")
                .unwrap(),
            vec![
                ("x-team".to_string(), "eng".to_string()),
                ("x-bob".to_string(), "1".to_string())
            ]
        );
        assert!(p
            .authorize(
                &who("carol@example.com", &["group:eng"]),
                "openai",
                "gpt-4.1"
            )
            .is_ok());
        assert!(p
            .authorize(&who("dave@example.com", &[]), "openai", "gpt-4.1")
            .is_err());
        assert_eq!(p.role(&who("tag:ci", &[])), Some(Role::Admin));
    }

    #[test]
    fn no_role_means_no_access_even_with_model_grants() {
        let p = Policy {
            grants: vec![Grant {
                src: vec!["*".into()],
                caps: vec![cap(None, Some("**"))],
            }],
            groups: vec![],
        };
        assert_eq!(p.authorize(&who("x", &[]), "a", "m"), Err(Denied::NoRole));
        assert_eq!(
            Policy::default().authorize(&who("x", &[]), "a", "m"),
            Err(Denied::NoRole)
        );
    }

    #[test]
    fn admin_wins_over_user() {
        let p = Policy {
            grants: vec![
                Grant {
                    src: vec!["*".into()],
                    caps: vec![cap(Some(Role::User), None)],
                },
                Grant {
                    src: vec!["root@x".into()],
                    caps: vec![cap(Some(Role::Admin), None)],
                },
            ],
            groups: vec![],
        };
        assert_eq!(p.role(&who("root@x", &[])), Some(Role::Admin));
        assert_eq!(p.role(&who("other@x", &[])), Some(Role::User));
    }
}
