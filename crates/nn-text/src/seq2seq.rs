//! Sequence to sequence (「ゼロから作るDeep Learning ❷」 ch.7 「RNNによる文章生成」 and ch.8
//! 「Attention」): an LSTM encoder reads the question, an LSTM decoder writes the answer one
//! character at a time, starting from the encoder's last hidden state (its memory cell zero).
//!
//! - [`Seq2seqKind::Plain`] — the book's `Seq2seq`: the decoder sees only its own input.
//! - [`Seq2seqKind::Peeky`] — `PeekySeq2seq`: the encoder's last state `h` is given again at
//!   every step, before the decoder LSTM's input and before its output layer (`[h, x]`,
//!   `[h, out]`).
//! - [`Seq2seqKind::Attention`] — `AttentionSeq2seq`: at every step the weights are a softmax
//!   of the dot products of the decoder's state with each encoder state, the context their
//!   weighted sum of encoder states, and the output Affine reads `[context, state]`.
//!
//! Training uses the tape as every other model here ([`Seq2seq::loss`], the book's teacher
//! forcing: the answer's characters but the last in, all but the first as targets); answers
//! are generated greedily ([`Seq2seq::generate`]).
//!
//! ```
//! use nn_text::seq2seq::{Seq2seq, Seq2seqKind};
//! let model = Seq2seq::<f32>::new(Seq2seqKind::Attention, 13, 16, 32, 0);
//! // Two questions of 7 characters, answers of 5 (the first given: the book's `_`).
//! let xs = [1usize; 14];
//! let ts = [2usize; 10];
//! assert!(model.loss(&xs, &ts, 2).item().is_finite());
//! let answers = model.generate(&xs, &[3, 3], 4);
//! assert_eq!((answers.ids.len(), answers.ids[0].len()), (2, 4));
//! ```

use ndarray::{ArcArray, Array2, ArrayD, IxDyn};
use nn_core::kernels::vecmat_add;
use nn_core::{Float, Tensor};
use nn_data::numpy::RandomState;
use nn_layers::rnn::{Lstm, LstmState, lstm_cell_row};
use nn_layers::{Embedding, Init};
use nn_optim::Optimizer;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::lm::ParamsError;
use crate::tbptt::Diverged;

/// Which of the book's three models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seq2seqKind {
    /// `Seq2seq` (ch.7.3).
    Plain,
    /// `PeekySeq2seq` (ch.7.5.2).
    Peeky,
    /// `AttentionSeq2seq` (ch.8.2).
    Attention,
}

impl Seq2seqKind {
    /// The widths of the decoder LSTM's input and of the output layer's input, for embeddings
    /// `d` and LSTMs `h` wide (`[h_enc, x]` and `[h_enc, out]` for the peeky model, `[context,
    /// out]` into the attention model's output layer).
    pub fn widths(self, d: usize, h: usize) -> (usize, usize) {
        match self {
            Seq2seqKind::Plain => (d, h),
            Seq2seqKind::Peeky => (h + d, 2 * h),
            Seq2seqKind::Attention => (d, 2 * h),
        }
    }

    /// The name the book gives the model (and its pickle: `AttentionSeq2seq.pkl`).
    pub fn book_name(self) -> &'static str {
        match self {
            Seq2seqKind::Plain => "Seq2seq",
            Seq2seqKind::Peeky => "PeekySeq2seq",
            Seq2seqKind::Attention => "AttentionSeq2seq",
        }
    }
}

/// An encoder–decoder of characters, one of the book's three ([`Seq2seqKind`]).
pub struct Seq2seq<T: Float = f32> {
    kind: Seq2seqKind,
    enc_embed: Embedding<T>,
    enc_lstm: Lstm<T>,
    dec_embed: Embedding<T>,
    dec_lstm: Lstm<T>,
    affine_w: Tensor<T>,
    affine_b: Tensor<T>,
}

/// Answers generated for a batch of questions.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    /// The answer's ids, one row per question.
    pub ids: Vec<Vec<usize>>,
    /// For the attention model, its weights over the question's characters at every step of
    /// every answer (`[question][step][question character]`); empty for the others.
    pub attention: Vec<Vec<Vec<f32>>>,
}

