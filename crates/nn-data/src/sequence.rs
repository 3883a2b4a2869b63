//! The sequel's seq2seq toy data (「ゼロから作るDeep Learning ❷」 ch.7.3 and ch.8.4, its
//! `dataset/sequence.py`): `addition.txt` (`16+75  _91  `) and `date.txt`
//! (`september 27, 1994           _1994-09-27`), 50,000 fixed-width lines of a question, `_`
//! and the answer. Characters are numbered in order of first appearance (each line's question,
//! then its answer); the questions are shuffled with NumPy's legacy generator seeded 1984 and
//! the last tenth kept as test questions — the book's split, question for question
//! ([`RandomState`]).
//!
//! ```
//! use nn_data::sequence::CharSequences;
//! let text = "1+1 _2 \n2+2 _4 \n3+3 _6 \n";
//! let data = CharSequences::parse(text, "tiny", None).unwrap();
//! assert_eq!(data.x_train.ncols(), 4); // "1+1 "
//! assert_eq!(data.t_train.ncols(), 3); // "_2 "
//! assert_eq!(data.vocabulary.id("_"), Some(3));
//! assert_eq!(data.decode(data.x_train.row(0).iter().copied()), "1+1 ");
//! assert_eq!(data.x_test.nrows(), 0); // the last tenth of three lines
//! ```

use ndarray::Array2;

use crate::fetch::{FetchOptions, RemoteFile, fetch};
use crate::numpy::RandomState;
use crate::text::Vocabulary;
use crate::{DataError, mnist::file};

const SEQUENCE_URLS: &[&str] = &[
    "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch-2/master/dataset/",
];

/// Additions written as text (ch.7): `addition.txt`, 50,000 lines such as `16+75  _91  `.
pub const ADDITION: RemoteFile = file(
    "sequence",
    "addition.txt",
    Some("34e0746f5014c11311c9452ee9050bf14e38eca44ec4aaf4d81eba2b38674009"),
    None,
    SEQUENCE_URLS,
);

/// Dates written in many forms, with their ISO form (ch.8): `date.txt`, 50,000 lines such as
/// `september 27, 1994           _1994-09-27`.
pub const DATE: RemoteFile = file(
    "sequence",
    "date.txt",
    Some("62e66a301ce8537868e725512d2a45663fc366526b7e42028cb703bda2b1c79a"),
    None,
    SEQUENCE_URLS,
);

/// The sequel's trained attention model (ch.8: `ch08/AttentionSeq2seq.pkl`, a protocol-3 pickle
/// of a list of ten float16 arrays: the encoder's Embedding (59, 16), LSTM `Wx` (16, 1024), `Wh`
/// (256, 1024), `b` (1024); the decoder's four of the same shapes; Affine `W` (512, 59), `b`
/// (59)), trained on [`DATE`] with reversed questions; mirrored as `weights/AttentionSeq2seq.pkl`.
/// Read it with [`crate::text::load_param_list`].
pub const ATTENTION_SEQ2SEQ_PARAMS: RemoteFile = file(
    "weights",
    "AttentionSeq2seq.pkl",
    Some("e648820a02cdaccc599ffb2aef65e785f49fb0cfc99d4c461a847fe231fedd54"),
    None,
    &["https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch-2/master/ch08/"],
);

/// The seed the book's `load_data` shuffles with.
pub const BOOK_SEED: u32 = 1984;

/// Questions and answers as character ids, split as the book's `sequence.load_data` splits
/// them: `(x_train, t_train), (x_test, t_test)` and its `char_to_id` / `id_to_char`.
#[derive(Debug, Clone)]
pub struct CharSequences {
    /// Training questions, one per row (the first nine tenths after the shuffle).
    pub x_train: Array2<usize>,
    /// Their answers, each starting with `_`.
    pub t_train: Array2<usize>,
    /// Test questions (the last tenth).
    pub x_test: Array2<usize>,
    /// Their answers.
    pub t_test: Array2<usize>,
    /// The characters, numbered in order of first appearance.
    pub vocabulary: Vocabulary,
}

