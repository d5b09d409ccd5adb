//! Finding a local image the way Docker does: full ID (`sha256:…` or 64 hex), `name`, `name:tag`,
//! `name@digest`, or a unique short-ID prefix.

use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use store::metadata::Db;

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Docker's message for a missing image: names get `:latest` added (`No such image: nope:latest`).
pub fn no_such_image(input: &str) -> Error {
    let shown = match Reference::parse_normalized(input) {
        Ok(r) if !is_hex(input) => r.with_default_tag().familiar_string(),
        _ => input.to_string(),
    };
    Error::not_found(format!("No such image: {shown}"))
}

/// Returns the image ID (`sha256:<hex>`) that `input` names, or Docker's "No such image" error.
pub fn find_image(db: &Db, input: &str) -> Result<String> {
    if let Some(hex) = input.strip_prefix("sha256:") {
        if let Ok(d) = Digest::from_hex(hex) {
            let id = d.to_string();
            if db.image(&id)?.is_some() {
                return Ok(id);
            }
        }
        if is_hex(hex) {
            return by_prefix(db, hex, input);
        }
        return Err(no_such_image(input));
    }
    if input.len() == 64 && is_hex(input) {
        let id = format!("sha256:{input}");
        if db.image(&id)?.is_some() {
            return Ok(id);
        }
    }
    if let Ok(r) = Reference::parse_normalized(input) {
        let found = match (r.digest(), r.tag()) {
            (Some(d), _) => db.resolve_repo_digest(&r.name(), d)?,
            (None, tag) => db.resolve_tag(&r.name(), tag.unwrap_or("latest"))?,
        };
        if let Some(id) = found {
            return Ok(id);
        }
    }
    if is_hex(input) {
        return by_prefix(db, input, input);
    }
    Err(no_such_image(input))
}

fn by_prefix(db: &Db, hex: &str, input: &str) -> Result<String> {
    let ids = db.find_image_by_prefix(hex)?;
    match ids.len() {
        0 => Err(no_such_image(input)),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("multiple IDs found with provided prefix: {hex}"),
        )),
    }
}
