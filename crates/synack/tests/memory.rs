//! Issue 3's memory budget, measured: heap bytes per idle ESTABLISHED connection (empty
//! buffers) and per TIME-WAIT entry, from a counting global allocator that charges each
//! allocation to the stack whose code is running. The figure includes the amortized growth
//! of the stack's tables (demux map, slots, timer heap), as the benchmark's does. This file
//! holds a single test so that no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use synack::{Config, ConnId, Instant, Stack, State};

static TAG: AtomicUsize = AtomicUsize::new(0);
static LIVE: [AtomicI64; 3] = [const { AtomicI64::new(0) }; 3];

struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE[TAG.load(Relaxed)].fetch_add(l.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE[TAG.load(Relaxed)].fetch_add(l.size() as i64, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE[TAG.load(Relaxed)].fetch_sub(l.size() as i64, Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, n) };
        if !q.is_null() {
            LIVE[TAG.load(Relaxed)].fetch_add(n as i64 - l.size() as i64, Relaxed);
        }
        q
    }
}

const A: usize = 1;
const B: usize = 2;

/// Run `f` with allocations charged to `tag`.
fn as_side<R>(tag: usize, f: impl FnOnce() -> R) -> R {
    TAG.store(tag, Relaxed);
    let r = f();
    TAG.store(0, Relaxed);
    r
}

struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
    buf: Box<[u8; 2048]>,
    listener: Option<synack::ListenerId>,
}

impl Pair {
    fn new() -> Pair {
        let ip_a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let ip_b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let (mut a, mut b) = as_side(0, || {
            (Stack::new(Config::default()), Stack::new(Config::default()))
        });
        as_side(A, || a.add_address(ip_a));
        as_side(B, || b.add_address(ip_b));
        Pair {
            a,
            b,
            now: Instant::from_secs(1),
            buf: Box::new([0; 2048]),
            listener: None,
        }
    }

    /// Exchange packets (and drain events) until both sides are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            let now = self.now;
            while let Some(n) = as_side(A, || self.a.poll_transmit(now, &mut self.buf[..])) {
                as_side(B, || self.b.handle_packet(now, &self.buf[..n]));
                moved = true;
            }
            while let Some(n) = as_side(B, || self.b.poll_transmit(now, &mut self.buf[..])) {
                as_side(A, || self.a.handle_packet(now, &self.buf[..n]));
                moved = true;
            }
            as_side(A, || while self.a.poll_event().is_some() {});
            as_side(B, || while self.b.poll_event().is_some() {});
            if !moved {
                return;
            }
            self.now += std::time::Duration::from_micros(10);
        }
    }

    /// Open `n` connections to port 80 in batches; (client ids, server ids).
    fn open(&mut self, n: usize) -> (Vec<ConnId>, Vec<ConnId>) {
        let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
        let l = match self.listener {
            Some(l) => l,
            None => {
                let l = as_side(B, || {
                    self.b
                        .listen(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80), 4096)
                })
                .expect("listen");
                self.listener = Some(l);
                l
            }
        };
        let mut clients = Vec::with_capacity(n);
        let mut servers = Vec::with_capacity(n);
        while clients.len() < n {
            let k = (n - clients.len()).min(1000);
            let now = self.now;
            for _ in 0..k {
                let c = as_side(A, || self.a.connect(now, None, remote)).expect("connect");
                clients.push(c);
            }
            self.pump();
            while let Some(s) = as_side(B, || self.b.accept(l)) {
                servers.push(s);
            }
        }
        assert_eq!(servers.len(), n);
        for &c in &clients {
            assert_eq!(self.a.state(c), Some(State::Established));
        }
        (clients, servers)
    }

    /// Close `clients` first (they end in TIME-WAIT), then `servers`.
    fn close_all(&mut self, clients: &[ConnId], servers: &[ConnId]) {
        let now = self.now;
        for &c in clients {
            as_side(A, || self.a.close(now, c)).expect("close");
        }
        self.pump();
        for &s in servers {
            as_side(B, || self.b.close(now, s)).expect("close");
        }
        self.pump();
    }
}

#[test]
fn issue_3_memory_per_idle_connection_and_per_time_wait_entry() {
    const N: usize = 20_000;
    // Idle ESTABLISHED connections, buffers empty.
    let mut p = Pair::new();
    let a0 = LIVE[A].load(Relaxed);
    let (clients, servers) = p.open(N);
    let per_idle = (LIVE[A].load(Relaxed) - a0) as f64 / N as f64;
    // The same connections closed by the client first: the client keeps TIME-WAIT entries
    // and the tables sized for N open connections.
    p.close_all(&clients, &servers);
    assert_eq!(p.a.counters().curr_time_wait, N as u64);
    assert_eq!(p.a.time_wait_records(), N, "every one packed");
    let after_burst = (LIVE[A].load(Relaxed) - a0) as f64 / N as f64;

    // TIME-WAIT entries made 1,000 at a time (as the benchmark does): the tables stay small
    // and the figure is the entry's own cost.
    let mut p = Pair::new();
    let a0 = LIVE[A].load(Relaxed);
    for _ in 0..N / 1000 {
        let (c, s) = p.open(1000);
        p.close_all(&c, &s);
    }
    assert_eq!(p.a.time_wait_records(), N);
    let per_tw = (LIVE[A].load(Relaxed) - a0) as f64 / N as f64;
    eprintln!(
        "heap per idle connection: {per_idle:.0} B; per TIME-WAIT entry: {per_tw:.0} B \
         ({after_burst:.0} B when all {N} were open at once)"
    );
    // Issue 3's targets: 512 B and 64 B. An idle connection is its 448-byte TCB, a 16-byte
    // slot and about 8 B of index at this N (plus table growth); a TIME-WAIT entry is a
    // 44-byte record and about 8 B of index (tw_table.rs).
    assert!(per_idle <= 512.0, "{per_idle:.0} B per idle connection");
    assert!(per_tw <= 64.0, "{per_tw:.0} B per TIME-WAIT entry");
    // After a burst the tables keep their size (slots, index, heap): bounded, not per entry.
    assert!(
        after_burst <= 240.0,
        "{after_burst:.0} B per entry after a burst"
    );
}
