//! The determinism check with `may` running 2 worker threads (its own process: `may`'s worker
//! count is fixed by the first coroutine a process creates).

#[path = "common/sixteen.rs"]
mod sixteen;

#[test]
fn a_sixteen_rank_program_is_identical_with_two_may_workers() {
    // SAFETY: this test binary has this one test, which sets the variable before any thread of
    // its own or of `may` exists that could read the environment concurrently.
    unsafe { std::env::set_var("KB_MAY_WORKERS", "2") };
    sixteen::check_twenty_runs();
}
