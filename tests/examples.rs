//! Every example of `examples/` in its quick mode (three also in full): it succeeds, prints its
//! figures, and writes non-empty SVG files. `cargo test` builds the examples before it runs the
//! tests; these find them beside the test binary (`target/<profile>/examples/`).
//!
//! The examples that need MNIST or Fashion-MNIST run in CI (`CI=true`, with `NN_DATA_MIRROR`
//! set by `.ci/run`); elsewhere they say they were skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "{test}: SKIPPED — {why}");
}

/// The example's binary, if `cargo test` (or `cargo build --examples`) built it.
fn binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// Runs `name` with `args` and `--out` in a fresh folder; returns its stdout and the folder.
fn run(name: &str, args: &[&str], needs_data: bool) -> Option<(String, tempfile::TempDir)> {
    if needs_data && std::env::var_os("NN_DATA_MIRROR").is_none() {
        assert!(!in_ci(), "{name}: CI=true but NN_DATA_MIRROR is not set");
        skip(
            name,
            "NN_DATA_MIRROR is not set (point it at ../shared/datasets,../shared,/usr/share/datasets)",
        );
        return None;
    }
    let Some(exe) = binary(name) else {
        let why = "its binary is not built: run `cargo test` without a target filter, or `cargo build --examples` first";
        assert!(!in_ci(), "{name}: {why}");
        skip(name, why);
        return None;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let cache = tempfile::tempdir().expect("tempdir");
    let o = Command::new(&exe)
        .args(args)
        .arg("--out")
        .arg(out.path())
        .env("NN_DATA_DIR", cache.path())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{name} {args:?} failed ({}):\n{stderr}\n{stdout}",
        o.status
    );
    Some((stdout, out))
}

fn assert_figures(dir: &Path, files: &[&str]) {
    for file in files {
        let path = dir.join(file);
        let meta = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
        assert!(meta.len() > 1000, "{} is nearly empty", path.display());
        let text = std::fs::read_to_string(&path).expect("read the SVG");
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    }
}

/// The number right after `label` on the first line that has it.
fn number_after(text: &str, label: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    let rest = &line[line.find(label).unwrap_or(0) + label.len()..];
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-' || *c == 'e')
        .collect();
    token
        .parse()
        .unwrap_or_else(|e| panic!("{label:?} then {token:?}: {e}"))
}

#[test]
fn activations_plots_the_functions_and_the_tapes_derivatives() {
    let Some((out, dir)) = run("activations", &["--quick"], false) else {
        return;
    };
    assert_figures(dir.path(), &["activations.svg", "derivatives.svg"]);
    // The book's sigmoid(np.array([-1.0, 1.0, 2.0])).
    assert!(out.contains("[0.26894, 0.73106, 0.88080]"), "{out}");
    // Every derivative agrees with central differences away from the kinks.
    for line in out.lines().skip(2).take(9) {
        let worst: f64 = line
            .split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no error column in {line:?}"));
        assert!(worst < 1e-8, "{line}");
    }
}

#[test]
fn sin_regression_quick_mode_draws_the_fits() {
    let Some((out, dir)) = run("sin_regression", &["--quick"], false) else {
        return;
    };
    assert_figures(dir.path(), &["fits.svg", "loss.svg"]);
    assert!(out.contains("200 epochs"), "{out}");
}

/// The bar for the full run: Adam's final loss at least 10× lower than GD's.
#[test]
fn sin_regression_full_run_adam_ends_ten_times_lower_than_gd() {
    let Some((out, _dir)) = run("sin_regression", &[], false) else {
        return;
    };
    // The second column of the table: the final loss.
    let final_loss = |label: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} row:\n{out}"));
        let cols: Vec<f64> = line[label.len()..]
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        assert_eq!(cols.len(), 4, "{line}");
        cols[1]
    };
    let gd = final_loss("sigmoid, N(0,1), GD lr 0.01");
    let adam = final_loss("sigmoid, N(0,1), Adam lr 0.05");
    assert!(gd > 0.0 && adam > 0.0, "{out}");
    // From the printed losses, not from the example's own summary line.
    let ratio = gd / adam;
    assert!(ratio >= 10.0, "Adam only {ratio}x lower than GD:\n{out}");
}