/// The first largest value's index (NumPy's `argmax`).
fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

impl<T: Float> Seq2seq<T> {
    /// A model of `vocabulary` characters, `wordvec`-wide embeddings and `hidden`-wide LSTMs,
    /// initialised as the book's: embeddings `N(0, 0.01²)`, LSTM weights `N(0, 1/fan_in)`,
    /// biases zero, the output Affine `N(0, 1/fan_in)`; seeded.
    pub fn new(
        kind: Seq2seqKind,
        vocabulary: usize,
        wordvec: usize,
        hidden: usize,
        seed: u64,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let (v, d, h) = (vocabulary, wordvec, hidden);
        let normal = |fan_in: usize| Init::Normal {
            std: 1.0 / (fan_in as f64).sqrt(),
        };
        let embed = |rng: &mut StdRng| Embedding::with_init(v, d, Init::Normal { std: 0.01 }, rng);
        let lstm = |input: usize, rng: &mut StdRng| {
            Lstm::from_parameters(
                normal(input).tensor(&[input, 4 * h], input, h, rng),
                normal(h).tensor(&[h, 4 * h], h, h, rng),
                Tensor::zeros(&[4 * h]),
            )
        };
        let enc_embed = embed(&mut rng);
        let enc_lstm = lstm(d, &mut rng);
        let dec_embed = embed(&mut rng);
        let (dec_in, out_in) = kind.widths(d, h);
        let dec_lstm = lstm(dec_in, &mut rng);
        let affine_w = normal(out_in)
            .tensor(&[out_in, v], out_in, v, &mut rng)
            .requires_grad();
        Seq2seq {
            kind,
            enc_embed,
            enc_lstm,
            dec_embed,
            dec_lstm,
            affine_w,
            affine_b: Tensor::zeros(&[v]).requires_grad(),
        }
    }

    /// The book's trained parameters in its order (`model.params`: the encoder's embedding,
    /// LSTM `Wx`, `Wh`, `b` with gates `[f, g, i, o]`, then the decoder's four, then the Affine
    /// `W` and `b`), as `nn_data::text::param_list` reads `AttentionSeq2seq.pkl`; `file` names
    /// them in errors.
    ///
    /// # Errors
    /// [`ParamsError`] if there are not ten arrays of the shapes `kind` needs.
    pub fn from_book_params(
        kind: Seq2seqKind,
        params: &[ArrayD<T>],
        file: &str,
    ) -> Result<Self, ParamsError> {
        let bad = |reason: String| ParamsError {
            file: file.to_string(),
            reason,
        };
        let [ee, ewx, ewh, eb, de, dwx, dwh, db, aw, ab] = params else {
            return Err(bad(format!(
                "{} arrays, the book's {} has 10",
                params.len(),
                kind.book_name()
            )));
        };
        let shapes: Vec<&[usize]> = params.iter().map(|p| p.shape()).collect();
        let expected = match shapes[..] {
            [&[v, d], _, &[h, _], ..] => {
                let (dec_in, out_in) = kind.widths(d, h);
                let e: [Vec<usize>; 10] = [
                    vec![v, d],
                    vec![d, 4 * h],
                    vec![h, 4 * h],
                    vec![4 * h],
                    vec![v, d],
                    vec![dec_in, 4 * h],
                    vec![h, 4 * h],
                    vec![4 * h],
                    vec![out_in, v],
                    vec![v],
                ];
                Some(e)
            }
            _ => None,
        };
        let fits = expected
            .as_ref()
            .is_some_and(|e| e.iter().zip(&shapes).all(|(e, s)| e.as_slice() == *s));
        if !fits {
            return Err(bad(format!(
                "shapes {shapes:?} are not the {}'s (V, D), (D, 4H), (H, 4H), (4H) twice over \
                 (the decoder's input {}) and its Affine's",
                kind.book_name(),
                match kind {
                    Seq2seqKind::Peeky => "H + D wide",
                    _ => "D wide",
                }
            )));
        }
        let leaf = |a: &ArrayD<T>| Tensor::from_array(a.clone()).requires_grad();
        Ok(Seq2seq {
            kind,
            enc_embed: Embedding::from_weight(leaf(ee)),
            enc_lstm: Lstm::from_book(ewx, ewh, eb),
            dec_embed: Embedding::from_weight(leaf(de)),
            dec_lstm: Lstm::from_book(dwx, dwh, db),
            affine_w: leaf(aw),
            affine_b: leaf(ab),
        })
    }

