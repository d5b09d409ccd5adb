use super::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use tar::{EntryType, Header};

// ---------- building tar streams ----------

/// A tar stream built entry by entry, with raw names (so `..` and absolute paths can be written).
struct Tar {
    b: tar::Builder<Vec<u8>>,
}

fn header(name: &[u8], etype: EntryType, size: u64, link: &[u8], mode: u32) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(etype);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    {
        let old = h.as_old_mut();
        assert!(name.len() <= 100 && link.len() <= 100);
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_cksum();
    h
}

impl Tar {
    fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }
    fn add(&mut self, h: Header, data: &[u8]) -> &mut Tar {
        self.b.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &str) -> &mut Tar {
        self.add(
            header(
                name.as_bytes(),
                EntryType::Regular,
                data.len() as u64,
                b"",
                0o644,
            ),
            data.as_bytes(),
        )
    }
    fn dir(&mut self, name: &str) -> &mut Tar {
        self.add(
            header(name.as_bytes(), EntryType::Directory, 0, b"", 0o755),
            b"",
        )
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(
            header(
                name.as_bytes(),
                EntryType::Symlink,
                0,
                target.as_bytes(),
                0o777,
            ),
            b"",
        )
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(
            header(
                name.as_bytes(),
                EntryType::Link,
                0,
                target.as_bytes(),
                0o644,
            ),
            b"",
        )
    }
    fn with(&mut self, f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> &mut Tar {
        f(&mut self.b);
        self
    }
    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const ROOT: UnpackOptions = UnpackOptions {
    overlay_whiteouts: true,
    same_owner: true,
};
const ROOTLESS: UnpackOptions = UnpackOptions {
    overlay_whiteouts: false,
    same_owner: false,
};

/// A sandbox: `dest` (the layer dir) next to `outside` (holding `secret`), which must never change.
struct Sandbox {
    _tmp: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
    before: BTreeMap<String, String>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), "secret").unwrap();
        let before = tree(tmp.path(), &[&dest, &tmp.path().join("merged")]);
        Sandbox {
            _tmp: tmp,
            dest,
            outside,
            before,
        }
    }
    fn apply(&self, tar: &[u8], opts: &UnpackOptions) -> Result<UnpackStats> {
        apply_layer(tar, Compression::None, &self.dest, opts)
    }
    /// Nothing outside `dest` changed (new files, content, links of the secret).
    fn assert_outside_untouched(&self) {
        let after = tree(
            self._tmp.path(),
            &[&self.dest, &self._tmp.path().join("merged")],
        );
        assert_eq!(self.before, after, "the sandbox outside dest changed");
        assert_eq!(
            fs::metadata(self.outside.join("secret")).unwrap().nlink(),
            1
        );
    }
}

/// A description of every object under `root` (type, mode, owner, content or target), skipping `skip`.
fn tree(root: &Path, skip: &[&Path]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, skip: &[&Path], out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if skip.contains(&p.as_path()) {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let perm = m.permissions().mode() & 0o7777;
            let desc = if m.is_dir() {
                walk(root, &p, skip, out);
                format!("dir {perm:o} {}:{}", m.uid(), m.gid())
            } else if m.file_type().is_symlink() {
                format!("symlink -> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!(
                    "file {perm:o} {}:{} {:?}",
                    m.uid(),
                    m.gid(),
                    fs::read_to_string(&p).unwrap()
                )
            } else if m.file_type().is_char_device() {
                format!("char {}", m.rdev())
            } else {
                format!("other {:o}", m.mode())
            };
            out.insert(rel, desc);
        }
    }
    walk(root, root, skip, &mut out);
    out
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

// ---------- decompression and DiffID ----------

fn sample_tar() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("etc/")
        .file("etc/hostname", "box\n")
        .file("etc/motd", &"x".repeat(5000));
    t.bytes()
}

