//! Allocator calls per connection lifecycle, from a counting global allocator: a warmed
//! stack serves short request/response connections without calling the allocator for
//! their buffers, because the rings of the first size go back to the stack's pool
//! (tcb/ring_pool.rs, issue 3's churn). This file holds a single test so that no other
//! test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use synack::{CloseReason, Config, Event, Instant, Stack, State};

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        unsafe { System.realloc(p, l, n) }
    }
}

/// Two stacks joined back to back; every packet is delivered at once.
struct Pair {
    a: Stack,
    b: Stack,
    now: Instant,
    buf: Vec<u8>,
}

impl Pair {
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            let now = self.now;
            while let Some(n) = self.a.poll_transmit(now, &mut self.buf) {
                self.b.handle_packet(now, &self.buf[..n]);
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(now, &mut self.buf) {
                self.a.handle_packet(now, &self.buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// One lifecycle: connect, 64-byte request, 64-byte response, client close, server
    /// close (the client keeps TIME-WAIT). Then 1 s passes, so TIME-WAIT entries expire at
    /// the rate they are made and the tables stay the same size.
    fn lifecycle(&mut self, l: synack::ListenerId, server: SocketAddr) {
        let now = self.now;
        let c = self.a.connect(now, None, server).expect("connect");
        self.pump();
        let s = self.b.accept(l).expect("accepted");
        let mut data = [0u8; 64];
        assert_eq!(self.a.send(now, c, &[1; 64]), Ok(64));
        self.pump();
        assert_eq!(self.b.recv(now, s, &mut data), Ok(64));
        assert_eq!(self.b.send(now, s, &[2; 64]), Ok(64));
        self.pump();
        assert_eq!(self.a.recv(now, c, &mut data), Ok(64));
        assert_eq!(data, [2; 64]);
        self.a.close(now, c).expect("close");
        self.pump();
        self.b.close(now, s).expect("close");
        self.pump();
        assert_eq!(self.a.state(c), Some(State::TimeWait));
        while self.a.poll_event().is_some() {}
        while let Some(e) = self.b.poll_event() {
            assert!(
                !matches!(e, Event::Closed { reason, .. } if reason != CloseReason::Normal),
                "{e:?}"
            );
        }
        self.now += std::time::Duration::from_secs(1);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }
}

#[test]
fn issue_3_warm_request_response_lifecycles_take_no_buffer_allocations() {
    let mut p = Pair {
        a: Stack::new(Config::default()),
        b: Stack::new(Config::default()),
        now: Instant::from_secs(1),
        buf: vec![0; 2048],
    };
    p.a.add_address(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
    p.b.add_address(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)));
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 80);
    let l = p.b.listen(server, 128).expect("listen");
    // Warm up past one 2·MSL (60 s), so that TIME-WAIT entries expire as fast as they
    // are made and every table has reached its size.
    for _ in 0..200 {
        p.lifecycle(l, server);
    }
    const N: u64 = 1_000;
    COUNTING.store(true, Relaxed);
    for _ in 0..N {
        p.lifecycle(l, server);
    }
    COUNTING.store(false, Relaxed);
    let per = ALLOCS.load(Relaxed) as f64 / N as f64;
    eprintln!("allocator calls per lifecycle, both stacks: {per:.3}");
    // Without the pool each lifecycle allocates four rings (a send and a receive ring on
    // each side): 4.0. What remains is the tables' occasional growth.
    assert!(per < 0.5, "{per:.3} allocations per lifecycle");
}