    /// Which model this is.
    pub fn kind(&self) -> Seq2seqKind {
        self.kind
    }

    /// The number of characters.
    pub fn vocabulary(&self) -> usize {
        self.affine_b.shape()[0]
    }

    /// The LSTMs' width.
    pub fn hidden_size(&self) -> usize {
        self.enc_lstm.hidden_size()
    }

    /// Every trainable tensor, in the book's order (encoder, decoder, Affine).
    pub fn parameters(&self) -> Vec<Tensor<T>> {
        let mut ps = vec![self.enc_embed.weight().clone()];
        ps.extend(self.enc_lstm.parameters().into_iter().map(|(_, t)| t));
        ps.push(self.dec_embed.weight().clone());
        ps.extend(self.dec_lstm.parameters().into_iter().map(|(_, t)| t));
        ps.push(self.affine_w.clone());
        ps.push(self.affine_b.clone());
        ps
    }

    /// The encoder's states for `batch` questions (`xs`, row-major): `(batch, T, H)`.
    fn encode(&self, xs: &[usize], batch: usize) -> Tensor<T> {
        assert!(
            batch > 0 && xs.len().is_multiple_of(batch) && !xs.is_empty(),
            "Seq2seq: {} question ids for a batch of {batch}",
            xs.len()
        );
        let t = xs.len() / batch;
        let d = self.enc_embed.weight().shape()[1];
        let emb = self.enc_embed.lookup(xs).reshape(&[batch, t, d]);
        self.enc_lstm.forward_seq(&emb, None).0
    }

    /// The decoder's output layer input for `ys` `(batch, steps)` from `state`, `hs_enc` and
    /// `h_enc` (the encoder's last state); with the attention weights `(batch, steps, T)`.
    fn decode(
        &self,
        ys: &[usize],
        batch: usize,
        state: LstmState<T>,
        hs_enc: &Tensor<T>,
        h_enc: &Tensor<T>,
    ) -> (Tensor<T>, LstmState<T>, Option<Tensor<T>>) {
        let steps = ys.len() / batch;
        let (d, h) = (self.dec_embed.weight().shape()[1], self.hidden_size());
        let emb = self.dec_embed.lookup(ys).reshape(&[batch, steps, d]);
        match self.kind {
            Seq2seqKind::Plain => {
                let (out, state) = self.dec_lstm.forward_seq(&emb, Some(state));
                (out.reshape(&[batch * steps, h]), state, None)
            }
            Seq2seqKind::Peeky => {
                let hr = h_enc
                    .reshape(&[batch, 1, h])
                    .index_select(1, &vec![0; steps]);
                let input = Tensor::concatenate(&[&hr, &emb], 2);
                let (out, state) = self.dec_lstm.forward_seq(&input, Some(state));
                let out = Tensor::concatenate(&[&hr, &out], 2).reshape(&[batch * steps, 2 * h]);
                (out, state, None)
            }
            Seq2seqKind::Attention => {
                let (dec_hs, state) = self.dec_lstm.forward_seq(&emb, Some(state));
                let weights = dec_hs.matmul(&hs_enc.transpose(1, 2)).softmax(2);
                let context = weights.matmul(hs_enc);
                let out =
                    Tensor::concatenate(&[&context, &dec_hs], 2).reshape(&[batch * steps, 2 * h]);
                (out, state, Some(weights))
            }
        }
    }