#[test]
fn plain_layer_diff_id_and_stats() {
    let tar = sample_tar();
    let s = Sandbox::new();
    let st = s.apply(&tar, &ROOT).unwrap();
    assert_eq!(st.diff_id, Digest::of(&tar));
    assert_eq!(st.uncompressed_size, tar.len() as u64);
    assert_eq!(st.content_size, 5004);
    assert_eq!(st.entries, 3);
    assert_eq!(st.compression, Compression::None);
    assert_eq!(
        fs::read_to_string(s.dest.join("etc/hostname")).unwrap(),
        "box\n"
    );
}

#[test]
fn gzip_with_two_concatenated_members() {
    let tar = sample_tar();
    let (a, b) = tar.split_at(700);
    let mut gz = gzip(a);
    gz.extend(gzip(b));
    let s = Sandbox::new();
    let st = apply_layer(gz.as_slice(), Compression::Gzip, &s.dest, &ROOT).unwrap();
    assert_eq!(st.diff_id, Digest::of(&tar));
    assert_eq!(st.compression, Compression::Gzip);
    assert_eq!(
        fs::read_to_string(s.dest.join("etc/motd")).unwrap().len(),
        5000
    );
}

#[test]
fn zstd_layer() {
    let tar = sample_tar();
    let z = zstd::stream::encode_all(tar.as_slice(), 3).unwrap();
    let s = Sandbox::new();
    let st = apply_layer(z.as_slice(), Compression::Zstd, &s.dest, &ROOT).unwrap();
    assert_eq!(st.diff_id, Digest::of(&tar));
    assert_eq!(st.compression, Compression::Zstd);
    assert!(s.dest.join("etc/hostname").is_file());
}

#[test]
fn declared_plain_but_compressed_is_sniffed() {
    let tar = sample_tar();
    let s = Sandbox::new();
    let st = apply_layer(gzip(&tar).as_slice(), Compression::None, &s.dest, &ROOT).unwrap();
    assert_eq!(st.compression, Compression::Gzip);
    assert_eq!(st.diff_id, Digest::of(&tar));
    let s = Sandbox::new();
    let z = zstd::stream::encode_all(tar.as_slice(), 1).unwrap();
    assert_eq!(
        apply_layer(z.as_slice(), Compression::None, &s.dest, &ROOT)
            .unwrap()
            .compression,
        Compression::Zstd
    );
}

#[test]
fn declared_compression_must_match_magic() {
    let tar = sample_tar();
    let s = Sandbox::new();
    let e = apply_layer(tar.as_slice(), Compression::Gzip, &s.dest, &ROOT).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DataCorrupt);
    assert!(e.message.contains("declared as gzip"), "{}", e.message);
    let e = apply_layer(gzip(&tar).as_slice(), Compression::Zstd, &s.dest, &ROOT).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DataCorrupt);
    assert!(
        fs::read_dir(&s.dest).unwrap().next().is_none(),
        "nothing applied"
    );
}

#[test]
fn corrupt_gzip_is_data_corrupt() {
    let mut gz = gzip(&sample_tar());
    let n = gz.len();
    gz[n / 2] ^= 0xff;
    gz.truncate(n - 4);
    let s = Sandbox::new();
    let e = apply_layer(gz.as_slice(), Compression::Gzip, &s.dest, &ROOT).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DataCorrupt, "{}", e.message);
}

/// Counts the bytes the unpacker pulled from its input.
struct Counting<R> {
    inner: R,
    n: u64,
}
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[test]
fn reads_input_to_eof_including_trailing_bytes() {
    let mut tar = sample_tar();
    tar.extend(std::iter::repeat_n(0u8, 4096));
    tar.extend(b"trailing bytes after the end of archive");
    let gz = gzip(&tar);
    let s = Sandbox::new();
    let mut input = Counting {
        inner: gz.as_slice(),
        n: 0,
    };
    let st = apply_layer(&mut input, Compression::Gzip, &s.dest, &ROOT).unwrap();
    assert_eq!(input.n, gz.len() as u64);
    assert_eq!(st.diff_id, Digest::of(&tar));
    assert_eq!(st.uncompressed_size, tar.len() as u64);
}

