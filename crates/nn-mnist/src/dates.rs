//! The second page of `nn-mnist serve`: the sequel's trained attention model
//! (`ch08/AttentionSeq2seq.pkl`) turns a date typed in any form into ISO form and shows where it
//! looked (「ゼロから作るDeep Learning ❷」 ch.8). Its characters are those of the book's
//! `date.txt`, numbered as the book numbers them, so that file is read too.

use nn_data::FetchOptions;
use nn_data::sequence::{ATTENTION_SEQ2SEQ_PARAMS, CharSequences, DATE};
use nn_data::text::{Vocabulary, load_param_list};
use nn_text::seq2seq::{Seq2seq, Seq2seqKind};
use serde::Serialize;

/// What every worker needs to build the model, and what the server checks a question with.
pub struct DateSource {
    params: Vec<ndarray::ArrayD<f32>>,
    vocabulary: Vocabulary,
    /// The questions' width in `date.txt` (29): longer ones are refused, shorter padded.
    pub width: usize,
    /// Characters in an answer after its first `_` (10: `1994-09-27`).
    answer_len: usize,
    start: usize,
}

/// Why a question cannot be asked; each is the client's mistake.
#[derive(Debug, PartialEq, Eq)]
pub enum DateInputError {
    /// Nothing but spaces.
    Empty,
    /// Longer than the model's questions.
    TooLong(usize, usize),
    /// Characters the model has never seen, each named once; then the letters it lacks.
    Unknown(Vec<char>, String),
}

impl std::fmt::Display for DateInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateInputError::Empty => write!(f, "type a date"),
            DateInputError::TooLong(len, max) => {
                write!(
                    f,
                    "{len} characters: the model reads dates of at most {max}"
                )
            }
            DateInputError::Unknown(chars, missing) => {
                let list: Vec<String> = chars.iter().map(|c| format!("{c:?}")).collect();
                write!(
                    f,
                    "the model does not know the character{} {}: it knows those of the book's \
                     date.txt, digits, spaces, `,`, `/`, `-` and the letters but {missing}",
                    if chars.len() == 1 { "" } else { "s" },
                    list.join(", ")
                )
            }
        }
    }
}

/// The model's answer to one question.
#[derive(Serialize)]
pub struct DateAnswer {
    /// The question as asked.
    pub question: String,
    /// The date in ISO form, as the model wrote it.
    pub answer: String,
    /// For each answer character, its attention over the question's characters in reading
    /// order (the padding after them left out).
    pub attention: Vec<Vec<f32>>,
}

impl DateSource {
    /// Fetches (checksum-verified) the book's model and `date.txt`.
    ///
    /// # Errors
    /// A file that cannot be had, fails its checksum, or is not what it should be.
    pub fn load(opts: &FetchOptions) -> Result<Self, String> {
        let params = load_param_list(&ATTENTION_SEQ2SEQ_PARAMS, opts).map_err(|e| e.to_string())?;
        let data = CharSequences::load(&DATE, opts).map_err(|e| e.to_string())?;
        let source = DateSource {
            params,
            width: data.x_test.ncols(),
            answer_len: data.t_test.ncols() - 1,
            start: data.t_test[[0, 0]],
            vocabulary: data.vocabulary,
        };
        // Refuse a model that does not fit now, not in every worker.
        source.build()?;
        Ok(source)
    }

    /// The model, for one worker (its tensors stay on that thread).
    ///
    /// # Errors
    /// The arrays are not the book's AttentionSeq2seq.
    pub fn build(&self) -> Result<DateModel, String> {
        let model = Seq2seq::from_book_params(
            Seq2seqKind::Attention,
            &self.params,
            &ATTENTION_SEQ2SEQ_PARAMS.label(),
        )
        .map_err(|e| e.to_string())?;
        Ok(DateModel {
            model,
            start: self.start,
            answer_len: self.answer_len,
        })
    }

    /// `text` as the model reads it — padded with spaces to the questions' width, reversed —
    /// or why it cannot be asked.
    ///
    /// # Errors
    /// [`DateInputError`]: empty, too long, or characters outside the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, DateInputError> {
        let len = text.chars().count();
        if text.trim().is_empty() {
            return Err(DateInputError::Empty);
        }
        if len > self.width {
            return Err(DateInputError::TooLong(len, self.width));
        }
        let mut unknown = Vec::new();
        let mut ids = Vec::with_capacity(self.width);
        for c in text.chars() {
            match self.vocabulary.id(c.encode_utf8(&mut [0; 4])) {
                Some(id) => ids.push(id),
                None if !unknown.contains(&c) => unknown.push(c),
                None => {}
            }
        }
        if !unknown.is_empty() {
            let missing: String = ('A'..='Z')
                .chain('a'..='z')
                .filter(|c| self.vocabulary.id(c.encode_utf8(&mut [0; 4])).is_none())
                .collect();
            return Err(DateInputError::Unknown(unknown, missing));
        }
        let space = self
            .vocabulary
            .id(" ")
            .unwrap_or_else(|| unreachable!("date.txt pads with spaces"));
        ids.resize(self.width, space);
        ids.reverse();
        Ok(ids)
    }

    /// The characters of `ids`.
    fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .filter_map(|&i| self.vocabulary.word(i))
            .collect()
    }
}

/// The book's attention model on one worker.
pub struct DateModel {
    model: Seq2seq<f32>,
    start: usize,
    answer_len: usize,
}

impl DateModel {
    /// Answers `text`, already checked and encoded by [`DateSource::encode`] as `reversed`.
    pub fn answer(&self, source: &DateSource, text: &str, reversed: &[usize]) -> DateAnswer {
        let out = self
            .model
            .generate(reversed, &[self.start], self.answer_len);
        let typed = text.chars().count();
        let attention = out.attention[0]
            .iter()
            .map(|w| w.iter().rev().take(typed).copied().collect())
            .collect();
        DateAnswer {
            question: text.to_string(),
            answer: source.decode(&out.ids[0]),
            attention,
        }
    }
}
