//! W9 and W10, the sequel's word-vector workloads on the Penn Treebank (read through
//! `NN_DATA_MIRROR` or the download cache, as everywhere): W9 one epoch of CBOW with negative
//! sampling at the book's settings (window 5, hidden 100, batch 100, 5 negatives, Adam 0.001),
//! W10 the count-based pipeline of its `ch02/count_method_big.py` (co-occurrence with window 2,
//! PPMI, a randomized SVD of 100 components with 5 power iterations).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit};
use zero_nn::optim::{Adam, Optimizer};
use zero_nn::text::sparse::{co_matrix_sparse, ppmi_sparse};
use zero_nn::text::svd::{RandomizedSvd, SparseOperator, randomized_svd};
use zero_nn::text::word2vec::{Cbow, contexts_target};

use super::{median_time, report};

/// One CBOW epoch over `corpus`; the mean loss.
fn cbow_epoch(corpus: &[usize], vocabulary: usize) -> f64 {
    let (window, hidden, batch) = (5, 100, 100);
    let (contexts, targets) = contexts_target(corpus, window);
    let cbow = Cbow::<f32>::new(vocabulary, hidden, window, corpus, 5, 0);
    let mut adam = Adam::new(cbow.parameters(), 0.001);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.shuffle(&mut rng);
    let c = 2 * window;
    let steps = targets.len() / batch;
    let (mut t, mut ctx) = (Vec::with_capacity(batch), Vec::with_capacity(batch * c));
    let mut sum = 0.0;
    for rows in order.chunks_exact(batch).take(steps) {
        t.clear();
        ctx.clear();
        for &i in rows {
            t.push(targets[i]);
            ctx.extend_from_slice(&contexts[i * c..(i + 1) * c]);
        }
        adam.zero_grad();
        let loss = cbow.loss(&ctx, &t, &mut rng);
        sum += f64::from(loss.item());
        loss.backward().expect("a fresh graph");
        adam.step();
    }
    sum / steps as f64
}

/// Co-occurrence, PPMI and the randomized SVD; the largest singular value.
fn count_pipeline(corpus: &[usize], vocabulary: usize) -> f64 {
    let m = ppmi_sparse(&co_matrix_sparse(corpus, vocabulary, 2));
    let svd = randomized_svd(&SparseOperator::new(m), 100, RandomizedSvd::default());
    svd.s[0]
}

pub(crate) fn word_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    if !wanted("W9") && !wanted("W10") {
        return;
    }
    let ptb = FetchOptions::from_env()
        .map_err(|e| e.to_string())
        .and_then(|opts| Ptb::load(PtbSplit::Train, &opts).map_err(|e| e.to_string()));
    let ptb = match ptb {
        Ok(ptb) => ptb,
        Err(e) => {
            eprintln!("compare: W9 and W10 skipped, PTB is not at hand: {e}");
            return;
        }
    };
    let (corpus, v) = (&ptb.corpus, ptb.vocabulary.len());
    let examples = corpus.len() - 10;
    // rayon's pool for the sparse products and the parallel loops of nn-core.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let (w9, w10) = (wanted("W9"), wanted("W10"));
    pool.install(|| {
        if w9 {
            let w9 = median_time(runs, || {
                std::hint::black_box(cbow_epoch(corpus, v));
            });
            report("zero-nn", threads, "W9", w9, examples as f64, "examples/s");
        }
        if w10 {
            let w10 = median_time(runs, || {
                std::hint::black_box(count_pipeline(corpus, v));
            });
            report("zero-nn", threads, "W10", w10, 1.0, "pipelines/s");
        }
    });
}
