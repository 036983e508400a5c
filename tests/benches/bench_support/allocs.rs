//! Allocations per request: a global allocator that counts calls to `alloc` while
//! counting is switched on (`-- --allocs`), so a bench row can say how many heap
//! allocations one request costs. The load generator allocates too, the same on both
//! sides of a comparison: the difference between two rows is what the server adds.

// A global allocator is an `unsafe impl`: it only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; counting only adds to
// an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is System's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Switches counting on for the whole run when the bench was given `--allocs` (off by
/// default: the atomic add would be measured too).
pub fn enable_if_asked() {
    if std::env::args().any(|a| a == "--allocs") {
        ON.store(true, Ordering::Relaxed);
    }
}

/// Allocations so far, or None when counting is off.
pub fn count() -> Option<u64> {
    ON.load(Ordering::Relaxed)
        .then(|| COUNT.load(Ordering::Relaxed))
}
