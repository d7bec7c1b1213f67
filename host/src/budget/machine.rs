//! How much memory this machine gives Warden: the memory limit of Warden's
//! own cgroup (v2 `memory.max`, or v1 `memory.limit_in_bytes` on hybrid
//! hosts), and physical memory (`MemTotal` in `/proc/meminfo`). Parsing is
//! kept apart from reading, so the tests feed it text.

use std::path::{Path, PathBuf};

/// What the machine says about memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MachineMemory {
    /// Physical memory, in bytes, when `/proc/meminfo` says.
    pub physical: Option<u64>,
    /// The lowest memory limit on the path from Warden's cgroup to the root
    /// of its hierarchy, in bytes, when there is one.
    pub cgroup_limit: Option<u64>,
}

impl MachineMemory {
    /// Reads `/proc` and `/sys/fs/cgroup`.
    pub(crate) fn read() -> Self {
        let read = |path: &Path| std::fs::read_to_string(path).ok();
        Self {
            physical: read(Path::new("/proc/meminfo")).and_then(|text| mem_total(&text)),
            cgroup_limit: cgroup_limit(&read),
        }
    }
}

/// `MemTotal` from the text of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// A cgroup hierarchy that limits memory: where it is mounted, which cgroup
/// directory the mount shows, and the file holding the limit.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy {
    mount_point: PathBuf,
    mount_root: String,
    limit_file: &'static str,
    /// The `/proc/self/cgroup` entry to look for: `None` for v2 (`0::PATH`),
    /// else the v1 controller name.
    controller: Option<&'static str>,
}

/// The memory hierarchies in the text of `/proc/self/mountinfo`: the v2
/// one, and the v1 one with the `memory` controller.
fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rest: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype)) =
            (fields.get(3), fields.get(4), rest.first())
        else {
            continue;
        };
        let super_options = rest.get(2).copied().unwrap_or("");
        let (limit_file, controller) = match *fstype {
            "cgroup2" => ("memory.max", None),
            "cgroup" if super_options.split(',').any(|o| o == "memory") => {
                ("memory.limit_in_bytes", Some("memory"))
            }
            _ => continue,
        };
        found.push(Hierarchy {
            mount_point: PathBuf::from(unescape(mount_point)),
            mount_root: unescape(root),
            limit_file,
            controller,
        });
    }
    found
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(code) = field
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Warden's cgroup in `hierarchy`, from the text of `/proc/self/cgroup`.
fn cgroup_path(proc_cgroup: &str, hierarchy: &Hierarchy) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = match hierarchy.controller {
            None => controllers.is_empty(),
            Some(name) => controllers.split(',').any(|c| c == name),
        };
        matches.then(|| path.to_string())
    })
}

/// A limit file's value in bytes; `None` for no limit (`max`, or v1's
/// "unlimited", a number near `i64::MAX`).
fn parse_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < 1 << 62).then_some(value)
}

/// The lowest memory limit between Warden's cgroup and the root of each
/// memory hierarchy it is in.
fn cgroup_limit(read: &dyn Fn(&Path) -> Option<String>) -> Option<u64> {
    let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
    let proc_cgroup = read(Path::new("/proc/self/cgroup"))?;
    let mut lowest: Option<u64> = None;
    for hierarchy in hierarchies(&mountinfo) {
        let Some(path) = cgroup_path(&proc_cgroup, &hierarchy) else {
            continue;
        };
        // The mount shows the cgroup `mount_root`; paths below it are
        // relative to it (a container sees its own cgroup as `/`).
        let relative = path
            .strip_prefix(hierarchy.mount_root.as_str())
            .unwrap_or(&path)
            .trim_start_matches('/');
        let mut dir = hierarchy.mount_point.join(relative);
        loop {
            if let Some(limit) = read(&dir.join(hierarchy.limit_file))
                .as_deref()
                .and_then(parse_limit)
            {
                lowest = Some(lowest.map_or(limit, |l| l.min(limit)));
            }
            if dir == hierarchy.mount_point || !dir.pop() {
                break;
            }
        }
    }
    lowest
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn reads_mem_total() {
        let text = "MemTotal:       24683656 kB\nMemFree:        20163708 kB\n";
        assert_eq!(mem_total(text), Some(24_683_656 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn limits_parse_and_max_means_none() {
        assert_eq!(parse_limit("8589934592\n"), Some(8 << 30));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
    }

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> = entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        move |path: &Path| map.get(path).cloned()
    }

    #[test]
    fn v2_takes_the_lowest_limit_up_the_tree() {
        let read = files(&[
            (
                "/proc/self/mountinfo",
                "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n\
                 24 23 0:5 / /proc rw - proc proc rw\n",
            ),
            ("/proc/self/cgroup", "0::/system.slice/warden.service\n"),
            (
                "/sys/fs/cgroup/system.slice/warden.service/memory.max",
                "max\n",
            ),
            ("/sys/fs/cgroup/system.slice/memory.max", "4294967296\n"),
        ]);
        assert_eq!(cgroup_limit(&read), Some(4 << 30));
    }

    #[test]
    fn a_container_sees_its_own_cgroup_at_the_mount_root() {
        let read = files(&[
            (
                "/proc/self/mountinfo",
                "700 690 0:30 / /sys/fs/cgroup ro - cgroup2 cgroup rw\n",
            ),
            ("/proc/self/cgroup", "0::/\n"),
            ("/sys/fs/cgroup/memory.max", "2147483648\n"),
        ]);
        assert_eq!(cgroup_limit(&read), Some(2 << 30));
    }

    #[test]
    fn v1_memory_controller_on_a_hybrid_host() {
        let read = files(&[
            (
                "/proc/self/mountinfo",
                "35 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                 36 25 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            ),
            (
                "/proc/self/cgroup",
                "4:memory:/process_api/abc\n0::/\n1:cpu:/\n",
            ),
            (
                "/sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes",
                "1073741824\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
        ]);
        assert_eq!(cgroup_limit(&read), Some(1 << 30));
    }

    #[test]
    fn no_limit_anywhere_is_none() {
        let read = files(&[
            (
                "/proc/self/mountinfo",
                "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            ),
            ("/proc/self/cgroup", "0::/user.slice\n"),
            ("/sys/fs/cgroup/user.slice/memory.max", "max\n"),
        ]);
        assert_eq!(cgroup_limit(&read), None);
        assert_eq!(cgroup_limit(&files(&[])), None);
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape(r"/mnt/my\040cgroups"), "/mnt/my cgroups");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
