//! The runtime: one `synack::Stack` behind a mutex, driven by two tokio tasks.
//!
//! * The **rx task** awaits [`Device::recv`], feeds each packet to `Stack::handle_packet`,
//!   wakes the tasks the resulting events concern, and then sends what the stack has to send
//!   itself (the ACKs, the data a window update lets out), up to a few batches, without
//!   waking the tx task. It nudges the tx task only when more is left, when the tx task is
//!   sending at that moment, or when the stack's next timer is earlier than the tx task's
//!   wake-up.
//! * The **tx task** runs due timers, drains `Stack::poll_transmit` into a batch (up to the
//!   device's `max_batch`), sends it, and otherwise sleeps until the next stack deadline or a
//!   nudge ([`Notify`]), never spinning.
//! * Sending (draining `poll_transmit` and writing the batch) happens under one async lock,
//!   so segments leave in the order the stack made them whichever task sends them.
//! * **Application tasks** (socket handles) call the stack directly under the same mutex and
//!   nudge the tx task when they may have produced something to send.
//!
//! The mutex is a `std::sync::Mutex` held only for short, synchronous stack calls, never
//! across an `.await`. Time: `synack::Instant` is microseconds since a `tokio::time::Instant`
//! taken at start, so `tokio::time::pause()` (virtual time) drives the stack's timers too.

use crate::device::{Device, PacketBatch};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Waker};
use synack::{CloseReason, ConnId, Event, ListenerId, Stack};
use tokio::sync::{watch, Notify};

/// What one connection handle waits on.
#[derive(Debug, Default)]
pub(crate) struct ConnWaiters {
    pub(crate) read: Option<Waker>,
    pub(crate) write: Option<Waker>,
    /// The application aborted it: later calls say ConnectionAborted, not NotConnected.
    pub(crate) aborted: bool,
    pub(crate) nodelay: bool,
}

impl ConnWaiters {
    pub(crate) fn wake_both(&mut self) {
        if let Some(w) = self.read.take() {
            w.wake();
        }
        if let Some(w) = self.write.take() {
            w.wake();
        }
    }
}

pub(crate) struct Inner {
    pub(crate) stack: Stack,
    pub(crate) conns: HashMap<ConnId, ConnWaiters>,
    /// Tasks waiting in `accept`; several may share one listener (an `Arc<TcpListener>`).
    pub(crate) listeners: HashMap<ListenerId, Vec<Waker>>,
    /// The device failed for good: every pending call reports this.
    pub(crate) failed: Option<io::ErrorKind>,
    /// When the tx task will next wake by itself (its sleep's deadline, in the stack's
    /// microseconds; `u64::MAX`: not before a nudge). Whoever else flushes the stack nudges
    /// the tx task only if the stack's next timer is earlier than this.
    tx_wakes_at: u64,
}

impl Inner {
    /// Hand the stack's events to the tasks waiting on them. Called after every stack call,
    /// under the lock, so a waker registered under the same lock can never miss its event.
    pub(crate) fn dispatch(&mut self) {
        while let Some(ev) = self.stack.poll_event() {
            match ev {
                Event::AcceptReady { listener } => {
                    if let Some(ws) = self.listeners.get_mut(&listener) {
                        ws.drain(..).for_each(Waker::wake);
                    }
                }
                Event::Connected { conn }
                | Event::Readable { conn }
                | Event::Writable { conn }
                | Event::Closed { conn, .. }
                | Event::Urgent { conn } => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.wake_both();
                    }
                }
                // Transitions and soft errors need no wake-up: every change a waiting call
                // cares about comes with one of the events above.
                Event::StateChanged { .. } | Event::SoftError { .. } => {}
            }
        }
    }

    fn wake_all(&mut self) {
        for c in self.conns.values_mut() {
            c.wake_both();
        }
        for ws in self.listeners.values_mut() {
            ws.drain(..).for_each(Waker::wake);
        }
    }

    pub(crate) fn check_failed(&self) -> io::Result<()> {
        match self.failed {
            Some(kind) => Err(io::Error::new(kind, "the packet device failed")),
            None => Ok(()),
        }
    }
}

