//! Several strata processes on one store at once.

use crate::common::*;
use std::process::Stdio;
use test_support::{Comp, Entry, LayerSpec, Registry, sample_image};

#[test]
fn two_pulls_sharing_layers_started_together() {
    let reg = Registry::start().unwrap();
    // A big-ish shared base layer so the two pulls really overlap.
    let big: Vec<u8> = (0..8_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut one = sample_image();
    one.layers.insert(
        0,
        LayerSpec::new(Comp::Gzip, vec![Entry::file("big.bin", big.clone())]),
    );
    let mut two = one.clone();
    one.layers.push(LayerSpec::new(
        Comp::Gzip,
        vec![Entry::file("one.txt", "1\n")],
    ));
    two.layers.push(LayerSpec::new(
        Comp::Zstd,
        vec![Entry::file("two.txt", "2\n")],
    ));
    let b1 = publish(&reg, &one, "lab/one:1");
    let b2 = publish(&reg, &two, "lab/two:1");

    for round in 0..3 {
        let env = Env::new();
        let spawn = |n: &str| {
            env.cmd()
                .args(["pull", &format!("{}/lab/{n}:1", reg.addr)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (p1, p2) = (spawn("one"), spawn("two"));
        for p in [
            p1.wait_with_output().unwrap(),
            p2.wait_with_output().unwrap(),
        ] {
            assert!(
                p.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&p.stderr)
            );
        }
        // 3 shared layers + one of each: stored once.
        assert_eq!(env.layer_dirs().len(), 5, "round {round}");
        // Blobs: 5 layers + 2 manifests + 2 configs, every one valid.
        assert_eq!(env.assert_blobs_valid(), 9, "round {round}");
        assert!(
            std::fs::read_dir(env.root().join("layers/tmp"))
                .map(|d| d.count())
                .unwrap_or(0)
                == 0
        );
        let q = env.ok(&["images", "-q"]);
        assert_eq!(q.lines().count(), 2);
        for (n, b) in [("one", &b1), ("two", &b2)] {
            let v = env.inspect(&format!("{}/lab/{n}:1", reg.addr));
            assert_eq!(v["Id"], b.config_digest.to_string());
        }
        let m1 = Mounted::new(&env, &format!("{}/lab/one:1", reg.addr));
        assert_eq!(std::fs::read(m1.path.join("big.bin")).unwrap(), big);
        assert_eq!(read(&m1.path.join("one.txt")), "1\n");
    }
}