    /// The encoder's last hidden state and the decoder's starting state (that `h`, `c` zero).
    fn start(&self, hs_enc: &Tensor<T>, batch: usize) -> (Tensor<T>, LstmState<T>) {
        let (t, h) = (hs_enc.shape()[1], self.hidden_size());
        let h_enc = hs_enc.narrow(1, t - 1, 1).reshape(&[batch, h]);
        let state = LstmState {
            h: h_enc.clone(),
            c: Tensor::zeros(&[batch, h]),
        };
        (h_enc, state)
    }

    /// The mean cross-entropy of the answers `ts` to the questions `xs` (`batch` rows of each,
    /// row-major), the book's `Seq2seq.forward`: the decoder reads `ts[:, :-1]` and predicts
    /// `ts[:, 1:]`.
    ///
    /// # Panics
    /// If the ids do not make `batch` rows, an answer is shorter than 2, or an id is not in
    /// the vocabulary (programmer errors).
    pub fn loss(&self, xs: &[usize], ts: &[usize], batch: usize) -> Tensor<T> {
        assert!(
            batch > 0 && ts.len().is_multiple_of(batch) && ts.len() / batch >= 2,
            "Seq2seq: {} answer ids for a batch of {batch} (each needs 2 or more)",
            ts.len()
        );
        let width = ts.len() / batch;
        let (inputs, targets): (Vec<usize>, Vec<usize>) = ts
            .chunks(width)
            .flat_map(|row| {
                row[..width - 1]
                    .iter()
                    .copied()
                    .zip(row[1..].iter().copied())
            })
            .unzip();
        let hs_enc = self.encode(xs, batch);
        let (h_enc, state) = self.start(&hs_enc, batch);
        let (out, _, _) = self.decode(&inputs, batch, state, &hs_enc, &h_enc);
        out.affine(&self.affine_w, &self.affine_b)
            .softmax_cross_entropy_classes(&targets)
            .mean()
    }

    /// Greedy answers of `len` characters to `starts.len()` questions (`xs`, row-major), each
    /// starting after its `starts` id (the book's `generate`, which takes the largest score at
    /// every step and feeds it back), no tape recorded. Rows do not interact: a batch gives
    /// what its questions give one at a time.
    ///
    /// # Panics
    /// If the ids do not make `starts.len()` rows or are not in the vocabulary (programmer
    /// errors).
    pub fn generate(&self, xs: &[usize], starts: &[usize], len: usize) -> Generated {
        let batch = starts.len();
        assert!(
            batch > 0 && xs.len().is_multiple_of(batch) && !xs.is_empty(),
            "Seq2seq: {} question ids for a batch of {batch}",
            xs.len()
        );
        let weights = Weights::of(self);
        let width = xs.len() / batch;
        let mut out = Generated {
            ids: Vec::with_capacity(batch),
            attention: Vec::new(),
        };
        let mut scratch = Scratch::new(&weights, width);
        for (question, &start) in xs.chunks(width).zip(starts) {
            let (ids, attention) = weights.answer(question, start, len, &mut scratch);
            out.ids.push(ids);
            if self.kind == Seq2seqKind::Attention {
                out.attention.push(attention);
            }
        }
        out
    }

    /// [`Self::generate`] through the tape, batched (for tests: the same answers).
    #[cfg(test)]
    fn generate_on_tape(&self, xs: &[usize], starts: &[usize], len: usize) -> Generated {
        let batch = starts.len();
        nn_core::no_grad(|| {
            let hs_enc = self.encode(xs, batch);
            let (h_enc, mut state) = self.start(&hs_enc, batch);
            let mut ids = vec![Vec::with_capacity(len); batch];
            let attention_kept = self.kind == Seq2seqKind::Attention;
            let mut attention =
                vec![Vec::with_capacity(len); if attention_kept { batch } else { 0 }];
            let mut current = starts.to_vec();
            for _ in 0..len {
                let (out, next, weights) = self.decode(&current, batch, state, &hs_enc, &h_enc);
                state = next;
                let scores = out.affine(&self.affine_w, &self.affine_b).to_array();
                let v = self.vocabulary();
                let flat = scores.as_standard_layout();
                let flat = flat.as_slice().expect("standard layout");
                for (r, row) in flat.chunks(v).enumerate() {
                    current[r] = argmax(row);
                    ids[r].push(current[r]);
                }
                if let Some(w) = weights {
                    let w = w.to_array();
                    let t = w.shape()[2];
                    let w = w.as_standard_layout();
                    let w = w.as_slice().expect("standard layout");
                    for (r, row) in w.chunks(t).enumerate() {
                        attention[r].push(row.iter().map(|v| v.as_f64() as f32).collect());
                    }
                }
            }
            Generated { ids, attention }
        })
    }
}

