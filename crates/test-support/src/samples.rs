//! Ready-made fixture images.

use crate::fixture::{Comp, Entry, ImageSpec, LayerSpec};
use serde_json::json;
use std::path::Path;

/// `len` deterministic, incompressible bytes (xorshift64 from a seed-mixed start), so a
/// compressed layer of them really is `len` bytes and different seeds give different blobs.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Two layers exercising overlay semantics:
/// - layer 1 (gzip): `/etc/a`, `/etc/b`, `/dir/x`, symlink `/etc/link -> a`, hard link `/etc/hard` to
///   `/etc/a`, an executable `/bin/tool`;
/// - layer 2 (gzip): `/etc/a` replaced, `/etc/b` whited out, `/dir` made opaque with a new `/dir/y`.
///
/// Final view: `/etc/a` = "a2\n", no `/etc/b`, `/etc/link` -> a, `/etc/hard` = "a1\n" (a separate
/// file in layer 1), `/dir/y` only.
pub fn sample_layers() -> Vec<LayerSpec> {
    vec![
        LayerSpec::new(
            Comp::Gzip,
            vec![
                Entry::dir("etc"),
                Entry::file("etc/a", "a1\n"),
                Entry::file("etc/b", "b1\n"),
                Entry::symlink("etc/link", "a"),
                Entry::hardlink("etc/hard", "etc/a"),
                Entry::dir("dir"),
                Entry::file("dir/x", "x\n").owner(1000, 1000),
                Entry::dir("bin"),
                Entry::exec("bin/tool", "#!/bin/sh\necho tool\n"),
            ],
        ),
        LayerSpec::new(
            Comp::Gzip,
            vec![
                Entry::dir("etc"),
                Entry::file("etc/a", "a2\n"),
                Entry::whiteout("etc/b"),
                Entry::dir("dir"),
                Entry::opaque("dir"),
                Entry::file("dir/y", "y\n"),
            ],
        ),
    ]
}

/// An OCI linux/amd64 image of [`sample_layers`].
pub fn sample_image() -> ImageSpec {
    ImageSpec {
        layers: sample_layers(),
        cmd: Some(vec!["/bin/tool".into()]),
        labels: vec![("org.example.fixture".into(), "sample".into())],
        ..ImageSpec::default()
    }
}

/// [`sample_image`] with a Docker v2 schema 2 manifest and Docker media types.
pub fn sample_docker_image() -> ImageSpec {
    ImageSpec {
        docker_media_types: true,
        ..sample_image()
    }
}

/// One gzip, one zstd and one uncompressed layer, each adding `/layer-<kind>.txt`.
pub fn compression_image() -> ImageSpec {
    let layer = |comp: Comp, name: &str| {
        LayerSpec::new(
            comp,
            vec![Entry::file(
                &format!("layer-{name}.txt"),
                format!("{name}\n"),
            )],
        )
    };
    ImageSpec {
        layers: vec![
            layer(Comp::Gzip, "gzip"),
            layer(Comp::Zstd, "zstd"),
            layer(Comp::None, "none"),
        ],
        ..ImageSpec::default()
    }
}

/// linux/amd64, linux/arm64/v8 and linux/arm/v7 images; each has `/arch.txt` holding its platform
/// followed by a newline. Use with `OciLayout::add_index` (OCI index or Docker manifest list).
/// Four small gzip layers: one more than Docker's default download concurrency, so the last
/// layer shows `Waiting`. Used for the output goldens recorded from a real Docker.
pub fn four_layer_image() -> ImageSpec {
    let layers = (1..=4)
        .map(|i| {
            LayerSpec::new(
                Comp::Gzip,
                vec![Entry::file(
                    &format!("layer{i}.txt"),
                    format!("layer {i}\n"),
                )],
            )
        })
        .collect();
    ImageSpec {
        layers,
        ..ImageSpec::default()
    }
}

