//! The `"auth"` section of the registry config and the access policy it describes: who may
//! pull, push or delete which repositories.
//!
//! ```json
//! "auth": {
//!   "htpasswd": "users.htpasswd",
//!   "mode": "token",
//!   "token": { "service": "strata-registry", "issuer": "strata-registry", "expiry": 300,
//!              "realm": "http://registry.example:5000/token", "key": "token.key" },
//!   "anonymous": "loopback",
//!   "access": [
//!     { "account": "alice", "repository": "team/*", "actions": ["pull", "push", "delete"] },
//!     { "account": "anonymous", "repository": "private/*", "actions": [] },
//!     { "account": "*", "repository": "*", "actions": ["pull"] }
//!   ]
//! }
//! ```
//!
//! Policy:
//! - `access` absent: every authenticated user may pull, push and delete everything (what
//!   docker-registry's htpasswd mode does); anonymous clients may pull, subject to `anonymous`.
//! - `access` present: for a given account and repository the FIRST rule whose `account` and
//!   `repository` match decides (`"actions": []` denies). `account` is a user name, `"*"` (any
//!   authenticated user) or `"anonymous"` (clients without credentials; a reserved name).
//!   `repository` is a glob where `*` matches any run of characters, `/` included.
//!   When no rule matches, the account may pull ("pull allowed when no rule says otherwise").
//! - `anonymous`: `"loopback"` (default) — clients without credentials are served only when they
//!   connect from 127.0.0.0/8 or ::1; `"all"` — from anywhere; `"none"` — never.
//! - Anonymous clients never push or delete: a rule granting them that is refused at load.

use super::Action;
use oci_model::Error;
use serde::Deserialize;
use std::path::PathBuf;

/// The `"auth"` section of the registry config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// htpasswd file with bcrypt entries (`htpasswd -B`), relative to the config file's directory.
    #[serde(default)]
    pub htpasswd: Option<PathBuf>,
    /// How clients present credentials: `"basic"` (default) or `"token"`.
    #[serde(default)]
    pub mode: Mode,
    /// Token realm settings (mode `"token"`).
    #[serde(default)]
    pub token: TokenConfig,
    /// Who may connect without credentials.
    #[serde(default)]
    pub anonymous: Anonymous,
    /// Access rules; absent means authenticated users may do everything.
    #[serde(default)]
    pub access: Option<Vec<Rule>>,
}

/// `"basic"`: HTTP Basic on every request, checked against the htpasswd file. `"token"`: Bearer
/// tokens issued by the registry's own token realm (`GET /token`), as Docker Hub does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Basic,
    Token,
}

/// Which peers may use the registry without credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anonymous {
    #[default]
    Loopback,
    All,
    None,
}

/// Token realm settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// The `service` of the challenge and the tokens' audience.
    pub service: String,
    /// The tokens' issuer (`iss`).
    pub issuer: String,
    /// Token lifetime in seconds (at least 60).
    pub expiry: u64,
    /// The realm URL clients fetch tokens from; default `http://<request Host>/token`.
    pub realm: Option<String>,
    /// File holding the HMAC signing key (created with 32 random bytes, mode 0600, if missing),
    /// so tokens survive a restart; default a random key per process.
    pub key: Option<PathBuf>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            service: "strata-registry".to_string(),
            issuer: "strata-registry".to_string(),
            expiry: 300,
            realm: None,
            key: None,
        }
    }
}

/// One access rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A user name, `"*"` for any authenticated user, or `"anonymous"`.
    pub account: String,
    /// Repository glob: `team/*`, `*`, `library/alpine`.
    pub repository: String,
    /// `pull`, `push`, `delete`, or `*` for all three; empty denies.
    pub actions: Vec<String>,
}

/// The account name rules use for clients without credentials.
pub const ANONYMOUS_ACCOUNT: &str = "anonymous";

/// A set of [`Action`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ActionSet(u8);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);
    pub const PULL: ActionSet = ActionSet(1);
    pub const PUSH: ActionSet = ActionSet(2);
    pub const DELETE: ActionSet = ActionSet(4);
    pub const ALL: ActionSet = ActionSet(7);

    pub fn of(action: Action) -> ActionSet {
        match action {
            Action::Pull => ActionSet::PULL,
            Action::Push => ActionSet::PUSH,
            Action::Delete => ActionSet::DELETE,
        }
    }

    pub fn contains(self, other: ActionSet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub fn intersect(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses one action name as scopes and rules spell it; `*` is all three.
    pub fn parse_one(name: &str) -> Option<ActionSet> {
        match name {
            "pull" => Some(ActionSet::PULL),
            "push" => Some(ActionSet::PUSH),
            "delete" => Some(ActionSet::DELETE),
            "*" => Some(ActionSet::ALL),
            _ => None,
        }
    }

    /// Names in the order scopes list them: `pull`, `push`, `delete`.
    pub fn names(self) -> Vec<&'static str> {
        [
            (ActionSet::PULL, "pull"),
            (ActionSet::PUSH, "push"),
            (ActionSet::DELETE, "delete"),
        ]
        .into_iter()
        .filter(|(a, _)| self.contains(*a))
        .map(|(_, n)| n)
        .collect()
    }
}

/// A rule after validation.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    account: String,
    repository: String,
    actions: ActionSet,
}

/// The validated access policy.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    rules: Option<Vec<CompiledRule>>,
    pub anonymous: Anonymous,
}