/// A model's weights as plain row-major arrays, for answering without the tape: one question
/// is some forty steps of vector–matrix products over 1 MB of weights, where the tape's
/// bookkeeping per step would cost more than the arithmetic.
struct Weights<T: Float> {
    kind: Seq2seqKind,
    hidden: usize,
    vocabulary: usize,
    enc_embed: ArcArray<T, IxDyn>,
    enc: [ArcArray<T, IxDyn>; 3],
    dec_embed: ArcArray<T, IxDyn>,
    dec: [ArcArray<T, IxDyn>; 3],
    affine: [ArcArray<T, IxDyn>; 2],
}

/// Buffers reused from question to question.
struct Scratch<T> {
    /// The encoder's states, one row of `hidden` per question character.
    hs: Vec<T>,
    a: Vec<T>,
    h: Vec<T>,
    c: Vec<T>,
    /// The decoder LSTM's input (`[h_enc, x]` for the peeky model).
    input: Vec<T>,
    /// The output layer's input.
    out: Vec<T>,
    scores: Vec<T>,
    weights: Vec<T>,
}

impl<T: Float> Scratch<T> {
    fn new(w: &Weights<T>, width: usize) -> Self {
        let h = w.hidden;
        Scratch {
            hs: vec![T::zero(); width * h],
            a: vec![T::zero(); 4 * h],
            h: vec![T::zero(); h],
            c: vec![T::zero(); h],
            input: Vec::with_capacity(2 * h),
            out: vec![T::zero(); 2 * h],
            scores: vec![T::zero(); w.vocabulary],
            weights: vec![T::zero(); width],
        }
    }
}

/// Row `id` of an embedding table.
fn row<T: Float>(table: &ArcArray<T, IxDyn>, id: usize) -> &[T] {
    let d = table.shape()[1];
    &values(table)[id * d..(id + 1) * d]
}

/// A standard-layout array's values (parameters are created so and updated in place).
fn values<T: Float>(a: &ArcArray<T, IxDyn>) -> &[T] {
    a.as_slice()
        .unwrap_or_else(|| unreachable!("parameters are kept in standard layout"))
}

impl<T: Float> Weights<T> {
    fn of(model: &Seq2seq<T>) -> Self {
        let standard = |t: &Tensor<T>| {
            let a = t.array();
            if a.is_standard_layout() {
                a
            } else {
                a.as_standard_layout().into_owned().into_shared()
            }
        };
        let lstm = |l: &Lstm<T>| {
            let p = l.parameters();
            [standard(&p[0].1), standard(&p[1].1), standard(&p[2].1)]
        };
        Weights {
            kind: model.kind,
            hidden: model.hidden_size(),
            vocabulary: model.vocabulary(),
            enc_embed: standard(model.enc_embed.weight()),
            enc: lstm(&model.enc_lstm),
            dec_embed: standard(model.dec_embed.weight()),
            dec: lstm(&model.dec_lstm),
            affine: [standard(&model.affine_w), standard(&model.affine_b)],
        }
    }

    /// One LSTM step: `a = b + x Wx + h Wh`, then the cell, `h` and `c` updated in place.
    fn step(lstm: &[ArcArray<T, IxDyn>; 3], x: &[T], s: &mut Scratch<T>) {
        s.a.copy_from_slice(values(&lstm[2]));
        vecmat_add(x, values(&lstm[0]), &mut s.a);
        vecmat_add(&s.h, values(&lstm[1]), &mut s.a);
        lstm_cell_row(&s.a, &mut s.c, &mut s.h);
    }

