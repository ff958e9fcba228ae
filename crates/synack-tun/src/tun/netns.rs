//! Throw-away network namespaces for tests and benchmarks: a TUN device and kernel sockets that
//! live in a namespace of their own, so nothing touches the host's interfaces, routes or
//! sockets.
//!
//! [`Netns::create`] runs `ip netns add synack-<pid>-<n>`; dropping the [`Netns`] (also while
//! a test unwinds from a panic) runs `ip netns del`. Work happens on threads that `setns(2)`
//! into the namespace ([`Netns::run`], [`Netns::spawn`]): a TUN device or socket created on
//! such a thread belongs to the namespace for its whole life, whichever thread uses it later.
//! Commands (`ss`, `ip`) run through `ip netns exec`.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

const NETNS_DIR: &str = "/var/run/netns";
const PREFIX: &str = "synack-";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Why namespace tests cannot run here, or `None` when they can: they need root (or
/// CAP_SYS_ADMIN + CAP_NET_ADMIN), `/dev/net/tun` and the `ip` command.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces and TUN devices need root)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("the ip command (iproute2) is missing".into()),
    }
}

/// A network namespace that is deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn run_checked(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Netns {
    /// Create a uniquely named namespace with its loopback up. Namespaces left behind by
    /// earlier runs that were killed (their pid is gone) are removed first.
    pub fn create() -> io::Result<Netns> {
        remove_stale();
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run_checked(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind mount that names the namespace.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Move the *calling thread* into the namespace. Only for threads made for the purpose
    /// ([`Netns::run`] and [`Netns::spawn`] do this): the thread never comes back.
    pub fn enter(&self) -> io::Result<()> {
        let file = File::open(self.path())?;
        // SAFETY: the descriptor is open for the duration of the call; CLONE_NEWNET asks the
        // kernel to check that it names a network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Run `f` on a new thread inside the namespace and wait for it. `f` may borrow.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter()?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Start `f` on a new thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<io::Result<T>> {
        let path = self.path();
        std::thread::spawn(move || {
            let file = File::open(path)?;
            // SAFETY: as in `enter`.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(f())
        })
    }

    /// Set a sysctl of the namespace (`key` as a path under /proc/sys, e.g.
    /// `net/ipv6/conf/default/accept_dad`). /proc/sys/net shows the network namespace of the
    /// thread that opens it, so the write happens on a thread inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        let path = Path::new("/proc/sys").join(key);
        self.run(|| std::fs::write(&path, value))?
    }

    /// `ip -n NAME ARGS...`, failing with its stderr.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        let out = run_checked(Command::new("ip").arg("-n").arg(&self.name).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip netns exec NAME PROGRAM ARGS...`: its stdout, failing with its stderr.
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<String> {
        let out = run_checked(
            Command::new("ip")
                .args(["netns", "exec", &self.name, program])
                .args(args),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the name drops the last reference the host holds; the namespace (and any
        // TUN interface in it) goes away when the last socket or device in it is closed.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Delete `synack-<pid>-<n>` namespaces whose process no longer exists (a run killed with
/// SIGKILL cannot clean up after itself).
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}
