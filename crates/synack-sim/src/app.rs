//! Applications on simulated hosts: a packetdrill-like script of socket calls
//! ([`Script`], [`Step`]), or any closure ([`FnApp`]) for property tests.

use crate::record::HostId;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use synack::{CloseReason, ConnId, Duration, Error, Event, Instant, ListenerId, Stack, State};

/// What an application sees when it runs: the time, its stack, the events since it last ran.
pub struct AppCtx<'a> {
    pub now: Instant,
    pub host: HostId,
    pub host_name: &'a str,
    /// The host's addresses (the first is the default source).
    pub addrs: &'a [IpAddr],
    pub stack: &'a mut Stack,
    /// Stack events since the application last ran.
    pub events: &'a [Event],
    /// What the application received and how its connections ended (tests read it).
    pub log: &'a mut AppLog,
    pub(crate) wake: &'a mut Option<Instant>,
    pub(crate) notes: &'a mut Vec<String>,
}

impl AppCtx<'_> {
    /// Run the application again at `t` (the earliest request wins).
    pub fn wake_at(&mut self, t: Instant) {
        *self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }
    /// Write an application action into the record (shown in the ladder).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
    /// The host's first address of the same family as `peer`.
    pub fn source_for(&self, peer: IpAddr) -> Option<IpAddr> {
        self.addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == peer.is_ipv4())
    }
}

/// An application. It runs at the start, whenever its stack reports events, and when a
/// wake-up it asked for comes due.
pub trait App {
    fn poll(&mut self, ctx: &mut AppCtx<'_>);
}

/// An application made of a closure.
pub struct FnApp<F>(pub F);

impl<F: FnMut(&mut AppCtx<'_>)> App for FnApp<F> {
    fn poll(&mut self, ctx: &mut AppCtx<'_>) {
        (self.0)(ctx)
    }
}

/// An application that does nothing (a host that only answers at the TCP level).
pub struct Idle;

impl App for Idle {
    fn poll(&mut self, _: &mut AppCtx<'_>) {}
}

/// What one connection gave the application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnLog {
    pub id: Option<ConnId>,
    /// Every byte read, in order.
    pub received: Vec<u8>,
    /// Bytes accepted by `send`.
    pub sent: usize,
    /// `recv` reported end of stream.
    pub eof: bool,
}

/// What a host's application experienced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppLog {
    /// Connections the application opened or accepted, in order.
    pub conns: Vec<ConnLog>,
    /// Close reasons reported by the stack, by connection (filled in by the world).
    pub closed: BTreeMap<ConnId, CloseReason>,
    /// Errors from calls, and failed expectations: (time, text).
    pub errors: Vec<(Instant, String)>,
    /// The script ran all its steps.
    pub finished: bool,
}

impl AppLog {
    /// Bytes received on the i-th connection.
    pub fn received(&self, i: usize) -> &[u8] {
        self.conns.get(i).map_or(&[], |c| &c.received)
    }
    /// Close reason of the i-th connection, if the stack reported one.
    pub fn close_reason(&self, i: usize) -> Option<CloseReason> {
        self.conns
            .get(i)
            .and_then(|c| c.id)
            .and_then(|id| self.closed.get(&id).copied())
    }
}

/// One step of a script. Steps run in order; a step that cannot complete yet waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Passive open on `port` of any local address.
    Listen { port: u16, backlog: usize },
    /// Passive open on one address.
    ListenOn { addr: SocketAddr, backlog: usize },
    /// Active open; the new connection becomes the current one.
    Connect {
        remote: SocketAddr,
        local_port: Option<u16>,
    },
    /// Wait until the current connection is synchronized (ESTABLISHED or later).
    WaitConnected,
    /// Wait for a connection in the accept queue and take it; it becomes current.
    Accept,
    /// Queue all these bytes (waiting for send-buffer space as needed).
    Send(Vec<u8>),
    /// Read exactly n bytes.
    RecvExactly(usize),
    /// Read until end of stream.
    RecvUntilEof,
    /// Half-close: FIN after queued data; keep receiving.
    Shutdown,
    /// Close and release the connection.
    Close,
    /// Abort (RST).
    Abort,
    /// Do nothing for this long.
    Sleep(Duration),
    /// Wait until this virtual time.
    At(Instant),
    /// Wait until the current connection is gone from the stack (or CLOSED).
    WaitClosed,
    /// Wait until the current connection is in this state.
    WaitState(State),
    /// Wait until the stack reports the current connection closed with this reason.
    ExpectClosed(CloseReason),
    /// Make the i-th connection (0-based, in the order opened/accepted) current.
    Use(usize),
    /// Stop listening.
    CloseListener,
    /// Put a remark into the record.
    Note(String),
}