    /// The greedy answer of `len` characters to one question, and for the attention model its
    /// weights at every step.
    fn answer(
        &self,
        question: &[usize],
        start: usize,
        len: usize,
        s: &mut Scratch<T>,
    ) -> (Vec<usize>, Vec<Vec<f32>>) {
        let h = self.hidden;
        s.h.fill(T::zero());
        s.c.fill(T::zero());
        for (t, &id) in question.iter().enumerate() {
            Self::step(&self.enc, row(&self.enc_embed, id), s);
            s.hs[t * h..(t + 1) * h].copy_from_slice(&s.h);
        }
        // The decoder starts from the encoder's last h, its cell zero.
        let h_enc = s.h.clone();
        s.c.fill(T::zero());
        let (mut ids, mut attention) = (Vec::with_capacity(len), Vec::new());
        let mut current = start;
        for _ in 0..len {
            let x = row(&self.dec_embed, current);
            match self.kind {
                Seq2seqKind::Peeky => {
                    s.input.clear();
                    s.input.extend_from_slice(&h_enc);
                    s.input.extend_from_slice(x);
                    let input = std::mem::take(&mut s.input);
                    Self::step(&self.dec, &input, s);
                    s.input = input;
                    s.out[..h].copy_from_slice(&h_enc);
                    s.out[h..].copy_from_slice(&s.h);
                }
                Seq2seqKind::Plain => {
                    Self::step(&self.dec, x, s);
                    s.out[..h].copy_from_slice(&s.h);
                }
                Seq2seqKind::Attention => {
                    Self::step(&self.dec, x, s);
                    // Weights: the softmax of each encoder state's dot product with h.
                    let steps = question.len();
                    for (w, hs) in s.weights.iter_mut().zip(s.hs.chunks(h)).take(steps) {
                        *w = hs
                            .iter()
                            .zip(&s.h)
                            .fold(T::zero(), |acc, (&a, &b)| acc + a * b);
                    }
                    let w = &mut s.weights[..steps];
                    let m = w.iter().copied().fold(T::neg_infinity(), T::max);
                    w.iter_mut().for_each(|v| *v = (*v - m).exp());
                    let total = w.iter().copied().fold(T::zero(), |a, b| a + b);
                    w.iter_mut().for_each(|v| *v /= total);
                    // The context, then the decoder state.
                    let (context, state) = s.out.split_at_mut(h);
                    context.fill(T::zero());
                    for (&w, hs) in w.iter().zip(s.hs.chunks(h)) {
                        context.iter_mut().zip(hs).for_each(|(c, &v)| *c += w * v);
                    }
                    state.copy_from_slice(&s.h);
                    attention.push(w.iter().map(|v| v.as_f64() as f32).collect());
                }
            }
            // The output layer reads [out] or [h_enc | context, out]: its rows say which.
            let out_in = self.affine[0].shape()[0];
            s.scores.copy_from_slice(values(&self.affine[1]));
            vecmat_add(&s.out[..out_in], values(&self.affine[0]), &mut s.scores);
            current = argmax(&s.scores);
            ids.push(current);
        }
        (ids, attention)
    }
}

/// How many answers a model got exactly right ([`exact_match`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ExactMatch {
    /// Answers equal to the expected ones, character for character.
    pub right: usize,
    /// Questions asked.
    pub total: usize,
    /// Every answer given (without its first id, which was given).
    pub guesses: Vec<Vec<usize>>,
}

impl ExactMatch {
    /// `right / total` (0 for no questions).
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.right as f64 / self.total as f64
        }
    }
}

