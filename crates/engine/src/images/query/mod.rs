//! Finding and selecting images: by name, ID or prefix ([`lookup`]), Docker's `--filter`
//! grammar ([`filter`]) with Go's `path.Match` for `reference=` ([`path_match`]), and the
//! familiar names rows are shown under.

pub mod filter;
pub mod lookup;
pub mod path_match;

use oci_model::reference::Reference;

/// Familiar form of a canonical repository name (`docker.io/library/alpine` → `alpine`).
pub fn familiar_repo(repo: &str) -> String {
    Reference::parse_normalized(repo)
        .map(|r| r.familiar_name())
        .unwrap_or_else(|_| repo.to_string())
}
