//! Text as the sequel reads it (「ゼロから作るDeep Learning ❷」 ch.2.3 「カウントベースの手法」 and
//! its `dataset/ptb.py`): a corpus is a sequence of word ids, and a [`Vocabulary`] numbers the
//! words in order of first appearance. The Penn Treebank ([`Ptb`]) comes through the same
//! downloader, pinned digests and mirrors as MNIST.
//!
//! ```
//! use nn_data::text::{Vocabulary, ptb_words};
//! // PTB's lines start and end with a space.
//! let words = ptb_words(" you say goodbye \n and i say hello \n");
//! let vocabulary = Vocabulary::from_words(words.iter().map(String::as_str));
//! let corpus: Vec<usize> = words.iter().filter_map(|w| vocabulary.id(w)).collect();
//! assert_eq!(corpus, [0, 1, 2, 3, 4, 5, 1, 6, 3]);
//! assert_eq!(vocabulary.word(3), Some("<eos>"));
//! ```

use std::collections::HashMap;

use ndarray::{Array2, ArrayD, Ix2};

use crate::fetch::{FetchOptions, RemoteFile, fetch};
use crate::numpy::{NumpyArray, PickleValue, parse_pickle_value};
use crate::{DataError, mnist::file};

/// Words numbered in order of first appearance: ids `0..len()`, each word once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    ids: HashMap<String, usize>,
    words: Vec<String>,
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The vocabulary of `words`, numbered in order of first appearance.
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut vocabulary = Self::new();
        for word in words {
            vocabulary.insert(word);
        }
        vocabulary
    }

    /// The id of `word`, given the next free id if it is new.
    pub fn insert(&mut self, word: &str) -> usize {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len();
        self.ids.insert(word.to_string(), id);
        self.words.push(word.to_string());
        id
    }

    /// The id of `word`, if it is in the vocabulary.
    pub fn id(&self, word: &str) -> Option<usize> {
        self.ids.get(word).copied()
    }

    /// The word with id `id`.
    pub fn word(&self, id: usize) -> Option<&str> {
        self.words.get(id).map(String::as_str)
    }

    /// The words in id order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// How many words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there is no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The ids of `words`; a word not in the vocabulary is an error naming it and its position
    /// (`file` names where the words came from), never a made-up id.
    ///
    /// # Errors
    /// [`DataError::UnknownWord`].
    pub fn ids_of<S: AsRef<str>>(&self, words: &[S], file: &str) -> Result<Vec<usize>, DataError> {
        words
            .iter()
            .enumerate()
            .map(|(position, word)| {
                let word = word.as_ref();
                self.id(word).ok_or_else(|| DataError::UnknownWord {
                    file: file.to_string(),
                    word: word.to_string(),
                    position,
                })
            })
            .collect()
    }
}