#[test]
fn layered_net_prints_the_worked_gradients_and_fits_the_plane() {
    let Some((out, dir)) = run("layered_net", &["--quick"], false) else {
        return;
    };
    assert_figures(dir.path(), &["loss.svg", "plane.svg"]);
    // Derived by hand in tests/worked_examples.rs.
    assert!(out.contains("L = ½Σ(y − t)² = 0.6280989774"), "{out}");
    assert!(
        out.contains("∂L/∂b2 = [1.0959059671, 0.2349214041]"),
        "{out}"
    );
    let first = number_after(&out, "epoch   0: train loss");
    let last = number_after(&out, "epoch  10: train loss");
    assert!(last < first / 10.0, "{out}");
}

#[test]
fn spiral_learns_the_three_arms() {
    let Some((out, dir)) = run("spiral", &["--quick"], false) else {
        return;
    };
    assert_figures(dir.path(), &["loss.svg", "boundary.svg"]);
    assert!(out.contains("| epoch 30 |  iter 10 / 10 | loss"), "{out}");
    assert!(number_after(&out, "training accuracy:") > 0.4, "{out}");
}

#[test]
fn weight_init_draws_the_histograms() {
    let Some((out, dir)) = run("weight_init", &["--quick", "--skip-mnist"], false) else {
        return;
    };
    assert_figures(dir.path(), &["sigmoid.svg", "relu.svg"]);
    assert_eq!(out.matches("layer 5:").count(), 6, "{out}");
}

#[test]
fn weight_init_compares_three_initialisations_on_a_network() {
    let Some((out, dir)) = run(
        "weight_init",
        &["--quick", "--dataset", "fashion-mnist"],
        true,
    ) else {
        return;
    };
    assert_figures(dir.path(), &["sigmoid.svg", "relu.svg", "mnist_loss.svg"]);
    // With std 0.01 the signal vanishes in five ReLU layers and nothing is learnt (6.2.4).
    assert!(out.contains("test accuracy after 100 iterations"), "{out}");
    let small = number_after(&out, "std=0.01 :");
    let he = number_after(&out, "He       :");
    assert!(small < 0.2 && he > small + 0.3, "{out}");
}

#[test]
fn optimizers_function_and_network() {
    let Some((out, dir)) = run(
        "optimizers",
        &["--quick", "--dataset", "fashion-mnist"],
        true,
    ) else {
        return;
    };
    assert_figures(dir.path(), &["trajectories.svg", "mnist_loss.svg"]);
    for name in ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"] {
        assert!(out.contains(&format!("{name}:")), "{name} missing:\n{out}");
        // Every optimizer ends nearer the minimum of x²/20 + y² than the start, f(-7, 2) = 6.45.
        let prefix = format!("{name:<9} lr");
        let line = out
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line:\n{out}"));
        assert!(number_after(line, "f = ") < 0.5, "{line}");
    }
    assert!(out.contains("test accuracy after 100 iterations"), "{out}");
}

#[test]
fn batch_norm_compares_with_and_without() {
    // The full run (16 scales, 20 epochs, ≈15 s): the quick one is too short to show the effect.
    let Some((out, dir)) = run("batch_norm", &["--dataset", "fashion-mnist"], true) else {
        return;
    };
    assert_figures(dir.path(), &["accuracy.svg"]);
    // The book's fig. 6-19: with BatchNorm the net learns faster at most weight scales.
    let rows: Vec<(f64, f64)> = out
        .lines()
        .filter(|l| l.starts_with("weight scale"))
        .map(|l| {
            let plain = if l.contains("diverged") {
                0.0
            } else {
                number_after(l, "normal")
            };
            (plain, number_after(l, "BatchNorm"))
        })
        .collect();
    assert_eq!(rows.len(), 16, "{out}");
    let better = rows.iter().filter(|(plain, bn)| bn > plain).count();
    assert!(
        better >= 12,
        "BatchNorm ahead at only {better} of 16 scales:\n{out}"
    );
}

#[test]
fn overfit_trains_three_networks_on_300_images() {
    // The full run (200 epochs, ≈30 s): overfitting needs the epochs.
    let Some((out, dir)) = run("overfit", &["--dataset", "fashion-mnist"], true) else {
        return;
    };
    assert_figures(dir.path(), &["accuracy.svg"]);
    let finals: Vec<(f64, f64)> = out
        .lines()
        .filter(|l| l.starts_with("final: train acc"))
        .map(|l| (number_after(l, "train acc"), number_after(l, "gap")))
        .collect();
    assert_eq!(finals.len(), 3, "{out}");
    let [(train, gap), (_, gap_decay), (_, gap_dropout)] = finals[..] else {
        unreachable!("three checked above")
    };
    // The plain net memorises the 300 images; weight decay and Dropout narrow the train–test gap
    // (the book's figs. 6-20, 6-21, 6-23).
    assert!(train > 0.95, "{out}");
    assert!(gap_decay < gap && gap_dropout < gap, "{out}");
}

