//! Containers: on-disk layout, IDs and names, the union root filesystem, the OCI bundle and
//! the runtime that runs it.
//!
//! Layout under the store root:
//! ```text
//! containers/<64 hex id>/upper/          the writable layer (overlay form)
//! containers/<64 hex id>/work/           overlay's work directory
//! containers/<64 hex id>/rootfs/         the union mount point while running or mounted
//! containers/<64 hex id>/config.json     the OCI runtime bundle's config
//! containers/<64 hex id>/container.log   a detached container's output
//! ```

pub mod driver;
pub mod error;
pub mod logs;
pub mod rootfs;
pub mod spec;

use oci_model::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `<root>/containers`.
pub fn containers_dir(root: &Path) -> PathBuf {
    root.join("containers")
}

/// `<root>/containers/<id>`: the container's directory, which is also its OCI bundle.
pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    containers_dir(root).join(id)
}

/// The writable layer.
pub fn upper_dir(root: &Path, id: &str) -> PathBuf {
    container_dir(root, id).join("upper")
}

/// Overlay's work directory (same filesystem as `upper`).
pub fn work_dir(root: &Path, id: &str) -> PathBuf {
    container_dir(root, id).join("work")
}

/// The union mount point.
pub fn rootfs_dir(root: &Path, id: &str) -> PathBuf {
    container_dir(root, id).join("rootfs")
}

/// A detached container's output.
pub fn log_path(root: &Path, id: &str) -> PathBuf {
    container_dir(root, id).join("container.log")
}

/// The OCI runtime config in the bundle.
pub fn bundle_config_path(root: &Path, id: &str) -> PathBuf {
    container_dir(root, id).join("config.json")
}

/// A new container ID: 32 random bytes from `/dev/urandom` as 64 lowercase hex digits. Like
/// Docker, an ID made only of decimal digits is drawn again (it would parse as a number).
pub fn generate_id() -> Result<String> {
    loop {
        let mut buf = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .map_err(|e| {
                Error::new(oci_model::ErrorKind::Internal, format!("/dev/urandom: {e}"))
            })?;
        let id = hex::encode(buf);
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

fn random_u32() -> Result<u32> {
    let mut buf = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::new(oci_model::ErrorKind::Internal, format!("/dev/urandom: {e}")))?;
    Ok(u32::from_le_bytes(buf))
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "bhaskara",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "chaplygin",
    "chatelet",
    "chebyshev",
    "clarke",
    "cohen",
    "colden",
    "cori",
    "cray",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "golick",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hertz",
    "hodgkin",
    "hoover",
    "hopper",
    "hugle",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "kapitsa",
    "keldysh",
    "keller",
    "kepler",
    "khorana",
    "kilby",
    "kirch",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lehmann",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "margulis",
    "matsumoto",
    "maxwell",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "mendeleev",
    "merkle",
    "minsky",
    "mirzakhani",
    "montalcini",
    "moore",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "poitras",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "robinson",
    "roentgen",
    "rosalind",
    "rubin",
    "saha",
    "sammet",
    "shamir",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stallman",
    "stonebraker",
    "swanson",
    "swartz",
    "swirles",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// A Docker-style generated name, `adjective_surname` (never `boring_wozniak`, as in Docker).
/// With `retry > 0` a random digit is appended, for when the plain name is taken.
pub fn generate_name(retry: u32) -> Result<String> {
    loop {
        let a = ADJECTIVES[random_u32()? as usize % ADJECTIVES.len()];
        let s = SURNAMES[random_u32()? as usize % SURNAMES.len()];
        if a == "boring" && s == "wozniak" {
            continue;
        }
        let mut name = format!("{a}_{s}");
        if retry > 0 {
            name.push_str(&(random_u32()? % 10).to_string());
        }
        return Ok(name);
    }
}

/// Checks a user-given container name against Docker's `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$` and
/// returns it without the leading `/`.
pub fn validate_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let b = bare.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(bare.to_string())
    } else {
        Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let root = Path::new("/s");
        let id = "ab".repeat(32);
        assert_eq!(
            container_dir(root, &id),
            PathBuf::from(format!("/s/containers/{id}"))
        );
        assert_eq!(upper_dir(root, &id), container_dir(root, &id).join("upper"));
        assert_eq!(work_dir(root, &id), container_dir(root, &id).join("work"));
        assert_eq!(
            rootfs_dir(root, &id),
            container_dir(root, &id).join("rootfs")
        );
        assert_eq!(
            log_path(root, &id),
            container_dir(root, &id).join("container.log")
        );
        assert_eq!(
            bundle_config_path(root, &id),
            container_dir(root, &id).join("config.json")
        );
    }

    #[test]
    fn ids_are_random_64_hex() {
        let a = generate_id().unwrap();
        let b = generate_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn generated_names_are_valid() {
        assert!(ADJECTIVES.len() >= 50 && SURNAMES.len() >= 50);
        for retry in [0, 1] {
            let n = generate_name(retry).unwrap();
            assert_eq!(validate_name(&n).unwrap(), n);
            let (a, s) = n.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&a));
            let s = if retry > 0 { &s[..s.len() - 1] } else { s };
            assert!(SURNAMES.contains(&s), "{n}");
        }
    }

    #[test]
    fn name_validation() {
        assert_eq!(validate_name("web").unwrap(), "web");
        assert_eq!(validate_name("/web-1.a_b").unwrap(), "web-1.a_b");
        for bad in ["a", "", "/", "-x", "_x", "a b", "a/b", "ä1", "//ab"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(
                e.message,
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }
}
