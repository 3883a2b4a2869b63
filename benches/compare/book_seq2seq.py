"""The sequel's AttentionSeq2seq answering date questions, written here from its
ch08/attention_seq2seq.py, ch08/attention_layer.py, common/time_layers.py, common/functions.py
and common/util.py (eval_seq2seq): the trained AttentionSeq2seq.pkl (float16 arrays cast to
float32 as BaseModel.load_params casts them), the questions of date.txt's test split reversed
as ch08/train.py reverses them, each question answered on its own (a batch of one), greedily.

`python book_seq2seq.py PKL DATE_TXT [COUNT]` answers the first COUNT test questions (all 5,000
by default) and prints one JSON line: the count answered, the count right, the seconds taken and
every guess as text. crates/nn-text/tests/book_seq2seq.rs compares it with nn_text::seq2seq.

For run.sh (through book_numpy.py): W14, the 5,000 test questions answered one at a time.
"""
import json
import pickle
import sys
import time

import numpy as np

# common/functions.py's sigmoid and softmax, as the Rnnlm evaluation writes them.
from book_rnnlm import sigmoid, softmax
from book_sequence import load_data


class TimeLSTM:
    """TimeLSTM's forward with LSTM's gates [f, g, i, o]; stateful as the decoder's."""

    def __init__(self, Wx, Wh, b, stateful):
        self.Wx, self.Wh, self.b = Wx, Wh, b
        self.stateful = stateful
        self.h, self.c = None, None

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def forward(self, xs):
        N, T, D = xs.shape
        H = self.Wh.shape[0]
        hs = np.empty((N, T, H), dtype="f")
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype="f")
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype="f")
        for t in range(T):
            A = np.dot(xs[:, t, :], self.Wx) + np.dot(self.h, self.Wh) + self.b
            f = sigmoid(A[:, :H])
            g = np.tanh(A[:, H:2 * H])
            i = sigmoid(A[:, 2 * H:3 * H])
            o = sigmoid(A[:, 3 * H:])
            self.c = f * self.c + g * i
            self.h = o * np.tanh(self.c)
            hs[:, t, :] = self.h
        return hs


def attention(hs_enc, h):
    """Attention.forward: AttentionWeight (softmax of Σ hs·h over H) then WeightSum."""
    N, T, H = hs_enc.shape
    s = np.sum(hs_enc * h.reshape(N, 1, H), axis=2)
    a = softmax(s)
    return np.sum(hs_enc * a.reshape(N, T, 1), axis=1)


class AttentionSeq2seq:
    def __init__(self, params):
        (self.enc_W, ewx, ewh, eb, self.dec_W, dwx, dwh, db, self.aff_W, self.aff_b) = params
        self.enc_lstm = TimeLSTM(ewx, ewh, eb, stateful=False)
        self.dec_lstm = TimeLSTM(dwx, dwh, db, stateful=True)

    def generate(self, xs, start_id, sample_size):
        enc_hs = self.enc_lstm.forward(self.enc_W[xs])
        sampled = []
        sample_id = start_id
        self.dec_lstm.set_state(enc_hs[:, -1])
        for _ in range(sample_size):
            x = np.array([sample_id]).reshape((1, 1))
            dec_hs = self.dec_lstm.forward(self.dec_W[x])
            N, T, H = dec_hs.shape
            c = np.empty_like(dec_hs)
            for t in range(T):
                c[:, t, :] = attention(enc_hs, dec_hs[:, t, :])
            out = np.concatenate((c, dec_hs), axis=2)
            score = np.dot(out.reshape(N * T, -1), self.aff_W) + self.aff_b
            sample_id = np.argmax(score.flatten())
            sampled.append(sample_id)
        return sampled


def load(pkl, date_txt):
    """The model (its float16 arrays cast to float32) and the reversed test split."""
    with open(pkl, "rb") as f:
        params = [p.astype("f") for p in pickle.load(f)]
    (_, _), (x_test, t_test), id_to_char = load_data(date_txt)
    return AttentionSeq2seq(params), x_test[:, ::-1], t_test, id_to_char


def answer_all(model, x_test, t_test, id_to_char, count):
    """ch08/train.py's evaluation loop: eval_seq2seq question by question."""
    right, guesses = 0, []
    for i in range(count):
        question, correct = x_test[[i]], t_test[[i]]
        correct = correct.flatten()
        guess = model.generate(question, correct[0], len(correct) - 1)
        guess = "".join(id_to_char[int(c)] for c in guess)
        right += guess == "".join(id_to_char[int(c)] for c in correct[1:])
        guesses.append(guess)
    return right, guesses


def run(wanted, runs, threads, median_time, impl):
    if "W14" not in wanted:
        return
    from book_words import data_file, json_line
    pkl, date_txt = data_file("weights", "AttentionSeq2seq.pkl"), data_file("sequence", "date.txt")
    if pkl is None or date_txt is None:
        return
    model, x_test, t_test, id_to_char = load(pkl, date_txt)
    s, ts = median_time(lambda: answer_all(model, x_test, t_test, id_to_char, len(x_test)), runs)
    json_line(impl, threads, "W14", s, ts, len(x_test), "questions/s")


def main():
    model, x_test, t_test, id_to_char = load(sys.argv[1], sys.argv[2])
    count = int(sys.argv[3]) if len(sys.argv) > 3 else len(x_test)
    start = time.perf_counter()
    right, guesses = answer_all(model, x_test, t_test, id_to_char, count)
    seconds = time.perf_counter() - start
    print(json.dumps({"count": count, "right": right, "seconds": seconds, "guesses": guesses}))


if __name__ == "__main__":
    main()