#[test]
fn input_errors_wrapping_oci_errors_pass_through() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other(Error::new(
                ErrorKind::Unavailable,
                "connection reset",
            )))
        }
    }
    let s = Sandbox::new();
    let e = apply_layer(Failing, Compression::None, &s.dest, &ROOT).unwrap_err();
    assert_eq!(e, Error::new(ErrorKind::Unavailable, "connection reset"));
}

// ---------- safety ----------

#[test]
fn dotdot_entries_are_rejected() {
    for name in ["../escape", "a/../../escape", "./../outside/secret"] {
        let s = Sandbox::new();
        let tar = Tar::new().file(name, "pwned").bytes();
        let e = s.apply(&tar, &ROOT).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{name}");
        assert!(e.message.contains(name), "{}", e.message);
        s.assert_outside_untouched();
    }
}

#[test]
fn absolute_paths_land_inside_dest() {
    let s = Sandbox::new();
    let abs = format!("{}/secret", s.outside.display());
    let tar = Tar::new()
        .file("/abs/file", "ok")
        .file(&abs, "pwned")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(fs::read_to_string(s.dest.join("abs/file")).unwrap(), "ok");
    let inside = s.dest.join(abs.trim_start_matches('/'));
    assert_eq!(fs::read_to_string(inside).unwrap(), "pwned");
    s.assert_outside_untouched();
}

#[test]
fn relative_symlink_escape_is_confined() {
    let s = Sandbox::new();
    let tar = Tar::new()
        .symlink("link", "../../../../..")
        .file("link/pwned", "x")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(
        fs::read_link(s.dest.join("link")).unwrap(),
        Path::new("../../../../..")
    );
    assert!(
        s.dest.join("pwned").is_file(),
        "written at the root of dest"
    );
    s.assert_outside_untouched();
}

#[test]
fn absolute_symlink_to_host_path_is_confined() {
    let s = Sandbox::new();
    let out = s.outside.display().to_string();
    let tar = Tar::new()
        .symlink("evil", &out)
        .file("evil/pwned", "x")
        .file("evil/secret", "overwritten")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    // The symlink is kept as data; the files went to dest/<host path>, created on demand.
    assert_eq!(fs::read_link(s.dest.join("evil")).unwrap(), s.outside);
    let inner = s.dest.join(out.trim_start_matches('/'));
    assert!(inner.join("pwned").is_file());
    assert_eq!(
        fs::read_to_string(inner.join("secret")).unwrap(),
        "overwritten"
    );
    s.assert_outside_untouched();
}

#[test]
fn symlink_chain_is_confined() {
    let s = Sandbox::new();
    let tar = Tar::new()
        .symlink("a", "b")
        .symlink("b", "c/../../..")
        .dir("a/x/")
        .file("a/x/f", "x")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert!(s.dest.join("x/f").is_file());
    s.assert_outside_untouched();
}

#[test]
fn file_over_symlink_replaces_the_symlink() {
    let s = Sandbox::new();
    let secret = format!("{}/secret", s.outside.display());
    let rel_secret = "../outside/secret";
    let tar = Tar::new()
        .symlink("f", &secret)
        .file("f", "mine")
        .symlink("g", rel_secret)
        .file("g", "mine")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(fs::read_to_string(s.dest.join("f")).unwrap(), "mine");
    assert!(fs::symlink_metadata(s.dest.join("g")).unwrap().is_file());
    s.assert_outside_untouched();
}

#[test]
fn dir_over_symlink_does_not_follow_it() {
    let s = Sandbox::new();
    let out = s.outside.display().to_string();
    let tar = Tar::new()
        .symlink("d", &out)
        .dir("d/")
        .file("d/x", "x")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert!(fs::symlink_metadata(s.dest.join("d")).unwrap().is_dir());
    assert!(s.dest.join("d/x").is_file());
    s.assert_outside_untouched();
}

