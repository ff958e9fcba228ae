//! `TcpListener` and `TcpStream`, shaped like `tokio::net`'s.

use crate::runtime::{self, register, ConnWaiters, Handle};
use crate::Net;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack::{ConnId, ConnInfo, Error, ListenerId, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod split;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};

/// Accept-queue length for [`TcpListener::bind`] (capped by `Config::somaxconn`, LX-8).
pub const DEFAULT_BACKLOG: usize = 1024;

/// A listening socket.
pub struct TcpListener {
    handle: Arc<Handle>,
    id: ListenerId,
    /// `None` for the any-destination listener.
    local: Option<SocketAddr>,
}

impl TcpListener {
    /// Listen on `addr`: one of the [`Net`]'s addresses, or an unspecified address for all of
    /// them (MUST-43). Port 0 picks a free port from the ephemeral range.
    pub async fn bind(net: &Net, addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(net, addr, DEFAULT_BACKLOG)
    }

    /// [`TcpListener::bind`] with an accept-queue bound of `backlog`.
    pub fn bind_with_backlog(
        net: &Net,
        addr: SocketAddr,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        let shared = &net.handle.shared;
        let mut inner = shared.lock();
        let (id, local) = if addr.port() != 0 {
            let id = inner
                .stack
                .listen(addr, backlog)
                .map_err(runtime::io_error)?;
            (id, addr)
        } else {
            // Like bind(port 0): the first free port of the ephemeral range (LX-18).
            let (lo, hi) = inner.stack.config().ephemeral_ports;
            let found = (lo.min(hi)..=lo.max(hi)).find_map(|port| {
                let a = SocketAddr::new(addr.ip(), port);
                match inner.stack.listen(a, backlog) {
                    Ok(id) => Some(Ok((id, a))),
                    Err(Error::AddrInUse) => None,
                    Err(e) => Some(Err(e)),
                }
            });
            match found {
                Some(r) => r.map_err(runtime::io_error)?,
                None => return Err(runtime::io_error(Error::NoPortsAvailable)),
            }
        };
        inner.listeners.insert(id, Vec::new());
        Ok(TcpListener {
            handle: net.handle.clone(),
            id,
            local: Some(local),
        })
    }

    /// Listen for connections to **any** destination address and port (tun2socks-style
    /// proxies): every SYN that no other listener takes is accepted, and the stream's
    /// [`TcpStream::local_addr`] is the destination the peer asked for. At most one per
    /// [`Net`] (a second gives `AddrInUse`). Uses [`DEFAULT_BACKLOG`].
    pub async fn listen_any(net: &Net) -> io::Result<TcpListener> {
        TcpListener::listen_any_with_backlog(net, DEFAULT_BACKLOG)
    }

    /// [`TcpListener::listen_any`] with an accept-queue bound of `backlog`.
    pub fn listen_any_with_backlog(net: &Net, backlog: usize) -> io::Result<TcpListener> {
        let mut inner = net.handle.shared.lock();
        let id = inner.stack.listen_any(backlog).map_err(runtime::io_error)?;
        inner.listeners.insert(id, Vec::new());
        Ok(TcpListener {
            handle: net.handle.clone(),
            id,
            local: None,
        })
    }