/// The book's `eval_seq2seq` over many questions: each answer row's first id is given (`_`),
/// the model generates the rest greedily and is right where every character equals the
/// expected one. `batch` questions are answered at a time (1: the book's one at a time; the
/// answers are the same either way).
///
/// # Panics
/// If `questions` and `answers` differ in rows, an answer row is empty or `batch` is 0
/// (programmer errors).
pub fn exact_match<T: Float>(
    model: &Seq2seq<T>,
    questions: &Array2<usize>,
    answers: &Array2<usize>,
    batch: usize,
) -> ExactMatch {
    assert!(
        questions.nrows() == answers.nrows() && answers.ncols() > 0 && batch > 0,
        "exact_match: {} questions, {} answers of {} ids, batch {batch}",
        questions.nrows(),
        answers.nrows(),
        answers.ncols()
    );
    let (q, a) = (questions.as_standard_layout(), answers.as_standard_layout());
    let (qs, ans) = (
        q.as_slice().expect("standard layout"),
        a.as_slice().expect("standard layout"),
    );
    let (qw, aw) = (questions.ncols(), answers.ncols());
    let mut result = ExactMatch {
        right: 0,
        total: questions.nrows(),
        guesses: Vec::with_capacity(questions.nrows()),
    };
    for (xs, ts) in qs.chunks(batch * qw).zip(ans.chunks(batch * aw)) {
        let starts: Vec<usize> = ts.chunks(aw).map(|t| t[0]).collect();
        let out = model.generate(xs, &starts, aw - 1);
        for (guess, t) in out.ids.into_iter().zip(ts.chunks(aw)) {
            result.right += usize::from(guess == t[1..]);
            result.guesses.push(guess);
        }
    }
    result
}

/// One epoch of the book's `Trainer.fit` for a seq2seq model: the questions shuffled by
/// `shuffle` (the book draws `numpy.random.permutation`; [`RandomState`] draws the same given
/// the same state), then `len / batch` batches in that order (the remainder left out, as the
/// book's), each a loss, a backward pass, gradients clipped to the global norm `clip` (none if
/// `None`) and an optimizer step. Returns the mean loss.
///
/// # Errors
/// [`Diverged`] if a loss is NaN or infinite (`window` is then the batch; no step is taken
/// with it).
///
/// # Panics
/// If `questions` and `answers` differ in rows or `batch` is 0 (programmer errors).
pub fn train_epoch<T: Float>(
    model: &Seq2seq<T>,
    optimizer: &mut dyn Optimizer,
    (questions, answers): (&Array2<usize>, &Array2<usize>),
    batch: usize,
    clip: Option<f64>,
    shuffle: &mut RandomState,
) -> Result<f64, Diverged> {
    assert!(
        questions.nrows() == answers.nrows() && batch > 0,
        "train_epoch: {} questions, {} answers, batch {batch}",
        questions.nrows(),
        answers.nrows()
    );
    let order = shuffle.permutation(questions.nrows());
    let params = model.parameters();
    let (mut total, mut count) = (0.0, 0);
    for (i, rows) in order.chunks_exact(batch).enumerate() {
        let xs: Vec<usize> = rows
            .iter()
            .flat_map(|&r| questions.row(r).to_vec())
            .collect();
        let ts: Vec<usize> = rows.iter().flat_map(|&r| answers.row(r).to_vec()).collect();
        total += crate::tbptt::step(model.loss(&xs, &ts, batch), &params, optimizer, clip, i)?;
        count += 1;
    }
    Ok(if count == 0 {
        0.0
    } else {
        total / count as f64
    })
}