impl CharSequences {
    /// Fetches `spec` ([`ADDITION`], [`DATE`]; checksum-verified, through the configured
    /// mirrors) and splits it as the book does with seed [`BOOK_SEED`].
    ///
    /// ```no_run
    /// use nn_data::FetchOptions;
    /// use nn_data::sequence::{CharSequences, DATE};
    /// let data = CharSequences::load(&DATE, &FetchOptions::from_env()?)?;
    /// assert_eq!((data.x_train.nrows(), data.x_test.nrows()), (45_000, 5_000));
    /// assert_eq!(data.vocabulary.len(), 59);
    /// # Ok::<(), nn_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// The file cannot be had or fails its checksum, or is not such a file ([`Self::parse`]).
    pub fn load(spec: &RemoteFile, opts: &FetchOptions) -> Result<Self, DataError> {
        let fetched = fetch(spec, opts)?;
        let label = spec.label();
        let text = std::str::from_utf8(&fetched.content).map_err(|e| DataError::NotText {
            file: label.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(text, &label, Some(BOOK_SEED))
    }

    /// Reads lines of `question_answer` and splits them as the book's `load_data(file, seed)`:
    /// shuffled with NumPy's generator seeded `seed` (in file order for `None`), the last
    /// `len / 10` lines (rounded down) as the test set. `file` names the text in errors.
    ///
    /// # Errors
    /// [`DataError::BadSequences`] for a line without `_`, questions or answers of differing
    /// lengths (the book's arrays are rectangular), a line that does not end in a line break,
    /// or no lines at all.
    pub fn parse(text: &str, file: &str, seed: Option<u32>) -> Result<Self, DataError> {
        let bad = |line: usize, reason: String| DataError::BadSequences {
            file: file.to_string(),
            line,
            reason,
        };
        if text.is_empty() {
            return Err(bad(0, "no lines".into()));
        }
        if !text.ends_with('\n') {
            // The book drops each line's last character as its line break.
            return Err(bad(
                text.lines().count(),
                "the last line has no line break".into(),
            ));
        }
        let mut vocabulary = Vocabulary::new();
        let (mut xs, mut ts) = (Vec::new(), Vec::new());
        let mut widths = None;
        let mut rows = 0;
        for (i, line) in text.split_terminator('\n').enumerate() {
            let Some(cut) = line.find('_') else {
                return Err(bad(i + 1, "no '_' between question and answer".into()));
            };
            let (q, a) = line.split_at(cut);
            let width = (q.chars().count(), a.chars().count());
            match widths {
                None => widths = Some(width),
                Some(w) if w != width => {
                    return Err(bad(
                        i + 1,
                        format!(
                            "question and answer are {} and {} characters, the first line's {} and {}",
                            width.0, width.1, w.0, w.1
                        ),
                    ));
                }
                Some(_) => {}
            }
            let mut id = |c: char| vocabulary.insert(c.encode_utf8(&mut [0; 4]));
            xs.extend(q.chars().map(&mut id));
            ts.extend(a.chars().map(&mut id));
            rows += 1;
        }
        let (qw, aw) = widths.unwrap_or_else(|| unreachable!("text is not empty"));
        let mut order: Vec<usize> = (0..rows).collect();
        if let Some(seed) = seed {
            RandomState::new(seed).shuffle(&mut order);
        }
        let split = rows - rows / 10;
        let take = |ids: &[usize], width: usize, picked: &[usize]| {
            let data = picked
                .iter()
                .flat_map(|&r| ids[r * width..(r + 1) * width].iter().copied())
                .collect();
            Array2::from_shape_vec((picked.len(), width), data)
                .unwrap_or_else(|_| unreachable!("whole rows"))
        };
        let (train, test) = order.split_at(split);
        Ok(CharSequences {
            x_train: take(&xs, qw, train),
            t_train: take(&ts, aw, train),
            x_test: take(&xs, qw, test),
            t_test: take(&ts, aw, test),
            vocabulary,
        })
    }

    /// The characters of `ids` as a string (ids outside the vocabulary are skipped).
    pub fn decode(&self, ids: impl IntoIterator<Item = usize>) -> String {
        ids.into_iter()
            .filter_map(|id| self.vocabulary.word(id))
            .collect()
    }

    /// `text`'s characters as ids, or the first character outside the vocabulary.
    ///
    /// # Errors
    /// The character (and its position) that the vocabulary lacks.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, (usize, char)> {
        text.chars()
            .enumerate()
            .map(|(i, c)| self.vocabulary.id(c.encode_utf8(&mut [0; 4])).ok_or((i, c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> String {
        (0..n)
            .map(|i| format!("{:<3}_{:<2}\n", i % 1000, i % 97))
            .collect()
    }

    #[test]
    fn the_split_is_the_shuffled_order_with_the_last_tenth_for_test() {
        let text = lines(25);
        let data = CharSequences::parse(&text, "t", Some(BOOK_SEED)).unwrap();
        assert_eq!((data.x_train.nrows(), data.x_test.nrows()), (23, 2));
        let order = RandomState::new(BOOK_SEED).permutation(25);
        let all: Vec<&str> = text.lines().collect();
        for (row, &i) in data.x_train.rows().into_iter().zip(&order[..23]) {
            assert_eq!(data.decode(row.iter().copied()), all[i][..3]);
        }
        for (row, &i) in data.t_test.rows().into_iter().zip(&order[23..]) {
            assert_eq!(data.decode(row.iter().copied()), all[i][3..]);
        }
        let plain = CharSequences::parse(&text, "t", None).unwrap();
        assert_eq!(plain.decode(plain.x_train.row(1).iter().copied()), "1  ");
    }

    #[test]
    fn characters_are_numbered_question_then_answer() {
        let data = CharSequences::parse("ab_c\nda_b\n", "t", None).unwrap();
        assert_eq!(data.vocabulary.words(), ["a", "b", "_", "c", "d"]);
        assert_eq!(data.encode("dab"), Ok(vec![4, 0, 1]));
        assert_eq!(data.encode("ax"), Err((1, 'x')));
    }

    #[test]
    fn malformed_text_is_refused_with_the_line() {
        let err = |t: &str| {
            CharSequences::parse(t, "f.txt", None)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(""), "f.txt: line 0: no lines");
        assert_eq!(
            err("1_2\n3_4"),
            "f.txt: line 2: the last line has no line break"
        );
        assert_eq!(
            err("1_2\n34\n"),
            "f.txt: line 2: no '_' between question and answer"
        );
        assert_eq!(
            err("1_2\n12_3\n"),
            "f.txt: line 2: question and answer are 2 and 2 characters, the first line's 1 and 2"
        );
    }
}