#[test]
fn gradient_check_backprop_matches_numerical() {
    let Some((out, dir)) = run("gradient_check", &["--quick"], true) else {
        return;
    };
    assert_figures(dir.path(), &["differences.svg"]);
    // The second layer has no kink between it and the loss: the two methods agree closely.
    assert!(number_after(&out, "W2:") < 1e-9, "{out}");
    assert!(number_after(&out, "b2:") < 1e-9, "{out}");
}

#[test]
fn hyperparameters_random_search_ranks_the_trials() {
    let Some((out, dir)) = run(
        "hyperparameters",
        &["--quick", "--dataset", "fashion-mnist"],
        true,
    ) else {
        return;
    };
    assert_figures(dir.path(), &["best.svg"]);
    assert_eq!(
        out.matches("val acc:").count(),
        12,
        "6 trials, then 6 ranked:\n{out}"
    );
    // Ranked best first.
    let ranked: Vec<f64> = out
        .lines()
        .filter(|l| l.starts_with("Best-"))
        .map(|l| number_after(l, "val acc:"))
        .collect();
    assert_eq!(ranked.len(), 6, "every trial is ranked:\n{out}");
    assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{out}");
}

/// Random filters are noise; after training they are smooth (7.6.1), as the book's are.
#[test]
fn conv_filters_become_smooth_with_training() {
    let Some((out, dir)) = run(
        "conv_filters",
        &["--quick", "--dataset", "fashion-mnist"],
        true,
    ) else {
        return;
    };
    assert_figures(dir.path(), &["before.svg", "after.svg", "book.svg"]);
    let correlation = |prefix: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{out}"));
        number_after(line, "neighbour correlation")
    };
    let before = correlation("before training");
    let after = correlation("after 150 iterations");
    let book = correlation("the book's trained filters");
    assert!(before.abs() < 0.2, "random filters are not noise:\n{out}");
    assert!(
        after > 0.4 && book > 0.4,
        "trained filters are not smooth:\n{out}"
    );
    assert!(number_after(&out, "test accuracy") > 0.6, "{out}");
}

