//! Local manifest lists: the docker CLI's multi-arch workflow (`manifest create`, `annotate`,
//! `inspect`, `push`, `rm`; docker/cli `cli/command/manifest`) over the lists kept by
//! [`super::store`].

use super::inspect::{
    self as manifest_inspect, Fetched, fetch_error, fetch_reference, platform_from_config,
};
use super::store::ManifestStore;
use crate::images::build::Hashing;
use bytes::Bytes;
use futures_util::StreamExt;
use oci_model::manifest::{self, Parsed};
use oci_model::platform::Platform;
use oci_model::reference::Reference;
use oci_model::{Digest, Error, ErrorKind, Result};
use registry_client::resolve;
use registry_client::{
    MountOutcome, RegistryClient, RegistryError, RegistryErrorKind, UploadOptions,
};
use std::io::{self, Write as _};
use std::path::Path;

/// Manifests fetched at once by `create`.
const FETCHES: usize = 4;

/// Docker's `normalizeReference`: the default tag unless there is a digest.
pub fn normalize(s: &str) -> Result<Reference> {
    let r = Reference::parse_normalized(s)?;
    Ok(if r.digest().is_some() {
        r
    } else {
        r.with_default_tag()
    })
}

/// Fetches one image manifest for a list entry, as the docker CLI's `GetManifest`: the manifest
/// (verified against a digest in the reference), its platform from the image config. A manifest
/// list or index is refused (`<ref> is a manifest list`).
pub async fn fetch_entry(client: &RegistryClient, reference: &Reference) -> Result<Fetched> {
    let domain = reference.domain();
    let repo = reference.path();
    let wanted = fetch_reference(reference)?;
    let m = client
        .get_manifest(domain, repo, &wanted)
        .await
        .map_err(|e| fetch_error(reference, e))?;
    if let Some(want) = reference.digest()
        && *want != m.digest
    {
        return Err(Error::corrupt(format!(
            "manifest verification failed for digest {want}"
        )));
    }
    let (parsed, media_type) = manifest::parse(m.content_type.as_deref(), &m.bytes)?;
    let image = match parsed {
        Parsed::Manifest(image) => image,
        Parsed::Index(_) => return Err(Error::invalid(format!("{reference} is a manifest list"))),
        Parsed::Schema1 => {
            return Err(Error::unsupported(format!("{reference} is not a manifest")));
        }
    };
    let config = client
        .get_blob_bytes(
            domain,
            repo,
            &image.config.digest,
            manifest_inspect::MAX_CONFIG_SIZE,
        )
        .await
        .map_err(resolve::registry_error)?;
    Ok(Fetched {
        reference: reference.to_string(),
        media_type,
        digest: m.digest,
        bytes: m.bytes,
        platform: Some(platform_from_config(&config)?),
    })
}

