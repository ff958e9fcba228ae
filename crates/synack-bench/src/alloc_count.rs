//! A counting global allocator: live heap bytes per *tag*. The harness sets the tag to the
//! side whose code is about to run (A = 1, B = 2, harness = 0), so the bytes a stack keeps
//! are counted against its side. Single-threaded use; relaxed atomics.
//!
//! A block freed under another tag than the one it was allocated under would be counted
//! against the wrong side: the harness avoids that by never letting one side's code free
//! the other's memory, and by keeping the link from allocating during a measurement
//! ([`synack_bench::Link::reserve`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use synack_bench::{Host, Link};

pub const HARNESS: usize = 0;
pub const SIDE_A: usize = 1;
pub const SIDE_B: usize = 2;

static TAG: AtomicUsize = AtomicUsize::new(HARNESS);
static LIVE: [AtomicI64; 3] = [const { AtomicI64::new(0) }; 3];

pub struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn add(n: i64) {
    LIVE[TAG.load(Relaxed)].fetch_add(n, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

pub fn set_tag(tag: usize) {
    TAG.store(tag, Relaxed);
}

/// Live heap bytes counted against `tag`.
pub fn live(tag: usize) -> i64 {
    LIVE[tag].load(Relaxed)
}

/// A host whose code runs under its side's tag.
pub struct Tagged<H> {
    pub h: H,
    pub tag: usize,
}

impl<H> Tagged<H> {
    pub fn new(h: H, tag: usize) -> Self {
        Tagged { h, tag }
    }
    /// Run `f` on the host under its tag, then return to the harness tag.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut H) -> R) -> R {
        set_tag(self.tag);
        let r = f(&mut self.h);
        set_tag(HARNESS);
        r
    }
}

impl<H: Host> Host for Tagged<H> {
    fn ingress(&mut self, now: u64, link: &Link) {
        set_tag(self.tag);
        self.h.ingress(now, link);
    }
    fn egress(&mut self, now: u64, link: &Link) {
        set_tag(self.tag);
        self.h.egress(now, link);
        set_tag(HARNESS);
    }
    fn next_timeout(&mut self, now: u64) -> Option<u64> {
        set_tag(self.tag);
        let t = self.h.next_timeout(now);
        set_tag(HARNESS);
        t
    }
}