/// The maps are the first layer's convolution (checked against the definition by the example)
/// and the image excites most filters.
#[test]
fn feature_maps_of_the_books_first_conv_layer() {
    let Some((out, dir)) = run("feature_maps", &["--quick"], true) else {
        return;
    };
    assert_figures(dir.path(), &["maps.svg", "filters.svg"]);
    assert!(
        out.contains("test image 0 (label 7): 30 feature maps of 24×24"),
        "{out}"
    );
    assert!(
        number_after(&out, "largest |conv2d − direct sum| over all maps:") < 1e-12,
        "{out}"
    );
    let rows = out
        .lines()
        .skip_while(|l| !l.starts_with("filter  active"))
        .skip(1)
        .take_while(|l| l.contains('%'))
        .count();
    assert_eq!(rows, 30, "{out}");
    let silent: usize = out
        .lines()
        .find(|l| l.ends_with("maps are zero everywhere on this image"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count of silent maps:\n{out}"));
    assert!(silent < 10, "the 7 excites few filters:\n{out}");
}

/// Every listed mistake is one (label ≠ inference), and they add up with the correct ones.
#[test]
fn misclassified_lists_and_draws_the_deep_nets_mistakes() {
    let Some((out, dir)) = run("misclassified", &["--quick"], true) else {
        return;
    };
    assert_figures(dir.path(), &["misclassified.svg"]);
    let correct = number_after(&out, "s):") as usize;
    let wrong = number_after(&out, "correct,") as usize;
    assert_eq!(correct + wrong, 1000, "{out}");
    assert!(wrong > 0 && wrong < 100, "{out}");
    let listed: Vec<(usize, usize)> = out
        .lines()
        .filter_map(|l| {
            let (_, pair) = l.split_once(": ")?;
            let (t, p) = pair.split_once(" -> ")?;
            Some((t.trim().parse().ok()?, p.trim().parse().ok()?))
        })
        .collect();
    assert_eq!(listed.len(), wrong, "{out}");
    assert!(
        listed.iter().all(|(t, p)| t != p && *t < 10 && *p < 10),
        "{out}"
    );
}

/// The book's vectors give its eval.py's first answers (we 0.6103515625 for "you", woman
/// 5.16015625 for king:man = queen:?), and a quick CBOW epoch on PTB brings the loss below its
/// start (6 ln 2 for a target and five negatives) and draws the curve.
#[test]
fn word2vec_queries_the_books_vectors_and_trains_cbow() {
    let Some((out, dir)) = run("word2vec", &["--quick"], true) else {
        return;
    };
    assert_figures(dir.path(), &["loss.svg"]);
    // The vectors saved with their words, and read back.
    let saved = dir.path().join("word_vecs.safetensors");
    let tensors = zero_nn::layers::checkpoint::read_tensors::<f32>(&saved).expect("the vectors");
    assert_eq!(tensors[0].0, "weight");
    assert_eq!(tensors[0].1.shape(), &[10_000, 100]);
    let meta = zero_nn::layers::checkpoint::read_metadata(&saved).expect("metadata");
    let words = &meta
        .iter()
        .find(|(k, _)| k == "vocabulary")
        .expect("vocabulary")
        .1;
    assert_eq!(words.lines().count(), 10_000);
    assert_eq!(words.lines().next(), Some("aer"));
    assert!(out.contains("[query] you\n we: 0.6103515625\n"), "{out}");
    assert!(
        out.contains("[analogy] king:man = queen:?\n woman: 5.16015625\n"),
        "{out}"
    );
    let loss = number_after(&out, "epoch 1: mean loss");
    assert!(loss < 6.0 * 2f64.ln() && loss > 1.0, "{out}");
    assert_eq!(out.matches("[query] ").count(), 8, "{out}");
    // Skip-gram: ten context positions' losses summed, each starting at 6 ln 2.
    let Some((out, _dir)) = run("word2vec", &["--quick", "--model", "skip-gram"], true) else {
        return;
    };
    assert!(
        out.contains("skip-gram with negative sampling on PTB"),
        "{out}"
    );
    let loss = number_after(&out, "epoch 1: mean loss");
    assert!(loss < 60.0 * 2f64.ln() && loss > 10.0, "{out}");
}

/// The small corpus as the book prints it, its word plot, and PTB's count-based vectors: the
/// sparse PPMI matrix far below the dense one's 400 MB, and toyota's nearest words other makers.
#[test]
fn count_vectors_walks_the_small_corpus_and_decomposes_ptb() {
    let Some((out, dir)) = run("count_vectors", &["--quick"], true) else {
        return;
    };
    assert_figures(dir.path(), &["words.svg"]);
    assert!(out.contains("cos(you, i) = 0.7071067691154799\n"), "{out}");
    assert!(
        out.contains("PPMI of you:  [0.000 1.807 0.000 0.000 0.000 0.000 0.000]\n"),
        "{out}"
    );
    assert!(number_after(&out, "PPMI:") > 500_000.0, "{out}");
    assert!(number_after(&out, "entries,") < 50.0, "{out}");
    if out.contains("peak memory") {
        assert!(
            number_after(&out, "peak memory of this process:") < 1500.0,
            "{out}"
        );
    }
    let toyota = out
        .split("[query] toyota\n")
        .nth(1)
        .expect("toyota's query");
    let near: Vec<&str> = toyota.lines().take(5).map(|l| l.trim()).collect();
    assert!(
        near.iter()
            .filter(|l| l.starts_with("nissan:") || l.starts_with("honda:"))
            .count()
            == 2,
        "{out}"
    );
}

/// The book's ch.3 models on its small corpus: both losses fall from their start (ln 7 for
/// CBOW's one softmax, twice that for skip-gram's two) as in the book's figure, and CBOW's
/// vectors are printed for the seven words.
#[test]
fn simple_word2vec_trains_both_models() {
    let Some((out, dir)) = run("simple_word2vec", &["--quick"], false) else {
        return;
    };
    assert_figures(dir.path(), &["loss.svg"]);
    let cbow_first = number_after(&out, "SimpleCBOW: loss");
    let cbow_last = number_after(&out, "steps,");
    assert!(
        (cbow_first - 7f64.ln()).abs() < 0.05 && cbow_last < 0.5,
        "{out}"
    );
    let skip = out
        .lines()
        .find(|l| l.starts_with("SimpleSkipGram:"))
        .expect("skip-gram");
    let skip_first = number_after(skip, "loss");
    let skip_last = number_after(skip, "steps,");
    assert!((skip_first - 2.0 * 7f64.ln()).abs() < 0.1, "{out}");
    assert!(skip_last < 0.6 * skip_first, "{out}");
    let vectors = out.split("word vectors:\n").nth(1).expect("the vectors");
    assert_eq!(
        vectors
            .lines()
            .filter(|l| l.split_whitespace().count() == 6)
            .count(),
        7
    );
}

/// The book's trained Rnnlm on the first test words (the full perplexity, against the book's
/// NumPy code, is `crates/nn-text/tests/book_rnnlm.rs`), then 100 words generated after "you",
/// none of them a skipped word.
#[test]
fn rnnlm_evaluates_the_books_model_and_generates_text() {
    let Some((out, _dir)) = run("rnnlm", &["--quick"], true) else {
        return;
    };
    let ppl = number_after(&out, "test perplexity:");
    assert!(ppl > 50.0 && ppl < 400.0, "{out}");
    let text = out.split("(seed 0):\n").nth(1).expect("the generated text");
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words[0] == "you" && words.len() >= 90, "{out}");
    assert!(
        !words.iter().any(|w| ["N", "<unk>", "$"].contains(w)),
        "{out}"
    );
}

/// The book's ch.5 experiment in full (a second or two): SimpleRnnlm on the first 1,000 PTB
/// words reaches a single-digit perplexity in 100 epochs, as the book's figure shows.
#[test]
fn simple_rnnlm_reaches_single_digit_perplexity() {
    let Some((out, dir)) = run("simple_rnnlm", &[], true) else {
        return;
    };
    let first = number_after(&out, "| epoch 1 | perplexity");
    let last = number_after(&out, "| epoch 100 | perplexity");
    assert!(first > 200.0 && last < 10.0, "{out}");
    assert_figures(dir.path(), &["perplexity.svg"]);
}

/// One short epoch of the book's Rnnlm and of a small BetterRnnlm with GRUs: the perplexity
/// falls far below the vocabulary's 10,000, and the checkpoints load back with their shapes.
#[test]
fn train_rnnlm_trains_and_saves_loadable_checkpoints() {
    use zero_nn::text::lm::{CellKind, load};
    for (args, file, cell, layers) in [
        (&["--quick"][..], "rnnlm.safetensors", CellKind::Lstm, 1),
        (
            &[
                "--quick", "--model", "better", "--cell", "gru", "--hidden", "32", "--epochs", "2",
                "--lr", "2",
            ][..],
            "better_rnnlm.safetensors",
            CellKind::Gru,
            2,
        ),
    ] {
        let Some((out, dir)) = run("train_rnnlm", args, true) else {
            return;
        };
        let val = number_after(&out, "validation perplexity");
        let test = number_after(&out, "test perplexity:");
        assert!(val < 3000.0 && test < 3000.0, "{out}");
        let model = load::<f32>(&dir.path().join(file)).expect("the checkpoint loads");
        assert_eq!((model.config().cell, model.config().layers), (cell, layers));
        assert_figures(dir.path(), &["perplexity.svg"]);
    }
}

/// The book's trained attention model on the first 500 test dates (its answers, question by
/// question, against the book's NumPy code are `crates/nn-text/tests/book_seq2seq.rs`): the
/// same accuracy one at a time and in batches, a typed date converted, a bad one refused, and
/// the attention maps drawn.
#[test]
fn attention_dates_answers_and_draws_its_attention() {
    let Some((out, dir)) = run(
        "attention_dates",
        &["--quick", "--date", "Sunday, December 6, 1998"],
        true,
    ) else {
        return;
    };
    let accuracies: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("accuracy ").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(accuracies.len(), 2, "{out}");
    assert_eq!(accuracies[0], accuracies[1], "{out}");
    assert!(accuracies[0] > 0.99, "{out}");
    assert!(
        out.contains("\"Sunday, December 6, 1998\" → 1998-12-06"),
        "{out}"
    );
    assert_figures(dir.path(), &["attention_maps.svg"]);
    let exe = binary("attention_dates").expect("built");
    let cache = tempfile::tempdir().expect("tempdir");
    let bad = Command::new(exe)
        .args(["--quick", "--date", "6 déc 1998"])
        .env("NN_DATA_DIR", cache.path())
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("'é' is not one of the model's characters"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The book's four seq2seq runs, quick (2,000 questions, 2 epochs): each prints a loss and a
/// test accuracy per epoch, the loss falls, and both accuracy figures are drawn.
#[test]
fn seq2seq_trains_the_books_four_models() {
    let Some((out, dir)) = run("seq2seq", &["--quick"], true) else {
        return;
    };
    let losses: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("loss ").nth(1))
        .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(losses.len(), 8, "{out}");
    for pair in losses.chunks(2) {
        assert!(pair[1] < pair[0], "the loss did not fall: {out}");
    }
    assert_eq!(out.matches("test accuracy").count(), 8, "{out}");
    assert_figures(
        dir.path(),
        &["addition.svg", "dates.svg", "attention_maps.svg"],
    );
}
