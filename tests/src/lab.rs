//! A VRRP lab of network namespaces: one switch namespace with a bridge,
//! and one namespace per host with `eth0` plugged into the bridge. Traffic
//! never leaves the namespaces. Everything is removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Whether this machine can build labs: root and `ip netns`.
pub fn available() -> bool {
    crate::is_root()
        && Command::new("ip")
            .args(["netns", "list"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Runs a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A host of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    /// Short name (`r1`).
    pub name: String,
    /// Its namespace.
    pub ns: String,
    /// IPv4 address of eth0.
    pub ipv4: String,
    /// MAC address of eth0.
    pub mac: String,
    /// Link-local IPv6 address derived from the MAC (EUI-64).
    pub ipv6_ll: String,
}

/// The lab.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    /// Hosts by creation order.
    pub hosts: Vec<Host>,
    /// Scratch directory for configs and logs.
    pub dir: PathBuf,
}

impl Lab {
    /// Builds a lab with hosts named `names`, addressed 192.168.77.11, .12, ... and
    /// a client `c` at 192.168.77.100.
    pub fn new(names: &[&str]) -> Self {
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("hf{}x{n}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Self {
            prefix: prefix.clone(),
            hosts: Vec::new(),
            dir,
        };
        let sw = format!("{prefix}-sw");
        sh(&["ip", "netns", "add", &sw]);
        sh(&[
            "ip",
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        let all: Vec<(String, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), format!("192.168.77.{}", 11 + i)))
            .chain(std::iter::once((
                "c".to_string(),
                "192.168.77.100".to_string(),
            )))
            .collect();
        for (i, (name, ipv4)) in all.into_iter().enumerate() {
            let ns = format!("{prefix}-{name}");
            let mac = format!("02:00:00:77:00:{:02x}", 0x11 + i);
            sh(&["ip", "netns", "add", &ns]);
            // No DAD in the lab: link-local addresses are usable at once.
            sh(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ]);
            let peer = format!("p{i}");
            sh(&[
                "ip", "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &peer,
                "netns", &sw,
            ]);
            sh(&["ip", "-n", &sw, "link", "set", &peer, "master", "br0", "up"]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "address", &mac]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{ipv4}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            let b: Vec<u8> = mac
                .split(':')
                .map(|x| u8::from_str_radix(x, 16).unwrap())
                .collect();
            let ipv6_ll = format!(
                "fe80::{:x}:{:x}ff:fe{:02x}:{:x}",
                u16::from(b[0] ^ 2) << 8 | u16::from(b[1]),
                b[2],
                b[3],
                u16::from(b[4]) << 8 | u16::from(b[5])
            );
            lab.hosts.push(Host {
                name,
                ns,
                ipv4,
                mac,
                ipv6_ll,
            });
        }
        lab
    }

    /// The switch namespace (for captures on `br0`).
    pub fn switch_ns(&self) -> String {
        format!("{}-sw", self.prefix)
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name}"))
    }

    /// Runs a command inside a host's namespace.
    pub fn exec(&self, host: &str, args: &[&str]) -> String {
        let ns = self.host(host).ns.clone();
        let mut full = vec!["ip", "netns", "exec", &ns];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// Runs a command inside a host's namespace, returning whether it succeeded.
    pub fn try_exec(&self, host: &str, args: &[&str]) -> bool {
        let ns = &self.host(host).ns;
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether `addr` is configured on the host's eth0.
    pub fn has_addr(&self, host: &str, addr: &str) -> bool {
        let out = sh(&[
            "ip",
            "-n",
            &self.host(host).ns,
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
        ]);
        out.split_whitespace()
            .any(|w| w.split('/').next() == Some(addr))
    }

    /// The hosts that have `addr` on eth0.
    pub fn holders(&self, addr: &str) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| self.has_addr(&h.name, addr))
            .map(|h| h.name.clone())
            .collect()
    }

    /// Sets a host's eth0 down or up.
    pub fn set_link(&self, host: &str, up: bool) {
        sh(&[
            "ip",
            "-n",
            &self.host(host).ns,
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ]);
    }

    /// The MAC the client's neighbour table holds for `addr`, if any.
    pub fn client_neighbour(&self, addr: &str) -> Option<String> {
        let out = sh(&[
            "ip",
            "-n",
            &self.host("c").ns,
            "neigh",
            "show",
            addr,
            "dev",
            "eth0",
        ]);
        let mut words = out.split_whitespace();
        words.find(|w| *w == "lladdr")?;
        words.next().map(str::to_string)
    }

    /// Writes a file in the lab directory.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Starts a daemon in a host's namespace, logging to `<dir>/<log>.log`.
    pub fn spawn(&self, host: &str, log: &str, args: &[&str]) -> Daemon {
        let path = self.dir.join(format!("{log}.log"));
        let file = std::fs::File::create(&path).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.host(host).ns])
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {args:?}: {e}"));
        Daemon {
            child: Some(child),
            log: path,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", &h.ns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &format!("{}-sw", self.prefix)])
            .status();
    }
}

/// A process started in the lab; SIGKILLed on drop if still running.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    /// Its combined stdout/stderr.
    pub log: PathBuf,
}

impl Daemon {
    /// The process id (`ip netns exec` execs the command, so it is the daemon's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal (`"KILL"`, `"TERM"`, ...).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status();
    }

    /// Waits for the process to exit; its exit code (None if killed by a signal or still running).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().ok().flatten() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 10 ms until it is true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The release `holdfast` binary, for benchmarks (built if needed).
pub fn holdfast_release_bin() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "holdfast"])
        .current_dir(&root)
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "cannot build holdfast --release"
    );
    target.join("release/holdfast")
}
