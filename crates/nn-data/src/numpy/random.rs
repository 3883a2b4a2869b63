//! NumPy's legacy random generator (`numpy.random.seed` / `RandomState`: the Mersenne Twister
//! MT19937), as much of it as repeats the books' shuffles bit for bit — the sequel's
//! `dataset/sequence.py` seeds it with 1984 and shuffles the question order with it before
//! keeping the last tenth as test questions.

/// Words of MT19937's state.
const N: usize = 624;
const M: usize = 397;

/// NumPy's `RandomState` seeded with an integer: the same 32-bit words, bounded integers and
/// shuffles as NumPy's legacy functions (`numpy.random.seed(s)` then
/// `numpy.random.shuffle(a)` or `numpy.random.permutation(n)`).
///
/// ```
/// use nn_data::numpy::RandomState;
/// // MT19937's reference output for its default seed.
/// assert_eq!(RandomState::new(5489).next_u32(), 3_499_211_612);
/// // numpy.random.seed(1984); numpy.random.permutation(10)
/// assert_eq!(RandomState::new(1984).permutation(10), [9, 7, 4, 1, 5, 2, 0, 6, 8, 3]);
/// ```
#[derive(Clone)]
pub struct RandomState {
    state: [u32; N],
    index: usize,
}

impl std::fmt::Debug for RandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomState")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl RandomState {
    /// The generator after `numpy.random.seed(seed)` (MT19937's `init_genrand`; NumPy takes
    /// integer seeds from 0 to 2³² − 1).
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        RandomState { state, index: N }
    }

    /// The next 32-bit word (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Two words as one, the first in the high half (NumPy's `next_uint64` for MT19937).
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX: u32 = 0x9908_b0df;
        for i in 0..N {
            let y = (self.state[i] & UPPER) | (self.state[(i + 1) % N] & LOWER);
            let mag = if y & 1 == 0 { 0 } else { MATRIX };
            self.state[i] = self.state[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// A uniform integer in `0..=max` as NumPy's `random_interval` draws it: words masked to the
    /// smallest all-ones mask covering `max`, redrawn until one is not above it (32-bit words
    /// while `max` fits in 32 bits).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        loop {
            let value = if max <= u64::from(u32::MAX) {
                u64::from(self.next_u32()) & mask
            } else {
                self.next_u64() & mask
            };
            if value <= max {
                return value;
            }
        }
    }

    /// Shuffles `items` in place as `numpy.random.shuffle` does a 1-D array (Fisher–Yates from
    /// the last element down, swapping element `i` with `interval(i)`).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `numpy.random.permutation(n)`: `0..n` shuffled.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference outputs of MT19937's `mt19937ar.c` for `init_genrand(5489)`: the first
    /// words and the 10,000th (the C++ standard's check for `std::mt19937`).
    #[test]
    fn the_reference_words() {
        let mut r = RandomState::new(5489);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [3_499_211_612, 581_869_302, 3_890_346_734]
        );
        let mut r = RandomState::new(5489);
        let last = (0..10_000).map(|_| r.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    #[test]
    fn intervals_stay_in_range_and_cover_it() {
        let mut r = RandomState::new(1);
        let mut seen = [false; 6];
        for _ in 0..200 {
            let v = r.interval(5) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.interval(0), 0);
        assert!(r.interval(u64::MAX / 3) <= u64::MAX / 3);
    }

    #[test]
    fn shuffles_are_permutations() {
        let mut order = RandomState::new(7).permutation(1000);
        order.sort_unstable();
        assert!(order.iter().enumerate().all(|(i, &v)| i == v));
        let mut empty: [u8; 0] = [];
        RandomState::new(7).shuffle(&mut empty);
    }
}