impl Step {
    /// `Connect` to `remote` ("198.18.0.2:80") from an ephemeral port.
    pub fn connect(remote: &str) -> Step {
        Step::Connect {
            remote: remote.parse().expect("socket address"),
            local_port: None,
        }
    }
    /// `Connect` to `remote` from a fixed local port.
    pub fn connect_from(local_port: u16, remote: &str) -> Step {
        Step::Connect {
            remote: remote.parse().expect("socket address"),
            local_port: Some(local_port),
        }
    }
    pub fn listen(port: u16) -> Step {
        Step::Listen { port, backlog: 128 }
    }
    /// A client's whole script: `connect`, wait for ESTABLISHED, send `data`, close, wait
    /// until the connection is closed.
    pub fn send_and_close(connect: Step, data: Vec<u8>) -> Vec<Step> {
        vec![
            connect,
            Step::WaitConnected,
            Step::Send(data),
            Step::Close,
            Step::WaitClosed,
        ]
    }
    /// A server's whole script: listen on `port`, accept one connection, read until the
    /// peer's FIN, close, wait until the connection is closed.
    pub fn sink(port: u16) -> Vec<Step> {
        vec![
            Step::listen(port),
            Step::Accept,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]
    }
    pub fn send(data: &[u8]) -> Step {
        Step::Send(data.to_vec())
    }
    pub fn sleep_ms(ms: u64) -> Step {
        Step::Sleep(Duration::from_millis(ms))
    }
    pub fn at_ms(ms: u64) -> Step {
        Step::At(Instant::from_millis(ms))
    }
    pub fn note(text: &str) -> Step {
        Step::Note(text.to_string())
    }
}

/// A script: steps run one after another on the host's stack.
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
    pc: usize,
    conns: Vec<ConnId>,
    current: Option<usize>,
    listener: Option<ListenerId>,
    /// Deadline of the running Sleep step.
    sleep_until: Option<Instant>,
    /// Progress of the running Send / Recv step.
    progress: usize,
    stopped: bool,
}

enum Outcome {
    Done,
    Wait,
    Fail(String),
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Script {
        Script {
            steps,
            ..Script::default()
        }
    }
    /// The step the script is at (None once finished or stopped).
    pub fn current_step(&self) -> Option<&Step> {
        if self.stopped {
            None
        } else {
            self.steps.get(self.pc)
        }
    }

    fn conn(&self) -> Result<ConnId, String> {
        self.current
            .map(|i| self.conns[i])
            .ok_or_else(|| "no current connection".to_string())
    }

