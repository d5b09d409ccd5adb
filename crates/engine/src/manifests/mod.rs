//! Manifests and manifest lists without pulling: `manifest inspect` straight from a registry
//! ([`inspect`]), and the docker CLI's local multi-arch lists ([`lists`]) kept in their own small
//! store ([`store`]).

pub mod inspect;
pub mod lists;
pub mod store;

#[cfg(test)]
pub(crate) mod testing {
    use super::inspect::Fetched;
    use super::lists::normalize;
    use bytes::Bytes;
    use oci_model::Digest;
    use oci_model::platform::Platform;
    use oci_model::reference::Reference;

    /// A list entry of an OCI manifest with `body` as its bytes.
    pub(crate) fn entry(reference: &str, body: &str, platform: Option<Platform>) -> Fetched {
        let bytes = Bytes::from(body.to_string());
        Fetched {
            reference: reference.into(),
            media_type: oci_model::media_type::OCI_MANIFEST.into(),
            digest: Digest::of(&bytes),
            bytes,
            platform,
        }
    }

    pub(crate) fn r(s: &str) -> Reference {
        normalize(s).unwrap()
    }
}
