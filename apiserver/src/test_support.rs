//! Helpers shared by the unit tests.

/// Polls `f` (bounded, about 5 s) until it holds: for state that follows a
/// storage watch, such as the allocation index or the namespace cache.
pub async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never saw {what}");
}
