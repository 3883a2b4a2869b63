//! Book 2 ch.6 「ゲート付きRNN」 and 7.1 「言語モデルを使った文章生成」: the sequel's trained
//! LSTM language model (`ch06/Rnnlm.pkl`) evaluated as its `ch06/eval.py` does — the test
//! perplexity on `ptb.test.txt` (the book's NumPy code prints the same, to 1e-3: a CI test
//! runs both) — then text sampled from it after "you", as its `ch07/generate_text.py` does
//! (`N`, `<unk>` and `$` skipped; seeded). `--quick` evaluates the first 3,500 test words.
//!
//! `cargo run --release --example rnnlm`

mod common;

use std::time::Instant;

use clap::Parser;
use common::Common;
use rand::SeedableRng;
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit, RNNLM_PARAMS, load_param_list};
use zero_nn::text::lm::{Rnnlm, eval_perplexity, generate};

/// Evaluates the book's trained Rnnlm and generates text with it.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The word the text starts from.
    #[arg(long, default_value = "you")]
    start: String,
    /// Words to generate, the start word included (the book's 100).
    #[arg(long, default_value_t = 100)]
    length: usize,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> std::process::ExitCode {
    common::main("rnnlm", || {
        let args = Args::parse();
        let opts = FetchOptions::from_env()?;
        let params = load_param_list(&RNNLM_PARAMS, &opts)?;
        let model = Rnnlm::<f32>::from_book_params(&params, &RNNLM_PARAMS.label())?;
        let train = Ptb::load(PtbSplit::Train, &opts)?;
        let test = Ptb::load(PtbSplit::Test, &opts)?;
        let words = args.common.pick(test.corpus.len(), 3_500);
        let started = Instant::now();
        let ppl = eval_perplexity(&model, &test.corpus[..words], 10, 35);
        println!(
            "the book's Rnnlm.pkl on {words} words of ptb.test.txt ({:.1} s):",
            started.elapsed().as_secs_f64()
        );
        println!("test perplexity:  {ppl}");

        let vocabulary = &train.vocabulary;
        let start = vocabulary
            .id(&args.start)
            .ok_or_else(|| format!("{:?} is not in PTB's vocabulary", args.start))?;
        let skip: Vec<usize> = ["N", "<unk>", "$"]
            .iter()
            .filter_map(|w| vocabulary.id(w))
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
        let ids = generate(&model, start, &skip, args.length, &mut rng);
        let text: Vec<&str> = ids
            .iter()
            .map(|&i| vocabulary.word(i).unwrap_or("?"))
            .collect();
        println!("\ngenerated from {:?} (seed {}):", args.start, args.seed);
        println!("{}", text.join(" ").replace(" <eos>", ".\n"));
        Ok(())
    })
}