/// Store `cx`'s waker in `slot` unless it is already there.
pub(crate) fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Nudges the tx task: something may be ready to send.
    wake_tx: Notify,
    /// The sending side. Whoever holds it drains `poll_transmit` and writes to the device, so
    /// segments leave in the order the stack made them even though two tasks send.
    tx: tokio::sync::Mutex<TxState>,
    /// Set when the last user handle is gone: the runtime then lingers until every
    /// connection left (all orphans, closing) is gone, as a kernel keeps closing sockets
    /// after their process exits: FINs are retransmitted, the peer's FIN is ACKed, and
    /// TIME-WAIT is held (MUST-13). Every closing state ends on a timer of its own
    /// (retransmission limits, FIN-WAIT-2, 2·MSL), so the wait is bounded.
    stop: watch::Sender<bool>,
    /// Set by the tx task once lingering is over (or the device failed): both tasks end.
    done: watch::Sender<bool>,
    base: tokio::time::Instant,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock cannot leave the stack half-updated in a way that matters
        // more than losing the whole runtime would; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stack's clock: microseconds since the runtime started, on tokio's clock.
    pub(crate) fn now(&self) -> synack::Instant {
        let us = tokio::time::Instant::now()
            .saturating_duration_since(self.base)
            .as_micros();
        synack::Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn to_tokio(&self, t: synack::Instant) -> tokio::time::Instant {
        self.base + std::time::Duration::from_micros(t.as_micros())
    }

    /// Tell the tx task to look for segments to send.
    pub(crate) fn kick(&self) {
        self.wake_tx.notify_one();
    }
}

/// A user's share of the runtime. The runtime stops when the last one is dropped: the
/// [`crate::Net`] handle and every socket hold one.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
        self.shared.kick();
    }
}

/// Start the runtime's tasks on the current tokio runtime.
pub(crate) fn start<D: Device>(device: D, stack: Stack) -> io::Result<Arc<Handle>> {
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("synack-tun must be started from within a tokio runtime"))?;
    let (stop, _) = watch::channel(false);
    let (done, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            stack,
            conns: HashMap::new(),
            listeners: HashMap::new(),
            failed: None,
            tx_wakes_at: u64::MAX,
        }),
        wake_tx: Notify::new(),
        tx: tokio::sync::Mutex::new(TxState {
            batch: PacketBatch::new(device.headroom()),
            max_batch: device.max_batch().max(1),
            // poll_transmit wants room for a whole MTU-sized packet.
            mtu: device.mtu().clamp(576, 65535),
        }),
        stop,
        done,
        base: tokio::time::Instant::now(),
    });
    let device = Arc::new(device);
    rt.spawn(rx_task(shared.clone(), device.clone()));
    rt.spawn(tx_task(shared.clone(), device));
    Ok(Arc::new(Handle { shared }))
}

