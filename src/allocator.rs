//! The process's allocator: mimalloc for every binary built on the library (the server, its tests
//! and benchmarks), so that what is measured is what runs. Under durable AddOrder load glibc's
//! malloc was ~5% of the server's samples in the engine thread alone (`_int_malloc`,
//! `malloc_consolidate`: buffers made on one thread and freed on another); mimalloc cut the
//! server's CPU per durable AddOrder by ~18% (BENCHMARKS.md §4). Fuzzing builds keep the system
//! allocator, which the sanitizers watch.
//!
//! mimalloc hands freed pages back to the kernel after a delay (1 s by default), on a later
//! allocator call. With the default, a simulated day at 10x the rate ended at 1,580 MB of RSS
//! against 984 MB after a restart (issue 16 item 4 asks for 20%) and the restarted server itself
//! held 984 MB against glibc's 636; with no delay ([`configure`], which the server's `main` calls
//! first), 703 MB against 678 (BENCHMARKS.md §8). [`release_freed_memory`] returns what a burst
//! freed (a checkpoint build's copy of the state, a start-up replay's garbage) at once.

#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc.h's `mi_option_purge_delay` (the binding names its neighbours,
/// `mi_option_eager_commit_delay` = 14 and `mi_option_use_numa_nodes` = 16, but not it);
/// tests/allocator.rs fails if it is not the purge delay.
const PURGE_DELAY: std::os::raw::c_int = 15;

/// Freed pages go back to the kernel at once, unless `MIMALLOC_PURGE_DELAY` says otherwise.
pub fn configure() {
    #[cfg(not(fuzzing))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    }
}

/// Returns the memory freed so far to the kernel now, rather than after the allocator's delay.
pub fn release_freed_memory() {
    #[cfg(not(fuzzing))]
    unsafe {
        // SAFETY: mi_collect only frees memory that no allocation holds; it touches no live memory.
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(fuzzing, target_os = "linux", target_env = "gnu"))]
    unsafe {
        // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live memory.
        libc::malloc_trim(0);
    }
}
