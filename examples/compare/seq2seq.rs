//! W13 and W14, the sequel's attention workloads on `date.txt` (read through `NN_DATA_MIRROR` or
//! the download cache): W13 an epoch of its AttentionSeq2seq (wordvec 16, hidden 256, questions
//! reversed, batch 128, Adam 0.001, gradients clipped at 5; `ch08/train.py`), its first
//! `W13_BATCHES` batches (default 60) timed and scaled to the epoch's 351 as for the other
//! implementations; W14 its trained `AttentionSeq2seq.pkl` answering the 5,000 test questions
//! one at a time (the book's `eval_seq2seq` loop).

use ndarray::s;
use zero_nn::data::FetchOptions;
use zero_nn::data::numpy::RandomState;
use zero_nn::data::sequence::{ATTENTION_SEQ2SEQ_PARAMS, CharSequences, DATE};
use zero_nn::data::text::load_param_list;
use zero_nn::optim::Adam;
use zero_nn::text::seq2seq::{Seq2seq, Seq2seqKind, exact_match, train_epoch};

use super::{median_time, report};

pub(crate) fn seq2seq_workloads(runs: usize, threads: usize, wanted: &dyn Fn(&str) -> bool) {
    let (w13, w14) = (wanted("W13"), wanted("W14"));
    if !w13 && !w14 {
        return;
    }
    let data = FetchOptions::from_env()
        .map_err(|e| e.to_string())
        .and_then(|opts| {
            let data = CharSequences::load(&DATE, &opts).map_err(|e| e.to_string())?;
            Ok((opts, data))
        });
    let (opts, data) = match data {
        Ok(d) => d,
        Err(e) => {
            eprintln!("compare: W13 and W14 skipped, date.txt is not at hand: {e}");
            return;
        }
    };
    let x_train = data.x_train.slice(s![.., ..;-1]).to_owned();
    let x_test = data.x_test.slice(s![.., ..;-1]).to_owned();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        if w13 {
            let per_epoch = x_train.nrows() / 128;
            let batches = std::env::var("W13_BATCHES")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(60usize)
                .min(per_epoch);
            let rows = batches * 128;
            let (x, t) = (
                x_train.slice(s![..rows, ..]).to_owned(),
                data.t_train.slice(s![..rows, ..]).to_owned(),
            );
            let v = data.vocabulary.len();
            let (sec, ts) = median_time(runs, || {
                let model = Seq2seq::<f32>::new(Seq2seqKind::Attention, v, 16, 256, 0);
                let mut adam = Adam::new(model.parameters(), 0.001);
                let mut shuffle = RandomState::new(0);
                let loss = train_epoch(&model, &mut adam, (&x, &t), 128, Some(5.0), &mut shuffle);
                std::hint::black_box(loss.expect("finite"));
            });
            let scale = per_epoch as f64 / batches as f64;
            let runs: Vec<String> = ts.iter().map(|t| format!("{}", t * scale)).collect();
            println!(
                "{{\"impl\": \"zero-nn\", \"threads\": {threads}, \"workload\": \"W13\", \"median_s\": {}, \"runs_s\": [{}], \"rate\": {}, \"unit\": \"questions/s\", \"note\": \"the first {batches} of {per_epoch} batches timed, scaled to the epoch\"}}",
                sec * scale,
                runs.join(", "),
                (per_epoch * 128) as f64 / (sec * scale)
            );
        }
        if w14 {
            let model = load_param_list(&ATTENTION_SEQ2SEQ_PARAMS, &opts)
                .map_err(|e| e.to_string())
                .and_then(|p| {
                    Seq2seq::<f32>::from_book_params(
                        Seq2seqKind::Attention,
                        &p,
                        "AttentionSeq2seq.pkl",
                    )
                    .map_err(|e| e.to_string())
                });
            match model {
                Ok(model) => {
                    let w14 = median_time(runs, || {
                        let r = exact_match(&model, &x_test, &data.t_test, 1);
                        std::hint::black_box(r.right);
                    });
                    report(
                        "zero-nn",
                        threads,
                        "W14",
                        w14,
                        x_test.nrows() as f64,
                        "questions/s",
                    );
                }
                Err(e) => {
                    eprintln!("compare: W14 skipped, AttentionSeq2seq.pkl is not at hand: {e}")
                }
            }
        }
    });
}