async fn rx_task<D: Device>(shared: Arc<Shared>, device: Arc<D>) {
    let mut batch = PacketBatch::new(device.headroom());
    let mut done = shared.done.subscribe();
    loop {
        if *done.borrow_and_update() {
            return;
        }
        batch.clear();
        let result = tokio::select! {
            r = device.recv(&mut batch) => r,
            _ = done.changed() => continue,
        };
        match result {
            Ok(()) => {
                {
                    let mut inner = shared.lock();
                    let now = shared.now();
                    for (packet, trusted) in batch.iter_trusted() {
                        if trusted {
                            inner.stack.handle_packet_trusted(now, packet);
                        } else {
                            inner.stack.handle_packet(now, packet);
                        }
                    }
                    inner.dispatch();
                }
                // Incoming segments usually call for ACKs or free window for more data: send
                // them from here, right away, rather than waking the tx task for it. If the tx
                // task is sending just now, it looks again before it sleeps.
                let Ok(mut tx) = shared.tx.try_lock() else {
                    shared.kick();
                    continue;
                };
                let flushed = flush(&shared, &*device, &mut tx, RX_FLUSH_BATCHES).await;
                drop(tx);
                // While lingering, the segment may have ended the last connection: the tx
                // task decides whether the runtime is done.
                if !flushed.drained || flushed.timer_earlier || *shared.stop.borrow() {
                    shared.kick();
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => {
                let mut inner = shared.lock();
                inner.failed = Some(e.kind());
                inner.wake_all();
                shared.kick();
                return;
            }
        }
    }
}

/// The tx task's share of the sending side.
struct TxState {
    batch: PacketBatch,
    max_batch: usize,
    mtu: usize,
}

/// What a [`flush`] left behind.
struct Flushed {
    /// The stack had nothing more to send.
    drained: bool,
    /// The stack's next timer is earlier than the tx task's wake-up (it must be told).
    timer_earlier: bool,
}

/// Run due timers and send what the stack has, a batch of up to `max_batch` packets at a
/// time, for at most `batches` batches or until the stack has nothing more.
async fn flush<D: Device>(
    shared: &Shared,
    device: &D,
    tx: &mut TxState,
    batches: usize,
) -> Flushed {
    let TxState {
        batch,
        max_batch,
        mtu,
    } = tx;
    let (max_batch, mtu) = (*max_batch, *mtu);
    for _ in 0..batches {
        let (looped, timer_earlier) = {
            let mut inner = shared.lock();
            let now = shared.now();
            if inner.stack.poll_timeout().is_some_and(|t| t <= now) {
                inner.stack.handle_timeout(now);
            }
            let mut looped = 0;
            while batch.len() < max_batch
                && looped < LOOPBACK_BUDGET
                && batch.push_with(mtu, |buf| inner.stack.poll_transmit(now, buf))
            {
                // A packet to one of our own addresses never leaves the host, as a kernel's
                // IP layer loops it back: hand it straight to the stack.
                let last = batch.len() - 1;
                if let Some(p) = batch.packet(last) {
                    if to_ourselves(inner.stack.addresses(), p) {
                        // Summed by this stack a moment ago and never on a wire: taken on
                        // trust, as Linux's loopback takes its own packets.
                        inner.stack.handle_packet_trusted(now, p);
                        batch.truncate(last);
                        looped += 1;
                    }
                }
            }
            inner.dispatch();
            let earlier = inner
                .stack
                .poll_timeout()
                .is_some_and(|t| t.as_micros() < inner.tx_wakes_at);
            (looped, earlier)
        };
        let budget_spent = looped == LOOPBACK_BUDGET;
        if budget_spent {
            // Self-traffic may keep coming: give the other tasks a turn, then go on.
            tokio::task::yield_now().await;
        }
        if batch.is_empty() {
            if budget_spent {
                continue;
            }
            return Flushed {
                drained: true,
                timer_earlier,
            };
        }
        let full = batch.len() == max_batch;
        // A failed send loses these segments; TCP retransmits them. A device that is gone
        // for good shows up on the receive side.
        let _ = device.send(batch).await;
        batch.clear();
        if !full && !budget_spent {
            // poll_transmit said it had nothing more.
            return Flushed {
                drained: true,
                timer_earlier,
            };
        }
    }
    Flushed {
        drained: false,
        timer_earlier: true,
    }
}

async fn tx_task<D: Device>(shared: Arc<Shared>, device: Arc<D>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let stopping = *stop.borrow_and_update();
        let flushed = {
            let mut tx = shared.tx.lock().await;
            flush(&shared, &*device, &mut tx, 1).await
        };
        if !flushed.drained {
            // More is probably waiting: let the rx task and the application run first so a
            // bulk sender cannot starve them on a single-threaded runtime.
            tokio::task::yield_now().await;
            continue;
        }
        if stopping {
            let finished = {
                let inner = shared.lock();
                inner.stack.connection_count() == 0 || inner.failed.is_some()
            };
            if finished {
                // The last handle is gone and so is every connection it left behind.
                shared.done.send_replace(true);
                return;
            }
        }
        // Say when we wake by ourselves, so others nudge us only for earlier timers. (A
        // timer armed after the flush above and before this is caught here.)
        let deadline = {
            let mut inner = shared.lock();
            let d = inner.stack.poll_timeout();
            inner.tx_wakes_at = d.map_or(u64::MAX, |t| t.as_micros());
            d
        };
        let sleep =
            tokio::time::sleep_until(deadline.map(|d| shared.to_tokio(d)).unwrap_or_else(|| {
                tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
            }));
        tokio::select! {
            _ = shared.wake_tx.notified() => {}
            _ = sleep => {}
            _ = stop.changed() => {}
        }
    }
}

/// Most batches the rx task sends itself after feeding one received batch to the stack;
/// the tx task takes over the rest.
const RX_FLUSH_BATCHES: usize = 4;

/// Most packets the tx task loops back to its own stack in one turn of its loop.
const LOOPBACK_BUDGET: usize = 256;

/// Whether an IP packet's destination is one of `addrs`.
fn to_ourselves(addrs: &[IpAddr], packet: &[u8]) -> bool {
    let dst = match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => IpAddr::V4(Ipv4Addr::new(
            packet[16], packet[17], packet[18], packet[19],
        )),
        Some(6) if packet.len() >= 40 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&packet[24..40]);
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return false,
    };
    addrs.contains(&dst)
}