    /// The next connection and its peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for the next connection. Several tasks may wait on one listener; all are woken
    /// when a connection is ready and one of them gets it.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        inner.check_failed()?;
        while let Some(c) = inner.stack.accept(self.id) {
            let Some((local, peer)) = runtime::addrs(&inner, c) else {
                continue;
            };
            let nodelay = !inner.stack.config().nagle;
            inner.conns.insert(
                c,
                ConnWaiters {
                    nodelay,
                    ..ConnWaiters::default()
                },
            );
            inner.dispatch();
            let stream = TcpStream::new(self.handle.clone(), c, local, peer);
            return Poll::Ready(Ok((stream, peer)));
        }
        match inner.listeners.get_mut(&self.id) {
            Some(ws) => {
                if !ws.iter().any(|w| w.will_wake(cx.waker())) {
                    ws.push(cx.waker().clone());
                }
            }
            None => return Poll::Ready(Err(runtime::io_error(Error::InvalidHandle))),
        }
        Poll::Pending
    }

    /// The address listened on; `[::]:0` for the any-destination listener.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self
            .local
            .unwrap_or(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)))
    }

    /// IP_TOS / IPV6_TCLASS of the listener: the DSCP (the top six bits of `tos`) of its
    /// SYN,ACKs and of the connections it accepts from now on (MUST-48). As on a Linux TCP
    /// socket, the low two bits (ECN) are not the application's and are ignored.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        let dscp = dscp_of_tos(tos)?;
        let mut inner = self.handle.shared.lock();
        inner
            .stack
            .set_listener_dscp(self.id, dscp)
            .map_err(runtime::io_error)
    }

    /// The TOS byte set by [`TcpListener::set_tos`] (ECN bits 0).
    pub fn tos(&self) -> io::Result<u32> {
        let inner = self.handle.shared.lock();
        inner
            .stack
            .listeners()
            .into_iter()
            .find(|l| l.id == self.id)
            .map(|l| u32::from(l.dscp.traffic_class()))
            .ok_or_else(|| runtime::io_error(Error::InvalidHandle))
    }
}

/// The DSCP of an IP_TOS value; InvalidInput past a byte.
fn dscp_of_tos(tos: u32) -> io::Result<synack::Dscp> {
    u8::try_from(tos)
        .map(synack::Dscp::from_traffic_class)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "TOS is one byte"))
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        let now = shared.now();
        inner.listeners.remove(&self.id);
        // Unaccepted connections are reset, as closing a listening socket does.
        let _ = inner.stack.close_listener(now, self.id);
        inner.dispatch();
        drop(inner);
        shared.kick();
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

/// One connection, shared by a stream and its owned halves. Dropping the last reference
/// closes it (or aborts it, after `set_linger(Some(0))`).
pub(crate) struct Conn {
    handle: Arc<Handle>,
    id: ConnId,
    local: SocketAddr,
    peer: SocketAddr,
    linger_zero: AtomicBool,
}

impl Conn {
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        inner.check_failed()?;
        let now = shared.now();
        match inner.stack.recv(now, self.id, buf.initialize_unfilled()) {
            Ok(n) => {
                buf.advance(n);
                inner.dispatch();
                drop(inner);
                if n > 0 {
                    // Reading may open the window enough for a window update (SWS avoidance
                    // decides, RFC 9293 §3.8.6.2.2); the tx task sends it.
                    shared.kick();
                }
                Poll::Ready(Ok(()))
            }
            Err(Error::WouldBlock) => {
                if let Some(w) = inner.conns.get_mut(&self.id) {
                    register(&mut w.read, cx);
                }
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(self.error(&inner, e))),
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        inner.check_failed()?;
        let now = shared.now();
        match inner.stack.send(now, self.id, data) {
            Ok(n) => {
                inner.dispatch();
                drop(inner);
                shared.kick();
                Poll::Ready(Ok(n))
            }
            // The send buffer is full: wait for the peer to acknowledge (backpressure).
            Err(Error::WouldBlock) => {
                if let Some(w) = inner.conns.get_mut(&self.id) {
                    register(&mut w.write, cx);
                }
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(self.error(&inner, e))),
        }
    }

    /// Half-close: FIN after the queued data (RFC 9293 §3.10.4); reading continues.
    pub(crate) fn shutdown(&self) -> io::Result<()> {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        let now = shared.now();
        let r = match inner.stack.shutdown(now, self.id) {
            // A second shutdown, or one after the peer's close finished: already done.
            Ok(()) | Err(Error::Closing) | Err(Error::Closed(synack::CloseReason::Normal)) => {
                Ok(())
            }
            Err(e) => Err(self.error(&inner, e)),
        };
        inner.dispatch();
        drop(inner);
        shared.kick();
        r
    }