impl Policy {
    pub fn compile(cfg: &AuthConfig) -> oci_model::Result<Policy> {
        let rules = match &cfg.access {
            None => None,
            Some(rules) => {
                let mut out = Vec::with_capacity(rules.len());
                for (i, r) in rules.iter().enumerate() {
                    let n = i + 1;
                    if r.account.is_empty() {
                        return Err(Error::invalid(format!(
                            "auth: access rule {n}: empty \"account\""
                        )));
                    }
                    if r.repository.is_empty() {
                        return Err(Error::invalid(format!(
                            "auth: access rule {n}: empty \"repository\""
                        )));
                    }
                    let mut actions = ActionSet::EMPTY;
                    for a in &r.actions {
                        actions = actions.union(ActionSet::parse_one(a).ok_or_else(|| {
                            Error::invalid(format!(
                                "auth: access rule {n}: unknown action {a:?} \
                                 (expected pull, push, delete or *)"
                            ))
                        })?);
                    }
                    if r.account == ANONYMOUS_ACCOUNT && !ActionSet::PULL.contains(actions) {
                        return Err(Error::invalid(format!(
                            "auth: access rule {n}: anonymous clients may only pull \
                             (no write without credentials)"
                        )));
                    }
                    out.push(CompiledRule {
                        account: r.account.clone(),
                        repository: r.repository.clone(),
                        actions,
                    });
                }
                Some(out)
            }
        };
        Ok(Policy {
            rules,
            anonymous: cfg.anonymous,
        })
    }

    /// What `user` (an authenticated account) may do on `repo`.
    pub fn user_actions(&self, user: &str, repo: &str) -> ActionSet {
        let Some(rules) = &self.rules else {
            return ActionSet::ALL;
        };
        rules
            .iter()
            .find(|r| (r.account == user || r.account == "*") && glob_match(&r.repository, repo))
            .map(|r| r.actions)
            .unwrap_or(ActionSet::PULL)
    }

    /// What an anonymous client, once admitted (see [`Anonymous`]), may do on `repo`.
    pub fn anonymous_actions(&self, repo: &str) -> ActionSet {
        if self.anonymous == Anonymous::None {
            return ActionSet::EMPTY;
        }
        let decided = self.rules.as_ref().and_then(|rules| {
            rules
                .iter()
                .find(|r| r.account == ANONYMOUS_ACCOUNT && glob_match(&r.repository, repo))
                .map(|r| r.actions)
        });
        decided
            .unwrap_or(ActionSet::PULL)
            .intersect(ActionSet::PULL)
    }
}

/// Glob match where `*` matches any run of characters (including `/`); everything else literal.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0usize, 0usize);
    // Position of the last `*` in the pattern and the name index it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            // Let the last star swallow one more character and retry.
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<Policy, String> {
        let cfg: AuthConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Policy::compile(&cfg).map_err(|e| e.message)
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "a/b/c"));
        assert!(glob_match("team/*", "team/app"));
        assert!(glob_match("team/*", "team/a/b"));
        assert!(!glob_match("team/*", "team"));
        assert!(!glob_match("team/*", "teams/app"));
        assert!(glob_match("*/app", "x/y/app"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("library/alpine", "library/alpine"));
        assert!(!glob_match("library/alpine", "library/alpine2"));
        assert!(glob_match("**", ""));
    }

    #[test]
    fn no_access_list_gives_users_everything_and_anonymous_pull() {
        let p = policy("{}").unwrap();
        assert_eq!(p.user_actions("bob", "any/thing"), ActionSet::ALL);
        assert_eq!(p.anonymous_actions("any/thing"), ActionSet::PULL);
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = policy(
            r#"{"access":[
                {"account":"bob","repository":"team/app","actions":["pull"]},
                {"account":"*","repository":"team/*","actions":["*"]},
                {"account":"carol","repository":"*","actions":["push"]},
                {"account":"*","repository":"secret/*","actions":[]},
                {"account":"anonymous","repository":"secret/*","actions":[]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(p.user_actions("bob", "team/app"), ActionSet::PULL);
        assert_eq!(p.user_actions("bob", "team/other"), ActionSet::ALL);
        assert_eq!(p.user_actions("alice", "team/app"), ActionSet::ALL);
        // carol's own rule comes after the team/* rule: first match wins.
        assert_eq!(p.user_actions("carol", "team/app"), ActionSet::ALL);
        assert_eq!(p.user_actions("carol", "secret/x"), ActionSet::PUSH);
        assert_eq!(p.user_actions("dave", "secret/x"), ActionSet::EMPTY);
        // No rule matches: pull.
        assert_eq!(p.user_actions("dave", "public/x"), ActionSet::PULL);
        assert_eq!(p.anonymous_actions("public/x"), ActionSet::PULL);
        assert_eq!(p.anonymous_actions("secret/x"), ActionSet::EMPTY);
        // `*` rules are for authenticated users only.
        assert_eq!(p.anonymous_actions("team/app"), ActionSet::PULL);
    }

    #[test]
    fn anonymous_none_and_anonymous_writes() {
        let p = policy(r#"{"anonymous":"none"}"#).unwrap();
        assert_eq!(p.anonymous_actions("x"), ActionSet::EMPTY);
        let err = policy(
            r#"{"access":[{"account":"anonymous","repository":"*","actions":["pull","push"]}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("anonymous clients may only pull"), "{err}");
        let err = policy(r#"{"access":[{"account":"x","repository":"*","actions":["pul"]}]}"#)
            .unwrap_err();
        assert!(err.contains("unknown action \"pul\""), "{err}");
        let err = policy(r#"{"mode":"kerberos"}"#).unwrap_err();
        assert!(err.contains("unknown variant"), "{err}");
        let err = policy(r#"{"htpasswd":"x","acess":[]}"#).unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn action_names() {
        assert_eq!(ActionSet::ALL.names(), ["pull", "push", "delete"]);
        assert_eq!(
            ActionSet::PUSH.union(ActionSet::PULL).names(),
            ["pull", "push"]
        );
        assert!(ActionSet::EMPTY.names().is_empty());
    }
}