/// The `io::Error` for a stack error (RFC 9293 §3.10 error names, as sockets spell them).
pub(crate) fn io_error(e: synack::Error) -> io::Error {
    use synack::Error as E;
    let kind = match e {
        E::InvalidHandle => io::ErrorKind::NotConnected,
        E::WouldBlock => io::ErrorKind::WouldBlock,
        // Writing after shutdown (or after the connection started closing): EPIPE.
        E::Closing => io::ErrorKind::BrokenPipe,
        E::Closed(r) => return closed_error(r),
        E::AddrInUse => io::ErrorKind::AddrInUse,
        E::InvalidAddress => io::ErrorKind::AddrNotAvailable,
        E::NoRoute => io::ErrorKind::NetworkUnreachable,
        E::NoPortsAvailable => io::ErrorKind::AddrNotAvailable,
        E::TooManyConnections => io::ErrorKind::OutOfMemory,
        E::InvalidState => io::ErrorKind::InvalidInput,
        E::InvalidArgument => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e)
}

/// The `io::Error` for a connection that ended (MUST-12).
pub(crate) fn closed_error(r: CloseReason) -> io::Error {
    let kind = match r {
        CloseReason::Reset => io::ErrorKind::ConnectionReset,
        CloseReason::Refused => io::ErrorKind::ConnectionRefused,
        CloseReason::TimedOut => io::ErrorKind::TimedOut,
        CloseReason::Aborted => io::ErrorKind::ConnectionAborted,
        // An ICMP error said the destination cannot be reached (EHOSTUNREACH).
        CloseReason::Unreachable => io::ErrorKind::HostUnreachable,
        // Both FINs done: nothing more can be sent (a read sees Ok(0) before this).
        CloseReason::Normal => io::ErrorKind::BrokenPipe,
    };
    io::Error::new(kind, synack::Error::Closed(r))
}

/// The addresses of a connection, read once (the TCB may be gone later).
pub(crate) fn addrs(inner: &Inner, c: ConnId) -> Option<(SocketAddr, SocketAddr)> {
    inner.stack.status(c).map(|i| (i.local, i.remote))
}