/// Reverses each row of `rows` `width`-wide ids (the book's `x[:, ::-1]`, ch.7.5.1).
pub fn reverse_rows(rows: &[usize], width: usize) -> Vec<usize> {
    rows.chunks(width)
        .flat_map(|r| r.iter().rev().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::gradcheck;

    fn ids(n: usize, v: usize, salt: usize) -> Vec<usize> {
        (0..n).map(|i| (i * 7 + salt) % v).collect()
    }

    #[test]
    fn gradcheck_every_kind() {
        for kind in [
            Seq2seqKind::Plain,
            Seq2seqKind::Peeky,
            Seq2seqKind::Attention,
        ] {
            let model = Seq2seq::<f64>::new(kind, 6, 3, 4, 1);
            let (xs, ts) = (ids(2 * 5, 6, 1), ids(2 * 4, 6, 2));
            let params: Vec<ArrayD<f64>> =
                model.parameters().iter().map(|p| p.to_array()).collect();
            gradcheck(
                |p| {
                    let m = Seq2seq {
                        kind,
                        enc_embed: Embedding::from_weight(p[0].clone()),
                        enc_lstm: Lstm::from_parameters(p[1].clone(), p[2].clone(), p[3].clone()),
                        dec_embed: Embedding::from_weight(p[4].clone()),
                        dec_lstm: Lstm::from_parameters(p[5].clone(), p[6].clone(), p[7].clone()),
                        affine_w: p[8].clone(),
                        affine_b: p[9].clone(),
                    };
                    m.loss(&xs, &ts, 2)
                },
                &params,
            )
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        }
    }

    /// The attention weights are a softmax over the question; a batch answers as its rows do
    /// one at a time.
    #[test]
    fn generation_in_batches_and_one_at_a_time_agree() {
        for kind in [
            Seq2seqKind::Plain,
            Seq2seqKind::Peeky,
            Seq2seqKind::Attention,
        ] {
            let model = Seq2seq::<f32>::new(kind, 9, 4, 8, 3);
            let xs = ids(3 * 6, 9, 5);
            let all = model.generate(&xs, &[2, 2, 2], 5);
            for r in 0..3 {
                let one = model.generate(&xs[r * 6..(r + 1) * 6], &[2], 5);
                assert_eq!(one.ids[0], all.ids[r], "{kind:?}");
            }
            if kind == Seq2seqKind::Attention {
                for steps in &all.attention {
                    for w in steps {
                        assert_eq!(w.len(), 6);
                        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                    }
                }
            } else {
                assert!(all.attention.is_empty());
            }
        }
    }

    /// Without the tape the answers are the tape's, and the attention weights agree to
    /// rounding.
    #[test]
    fn generation_without_the_tape_is_the_tapes() {
        for kind in [
            Seq2seqKind::Plain,
            Seq2seqKind::Peeky,
            Seq2seqKind::Attention,
        ] {
            let model = Seq2seq::<f64>::new(kind, 11, 5, 9, 7);
            // Weights large enough that the answers vary.
            for p in model.parameters() {
                p.update_value(|mut v| v.mapv_inplace(|x| x * 30.0));
            }
            let xs = ids(4 * 7, 11, 3);
            let fast = model.generate(&xs, &[1, 2, 3, 4], 6);
            let tape = model.generate_on_tape(&xs, &[1, 2, 3, 4], 6);
            assert_eq!(fast.ids, tape.ids, "{kind:?}");
            let distinct: std::collections::HashSet<_> = fast.ids.iter().flatten().collect();
            assert!(distinct.len() > 2, "{kind:?}: {:?}", fast.ids);
            for (a, b) in fast
                .attention
                .iter()
                .flatten()
                .flatten()
                .zip(tape.attention.iter().flatten().flatten())
            {
                assert!((a - b).abs() < 1e-6, "{kind:?}: {a} vs {b}");
            }
            assert_eq!(fast.attention.len(), tape.attention.len());
        }
    }

    #[test]
    fn book_parameters_are_checked() {
        let model = Seq2seq::<f32>::new(Seq2seqKind::Attention, 5, 2, 3, 0);
        let mut params: Vec<ArrayD<f32>> =
            model.parameters().iter().map(|p| p.to_array()).collect();
        assert!(Seq2seq::from_book_params(Seq2seqKind::Attention, &params, "a.pkl").is_ok());
        let err = Seq2seq::from_book_params(Seq2seqKind::Plain, &params, "a.pkl")
            .err()
            .expect("an Affine of 2H rows is not the plain model's");
        assert!(err.to_string().starts_with("a.pkl: shapes"), "{err}");
        params.pop();
        let err = Seq2seq::from_book_params(Seq2seqKind::Attention, &params, "a.pkl")
            .err()
            .expect("nine arrays");
        assert_eq!(
            err.to_string(),
            "a.pkl: 9 arrays, the book's AttentionSeq2seq has 10"
        );
    }

    #[test]
    fn rows_reverse() {
        assert_eq!(reverse_rows(&[1, 2, 3, 4, 5, 6], 3), [3, 2, 1, 6, 5, 4]);
    }
}