    fn abort(&self) -> io::Result<()> {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        let now = shared.now();
        let r = inner.stack.abort(now, self.id);
        if let Some(w) = inner.conns.get_mut(&self.id) {
            w.aborted = true;
            w.wake_both();
        }
        inner.dispatch();
        drop(inner);
        shared.kick();
        match r {
            Ok(()) | Err(Error::InvalidHandle) => Ok(()),
            Err(e) => Err(runtime::io_error(e)),
        }
    }

    fn error(&self, inner: &runtime::Inner, e: Error) -> io::Error {
        if e == Error::InvalidHandle && inner.conns.get(&self.id).is_some_and(|w| w.aborted) {
            return io::Error::new(io::ErrorKind::ConnectionAborted, "connection aborted");
        }
        runtime::io_error(e)
    }

    fn info(&self) -> Option<ConnInfo> {
        self.handle.shared.lock().stack.status(self.id)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        let mut inner = shared.lock();
        let now = shared.now();
        inner.conns.remove(&self.id);
        // CLOSE: FIN after queued data, or RST when received data is unread (SHLD-3, LX-18);
        // the stack finishes the connection as an orphan.
        let _ = if self.linger_zero.load(Ordering::Relaxed) {
            inner.stack.abort(now, self.id)
        } else {
            inner.stack.close(now, self.id)
        };
        inner.dispatch();
        drop(inner);
        shared.kick();
    }
}

/// A TCP connection.
pub struct TcpStream {
    pub(crate) conn: Arc<Conn>,
}

impl TcpStream {
    fn new(handle: Arc<Handle>, id: ConnId, local: SocketAddr, peer: SocketAddr) -> TcpStream {
        TcpStream {
            conn: Arc::new(Conn {
                handle,
                id,
                local,
                peer,
                linger_zero: AtomicBool::new(false),
            }),
        }
    }

    /// Open a connection to `addr` from one of the [`Net`]'s addresses of the same family and
    /// an ephemeral port. Fails with `ConnectionRefused` (RST in answer to the SYN),
    /// `TimedOut` (SYN retries exhausted: 127 s with the default 6, LX-1) or
    /// `NetworkUnreachable` (no local address of that family, MUST-44).
    pub async fn connect(net: &Net, addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_inner(net, None, addr).await
    }

    /// [`TcpStream::connect`] from a chosen local address (bind-then-connect): `local` must
    /// be one of the [`Net`]'s addresses (else `AddrNotAvailable`); port 0 picks an
    /// ephemeral port; a 4-tuple already in use gives `AddrInUse` (one in TIME-WAIT may be
    /// taken over instead, as `synack::Config::tw_reuse` allows: LX-12).
    pub async fn connect_from(
        net: &Net,
        local: SocketAddr,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        TcpStream::connect_inner(net, Some(local), addr).await
    }

    async fn connect_inner(
        net: &Net,
        local: Option<SocketAddr>,
        addr: SocketAddr,
    ) -> io::Result<TcpStream> {
        let shared = &net.handle.shared;
        let stream = {
            let mut inner = shared.lock();
            inner.check_failed()?;
            let now = shared.now();
            let id = inner
                .stack
                .connect(now, local, addr)
                .map_err(runtime::io_error)?;
            let Some((local, peer)) = runtime::addrs(&inner, id) else {
                return Err(runtime::io_error(Error::InvalidHandle));
            };
            let nodelay = !inner.stack.config().nagle;
            inner.conns.insert(
                id,
                ConnWaiters {
                    nodelay,
                    ..ConnWaiters::default()
                },
            );
            inner.dispatch();
            // If this future is dropped before the handshake ends, dropping the stream
            // closes the half-made connection (CLOSE in SYN-SENT deletes the TCB, ST-10).
            TcpStream::new(net.handle.clone(), id, local, peer)
        };
        shared.kick();
        poll_fn(|cx| {
            let mut inner = shared.lock();
            inner.check_failed()?;
            let id = stream.conn.id;
            match inner.stack.state(id) {
                Some(s) if s.is_synchronized() => Poll::Ready(Ok(())),
                Some(State::Closed) | None => {
                    let reason = inner.stack.status(id).and_then(|i| i.close_reason);
                    Poll::Ready(Err(match reason {
                        Some(r) => runtime::closed_error(r),
                        None => runtime::io_error(Error::InvalidHandle),
                    }))
                }
                Some(_) => {
                    if let Some(w) = inner.conns.get_mut(&id) {
                        register(&mut w.write, cx);
                    }
                    Poll::Pending
                }
            }
        })
        .await?;
        Ok(stream)
    }

