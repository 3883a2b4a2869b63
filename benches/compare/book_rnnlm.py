"""The sequel's ch06/eval.py on its trained Rnnlm.pkl, written here with NumPy the way its
ch06/rnnlm.py, common/time_layers.py, common/functions.py and common/util.py compute: the
parameters cast to float32 as its load_params does, TimeEmbedding -> TimeLSTM (stateful, gates
[f, g, i, o]) -> TimeAffine -> TimeSoftmaxWithLoss, and eval_perplexity (batch 10, time 35, the
ten rows a tenth of the corpus apart, the state carried from window to window after one reset).
Prints one JSON line: {"test_perplexity": ..., "windows": ..., "mean_loss": ...}.

    python3 book_rnnlm.py PATH/TO/Rnnlm.pkl PATH/TO/ptb.train.txt PATH/TO/ptb.test.txt
"""
import json
import pickle
import sys
import time

import numpy as np


def load_ids(path, word_to_id=None):
    # The book's dataset/ptb.py: each line end becomes <eos>; ids in order of first appearance.
    words = open(path).read().replace("\n", "<eos>").strip().split()
    if word_to_id is None:
        word_to_id = {}
        for w in words:
            if w not in word_to_id:
                word_to_id[w] = len(word_to_id)
    return np.array([word_to_id[w] for w in words]), word_to_id


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    x = np.exp(x)
    x /= x.sum(axis=1, keepdims=True)
    return x


class Rnnlm:
    def __init__(self, params):
        self.embed_W, self.Wx, self.Wh, self.b, self.affine_W, self.affine_b = params
        self.h = self.c = None

    def reset_state(self):
        self.h = self.c = None

    def lstm(self, x, h_prev, c_prev):
        H = h_prev.shape[1]
        A = np.dot(x, self.Wx) + np.dot(h_prev, self.Wh) + self.b
        f, g, i, o = A[:, :H], A[:, H:2 * H], A[:, 2 * H:3 * H], A[:, 3 * H:]
        f, g, i, o = sigmoid(f), np.tanh(g), sigmoid(i), sigmoid(o)
        c_next = f * c_prev + g * i
        return o * np.tanh(c_next), c_next

    def forward(self, xs, ts):
        N, T = xs.shape
        V, D = self.embed_W.shape
        H = self.Wh.shape[0]
        emb = np.empty((N, T, D), dtype="f")
        for t in range(T):
            emb[:, t, :] = self.embed_W[xs[:, t]]
        if self.h is None:
            self.h = np.zeros((N, H), dtype="f")
        if self.c is None:
            self.c = np.zeros((N, H), dtype="f")
        hs = np.empty((N, T, H), dtype="f")
        for t in range(T):
            self.h, self.c = self.lstm(emb[:, t, :], self.h, self.c)
            hs[:, t, :] = self.h
        score = (np.dot(hs.reshape(N * T, -1), self.affine_W) + self.affine_b).reshape(N, T, -1)
        ys = softmax(score.reshape(N * T, V))
        ts = ts.reshape(N * T)
        mask = ts != -1
        ls = np.log(ys[np.arange(N * T), ts])
        ls *= mask
        loss = -np.sum(ls)
        loss /= mask.sum()
        return loss


def eval_perplexity(model, corpus, batch_size=10, time_size=35):
    corpus_size = len(corpus)
    total_loss = 0
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    jump = (corpus_size - 1) // batch_size
    for iters in range(max_iters):
        xs = np.zeros((batch_size, time_size), dtype=np.int32)
        ts = np.zeros((batch_size, time_size), dtype=np.int32)
        time_offset = iters * time_size
        offsets = [time_offset + (i * jump) for i in range(batch_size)]
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                xs[i, t] = corpus[(offset + t) % corpus_size]
                ts[i, t] = corpus[(offset + t + 1) % corpus_size]
        total_loss += model.forward(xs, ts)
    return np.exp(total_loss / max_iters), max_iters, total_loss / max_iters


def main():
    params = [p.astype("f") for p in pickle.load(open(sys.argv[1], "rb"))]
    _, word_to_id = load_ids(sys.argv[2])
    corpus_test, _ = load_ids(sys.argv[3], word_to_id)
    model = Rnnlm(params)
    model.reset_state()
    start = time.perf_counter()
    ppl, windows, mean = eval_perplexity(model, corpus_test)
    print(json.dumps({"test_perplexity": float(ppl), "windows": windows,
                      "mean_loss": float(mean), "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
