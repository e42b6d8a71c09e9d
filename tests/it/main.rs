//! The integration tests: one binary (one link on 2 cores), one module per area. The modules that
//! run the built `agent-refusal` binary need the `cli` feature; the rest test the library alone.

// Fixtures hold small ids, counts and times: casts between integer types cannot wrap or
// truncate them, and Excel's numbers are floats holding exact integers. Test functions read top
// to bottom as the scenario they check.
#![allow(
    clippy::float_cmp,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod common;
#[cfg(feature = "cli")]
mod docs;
mod export;
#[cfg(feature = "cli")]
mod faults;
mod fuzz;
mod plan;
mod property;
mod read;
#[cfg(feature = "cli")]
mod repl;
#[cfg(feature = "cli")]
mod server;
mod slt;