    /// [`TcpStream::connect`], giving up with `TimedOut` after `timeout`.
    pub async fn connect_timeout(
        net: &Net,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        match tokio::time::timeout(timeout, TcpStream::connect(net, addr)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
        }
    }

    /// Our address of this connection. For streams accepted by
    /// [`TcpListener::listen_any`], the destination the peer connected to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.local)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.conn.peer)
    }

    /// Switch Nagle's algorithm off (`true`) or on (MUST-17, TCP_NODELAY).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let shared = &self.conn.handle.shared;
        let mut inner = shared.lock();
        match inner.stack.set_nodelay(self.conn.id, nodelay) {
            Ok(()) => {
                if let Some(w) = inner.conns.get_mut(&self.conn.id) {
                    w.nodelay = nodelay;
                }
                drop(inner);
                // Data Nagle was holding back may go now.
                shared.kick();
                Ok(())
            }
            Err(e) => Err(self.conn.error(&inner, e)),
        }
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        let inner = self.conn.handle.shared.lock();
        inner
            .conns
            .get(&self.conn.id)
            .map(|w| w.nodelay)
            .ok_or_else(|| runtime::io_error(Error::InvalidHandle))
    }

    /// Keep-alive on, with its timing, or off (SO_KEEPALIVE with TCP_KEEPIDLE /
    /// TCP_KEEPINTVL / TCP_KEEPCNT; MUST-24). `synack::KeepAlive::default()` is Linux's
    /// 7200 s idle, 75 s interval, 9 probes; a dead peer then fails reads and writes with
    /// `TimedOut`.
    pub fn set_keepalive(&self, keepalive: Option<synack::KeepAlive>) -> io::Result<()> {
        let shared = &self.conn.handle.shared;
        let mut inner = shared.lock();
        let now = shared.now();
        match inner.stack.set_keepalive(now, self.conn.id, keepalive) {
            Ok(()) => {
                drop(inner);
                // The timer may now be due earlier than the runtime's next wake-up.
                shared.kick();
                Ok(())
            }
            Err(e) => Err(self.conn.error(&inner, e)),
        }
    }

    /// The keep-alive timing in force, if keep-alive is on.
    pub fn keepalive(&self) -> Option<synack::KeepAlive> {
        self.conn.handle.shared.lock().stack.keepalive(self.conn.id)
    }

    /// `Some(Duration::ZERO)` makes dropping the stream abort it with a RST (SO_LINGER 0);
    /// `None` restores the graceful close. Other linger times are not supported: close never
    /// blocks here.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        match linger {
            None => self.conn.linger_zero.store(false, Ordering::Relaxed),
            Some(d) if d.is_zero() => self.conn.linger_zero.store(true, Ordering::Relaxed),
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "only a zero linger (abort on close) is supported",
                ))
            }
        }
        Ok(())
    }

    /// The linger setting (see [`TcpStream::set_linger`]).
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self
            .conn
            .linger_zero
            .load(Ordering::Relaxed)
            .then_some(Duration::ZERO))
    }

    /// ABORT now (RFC 9293 §3.10.5, UI-5): a RST to the peer, queued data discarded. Later
    /// reads and writes fail with `ConnectionAborted`; the peer's fail with `ConnectionReset`.
    pub fn abort(&self) -> io::Result<()> {
        self.conn.abort()
    }

    /// IP_TOS / IPV6_TCLASS: the DSCP (the top six bits of `tos`) of this connection's
    /// segments from now on, retransmissions included (MUST-48, SHLD-21, SHLD-22). As on a
    /// Linux TCP socket, the low two bits (ECN) are not the application's and are ignored.
    pub fn set_tos(&self, tos: u32) -> io::Result<()> {
        let dscp = dscp_of_tos(tos)?;
        let inner = &mut *self.conn.handle.shared.lock();
        inner
            .stack
            .set_dscp(self.conn.id, dscp)
            .map_err(|e| self.conn.error(inner, e))
    }

    /// The TOS byte this connection's segments carry (ECN bits 0).
    pub fn tos(&self) -> io::Result<u32> {
        let info = self
            .info()
            .ok_or_else(|| runtime::io_error(Error::InvalidHandle))?;
        Ok(u32::from(info.dscp.traffic_class()))
    }

    /// SO_RCVBUF: pin this connection's receive buffer at `size` bytes and switch receive
    /// autotuning off for it (LX-11; Linux SOCK_RCVBUF_LOCK; tokio's `TcpSocket` has the
    /// same name). Unlike Linux the size is not doubled: it is the payload the buffer holds,
    /// which bounds the advertised window. The window already advertised is honoured, so a
    /// smaller size takes effect as the application reads. `InvalidInput` for 0 or more
    /// than 2^30 bytes.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        let shared = &self.conn.handle.shared;
        let mut inner = shared.lock();
        match inner.stack.set_recv_buffer(self.conn.id, size as usize) {
            Ok(_) => {
                drop(inner);
                shared.kick();
                Ok(())
            }
            Err(e) => Err(self.conn.error(&inner, e)),
        }
    }

    /// The receive buffer's size now, bytes: as pinned, or as autotuning has grown it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        let info = self
            .info()
            .ok_or_else(|| runtime::io_error(Error::InvalidHandle))?;
        Ok(info.recv_buffer.min(u32::MAX as usize) as u32)
    }

    /// SO_SNDBUF: pin this connection's send buffer at `size` bytes and stop it growing
    /// with the congestion window (LX-11; Linux SOCK_SNDBUF_LOCK). Not doubled, as with
    /// [`TcpStream::set_recv_buffer_size`]; queued bytes stay queued and the buffer
    /// shrinks as they are acknowledged. `InvalidInput` for 0 or more than 2^30 bytes.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        let shared = &self.conn.handle.shared;
        let mut inner = shared.lock();
        match inner.stack.set_send_buffer(self.conn.id, size as usize) {
            Ok(_) => {
                drop(inner);
                // More room may let a blocked writer go on.
                shared.kick();
                Ok(())
            }
            Err(e) => Err(self.conn.error(&inner, e)),
        }
    }

    /// The send buffer's size now, bytes: as pinned, or as it has grown with cwnd.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        let info = self
            .info()
            .ok_or_else(|| runtime::io_error(Error::InvalidHandle))?;
        Ok(info.send_buffer.min(u32::MAX as usize) as u32)
    }

    /// The DSCP of the last segment received from the peer (MAY-9), if any.
    pub fn peer_dscp(&self) -> Option<synack::Dscp> {
        self.info()?.dscp_received
    }

    /// A snapshot of the connection (STATUS, UI-6): state, windows, queues, RTT, cwnd.
    /// `None` once the connection is gone.
    pub fn info(&self) -> Option<ConnInfo> {
        self.conn.info()
    }

    /// Borrowed read and write halves, usable at the same time from one task.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Owned read and write halves, usable from different tasks. Dropping the write half
    /// shuts down the write direction (sends FIN), as with `tokio::net`.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.conn.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.conn.poll_write(cx, buf)
    }

    /// Nothing to flush: written bytes are in the stack's send buffer, sent as the window
    /// allows.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Half-close: sends FIN after the queued data; reading continues.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.conn.shutdown())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.conn.local)
            .field("peer", &self.conn.peer)
            .finish()
    }
}