/// `manifest create [--amend] LIST MANIFEST...`: fetches every manifest (or keeps the list's
/// entry for it, when amending) and saves the list. Returns the list's full reference, for
/// `Created manifest list <ref>`.
pub async fn create(
    client: &RegistryClient,
    store: &ManifestStore,
    list: &str,
    manifests: &[String],
    amend: bool,
) -> Result<String> {
    let list_ref = normalize(list).map_err(|e| {
        Error::new(
            e.kind,
            format!("error parsing name for manifest list {list}: {}", e.message),
        )
    })?;
    let exists = store.exists(&list_ref);
    if exists && !amend {
        return Err(refusing_to_amend());
    }
    let refs = manifests
        .iter()
        .map(|m| normalize(m))
        .collect::<Result<Vec<Reference>>>()?;
    let entries = futures_util::stream::iter(refs.into_iter().map(|r| async {
        if exists {
            match store.get(&list_ref, &r) {
                Ok(entry) => return Ok((r, entry)),
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let entry = fetch_entry(client, &r).await?;
        Ok((r, entry))
    }))
    .buffered(FETCHES)
    .collect::<Vec<Result<(Reference, Fetched)>>>()
    .await
    .into_iter()
    .collect::<Result<Vec<(Reference, Fetched)>>>()?;
    if exists {
        for (r, entry) in &entries {
            store.save(&list_ref, r, entry)?;
        }
    } else {
        store
            .create(&list_ref, &entries)
            .map_err(|e| match e.kind {
                ErrorKind::AlreadyExists => refusing_to_amend(),
                _ => e,
            })?;
    }
    Ok(list_ref.to_string())
}

fn refusing_to_amend() -> Error {
    Error::new(
        ErrorKind::AlreadyExists,
        "refusing to amend an existing manifest list with no --amend flag",
    )
}

/// What `manifest annotate` sets; empty strings leave a field alone.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    pub os: String,
    pub arch: String,
    pub variant: String,
    pub os_version: String,
    pub os_features: Vec<String>,
}

/// The os/arch pairs docker's `manifest annotate` accepts (docker/cli `validOSArches`, 28.x).
const VALID_OS_ARCHES: &[(&str, &str)] = &[
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm"),
    ("darwin", "arm64"),
    ("dragonfly", "amd64"),
    ("freebsd", "386"),
    ("freebsd", "amd64"),
    ("freebsd", "arm"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("linux", "mips64"),
    ("linux", "mips64le"),
    ("linux", "riscv64"),
    ("linux", "s390x"),
    ("netbsd", "386"),
    ("netbsd", "amd64"),
    ("netbsd", "arm"),
    ("openbsd", "386"),
    ("openbsd", "amd64"),
    ("openbsd", "arm"),
    ("plan9", "386"),
    ("plan9", "amd64"),
    ("solaris", "amd64"),
    ("windows", "386"),
    ("windows", "amd64"),
];

/// `manifest annotate LIST MANIFEST`: changes the platform of one entry of a local list.
pub fn annotate(store: &ManifestStore, list: &str, image: &str, a: &Annotation) -> Result<()> {
    let list_ref = normalize(list).map_err(|e| {
        Error::new(
            e.kind,
            format!(
                "annotate: error parsing name for manifest list {list}: {}",
                e.message
            ),
        )
    })?;
    let image_ref = normalize(image).map_err(|e| {
        Error::new(
            e.kind,
            format!(
                "annotate: error parsing name for manifest {image}: {}",
                e.message
            ),
        )
    })?;
    let mut entry = match store.get(&list_ref, &image_ref) {
        Ok(entry) => entry,
        Err(e) if e.kind == ErrorKind::NotFound => {
            return Err(Error::not_found(format!(
                "manifest for image {image} does not exist in {list}"
            )));
        }
        Err(e) => return Err(e),
    };
    let p = entry.platform.get_or_insert_with(Platform::default);
    if !a.os.is_empty() {
        p.os = a.os.clone();
    }
    if !a.arch.is_empty() {
        p.architecture = a.arch.clone();
    }
    for f in &a.os_features {
        let features = p.os_features.get_or_insert_with(Vec::new);
        if !features.contains(f) {
            features.push(f.clone());
        }
    }
    if !a.variant.is_empty() {
        p.variant = Some(a.variant.clone());
    }
    if !a.os_version.is_empty() {
        p.os_version = Some(a.os_version.clone());
    }
    if !VALID_OS_ARCHES.contains(&(p.os.as_str(), p.architecture.as_str())) {
        return Err(Error::invalid(format!(
            "manifest entry for image has unsupported os/arch combination: {}/{}",
            a.os, a.arch
        )));
    }
    store.save(&list_ref, &image_ref, &entry)
}

/// `manifest inspect LIST` of a local list: the text to print, or `None` when there is no such
/// local list (the caller then asks the registry).
pub fn inspect_local_list(
    store: &ManifestStore,
    list: &Reference,
    verbose: bool,
) -> Result<Option<String>> {
    let entries = match store.get_list(list) {
        Ok(entries) => entries,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !verbose {
        for entry in &entries {
            check_same_registry(list, entry).map_err(|e| {
                Error::new(
                    e.kind,
                    format!("failed to assemble ManifestDescriptor: {}", e.message),
                )
            })?;
        }
    }
    manifest_inspect::print_list(&entries, verbose).map(Some)
}

/// `manifest inspect LIST MANIFEST`: one entry of a local list.
pub fn inspect_local_entry(
    store: &ManifestStore,
    list: &Reference,
    manifest: &Reference,
    verbose: bool,
) -> Result<String> {
    let entry = store.get(list, manifest)?;
    manifest_inspect::print_manifest(&entry, verbose)
}

/// A list can only point at manifests of its own registry.
fn check_same_registry(list: &Reference, entry: &Fetched) -> Result<()> {
    let entry_ref = Reference::parse_normalized(&entry.reference)?;
    if entry_ref.domain() != list.domain() {
        return Err(Error::invalid(format!(
            "cannot use source images from a different registry than the target image: {} != {}",
            entry_ref.domain(),
            list.domain()
        )));
    }
    Ok(())
}

/// What `manifest push` sends, worked out before anything is sent.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub list: Reference,
    /// The list or index, as it will be stored (Docker's formatting, byte for byte).
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    /// Entries whose manifest lives in another repository of the registry: their blobs are
    /// mounted (or copied) into the list's repository and their manifests pushed there by digest.
    pub copies: Vec<CrossRepo>,
}

/// One entry to bring into the list's repository.
#[derive(Debug, Clone)]
pub struct CrossRepo {
    /// The repository (path) the entry was fetched from.
    pub from: String,
    pub entry: Fetched,
    /// The config and layer digests its manifest references.
    pub blobs: Vec<Digest>,
}

/// Checks a local list the way `docker manifest push` does and builds the list to push: every
/// entry needs an OS and architecture and must come from the list's registry. The media type
/// follows Docker (an OCI index when the first entry is an OCI manifest, else a Docker manifest
/// list) unless `oci` asks for an OCI index.
pub fn plan_push(list: &Reference, entries: Vec<Fetched>, oci: bool) -> Result<PushPlan> {
    if entries.is_empty() {
        return Err(Error::not_found(format!("{list} not found")));
    }
    for e in &entries {
        let p = e.platform.clone().unwrap_or_default();
        if p.os.is_empty() || p.architecture.is_empty() {
            return Err(Error::invalid(format!(
                "manifest {} must have an OS and Architecture to be pushed to a registry",
                e.reference
            )));
        }
        check_same_registry(list, e)?;
    }
    let media_type = if oci {
        oci_model::media_type::OCI_INDEX
    } else {
        manifest_inspect::list_type_for(&entries)
    };
    let bytes = manifest_inspect::list_bytes(&entries, media_type)?;
    let mut copies = Vec::new();
    for e in entries {
        let from = Reference::parse_normalized(&e.reference)?
            .path()
            .to_string();
        if from == list.path() {
            continue;
        }
        let (parsed, _) = manifest::parse(Some(&e.media_type), &e.bytes)?;
        let Parsed::Manifest(m) = parsed else {
            return Err(Error::invalid(format!("{} is not a manifest", e.reference)));
        };
        let blobs = std::iter::once(m.config.digest)
            .chain(m.layers.into_iter().map(|l| l.digest))
            .collect();
        copies.push(CrossRepo {
            from,
            entry: e,
            blobs,
        });
    }
    Ok(PushPlan {
        list: list.clone(),
        bytes,
        media_type,
        copies,
    })
}

/// Docker's wording of a registry's answer: distribution's `<code words>: <message>` when the
/// registry sent an error code, the connection-level text otherwise.
fn registry_text(e: RegistryError) -> Error {
    if e.kind == RegistryErrorKind::Http && e.code.is_some() {
        Error::new(e.error_kind(), e.docker_suffix())
    } else {
        resolve::registry_error(e)
    }
}

/// Brings one blob of `from` into `repo`: a cross-repository mount, or — when the registry
/// opens an upload session instead (it cannot mount) — a copy through a temporary file under
/// `<root>/tmp`, uploaded into that session.
async fn mount_or_copy(
    client: &RegistryClient,
    root: &Path,
    domain: &str,
    repo: &str,
    from: &str,
    digest: &Digest,
) -> std::result::Result<(), RegistryError> {
    let session = match client.mount_blob(domain, repo, digest, from).await? {
        MountOutcome::Mounted => return Ok(()),
        MountOutcome::NotMounted(session) => session,
    };
    let local = |e: Error| RegistryError::protocol("", e.message);
    let tmp_dir = root.join("tmp");
    let (tmp, file) = fsutil::TempFile::create_in(&tmp_dir, "manifest-blob").map_err(|e| {
        local(Error::io(
            format_args!("create a file in {}", tmp_dir.display()),
            e,
        ))
    })?;
    let mut out = Hashing {
        inner: io::BufWriter::new(file),
        hash: oci_model::Sha256Writer::new(),
    };
    let mut blob = client.get_blob(domain, from, digest, 0).await?;
    while let Some(chunk) = blob.stream.next().await {
        out.write_all(&chunk?).map_err(|e| {
            RegistryError::protocol("", format!("writing {}: {e}", tmp.path().display()))
        })?;
    }
    out.inner.flush().map_err(|e| {
        RegistryError::protocol("", format!("writing {}: {e}", tmp.path().display()))
    })?;
    out.hash.verify(digest, None).map_err(local)?;
    let size = out.hash.len();
    client
        .upload_blob_file(
            domain,
            repo,
            digest,
            size,
            tmp.path(),
            &UploadOptions::default(),
            Some(session),
            None,
        )
        .await
}

/// `manifest push [--purge] [--oci] LIST`: mounts (or copies) the blobs of entries from other
/// repositories into the list's repository and pushes their manifests there by digest (a line
/// `Pushed ref <repo>@<digest> with digest: <digest>` each), then pushes the list under its tag
/// and prints its digest; `--purge` then deletes the local list. `root` is the store root (for
/// the temporary files of copies). `line` receives each line of output as it happens.
pub async fn push(
    client: &RegistryClient,
    store: &ManifestStore,
    root: &Path,
    list: &str,
    purge: bool,
    oci: bool,
    line: &mut (dyn FnMut(String) + Send),
) -> Result<()> {
    let list_ref = normalize(list)?;
    let entries = store.get_list(&list_ref)?;
    let plan = plan_push(&list_ref, entries, oci)?;
    let domain = list_ref.domain();
    let repo = list_ref.path();
    for c in &plan.copies {
        for digest in &c.blobs {
            mount_or_copy(client, root, domain, repo, &c.from, digest)
                .await
                .map_err(|e| {
                    let e = registry_text(e);
                    Error::new(
                        e.kind,
                        format!(
                            "failed to mount blob {domain}/{}@{digest} to {list_ref}: {}",
                            c.from, e.message
                        ),
                    )
                })?;
        }
    }
    let put_failed = |what: &str, e: RegistryError| {
        let e = registry_text(e);
        Error::new(
            e.kind,
            format!("failed to put manifest {what}: {}", e.message),
        )
    };
    for c in &plan.copies {
        let d = c.entry.digest.to_string();
        let target = format!("{}@{d}", list_ref.name());
        let pushed = client
            .put_manifest(domain, repo, &d, &c.entry.media_type, c.entry.bytes.clone())
            .await
            .map_err(|e| put_failed(&target, e))?;
        line(format!("Pushed ref {target} with digest: {pushed}"));
    }
    let reference = match list_ref.tag() {
        Some(t) => t.to_string(),
        None => Digest::of(&plan.bytes).to_string(),
    };
    let digest = client
        .put_manifest(
            domain,
            repo,
            &reference,
            plan.media_type,
            Bytes::from(plan.bytes),
        )
        .await
        .map_err(|e| put_failed(&list_ref.to_string(), e))?;
    line(digest.to_string());
    if purge {
        store.remove(&list_ref)?;
    }
    Ok(())
}

/// `manifest rm LIST...`: removes each list; the errors of those that fail are joined by
/// newlines, the others are removed all the same.
pub fn remove(store: &ManifestStore, lists: &[String]) -> Result<()> {
    let mut errors = Vec::new();
    for l in lists {
        let outcome = normalize(l).and_then(|r| {
            store.get_list(&r)?;
            store.remove(&r)
        });
        if let Err(e) = outcome {
            errors.push(e);
        }
    }
    match errors.len() {
        0 => Ok(()),
        _ => Err(Error::new(
            errors[0].kind,
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::testing::{entry, r};

    #[test]
    fn annotate_sets_platform_fields() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::new(dir.path());
        let (list, a) = ("127.0.0.1:5000/l", "127.0.0.1:5000/a");
        store
            .save(
                &r(list),
                &r(a),
                &entry(
                    &r(a).to_string(),
                    "{}",
                    Some(Platform::new("linux", "amd64", None)),
                ),
            )
            .unwrap();
        let ann = Annotation {
            arch: "arm64".into(),
            variant: "v8".into(),
            os_features: vec!["x".into(), "y".into(), "x".into()],
            ..Annotation::default()
        };
        annotate(&store, list, a, &ann).unwrap();
        let p = store.get(&r(list), &r(a)).unwrap().platform.unwrap();
        assert_eq!(p.architecture, "arm64");
        assert_eq!(p.os, "linux");
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert_eq!(p.os_features, Some(vec!["x".to_string(), "y".to_string()]));
        let bad = Annotation {
            arch: "aarch64".into(),
            ..Annotation::default()
        };
        assert_eq!(
            annotate(&store, list, a, &bad).unwrap_err().message,
            "manifest entry for image has unsupported os/arch combination: /aarch64"
        );
        assert_eq!(
            annotate(&store, list, "127.0.0.1:5000/zzz", &ann)
                .unwrap_err()
                .message,
            "manifest for image 127.0.0.1:5000/zzz does not exist in 127.0.0.1:5000/l"
        );
    }

    fn image_manifest(config: &str, layers: &[&str]) -> String {
        let d = |s: &str| Digest::of(s.as_bytes()).to_string();
        let layers: Vec<String> = layers
            .iter()
            .map(|l| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1}}"#, d(l)))
            .collect();
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":1}},"layers":[{}]}}"#,
            d(config),
            layers.join(",")
        )
    }

    #[test]
    fn push_plan_checks_entries_like_docker() {
        let list = r("127.0.0.1:5000/app:multi");
        let amd = Platform::new("linux", "amd64", None);
        let here = entry(
            "127.0.0.1:5000/app:amd64",
            &image_manifest("c1", &["l1"]),
            Some(amd.clone()),
        );
        let there = entry(
            "127.0.0.1:5000/other/app:arm64",
            &image_manifest("c2", &["l2", "l3"]),
            Some(Platform::new("linux", "arm64", Some("v8"))),
        );
        let plan = plan_push(&list, vec![here.clone(), there.clone()], false).unwrap();
        assert_eq!(plan.media_type, oci_model::media_type::OCI_INDEX);
        assert_eq!(plan.copies.len(), 1);
        assert_eq!(plan.copies[0].from, "other/app");
        assert_eq!(
            plan.copies[0].blobs,
            vec![Digest::of(b"c2"), Digest::of(b"l2"), Digest::of(b"l3")]
        );
        let text = String::from_utf8(plan.bytes.clone()).unwrap();
        assert!(
            text.starts_with("{\n   \"schemaVersion\": 2,\n   \"mediaType\""),
            "{text}"
        );
        assert!(!text.ends_with('\n'));
        let docker = Fetched {
            media_type: oci_model::media_type::DOCKER_MANIFEST_V2.into(),
            ..here.clone()
        };
        assert_eq!(
            plan_push(&list, vec![docker.clone()], false)
                .unwrap()
                .media_type,
            oci_model::media_type::DOCKER_MANIFEST_LIST
        );
        assert_eq!(
            plan_push(&list, vec![docker], true).unwrap().media_type,
            oci_model::media_type::OCI_INDEX
        );

        let bare = entry(
            "127.0.0.1:5000/app:x",
            "{}",
            Some(Platform::new("linux", "", None)),
        );
        assert_eq!(
            plan_push(&list, vec![bare], false).unwrap_err().message,
            "manifest 127.0.0.1:5000/app:x must have an OS and Architecture to be pushed to a registry"
        );
        let elsewhere = entry("other.example/app:x", "{}", Some(amd));
        assert_eq!(
            plan_push(&list, vec![elsewhere], false)
                .unwrap_err()
                .message,
            "cannot use source images from a different registry than the target image: other.example != 127.0.0.1:5000"
        );
        assert_eq!(
            plan_push(&list, vec![], false).unwrap_err().message,
            "127.0.0.1:5000/app:multi not found"
        );
    }

    #[test]
    fn rm_joins_errors_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = ManifestStore::new(dir.path());
        let a = r("127.0.0.1:5000/a");
        store
            .save(
                &r("127.0.0.1:5000/l"),
                &a,
                &entry(&a.to_string(), "{}", None),
            )
            .unwrap();
        let err = remove(
            &store,
            &[
                "127.0.0.1:5000/x".into(),
                "127.0.0.1:5000/l".into(),
                "127.0.0.1:5000/y".into(),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "No such manifest: 127.0.0.1:5000/x:latest\nNo such manifest: 127.0.0.1:5000/y:latest"
        );
        assert!(!store.exists(&r("127.0.0.1:5000/l")));
    }
}
