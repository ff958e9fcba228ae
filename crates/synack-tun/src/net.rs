//! [`Net`]: the handle that owns one stack and its runtime.

use crate::device::Device;
use crate::runtime::{self, Handle};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use synack::{Config, Counters, Stack};

/// One TCP stack over one [`Device`], running on the current tokio runtime. Cheap to clone;
/// sockets made from it keep the stack alive. When the last `Net` clone and the last socket
/// are dropped, the runtime sends the segments still queued (the FINs and RSTs of those
/// closes) and stops: connections do not linger past that.
#[derive(Clone)]
pub struct Net {
    pub(crate) handle: Arc<Handle>,
}

impl Net {
    /// Start a stack on `device`, owning `addrs` (the addresses packets to us carry and
    /// connections are made from, MUST-44).
    ///
    /// `config.mtu` is replaced by the device's MTU (the MSS follows from it, MUST-67). A
    /// `config.secret` of all zeros (the default) is replaced by a random one, as the ISN
    /// and port choices need a secret unknown to off-path attackers (RFC 6528, ISN-1).
    /// Fails outside a tokio runtime, or when the device's MTU is below 576.
    pub fn new<D: Device>(
        device: D,
        mut config: Config,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> io::Result<Net> {
        // 576: the smallest datagram every IPv4 host must accept (RFC 791); below it the
        // stack's MSS arithmetic (MTU - 40/60) would leave no room for data.
        if device.mtu() < 576 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("device MTU {} is below 576", device.mtu()),
            ));
        }
        config.mtu = u16::try_from(device.mtu()).unwrap_or(u16::MAX);
        if config.secret == [0; 16] {
            config.secret = random_secret();
        }
        let mut stack = Stack::new(config);
        for a in addrs {
            stack.add_address(a);
        }
        Ok(Net {
            handle: runtime::start(device, stack)?,
        })
    }

    /// The stack's counters (`netstat -s`).
    pub fn counters(&self) -> Counters {
        self.handle.shared.lock().stack.counters().clone()
    }

    /// Every connection the stack holds (an `ss`-like table), including those no handle owns
    /// any more (closing, TIME-WAIT).
    pub fn connections(&self) -> Vec<synack::ConnInfo> {
        self.handle.shared.lock().stack.connections()
    }

    /// Number of connections the stack holds (half-open and TIME-WAIT included).
    pub fn connection_count(&self) -> usize {
        self.handle.shared.lock().stack.connection_count()
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.handle.shared.lock();
        f.debug_struct("Net")
            .field("addresses", &inner.stack.addresses())
            .field("connections", &inner.stack.connection_count())
            .finish()
    }
}

/// 128 random bits from the standard library's per-process random hash keys (no extra
/// dependency), mixed with the clock so two `Net`s in one process differ.
fn random_secret() -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}