#[test]
fn hard_links_cannot_reach_outside() {
    let s = Sandbox::new();
    let secret = format!("{}/secret", s.outside.display());
    let cases: Vec<(Vec<u8>, ErrorKind)> = vec![
        (
            Tar::new().hardlink("h", "../outside/secret").bytes(),
            ErrorKind::InvalidArgument,
        ),
        (
            Tar::new().hardlink("h", &secret).bytes(),
            ErrorKind::Internal,
        ),
        (
            Tar::new()
                .symlink("l", &s.outside.display().to_string())
                .hardlink("h", "l/secret")
                .bytes(),
            ErrorKind::Internal,
        ),
        (
            Tar::new()
                .symlink("l", "../outside")
                .hardlink("h", "l/secret")
                .bytes(),
            ErrorKind::Internal,
        ),
    ];
    for (tar, kind) in cases {
        let e = s.apply(&tar, &ROOT).unwrap_err();
        assert_eq!(e.kind, kind, "{}", e.message);
        assert!(e.message.contains("\"h\""), "{}", e.message);
        s.assert_outside_untouched();
    }
}

#[test]
fn absolute_symlinks_are_kept_as_data() {
    let s = Sandbox::new();
    let tar = Tar::new()
        .dir("run/")
        .dir("var/")
        .symlink("var/run", "/run")
        .file("var/run/x.pid", "1")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(
        fs::read_link(s.dest.join("var/run")).unwrap(),
        Path::new("/run")
    );
    assert!(s.dest.join("run/x.pid").is_file(), "followed inside dest");
    s.assert_outside_untouched();
}

// ---------- semantics ----------

#[test]
fn later_entries_replace_earlier_ones() {
    let s = Sandbox::new();
    let tar = Tar::new()
        .file("f", "one")
        .file("f", "two")
        .dir("d/")
        .file("d/keep", "k")
        .dir("d/")
        .dir("t/")
        .file("t/gone", "g")
        .file("t", "file now")
        .file("u", "file")
        .dir("u/")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(fs::read_to_string(s.dest.join("f")).unwrap(), "two");
    assert!(
        s.dest.join("d/keep").is_file(),
        "dir over dir keeps the dir"
    );
    assert_eq!(fs::read_to_string(s.dest.join("t")).unwrap(), "file now");
    assert!(s.dest.join("u").is_dir());
}

