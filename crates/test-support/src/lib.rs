//! Test harness for Strata's integration tests: real registries and real fixture images.
//!
//! - [`registry`]: CNCF distribution (`/usr/bin/docker-registry`) on a free 127.0.0.1 port —
//!   anonymous, htpasswd (bcrypt) or token auth (with [`token`]'s ES256 issuer) — or
//!   `strata registry serve` behind the same API ([`Registry::start_strata`]).
//! - [`fixture`]: a deterministic image builder writing an OCI image layout.
//! - [`push`]: pushes a layout's tag to a registry keeping every manifest's bytes
//!   (skopeo for OCI roots, a plain-HTTP uploader for Docker roots).
//! - [`samples`]: ready-made fixtures (overlay semantics, multi-arch, compressions, busybox).
//! - [`http`]: a minimal HTTP/1.1 client that handles Basic and Bearer auth.
//!
//! System tools needed: `docker-registry`, `skopeo`, `openssl`, `htpasswd` (apache2-utils).

pub mod fixture;
pub mod http;
pub mod proxy;
pub mod push;
pub mod registry;
pub mod samples;
pub mod token;

pub use fixture::{
    BuiltImage, BuiltIndex, BuiltLayer, Comp, Entry, ImageSpec, LayerSpec, Meta, OciLayout,
};
pub use push::{push, push_as, push_http, push_skopeo};
pub use registry::{AuthKind, Registry, Server, free_port};
pub use samples::{
    busybox_image, compression_image, four_layer_image, history_image, multi_arch_specs,
    no_history_image, noise, sample_docker_image, sample_image, sample_layers,
};