/// Three gzip layers with a Dockerfile-like config `history`: `#(nop)` and BuildKit-style
/// `created_by` lines, `empty_layer` entries in between, comments, a tab, wide characters and a
/// date before 2000 (which Docker does not show in human units). For `history` goldens.
pub fn history_image() -> ImageSpec {
    let layer = |name: &str, data: &str| {
        LayerSpec::new(Comp::Gzip, vec![Entry::file(name, data.to_string())])
    };
    let history = vec![
        json!({"created": "1999-12-31T23:00:00Z",
               "created_by": "/bin/sh -c #(nop) ADD file:5d3c0f1e2b4a69788a9b0c1d2e3f40516273 in / "}),
        json!({"created": "1999-12-31T23:00:01Z",
               "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}),
        json!({"created": "2021-06-01T10:00:00Z",
               "created_by": "/bin/sh -c apk add --no-cache ca-certificates\t&& echo done > /etc/done"}),
        json!({"created": "2022-03-15T08:30:05Z", "created_by": "LABEL org.example.stage=history",
               "comment": "buildkit.dockerfile.v0", "empty_layer": true}),
        json!({"created": "2023-11-14T22:13:20Z", "created_by": "COPY app.txt /app/ # buildkit",
               "comment": "buildkit.dockerfile.v0"}),
        json!({"created": "2023-11-14T22:13:21Z",
               "created_by": "ENV GREETING=日本語のあいさつ、こんにちは世界 and more words after it",
               "empty_layer": true, "comment": "buildkit.dockerfile.v0"}),
    ];
    ImageSpec {
        layers: vec![
            layer("base.txt", "base layer\n"),
            layer("etc/done", &"done\n".repeat(300)),
            layer("app/app.txt", "app\n"),
        ],
        cmd: Some(vec!["sh".into()]),
        created: "2023-11-14T22:13:21Z".into(),
        history: Some(history),
        ..ImageSpec::default()
    }
}

/// [`four_layer_image`] with no `history` in its config.
pub fn no_history_image() -> ImageSpec {
    ImageSpec {
        history: Some(Vec::new()),
        ..four_layer_image()
    }
}

pub fn multi_arch_specs() -> Vec<ImageSpec> {
    [("amd64", None), ("arm64", Some("v8")), ("arm", Some("v7"))]
        .into_iter()
        .map(|(arch, variant): (&str, Option<&str>)| {
            let mut spec = ImageSpec {
                arch: arch.into(),
                variant: variant.map(str::to_string),
                ..ImageSpec::default()
            };
            let platform = spec.platform();
            spec.layers = vec![LayerSpec::new(
                Comp::Gzip,
                vec![Entry::file("arch.txt", format!("{platform}\n"))],
            )];
            spec.cmd = Some(vec!["cat".into(), "/arch.txt".into()]);
            spec
        })
        .collect()
}

/// Applets linked into `/bin` of [`busybox_image`].
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "env", "id", "pwd", "sleep", "true", "false", "test", "printf",
    "mkdir", "rm", "touch", "wc", "head", "tail", "grep", "sed", "stat", "uname", "hostname",
    "whoami", "ps", "cp", "mv", "ln", "chmod",
];

/// A runnable linux/amd64 image made from Debian busybox-static's `/bin/busybox`: the binary plus
/// applet symlinks in `/bin`, `/tmp` (1777), `/etc/passwd` and `/etc/group`. `Cmd` is `["sh"]`.
/// `None` when `/bin/busybox` is missing.
pub fn busybox_image() -> Option<ImageSpec> {
    let binary = std::fs::read(Path::new("/bin/busybox")).ok()?;
    let mut entries = vec![
        Entry::dir("bin"),
        Entry::exec("bin/busybox", binary),
        Entry::dir("etc"),
        Entry::file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        Entry::file("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        Entry::dir("root").mode(0o700),
        Entry::dir("tmp").mode(0o1777),
    ];
    entries.extend(
        BUSYBOX_APPLETS
            .iter()
            .map(|a| Entry::symlink(&format!("bin/{a}"), "busybox")),
    );
    Some(ImageSpec {
        layers: vec![LayerSpec::new(Comp::Gzip, entries)],
        cmd: Some(vec!["sh".into()]),
        ..ImageSpec::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::layer_tar;
    use std::io::Read;

    fn files(layer: &LayerSpec) -> Vec<(String, Vec<u8>)> {
        let tar = layer_tar(&layer.entries).unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let mut out = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            out.push((String::from_utf8_lossy(&e.path_bytes()).into_owned(), body));
        }
        out
    }

    #[test]
    fn multi_arch_images_name_their_platform() {
        let specs = multi_arch_specs();
        let platforms: Vec<String> = specs.iter().map(ImageSpec::platform).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
        for s in &specs {
            assert_eq!(
                files(&s.layers[0]),
                vec![(
                    "arch.txt".to_string(),
                    format!("{}\n", s.platform()).into_bytes()
                )]
            );
        }
    }

    #[test]
    fn sample_second_layer_whites_out_and_makes_dir_opaque() {
        let names: Vec<String> = files(&sample_layers()[1])
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            names,
            [
                "etc/",
                "etc/a",
                "etc/.wh.b",
                "dir/",
                "dir/.wh..wh..opq",
                "dir/y"
            ]
        );
    }

    #[test]
    fn busybox_image_links_applets_to_the_binary() {
        let Some(spec) = busybox_image() else {
            eprintln!("skipping: /bin/busybox is missing");
            return;
        };
        let tar = layer_tar(&spec.layers[0].entries).unwrap();
        let mut ar = tar::Archive::new(tar.as_slice());
        let mut sh_target = None;
        let mut busybox_mode = None;
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            if path == "bin/sh" {
                sh_target = e.link_name_bytes().map(|l| l.into_owned());
            }
            if path == "bin/busybox" {
                busybox_mode = Some(e.header().mode().unwrap());
            }
        }
        assert_eq!(sh_target.as_deref(), Some(&b"busybox"[..]));
        assert_eq!(busybox_mode, Some(0o755));
    }
}