#[test]
fn hard_links_share_the_inode() {
    let s = Sandbox::new();
    let tar = Tar::new()
        .dir("bin/")
        .file("bin/busybox", "bb")
        .hardlink("bin/sh", "bin/busybox")
        .hardlink("ls", "/bin/busybox")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    let ino = fs::metadata(s.dest.join("bin/busybox")).unwrap().ino();
    assert_eq!(fs::metadata(s.dest.join("bin/sh")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(s.dest.join("ls")).unwrap().ino(), ino);
    let e = s
        .apply(&Tar::new().hardlink("x", "missing").bytes(), &ROOT)
        .unwrap_err();
    assert!(e.message.contains("missing"), "{}", e.message);
}

#[test]
fn modes_owners_and_mtimes() {
    let s = Sandbox::new();
    let mut file = header(b"d/suid", EntryType::Regular, 2, b"", 0o4755);
    file.set_uid(1234);
    file.set_gid(5678);
    file.set_mtime(1_000_000);
    file.set_cksum();
    let mut dir = header(b"d/", EntryType::Directory, 0, b"", 0o1777);
    dir.set_uid(42);
    dir.set_mtime(2_000_000);
    dir.set_cksum();
    let mut ro = header(b"ro/", EntryType::Directory, 0, b"", 0o555);
    ro.set_mtime(3_000_000);
    ro.set_cksum();
    let mut link = header(b"d/link", EntryType::Symlink, 0, b"suid", 0o777);
    link.set_uid(7);
    link.set_mtime(4_000_000);
    link.set_cksum();
    let tar = Tar::new()
        .add(dir, b"")
        .add(file, b"#!")
        .add(link, b"")
        .add(ro, b"")
        .file("ro/inner", "x")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    let m = fs::metadata(s.dest.join("d/suid")).unwrap();
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o4755,
        "setuid survives chown"
    );
    assert_eq!((m.uid(), m.gid(), m.mtime()), (1234, 5678, 1_000_000));
    let d = fs::metadata(s.dest.join("d")).unwrap();
    assert_eq!(d.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(
        (d.uid(), d.mtime()),
        (42, 2_000_000),
        "dir mtime set after its children"
    );
    let l = fs::symlink_metadata(s.dest.join("d/link")).unwrap();
    assert_eq!((l.uid(), l.mtime()), (7, 4_000_000));
    let r = fs::metadata(s.dest.join("ro")).unwrap();
    assert_eq!(
        (r.permissions().mode() & 0o7777, r.mtime()),
        (0o555, 3_000_000)
    );

    // Rootless: owners are not applied, modes are.
    let s = Sandbox::new();
    s.apply(&tar, &ROOTLESS).unwrap();
    let m = fs::metadata(s.dest.join("d/suid")).unwrap();
    assert_eq!(
        (m.uid(), m.permissions().mode() & 0o7777),
        (rustix::process::geteuid().as_raw(), 0o4755)
    );
}

#[test]
fn pax_xattrs_including_capabilities() {
    let s = Sandbox::new();
    // vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE (bit 10).
    let mut cap = Vec::new();
    for w in [0x0200_0001u32, 1 << 10, 0, 0, 0] {
        cap.extend_from_slice(&w.to_le_bytes());
    }
    let tar = Tar::new()
        .with(|b| {
            b.append_pax_extensions([
                ("SCHILY.xattr.user.note", b"hello".as_slice()),
                ("SCHILY.xattr.security.capability", cap.as_slice()),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/etc".as_slice()),
            ])
            .unwrap();
        })
        .file("ping", "elf")
        .with(|b| {
            b.append_pax_extensions([
                ("SCHILY.xattr.user.dir", b"d".as_slice()),
                ("mtime", b"1234.5".as_slice()),
            ])
            .unwrap();
        })
        .dir("data/")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    let ping = s.dest.join("ping");
    assert_eq!(
        xattr(&ping, "user.note").as_deref(),
        Some(b"hello".as_slice())
    );
    assert_eq!(xattr(&ping, "security.capability"), Some(cap));
    assert_eq!(
        xattr(&ping, "trusted.overlay.redirect"),
        None,
        "overlay xattrs from a tar are dropped"
    );
    let data = s.dest.join("data");
    assert_eq!(xattr(&data, "user.dir").as_deref(), Some(b"d".as_slice()));
    let m = fs::metadata(&data).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1234, 500_000_000));
}

