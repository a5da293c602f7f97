//! A global allocator wrapper that counts the bytes the process holds, as
//! Redis's zmalloc does: `used_memory` in INFO and the `maxmemory` check read
//! it. Binaries opt in by declaring `Counting<MiMalloc>` their allocator;
//! when no counting allocator is installed, `used()` is None.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static USED: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Wraps an allocator and keeps a running total of the live bytes.
pub struct Counting<A>(pub A);

// SAFETY: every call forwards to the wrapped allocator with the same layout;
// the counter is only bookkeeping.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.dealloc(ptr, layout) };
        USED.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            USED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                USED.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                USED.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Marks the counting allocator as the process's (called by the binary).
pub fn install() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Bytes currently allocated through the counting allocator, if installed.
pub fn used() -> Option<u64> {
    INSTALLED.load(Ordering::Relaxed).then(|| USED.load(Ordering::Relaxed) as u64)
}
