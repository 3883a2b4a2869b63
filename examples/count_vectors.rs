//! Book 2 ch.2 「自然言語と単語の分散表現」: word vectors from counts. First the book's small
//! corpus, "You say goodbye and I say hello." — its co-occurrence matrix, cos(you, i), PPMI and
//! the SVD that puts each word on a plane (the book's figure 2-11) — then the Penn Treebank as
//! its `ch02/count_method_big.py` does it (window 2, PPMI, a randomized SVD of 100 components)
//! and the words nearest to you / year / car / toyota, with the time and memory each step took.
//! The PTB matrices are kept sparse: the whole run takes about a second, so `--quick` changes
//! nothing.
//!
//! `cargo run --release --example count_vectors` → `figures/count_vectors/words.svg`

mod common;

use std::time::Instant;

use clap::Parser;
use common::{Common, colour, padded_range, write_svg};
use plotters::prelude::*;
use zero_nn::data::FetchOptions;
use zero_nn::data::text::{Ptb, PtbSplit};
use zero_nn::text::count::{co_matrix, cos_similarity_counts, ppmi, preprocess};
use zero_nn::text::sparse::{co_matrix_sparse, ppmi_sparse};
use zero_nn::text::svd::{RandomizedSvd, SparseOperator, randomized_svd, truncated_svd};
use zero_nn::text::{Precision, most_similar};

/// The small corpus by hand, then count-based vectors for PTB.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Seed of the randomized SVD's random block.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `values` as NumPy prints an array with `precision=3`.
fn numpy3(values: impl IntoIterator<Item = f64>) -> String {
    let parts: Vec<String> = values.into_iter().map(|v| format!("{v:.3}")).collect();
    format!("[{}]", parts.join(" "))
}

/// The process's peak resident memory so far, from Linux's `/proc/self/status`.
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> std::process::ExitCode {
    common::main("count_vectors", || {
        let args = Args::parse();
        let out = args.common.out_dir("count_vectors")?;

        let text = "You say goodbye and I say hello.";
        println!("The book's small corpus: {text}");
        let (corpus, vocabulary) = preprocess(text);
        let c = co_matrix(&corpus, vocabulary.len(), 1);
        let row = |w: &str| -> Vec<u32> {
            let id = vocabulary.id(w).expect("a word of the text");
            c.row(id).to_vec()
        };
        println!("co-occurrence of you: {:?}", row("you"));
        println!(
            "cos(you, i) = {}",
            cos_similarity_counts(&row("you"), &row("i"))
        );
        let m = ppmi(&c);
        println!(
            "PPMI of you:  {}",
            numpy3(m.row(0).iter().map(|&v| f64::from(v)))
        );
        let svd = truncated_svd(m.view(), vocabulary.len());
        println!(
            "SVD of you:   {}",
            numpy3(svd.u.row(0).iter().map(|&v| f64::from(v)))
        );
        println!("singular values: {}", numpy3(svd.s.iter().copied()));
        let path = out.join("words.svg");
        // Words at the same point share a label ("goodbye" and "i" have the same neighbours).
        let mut points: Vec<(String, f64, f64)> = Vec::new();
        for (i, w) in vocabulary.words().iter().enumerate() {
            let (x, y) = (f64::from(svd.u[[i, 0]]), f64::from(svd.u[[i, 1]]));
            match points
                .iter_mut()
                .find(|p| (p.1 - x).abs() < 1e-6 && (p.2 - y).abs() < 1e-6)
            {
                Some(p) => p.0 = format!("{}, {w}", p.0),
                None => points.push((w.clone(), x, y)),
            }
        }
        write_svg(&path, (520, 440), |area| {
            let mut chart = ChartBuilder::on(&area)
                .caption(
                    "The small corpus' words on the first two singular vectors",
                    ("sans-serif", 15),
                )
                .margin(15)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(
                    padded_range(points.iter().map(|p| p.1).chain([-0.1, 0.8])),
                    padded_range(points.iter().map(|p| p.2).chain([-0.1, 0.8])),
                )?;
            chart
                .configure_mesh()
                .x_desc("U[:, 0]")
                .y_desc("U[:, 1]")
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(points.iter().enumerate().map(|(i, (word, x, y))| {
                    // A label goes below its point when an earlier point is close by.
                    let crowded = points[..i]
                        .iter()
                        .any(|p| (p.1 - x).abs() < 0.06 && (p.2 - y).abs() < 0.06);
                    let dy = if crowded { 6 } else { -16 };
                    EmptyElement::at((*x, *y))
                        + Circle::new((0, 0), 5, colour(0).mix(0.5).filled())
                        + Text::new(word.clone(), (7, dy), ("sans-serif", 15))
                }))
                .map_err(|e| e.to_string())?;
            Ok(())
        })?;

        let opts = FetchOptions::from_env()?;
        let ptb = Ptb::load(PtbSplit::Train, &opts)?;
        let corpus = &ptb.corpus;
        let words = corpus.len();
        let (window, dims) = (2, 100);
        let v = ptb.vocabulary.len();
        println!("\nPTB: {words} words, a vocabulary of {v}, window {window}, {dims} dimensions");
        let started = Instant::now();
        let counts = co_matrix_sparse(corpus, v, window);
        println!(
            "co-occurrence: {} word pairs of {} ({:.2}%), {:.2} s",
            counts.nnz(),
            v * v,
            100.0 * counts.nnz() as f64 / (v * v) as f64,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let m = ppmi_sparse(&counts);
        drop(counts);
        println!(
            "PPMI: {} positive entries, {:.1} MB stored (dense float32: {:.0} MB), {:.2} s",
            m.nnz(),
            m.heap_bytes() as f64 / 1e6,
            (v * v * 4) as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let svd_opts = RandomizedSvd {
            seed: args.seed,
            ..RandomizedSvd::default()
        };
        let svd = randomized_svd(&SparseOperator::new(m), dims, svd_opts);
        println!(
            "randomized SVD ({} power iterations, {} extra directions): {:.2} s; \
             largest singular values {}",
            svd_opts.iterations,
            svd_opts.oversamples,
            started.elapsed().as_secs_f64(),
            numpy3(svd.s.iter().take(5).copied())
        );
        if let Some(mb) = peak_memory_mb() {
            println!("peak memory of this process: {mb:.0} MB");
        }
        for q in ["you", "year", "car", "toyota"] {
            println!("\n[query] {q}");
            match most_similar(q, &ptb.vocabulary, svd.u.view(), 5, Precision::F32) {
                Some(top) => top
                    .iter()
                    .for_each(|(word, score)| println!(" {word}: {score:.4}")),
                None => println!(" (not in the vocabulary)"),
            }
        }
        Ok(())
    })
}
