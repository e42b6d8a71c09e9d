//! The binary's allocator: mimalloc, tuned for the report. The one module allowed `unsafe` code.
#![allow(unsafe_code)]

/// mimalloc (as datafusion-cli uses): it backs large buffers with transparent huge pages, which
/// makes the report's big, short-lived join tables cheap to fault in (`benches/scale.rs`: a month
/// took 0.80 s with the system allocator and 0.54 s with mimalloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its C enum value; the Rust binding names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc 3 keeps freed memory for a second before it returns it to the system. The report frees
/// its large join and aggregate tables while it runs, and a second later the year's peak has
/// passed: return memory after 10 ms (mimalloc 2's default), unless `MIMALLOC_PURGE_DELAY` says
/// otherwise. Measured on the year (`benches/scale.rs`): peak 1.29 GB with the default, 0.97 GB.
pub fn tune() {
    // SAFETY: called first thing in `main`, before any other thread exists (mimalloc's option
    // setters are not thread safe); the option index and value are valid.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10) }
}
