//! Mini-batches (book 1 ch.4.2.3 「ミニバッチ学習」): each epoch visits every example once, in an
//! order reshuffled from a seed, in batches of a fixed size.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Splits `0..n` into mini-batches of indices, epoch after epoch.
///
/// ```
/// use nn_data::Batches;
/// let mut batches = Batches::new(10, 4, Some(0), false);
/// let sizes: Vec<usize> = batches.epoch().map(|b| b.len()).collect();
/// assert_eq!(sizes, vec![4, 4, 2]); // the last partial batch is kept
/// ```
#[derive(Debug, Clone)]
pub struct Batches {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    rng: Option<StdRng>,
}

impl Batches {
    /// `n` examples in batches of `batch_size`; shuffled each epoch when `shuffle_seed` is
    /// given (the same seed gives the same orders); `drop_last` drops a final partial batch.
    ///
    /// # Panics
    /// If `batch_size` is 0.
    pub fn new(n: usize, batch_size: usize, shuffle_seed: Option<u64>, drop_last: bool) -> Self {
        assert!(
            batch_size > 0,
            "Batches::new: batch_size must be at least 1"
        );
        Batches {
            order: (0..n).collect(),
            batch_size,
            drop_last,
            rng: shuffle_seed.map(StdRng::seed_from_u64),
        }
    }

    /// The number of batches in each epoch.
    pub fn per_epoch(&self) -> usize {
        if self.drop_last {
            self.order.len() / self.batch_size
        } else {
            self.order.len().div_ceil(self.batch_size)
        }
    }

    /// Starts an epoch (reshuffling if seeded) and yields its batches of indices.
    pub fn epoch(&mut self) -> impl Iterator<Item = &[usize]> {
        if let Some(rng) = self.rng.as_mut() {
            self.order.shuffle(rng);
        }
        let size = self.batch_size;
        let drop_last = self.drop_last;
        self.order
            .chunks(size)
            .filter(move |c| !drop_last || c.len() == size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_once_per_epoch() {
        let mut b = Batches::new(103, 10, Some(7), false);
        assert_eq!(b.per_epoch(), 11);
        for _ in 0..3 {
            let mut seen: Vec<usize> = b.epoch().flatten().copied().collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..103).collect::<Vec<_>>());
        }
    }

    #[test]
    fn drop_last_drops_the_partial_batch() {
        let mut b = Batches::new(103, 10, None, true);
        assert_eq!(b.per_epoch(), 10);
        let batches: Vec<Vec<usize>> = b.epoch().map(<[usize]>::to_vec).collect();
        assert_eq!(batches.len(), 10);
        assert!(batches.iter().all(|c| c.len() == 10));
        assert_eq!(batches[0], (0..10).collect::<Vec<_>>()); // unshuffled without a seed
    }

    #[test]
    fn shuffling_is_seeded_and_changes_each_epoch() {
        let order = |seed| {
            let mut b = Batches::new(50, 50, Some(seed), false);
            let first: Vec<usize> = b.epoch().flatten().copied().collect();
            let second: Vec<usize> = b.epoch().flatten().copied().collect();
            (first, second)
        };
        let (a1, a2) = order(1);
        assert_eq!(order(1), (a1.clone(), a2.clone()));
        assert_ne!(a1, a2);
        assert_ne!(order(2).0, a1);
    }
}
