//! W11 and W12, the sequel's language-model workloads on the Penn Treebank (read through
//! `NN_DATA_MIRROR` or the download cache, as everywhere): W11 an epoch of its Rnnlm (Embedding
//! 100 → LSTM 100 → Affine 10,000) with the settings of `ch06/train_rnnlm.py` (batch 20, time 35,
//! SGD lr 20, clip 0.25), its first `W11_WINDOWS` windows (default 200) timed and scaled to the
//! epoch's 1,327 as for the other implementations; W12 the test perplexity of its trained
//! `Rnnlm.pkl` (`ch06/eval.py`).

use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit, RNNLM_PARAMS, load_param_list};
use zero_nn::optim::Sgd;
use zero_nn::text::lm::{Rnnlm, eval_perplexity};
use zero_nn::text::tbptt::{Batches, train_windows};

use super::{median_time, report};

fn line(
    threads: usize,
    workload: &str,
    (s, runs): (f64, Vec<f64>),
    work: f64,
    unit: &str,
    note: &str,
) {
    let runs: Vec<String> = runs.iter().map(|t| format!("{t}")).collect();
    println!(
        "{{\"impl\": \"zero-nn\", \"threads\": {threads}, \"workload\": \"{workload}\", \"median_s\": {s}, \"runs_s\": [{}], \"rate\": {}, \"unit\": \"{unit}\", \"note\": \"{note}\"}}",
        runs.join(", "),
        work / s
    );
}

pub(crate) fn rnn_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    if !wanted("W11") && !wanted("W12") {
        return;
    }
    let data = FetchOptions::from_env()
        .map_err(|e| e.to_string())
        .and_then(|opts| {
            let train = Ptb::load(PtbSplit::Train, &opts).map_err(|e| e.to_string())?;
            let test = Ptb::load(PtbSplit::Test, &opts).map_err(|e| e.to_string())?;
            Ok((opts, train, test))
        });
    let (opts, train, test) = match data {
        Ok(d) => d,
        Err(e) => {
            eprintln!("compare: W11 and W12 skipped, PTB is not at hand: {e}");
            return;
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let (w11, w12) = (wanted("W11"), wanted("W12"));
    pool.install(|| {
        if w11 {
            let v = train.vocabulary.len();
            let per_epoch = (train.corpus.len() - 1) / 700;
            let windows = std::env::var("W11_WINDOWS")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(200usize)
                .min(per_epoch);
            let (s, ts) = median_time(runs, || {
                let model = Rnnlm::<f32>::new(v, 100, 100, 0);
                let mut sgd = Sgd::new(model.parameters(), 20.0);
                let mut batches = Batches::new(&train.corpus, 20, 35);
                let loss = train_windows(
                    &model,
                    &mut sgd,
                    &mut batches,
                    windows,
                    Some(0.25),
                    0,
                    |_| {},
                );
                std::hint::black_box(loss.expect("finite"));
            });
            let scale = per_epoch as f64 / windows as f64;
            line(
                threads,
                "W11",
                (s * scale, ts.iter().map(|t| t * scale).collect()),
                (per_epoch * 700) as f64,
                "words/s",
                &format!("the first {windows} of {per_epoch} windows timed, scaled to the epoch"),
            );
        }
        if w12 {
            let model = load_param_list(&RNNLM_PARAMS, &opts)
                .map_err(|e| e.to_string())
                .and_then(|p| {
                    Rnnlm::<f32>::from_book_params(&p, "Rnnlm.pkl").map_err(|e| e.to_string())
                });
            match model {
                Ok(model) => {
                    let w12 = median_time(runs, || {
                        std::hint::black_box(eval_perplexity(&model, &test.corpus, 10, 35));
                    });
                    report(
                        "zero-nn",
                        threads,
                        "W12",
                        w12,
                        test.corpus.len() as f64,
                        "words/s",
                    );
                }
                Err(e) => eprintln!("compare: W12 skipped, Rnnlm.pkl is not at hand: {e}"),
            }
        }
    });
}