/// The words of a PTB file as the sequel's `ptb.py` reads them:
/// `text.replace('\n', '<eos>').strip().split()` — each line end becomes the word `<eos>`, and
/// words are separated by whitespace.
pub fn ptb_words(text: &str) -> Vec<String> {
    text.replace('\n', "<eos>")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Which PTB file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtbSplit {
    /// `ptb.train.txt` (929,589 words with `<eos>`; its words make the vocabulary).
    Train,
    /// `ptb.valid.txt`.
    Valid,
    /// `ptb.test.txt`.
    Test,
}

const PTB_URLS: &[&str] = &["https://raw.githubusercontent.com/tomsercu/lstm/master/data/"];

/// The Penn Treebank's training words (Mikolov's preprocessing, the sequel's `ptb.train.txt`).
pub const PTB_TRAIN: RemoteFile = file(
    "ptb",
    "ptb.train.txt",
    Some("fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
    None,
    PTB_URLS,
);

/// The Penn Treebank's validation words.
pub const PTB_VALID: RemoteFile = file(
    "ptb",
    "ptb.valid.txt",
    Some("c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
    None,
    PTB_URLS,
);

/// The Penn Treebank's test words.
pub const PTB_TEST: RemoteFile = file(
    "ptb",
    "ptb.test.txt",
    Some("dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
    None,
    PTB_URLS,
);

impl PtbSplit {
    /// The file of this split.
    pub fn file(self) -> &'static RemoteFile {
        match self {
            PtbSplit::Train => &PTB_TRAIN,
            PtbSplit::Valid => &PTB_VALID,
            PtbSplit::Test => &PTB_TEST,
        }
    }
}

/// One PTB file as word ids, with the vocabulary of the training file (the sequel's
/// `ptb.load_data(data_type)`: `corpus, word_to_id, id_to_word`).
#[derive(Debug, Clone)]
pub struct Ptb {
    /// The file's words as ids, `<eos>` at each line end.
    pub corpus: Vec<usize>,
    /// The training file's 10,000 words in order of first appearance.
    pub vocabulary: Vocabulary,
}

impl Ptb {
    /// Fetches (checksum-verified, through the configured mirrors) and reads `split`; the
    /// training file is read too, for the vocabulary.
    ///
    /// ```no_run
    /// use nn_data::FetchOptions;
    /// use nn_data::text::{Ptb, PtbSplit};
    /// let train = Ptb::load(PtbSplit::Train, &FetchOptions::from_env()?)?;
    /// assert_eq!(train.vocabulary.len(), 10_000);
    /// # Ok::<(), nn_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// The file cannot be had or fails its checksum, is not UTF-8, or (valid, test) holds a word
    /// the training file does not.
    pub fn load(split: PtbSplit, opts: &FetchOptions) -> Result<Ptb, DataError> {
        let train = read_words(&PTB_TRAIN, opts)?;
        let vocabulary = Vocabulary::from_words(train.iter().map(String::as_str));
        let corpus = match split {
            PtbSplit::Train => vocabulary.ids_of(&train, &PTB_TRAIN.label())?,
            other => {
                let spec = other.file();
                vocabulary.ids_of(&read_words(spec, opts)?, &spec.label())?
            }
        };
        Ok(Ptb { corpus, vocabulary })
    }
}

/// The sequel's trained CBOW word vectors (ch.4: `ch04/cbow_params.pkl`, a protocol-4 pickle of
/// `word_vecs` float16 (10000, 100), `word_to_id` and `id_to_word`), mirrored as
/// `weights/cbow_params.pkl`.
pub const CBOW_PARAMS: RemoteFile = file(
    "weights",
    "cbow_params.pkl",
    Some("205dba67a075fce2c81a2662c035244919eac50b796199490ce1212efd19cef4"),
    None,
    &["https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch-2/master/ch04/"],
);

/// The sequel's trained LSTM language model (ch.6: `ch06/Rnnlm.pkl`, a protocol-3 pickle of a
/// list of six float16 arrays: Embedding (10000, 100), LSTM `Wx` (100, 400), `Wh` (100, 400),
/// `b` (400), Affine `W` (100, 10000), `b` (10000)), mirrored as `weights/Rnnlm.pkl`.
pub const RNNLM_PARAMS: RemoteFile = file(
    "weights",
    "Rnnlm.pkl",
    Some("d872e609e328834f86a0de9fea7b2968bd95a22ea748880ccaee96923e9a5903"),
    None,
    &["https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch-2/master/ch06/"],
);

/// A model's parameters as the sequel's `BaseModel.save_params` pickles them: a list of float
/// arrays in the model's order, float16 widened to float32 exactly (its `load_params` casts to
/// float32 the same way).
///
/// # Errors
/// [`DataError::Pickle`] for a damaged or foreign pickle; [`DataError::BadParams`] for one that
/// is not a list of float arrays.
pub fn param_list(data: &[u8], file: &str) -> Result<Vec<ArrayD<f32>>, DataError> {
    let bad = |reason: String| DataError::BadParams {
        file: file.to_string(),
        reason,
    };
    let PickleValue::List(items) = parse_pickle_value(data, file)? else {
        return Err(bad("the pickle does not hold a list".into()));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            PickleValue::Array(NumpyArray::F32(a)) => Ok(a),
            PickleValue::Array(NumpyArray::F64(a)) => Ok(a.mapv(|v| v as f32)),
            _ => Err(bad(format!("item {i} is not a float array"))),
        })
        .collect()
}

/// Fetches (checksum-verified) and reads a pickled parameter list such as [`RNNLM_PARAMS`].
///
/// # Errors
/// The file cannot be had, fails its checksum, or is not such a pickle.
pub fn load_param_list(
    spec: &RemoteFile,
    opts: &FetchOptions,
) -> Result<Vec<ArrayD<f32>>, DataError> {
    let fetched = fetch(spec, opts)?;
    param_list(&fetched.content, &spec.label())
}

/// One vector per word of a vocabulary: row `i` of `vectors` is the word with id `i`.
#[derive(Debug, Clone)]
pub struct WordVectors {
    /// `(words, dimensions)`; float16 in the sequel's file, widened to float32 exactly.
    pub vectors: Array2<f32>,
    /// The words, ids as in the file.
    pub vocabulary: Vocabulary,
}

impl WordVectors {
    /// The sequel's trained CBOW vectors ([`CBOW_PARAMS`]), fetched and checksum-verified.
    ///
    /// # Errors
    /// The file cannot be had, fails its checksum, or is not such a pickle.
    pub fn load_cbow(opts: &FetchOptions) -> Result<WordVectors, DataError> {
        let fetched = fetch(&CBOW_PARAMS, opts)?;
        Self::from_pickle(&fetched.content, &CBOW_PARAMS.label())
    }

    /// Reads a pickled dict holding `word_vecs` (a 2-D float array), `word_to_id` (str → int)
    /// and `id_to_word` (int → str), as the sequel's `ch04/train.py` saves it. The two maps must
    /// agree, and number the words `0..rows` with each id once.
    ///
    /// # Errors
    /// [`DataError::Pickle`] for a damaged or foreign pickle; [`DataError::BadWordVectors`] for
    /// one whose entries are missing, of other types, or inconsistent.
    pub fn from_pickle(data: &[u8], file: &str) -> Result<WordVectors, DataError> {
        let mut value = parse_pickle_value(data, file)?;
        let bad = |reason: String| DataError::BadWordVectors {
            file: file.to_string(),
            reason,
        };
        let missing = |key: &str| bad(format!("no {key:?} entry"));
        // Taken out of the parsed value rather than copied: the vectors are the bulk of it.
        let vectors = match value
            .take("word_vecs")
            .ok_or_else(|| missing("word_vecs"))?
        {
            PickleValue::Array(NumpyArray::F32(a)) => a,
            PickleValue::Array(NumpyArray::F64(a)) => a.mapv(|v| v as f32),
            _ => return Err(bad("\"word_vecs\" is not an array".into())),
        };
        let entry = |key: &str| value.get(key).ok_or_else(|| missing(key));
        let vectors = vectors
            .into_dimensionality::<Ix2>()
            .map_err(|_| bad("\"word_vecs\" is not 2-D".into()))?;
        let n = vectors.nrows();
        let PickleValue::Dict(id_to_word) = entry("id_to_word")? else {
            return Err(bad("\"id_to_word\" is not a dict".into()));
        };
        if id_to_word.len() != n {
            return Err(bad(format!(
                "\"id_to_word\" has {} words for {n} vectors",
                id_to_word.len()
            )));
        }
        let mut words: Vec<Option<String>> = vec![None; n];
        for (k, v) in id_to_word {
            let (PickleValue::Int(id), PickleValue::Str(word)) = (k, v) else {
                return Err(bad("\"id_to_word\" is not int → str".into()));
            };
            let slot = usize::try_from(*id)
                .ok()
                .and_then(|i| words.get_mut(i))
                .ok_or_else(|| bad(format!("id {id} is outside 0..{n}")))?;
            if slot.replace(word.clone()).is_some() {
                return Err(bad(format!("id {id} appears twice")));
            }
        }
        let mut vocabulary = Vocabulary::new();
        for word in words.into_iter().flatten() {
            if vocabulary.insert(&word) != vocabulary.len() - 1 {
                return Err(bad(format!("the word {word:?} has two ids")));
            }
        }
        let PickleValue::Dict(word_to_id) = entry("word_to_id")? else {
            return Err(bad("\"word_to_id\" is not a dict".into()));
        };
        if word_to_id.len() != n {
            return Err(bad(format!(
                "\"word_to_id\" has {} words, \"id_to_word\" {n}",
                word_to_id.len()
            )));
        }
        for (k, v) in word_to_id {
            let (PickleValue::Str(word), PickleValue::Int(id)) = (k, v) else {
                return Err(bad("\"word_to_id\" is not str → int".into()));
            };
            if vocabulary.id(word).and_then(|i| i64::try_from(i).ok()) != Some(*id) {
                return Err(bad(format!(
                    "\"word_to_id\" gives {word:?} the id {id}, \"id_to_word\" does not"
                )));
            }
        }
        Ok(WordVectors {
            vectors,
            vocabulary,
        })
    }
}

fn read_words(spec: &RemoteFile, opts: &FetchOptions) -> Result<Vec<String>, DataError> {
    let fetched = fetch(spec, opts)?;
    let text = std::str::from_utf8(&fetched.content).map_err(|e| DataError::NotText {
        file: spec.label(),
        reason: e.to_string(),
    })?;
    Ok(ptb_words(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_eos_as_the_book_reads_them() {
        assert_eq!(ptb_words(" a b \n c \n"), ["a", "b", "<eos>", "c", "<eos>"]);
        // As `replace` then `split` do: a line end with no space before it joins its words.
        assert_eq!(ptb_words("a\nb"), ["a<eos>b"]);
        assert_eq!(ptb_words("\n\n"), ["<eos><eos>"]);
        assert!(ptb_words("").is_empty());
        assert!(ptb_words(" \t ").is_empty());
    }

    #[test]
    fn ids_follow_first_appearance() {
        let v = Vocabulary::from_words(["b", "a", "b", "c", "a"]);
        assert_eq!(v.words(), ["b", "a", "c"]);
        assert_eq!((v.id("a"), v.id("z")), (Some(1), None));
        assert_eq!((v.word(2), v.word(3)), (Some("c"), None));
        assert!(Vocabulary::new().is_empty());
    }

    #[test]
    fn a_file_that_is_not_text_is_an_error() {
        use sha2::{Digest, Sha256};
        let mirror = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(mirror.path().join("ptb")).unwrap();
        let bytes = b" a b \n \xff\xfe \n";
        std::fs::write(mirror.path().join("ptb/bad.txt"), bytes).unwrap();
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let digest: &'static str = Box::leak(digest.into_boxed_str());
        let spec = file("ptb", "bad.txt", Some(digest), None, &[]);
        let opts = FetchOptions {
            cache_dir: cache.path().to_path_buf(),
            mirrors: vec![crate::Mirror::Dir(mirror.path().to_path_buf())],
            progress: false,
            ..FetchOptions::default()
        };
        let e = read_words(&spec, &opts).unwrap_err();
        assert!(
            e.to_string().starts_with("ptb/bad.txt: not UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_word_is_an_error_naming_it() {
        let v = Vocabulary::from_words(["the", "cat"]);
        assert_eq!(v.ids_of(&["cat", "the"], "f").unwrap(), [1, 0]);
        let e = v.ids_of(&["the", "dog"], "ptb/ptb.test.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ptb/ptb.test.txt: word 1 (\"dog\") is not in the training vocabulary"
        );
        assert!(v.ids_of::<&str>(&[], "f").unwrap().is_empty());
    }
}