    fn conn_log<'l>(&self, log: &'l mut AppLog) -> &'l mut ConnLog {
        let i = self.current.expect("current connection");
        &mut log.conns[i]
    }

    fn adopt(&mut self, c: ConnId, log: &mut AppLog) {
        self.conns.push(c);
        self.current = Some(self.conns.len() - 1);
        log.conns.push(ConnLog {
            id: Some(c),
            ..ConnLog::default()
        });
    }

    fn closed_reason(&self, ctx: &AppCtx<'_>) -> Option<CloseReason> {
        self.conn()
            .ok()
            .and_then(|c| ctx.log.closed.get(&c).copied())
    }

    fn run_step(&mut self, ctx: &mut AppCtx<'_>) -> Outcome {
        let now = ctx.now;
        let step = self.steps[self.pc].clone();
        match step {
            Step::Listen { port, backlog } => {
                let ip = match ctx.addrs.first() {
                    Some(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                };
                self.listen(ctx, SocketAddr::new(ip, port), backlog)
            }
            Step::ListenOn { addr, backlog } => self.listen(ctx, addr, backlog),
            Step::Connect { remote, local_port } => {
                let local = match local_port {
                    Some(p) => match ctx.source_for(remote.ip()) {
                        Some(ip) => Some(SocketAddr::new(ip, p)),
                        None => return Outcome::Fail(format!("no address to reach {remote}")),
                    },
                    None => None,
                };
                match ctx.stack.connect(now, local, remote) {
                    Ok(c) => {
                        self.adopt(c, ctx.log);
                        ctx.note(format!("connect({remote})"));
                        Outcome::Done
                    }
                    Err(e) => Outcome::Fail(format!("connect({remote}): {e}")),
                }
            }
            Step::WaitConnected => {
                let c = match self.conn() {
                    Ok(c) => c,
                    Err(e) => return Outcome::Fail(e),
                };
                if let Some(r) = self.closed_reason(ctx) {
                    return Outcome::Fail(format!("connect failed: {r}"));
                }
                match ctx.stack.state(c) {
                    Some(s) if s.is_synchronized() => Outcome::Done,
                    Some(State::Closed) | None => {
                        Outcome::Fail("connect failed: connection gone".to_string())
                    }
                    Some(_) => Outcome::Wait,
                }
            }
            Step::Accept => {
                let Some(l) = self.listener else {
                    return Outcome::Fail("accept without listen".to_string());
                };
                match ctx.stack.accept(l) {
                    Some(c) => {
                        self.adopt(c, ctx.log);
                        ctx.note("accept()");
                        Outcome::Done
                    }
                    None => Outcome::Wait,
                }
            }
            Step::Send(data) => {
                let c = match self.conn() {
                    Ok(c) => c,
                    Err(e) => return Outcome::Fail(e),
                };
                let start = self.progress;
                while self.progress < data.len() {
                    match ctx.stack.send(now, c, &data[self.progress..]) {
                        Ok(0) | Err(Error::WouldBlock) => break,
                        Ok(n) => self.progress += n,
                        Err(e) => return Outcome::Fail(format!("send: {e}")),
                    }
                }
                let n = self.progress - start;
                if n > 0 {
                    self.conn_log(ctx.log).sent += n;
                    ctx.note(format!("send({n} bytes)"));
                }
                if self.progress == data.len() {
                    Outcome::Done
                } else {
                    Outcome::Wait
                }
            }
            Step::RecvExactly(want) => self.recv(ctx, Some(want)),
            Step::RecvUntilEof => self.recv(ctx, None),
            Step::Shutdown => self.call(ctx, "shutdown()", |s, now, c| s.shutdown(now, c)),
            Step::Close => self.call(ctx, "close()", |s, now, c| s.close(now, c)),
            Step::Abort => self.call(ctx, "abort()", |s, now, c| s.abort(now, c)),
            Step::Sleep(d) => {
                let until = *self.sleep_until.get_or_insert(now + d);
                if now >= until {
                    self.sleep_until = None;
                    Outcome::Done
                } else {
                    ctx.wake_at(until);
                    Outcome::Wait
                }
            }
            Step::At(t) => {
                if now >= t {
                    Outcome::Done
                } else {
                    ctx.wake_at(t);
                    Outcome::Wait
                }
            }
            Step::WaitClosed => match self.conn() {
                Ok(c) => match ctx.stack.state(c) {
                    None | Some(State::Closed) => Outcome::Done,
                    Some(_) => Outcome::Wait,
                },
                Err(e) => Outcome::Fail(e),
            },
            Step::WaitState(want) => match self.conn() {
                Ok(c) => match ctx.stack.state(c) {
                    Some(s) if s == want => Outcome::Done,
                    None => Outcome::Fail(format!("connection gone before {want}")),
                    Some(_) => Outcome::Wait,
                },
                Err(e) => Outcome::Fail(e),
            },
            Step::ExpectClosed(want) => match self.closed_reason(ctx) {
                Some(r) if r == want => {
                    ctx.note(format!("closed: {r}"));
                    Outcome::Done
                }
                Some(r) => Outcome::Fail(format!("expected close reason {want}, got {r}")),
                None => Outcome::Wait,
            },
            Step::Use(i) => {
                if i < self.conns.len() {
                    self.current = Some(i);
                    Outcome::Done
                } else {
                    Outcome::Fail(format!("no connection #{i} to use"))
                }
            }
            Step::CloseListener => match self.listener.take() {
                Some(l) => match ctx.stack.close_listener(now, l) {
                    Ok(()) => {
                        ctx.note("close listener");
                        Outcome::Done
                    }
                    Err(e) => Outcome::Fail(format!("close listener: {e}")),
                },
                None => Outcome::Fail("no listener".to_string()),
            },
            Step::Note(text) => {
                ctx.note(text);
                Outcome::Done
            }
        }
    }

    fn listen(&mut self, ctx: &mut AppCtx<'_>, addr: SocketAddr, backlog: usize) -> Outcome {
        match ctx.stack.listen(addr, backlog) {
            Ok(l) => {
                self.listener = Some(l);
                ctx.note(format!("listen(:{})", addr.port()));
                Outcome::Done
            }
            Err(e) => Outcome::Fail(format!("listen({addr}): {e}")),
        }
    }

    fn call(
        &mut self,
        ctx: &mut AppCtx<'_>,
        what: &str,
        f: impl FnOnce(&mut Stack, Instant, ConnId) -> Result<(), Error>,
    ) -> Outcome {
        let c = match self.conn() {
            Ok(c) => c,
            Err(e) => return Outcome::Fail(e),
        };
        ctx.note(what);
        match f(ctx.stack, ctx.now, c) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Fail(format!("{what}: {e}")),
        }
    }

    fn recv(&mut self, ctx: &mut AppCtx<'_>, want: Option<usize>) -> Outcome {
        let c = match self.conn() {
            Ok(c) => c,
            Err(e) => return Outcome::Fail(e),
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            if want.is_some_and(|w| self.progress >= w) {
                self.progress = 0;
                return Outcome::Done;
            }
            let room = want.map_or(buf.len(), |w| (w - self.progress).min(buf.len()));
            match ctx.stack.recv(ctx.now, c, &mut buf[..room]) {
                Ok(0) => {
                    self.conn_log(ctx.log).eof = true;
                    ctx.note("recv() = EOF");
                    let got = std::mem::take(&mut self.progress);
                    return match want {
                        None => Outcome::Done,
                        Some(w) => Outcome::Fail(format!("EOF after {got} of {w} bytes")),
                    };
                }
                Ok(n) => {
                    self.progress += n;
                    self.conn_log(ctx.log).received.extend_from_slice(&buf[..n]);
                    ctx.note(format!("recv() = {n} bytes"));
                }
                Err(Error::WouldBlock) => return Outcome::Wait,
                Err(e) => {
                    self.progress = 0;
                    return Outcome::Fail(format!("recv: {e}"));
                }
            }
        }
    }
}

impl App for Script {
    fn poll(&mut self, ctx: &mut AppCtx<'_>) {
        while !self.stopped && self.pc < self.steps.len() {
            match self.run_step(ctx) {
                Outcome::Done => {
                    self.pc += 1;
                    self.progress = 0;
                }
                Outcome::Wait => return,
                Outcome::Fail(e) => {
                    ctx.note(format!("error: {e}"));
                    ctx.log.errors.push((ctx.now, e));
                    self.stopped = true;
                }
            }
        }
        if !self.stopped && self.pc >= self.steps.len() {
            ctx.log.finished = true;
        }
    }
}