#[test]
fn devices_and_fifos() {
    let mut null = header(b"dev/null", EntryType::Char, 0, b"", 0o666);
    null.set_device_major(1).unwrap();
    null.set_device_minor(3).unwrap();
    null.set_cksum();
    let fifo = header(b"dev/pipe", EntryType::Fifo, 0, b"", 0o620);
    let tar = Tar::new().dir("dev/").add(null, b"").add(fifo, b"").bytes();

    let s = Sandbox::new();
    let st = s.apply(&tar, &ROOT).unwrap();
    let m = fs::symlink_metadata(s.dest.join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(
        (m.rdev(), m.permissions().mode() & 0o7777),
        (rustix::fs::makedev(1, 3), 0o666)
    );
    assert_eq!(st.skipped_devices, 0);
    let p = fs::symlink_metadata(s.dest.join("dev/pipe")).unwrap();
    assert!(p.file_type().is_fifo());
    assert_eq!(p.permissions().mode() & 0o7777, 0o620);

    let s = Sandbox::new();
    let st = s.apply(&tar, &ROOTLESS).unwrap();
    assert_eq!(st.skipped_devices, 1);
    assert!(!s.dest.join("dev/null").exists());
    assert!(
        fs::symlink_metadata(s.dest.join("dev/pipe"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn long_names() {
    let s = Sandbox::new();
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(150));
    let tar = Tar::new()
        .with(|b| {
            let mut h = Header::new_gnu();
            h.set_size(2);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            b.append_data(&mut h, &long, b"ok".as_slice()).unwrap();
        })
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    assert_eq!(fs::read_to_string(s.dest.join(&long)).unwrap(), "ok");
}

fn whiteout_tar() -> Vec<u8> {
    Tar::new()
        .file("gone", "written earlier in this layer")
        .file(".wh.gone", "")
        .file(".wh.lower", "")
        .dir("opq/")
        .file("opq/.wh..wh..opq", "")
        .file("opq/new", "n")
        .file(".wh..wh.plnk", "aufs link metadata")
        .bytes()
}

#[test]
fn whiteouts_in_overlay_form() {
    let s = Sandbox::new();
    s.apply(&whiteout_tar(), &ROOT).unwrap();
    for name in ["gone", "lower"] {
        let m = fs::symlink_metadata(s.dest.join(name)).unwrap();
        assert!(
            m.file_type().is_char_device() && m.rdev() == 0,
            "{name} is a 0/0 whiteout"
        );
    }
    assert_eq!(
        xattr(&s.dest.join("opq"), "trusted.overlay.opaque").as_deref(),
        Some(b"y".as_slice())
    );
    let names: Vec<_> = fs::read_dir(&s.dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".wh.")), "{names:?}");
    assert!(!s.dest.join("opq/.wh..wh..opq").exists());
    assert!(s.dest.join("opq/new").is_file());
}

#[test]
fn whiteouts_in_aufs_form() {
    let s = Sandbox::new();
    s.apply(&whiteout_tar(), &ROOTLESS).unwrap();
    assert!(
        !s.dest.join("gone").exists(),
        "the same layer's file is removed"
    );
    assert_eq!(fs::read(s.dest.join(".wh.gone")).unwrap(), b"");
    assert!(s.dest.join(".wh.lower").is_file());
    assert!(s.dest.join("opq/.wh..wh..opq").is_file());
    assert_eq!(xattr(&s.dest.join("opq"), "trusted.overlay.opaque"), None);
    assert!(!s.dest.join(".wh..wh.plnk").exists());
}

#[test]
fn whiteout_of_dotdot_is_rejected() {
    let s = Sandbox::new();
    let tar = Tar::new().dir("a/").file("a/.wh..", "").bytes();
    assert_eq!(
        s.apply(&tar, &ROOT).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
    assert!(s.dest.join("a").is_dir());
    s.assert_outside_untouched();
}

// ---------- apply_dir_onto ----------

fn lower_tree(target: &Path) {
    fs::create_dir_all(target.join("d")).unwrap();
    fs::create_dir_all(target.join("opq/sub")).unwrap();
    for f in ["a", "b", "d/x", "d/y", "opq/p", "opq/sub/s"] {
        fs::write(target.join(f), format!("lower {f}")).unwrap();
    }
}

fn upper_tar() -> Vec<u8> {
    let mut t = Tar::new();
    t.file(".wh.a", "")
        .dir("d/")
        .file("d/z", "upper z")
        .file("d/y", "upper y")
        .dir("opq/")
        .file("opq/.wh..wh..opq", "")
        .file("opq/q", "upper q")
        .file("h1", "linked")
        .hardlink("h2", "h1")
        .symlink("s", "/etc/passwd")
        .file(".wh.nothing-below", "");
    t.bytes()
}

fn check_merged(target: &Path) {
    assert!(!target.join("a").exists(), "whited out");
    assert_eq!(fs::read_to_string(target.join("b")).unwrap(), "lower b");
    assert_eq!(fs::read_to_string(target.join("d/x")).unwrap(), "lower d/x");
    assert_eq!(fs::read_to_string(target.join("d/y")).unwrap(), "upper y");
    assert_eq!(fs::read_to_string(target.join("d/z")).unwrap(), "upper z");
    let opq: Vec<_> = fs::read_dir(target.join("opq"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        opq,
        vec![std::ffi::OsString::from("q")],
        "opaque dir hides everything below"
    );
    assert_eq!(xattr(&target.join("opq"), "trusted.overlay.opaque"), None);
    let (h1, h2) = (
        fs::metadata(target.join("h1")).unwrap(),
        fs::metadata(target.join("h2")).unwrap(),
    );
    assert_eq!(h1.ino(), h2.ino(), "hard links stay hard links");
    assert_eq!(
        fs::read_link(target.join("s")).unwrap(),
        Path::new("/etc/passwd")
    );
    let all = tree(target, &[]);
    assert!(all.keys().all(|k| !k.contains(".wh.")), "{all:?}");
    assert!(all.values().all(|v| !v.starts_with("char")), "{all:?}");
}

/// The upper layer unpacked with `opts` (overlay or AUFS whiteout form), then applied onto the
/// lower tree.
fn check_dir_onto(opts: &UnpackOptions) {
    let s = Sandbox::new();
    s.apply(&upper_tar(), opts).unwrap();
    let target = s._tmp.path().join("merged");
    lower_tree(&target);
    apply_dir_onto(&s.dest, &target, opts).unwrap();
    check_merged(&target);
}

#[test]
fn dir_onto_from_overlay_form() {
    check_dir_onto(&ROOT);
}

#[test]
fn dir_onto_from_aufs_form() {
    check_dir_onto(&ROOTLESS);
}

#[test]
fn dir_onto_copies_metadata_and_replaces_types() {
    let s = Sandbox::new();
    let mut f = header(b"f", EntryType::Regular, 1, b"", 0o2750);
    f.set_uid(100);
    f.set_gid(200);
    f.set_mtime(777);
    f.set_cksum();
    let mut d = header(b"was-file/", EntryType::Directory, 0, b"", 0o700);
    d.set_mtime(888);
    d.set_cksum();
    let tar = Tar::new()
        .with(|b| {
            b.append_pax_extensions([("SCHILY.xattr.user.k", b"v".as_slice())])
                .unwrap()
        })
        .add(f, b"F")
        .add(d, b"")
        .file("was-file/in", "i")
        .file("was-dir", "now a file")
        .symlink("ln", "target")
        .bytes();
    s.apply(&tar, &ROOT).unwrap();
    let target = s._tmp.path().join("merged");
    fs::create_dir_all(target.join("was-dir/deep")).unwrap();
    fs::write(target.join("was-file"), "old").unwrap();
    std::os::unix::fs::symlink(&s.outside, target.join("ln")).unwrap();
    apply_dir_onto(&s.dest, &target, &ROOT).unwrap();
    let m = fs::metadata(target.join("f")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.permissions().mode() & 0o7777, m.mtime()),
        (100, 200, 0o2750, 777)
    );
    assert_eq!(
        xattr(&target.join("f"), "user.k").as_deref(),
        Some(b"v".as_slice())
    );
    let d = fs::metadata(target.join("was-file")).unwrap();
    assert!(d.is_dir());
    assert_eq!((d.permissions().mode() & 0o7777, d.mtime()), (0o700, 888));
    assert_eq!(
        fs::read_to_string(target.join("was-dir")).unwrap(),
        "now a file"
    );
    assert_eq!(
        fs::read_link(target.join("ln")).unwrap(),
        Path::new("target")
    );
    s.assert_outside_untouched();
}

#[test]
fn sync_dir_tree_works() {
    let s = Sandbox::new();
    sync_dir_tree(&s.dest).unwrap();
    assert!(sync_dir_tree(&s.dest.join("missing")).is_err());
}

/// A quick throughput check (run with `--ignored --nocapture`, ideally in release mode).
#[test]
#[ignore]
fn bench_gzip_many_small_files() {
    let mut t = Tar::new();
    let body = "y".repeat(4000);
    let mut total = 0;
    let mut i = 0;
    while total < 100 << 20 {
        if i % 100 == 0 {
            t.dir(&format!("d{}/", i / 100));
        }
        t.file(&format!("d{}/f{i}", i / 100), &body[..(i * 37) % 4000]);
        total += (i * 37) % 4000 + 512;
        i += 1;
    }
    let tar = t.bytes();
    let gz = gzip(&tar);
    let s = Sandbox::new();
    let start = std::time::Instant::now();
    let st = apply_layer(gz.as_slice(), Compression::Gzip, &s.dest, &ROOT).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} entries, {} MB uncompressed ({} MB gzip) in {secs:.2}s: {:.0} MB/s uncompressed",
        st.entries,
        st.uncompressed_size / 1_000_000,
        gz.len() / 1_000_000,
        st.uncompressed_size as f64 / 1e6 / secs
    );
}
