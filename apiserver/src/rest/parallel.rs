//! Spreading the per-object work of large lists over the machine's cores:
//! decoding and printing 10k objects is most of a list's latency, and one
//! request would otherwise use one core while the others idle.

/// Below this many items the work stays on the calling thread.
pub const PARALLEL_MIN: usize = 1024;

/// `items.iter().map(f)`, on scoped threads for large inputs; order kept.
/// A panic in `f` resumes on the caller, as if `f` had run there.
pub fn map<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_MIN || threads < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_small_and_large() {
        for n in [3, super::PARALLEL_MIN * 3 + 7] {
            let input: Vec<usize> = (0..n).collect();
            let out = super::map(&input, |i| i * 2);
            assert_eq!(out, input.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }
}
