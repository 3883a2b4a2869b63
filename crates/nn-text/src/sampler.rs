//! Negative sampling's word sampler (the sequel's ch.4.2.6 「Negative Samplingのサンプリング手法」,
//! its `UnigramSampler`): words drawn with probability proportional to their count raised to a
//! power (the book's 0.75, which lifts rare words a little), without replacement within a row,
//! and never the row's own target.

use rand::Rng;

/// Draws negative examples for a batch of targets.
///
/// ```
/// use nn_text::UnigramSampler;
/// use rand::SeedableRng;
/// let corpus = [0, 1, 2, 3, 4, 1, 5, 6];
/// let sampler = UnigramSampler::new(&corpus, 0.75, 2);
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let negatives = sampler.negatives(&[1, 5, 2], &mut rng);
/// assert_eq!(negatives.len(), 3 * 2);
/// assert!(negatives[0..2].iter().all(|&w| w != 1));
/// ```
#[derive(Debug, Clone)]
pub struct UnigramSampler {
    /// Cumulative probabilities, the last 1.
    cumulative: Vec<f64>,
    probabilities: Vec<f64>,
    sample_size: usize,
}

impl UnigramSampler {
    /// A sampler over the words of `corpus` (ids `0..=max`), each with probability proportional
    /// to `count^power`, drawing `sample_size` words per target.
    ///
    /// # Panics
    /// If fewer than `sample_size` words other than a target have a non-zero probability (a
    /// programmer error: they cannot be drawn without replacement).
    pub fn new(corpus: &[usize], power: f64, sample_size: usize) -> Self {
        let size = corpus.iter().max().map_or(0, |&m| m + 1);
        let mut counts = vec![0.0f64; size];
        for &w in corpus {
            counts[w] += 1.0;
        }
        let weights: Vec<f64> = counts
            .iter()
            .map(|&c| if c > 0.0 { c.powf(power) } else { 0.0 })
            .collect();
        let total: f64 = weights.iter().sum();
        let probabilities: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let words = counts.iter().filter(|&&c| c > 0.0).count();
        assert!(
            words > sample_size,
            "UnigramSampler: {words} words cannot give {sample_size} negatives besides the target"
        );
        let mut sum = 0.0;
        let mut cumulative: Vec<f64> = probabilities
            .iter()
            .map(|p| {
                sum += p;
                sum
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        UnigramSampler {
            cumulative,
            probabilities,
            sample_size,
        }
    }

    /// Each word's probability of being drawn first (before the target is set aside).
    pub fn probabilities(&self) -> &[f64] {
        &self.probabilities
    }

    /// Words drawn per target.
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }

    /// `sample_size` words for each target, row by row (`targets.len() × sample_size`): in a
    /// row no word twice and never the target, each next word drawn in proportion to the
    /// probabilities of the words still allowed — as NumPy's `choice(replace=False, p=p)` with
    /// the target's probability set to 0.
    pub fn negatives<R: Rng + ?Sized>(&self, targets: &[usize], rng: &mut R) -> Vec<usize> {
        let mut out = Vec::with_capacity(targets.len() * self.sample_size);
        for &target in targets {
            let row = out.len();
            while out.len() < row + self.sample_size {
                // Drawing from all words and refusing the excluded ones draws from the rest in
                // proportion to their probabilities.
                let u: f64 = rng.random();
                let w = self.cumulative.partition_point(|&c| c <= u);
                let w = w.min(self.cumulative.len() - 1);
                if w != target && self.probabilities[w] > 0.0 && !out[row..].contains(&w) {
                    out.push(w);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn probabilities_follow_counts_to_the_power() {
        // Counts 8, 1, 1: weights 8^0.75 = 4.757, 1, 1.
        let s = UnigramSampler::new(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 2], 0.75, 1);
        let w = 8f64.powf(0.75);
        let want = [w / (w + 2.0), 1.0 / (w + 2.0), 1.0 / (w + 2.0)];
        for (p, q) in s.probabilities().iter().zip(want) {
            assert!((p - q).abs() < 1e-15);
        }
    }

    #[test]
    fn rows_hold_distinct_words_never_the_target_in_the_right_proportions() {
        let corpus: Vec<usize> = (0..6)
            .flat_map(|w| std::iter::repeat_n(w, 1 + w * w))
            .collect();
        let s = UnigramSampler::new(&corpus, 0.75, 2);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let targets: Vec<usize> = (0..60_000).map(|i| i % 6).collect();
        let drawn = s.negatives(&targets, &mut rng);
        let mut first = [[0usize; 6]; 6];
        for (row, &t) in drawn.chunks_exact(2).zip(&targets) {
            assert!(
                row[0] != row[1] && row[0] != t && row[1] != t,
                "{row:?} for {t}"
            );
            first[t][row[0]] += 1;
        }
        // The first draw of a row is p with the target's share removed.
        let p = s.probabilities();
        for (t, counts) in first.iter().enumerate() {
            let n: usize = counts.iter().sum();
            for (w, &c) in counts.iter().enumerate() {
                let want = if w == t { 0.0 } else { p[w] / (1.0 - p[t]) };
                let got = c as f64 / n as f64;
                // 10,000 draws a target: a binomial's standard deviation is at most 0.005.
                assert!(
                    (got - want).abs() < 0.02,
                    "target {t}, word {w}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "cannot give 3 negatives")]
    fn too_few_words_for_the_sample_size_is_refused() {
        let _ = UnigramSampler::new(&[0, 1, 2], 0.75, 3);
    }
}
