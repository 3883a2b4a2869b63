"""W11 and W12 in the sequel's own NumPy code, written here from its ch06/rnnlm.py,
common/time_layers.py, common/layers.py, common/functions.py, common/optimizer.py,
common/trainer.py (RnnlmTrainer, remove_duplicate, clip_grads) and common/util.py
(eval_perplexity). Called by book_numpy.py; prints one JSON line per workload.

W11, one epoch of the book's Rnnlm on ptb.train.txt with its ch06/train_rnnlm.py settings (batch
20, time 35, wordvec 100, hidden 100, SGD lr 20, clip 0.25): TimeEmbedding (one Embedding layer
per step, each zeroing and filling a full-size gradient), TimeLSTM (one LSTM layer object per
step, gates [f, g, i, o]), TimeAffine, TimeSoftmaxWithLoss, float32 throughout. An epoch takes
minutes, so the first W11_WINDOWS windows are timed and scaled to the epoch's 1,327 (every window
does the same work); the JSON line says so.

W12, the test perplexity of the book's trained Rnnlm.pkl (book_rnnlm.py, the book's eval.py).
"""
import json
import os
import pickle
import sys
import time

import numpy as np

from book_rnnlm import Rnnlm as TrainedRnnlm, eval_perplexity, load_ids, sigmoid, softmax
# The book's common/layers.py Embedding and common/trainer.py remove_duplicate, as W9 uses them.
from book_words import Embedding, data_file, json_line, ptb_train, remove_duplicate

W11_WINDOWS = int(os.environ.get("W11_WINDOWS", "200"))


class TimeEmbedding:
    def __init__(self, W):
        self.params, self.grads, self.layers, self.W = [W], [np.zeros_like(W)], None, W

    def forward(self, xs):
        N, T = xs.shape
        V, D = self.W.shape
        out = np.empty((N, T, D), dtype="f")
        self.layers = []
        for t in range(T):
            layer = Embedding(self.W)
            out[:, t, :] = layer.forward(xs[:, t])
            self.layers.append(layer)
        return out

    def backward(self, dout):
        N, T, D = dout.shape
        grad = 0
        for t in range(T):
            layer = self.layers[t]
            layer.backward(dout[:, t, :])
            grad += layer.grads[0]
        self.grads[0][...] = grad


class LSTM:
    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        N, H = h_prev.shape
        A = np.dot(x, Wx) + np.dot(h_prev, Wh) + b
        f, g, i, o = A[:, :H], A[:, H:2 * H], A[:, 2 * H:3 * H], A[:, 3 * H:]
        f, g, i, o = sigmoid(f), np.tanh(g), sigmoid(i), sigmoid(o)
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, b = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c_next = np.tanh(c_next)
        ds = dc_next + (dh_next * o) * (1 - tanh_c_next ** 2)
        dc_prev = ds * f
        di, df, do, dg = ds * g, ds * c_prev, dh_next * tanh_c_next, ds * i
        di *= i * (1 - i)
        df *= f * (1 - f)
        do *= o * (1 - o)
        dg *= (1 - g ** 2)
        dA = np.hstack((df, dg, di, do))
        self.grads[0][...] = np.dot(x.T, dA)
        self.grads[1][...] = np.dot(h_prev.T, dA)
        self.grads[2][...] = dA.sum(axis=0)
        return np.dot(dA, Wx.T), np.dot(dA, Wh.T), dc_prev


class TimeLSTM:
    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers, self.h, self.c = None, None, None

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, D = xs.shape
        H = Wh.shape[0]
        self.layers = []
        hs = np.empty((N, T, H), dtype="f")
        if self.h is None:
            self.h = np.zeros((N, H), dtype="f")
        if self.c is None:
            self.c = np.zeros((N, H), dtype="f")
        for t in range(T):
            layer = LSTM(*self.params)
            self.h, self.c = layer.forward(xs[:, t, :], self.h, self.c)
            hs[:, t, :] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        Wx, Wh, b = self.params
        N, T, H = dhs.shape
        D = Wx.shape[0]
        dxs = np.empty((N, T, D), dtype="f")
        dh, dc = 0, 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh, dc = layer.backward(dhs[:, t, :] + dh, dc)
            dxs[:, t, :] = dx
            for i, grad in enumerate(layer.grads):
                grads[i] += grad
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        return dxs


class TimeAffine:
    def __init__(self, W, b):
        self.params, self.grads, self.x = [W, b], [np.zeros_like(W), np.zeros_like(b)], None

    def forward(self, x):
        N, T, D = x.shape
        W, b = self.params
        self.x = x
        return (np.dot(x.reshape(N * T, -1), W) + b).reshape(N, T, -1)

    def backward(self, dout):
        x = self.x
        N, T, D = x.shape
        W, b = self.params
        dout = dout.reshape(N * T, -1)
        rx = x.reshape(N * T, -1)
        self.grads[0][...] = np.dot(rx.T, dout)
        self.grads[1][...] = np.sum(dout, axis=0)
        return np.dot(dout, W.T).reshape(*x.shape)


class TimeSoftmaxWithLoss:
    def __init__(self):
        self.params, self.grads, self.cache, self.ignore_label = [], [], None, -1

    def forward(self, xs, ts):
        N, T, V = xs.shape
        mask = (ts != self.ignore_label)
        xs, ts, mask = xs.reshape(N * T, V), ts.reshape(N * T), mask.reshape(N * T)
        ys = softmax(xs)
        ls = np.log(ys[np.arange(N * T), ts])
        ls *= mask
        loss = -np.sum(ls) / mask.sum()
        self.cache = (ts, ys, mask, (N, T, V))
        return loss

    def backward(self, dout=1):
        ts, ys, mask, (N, T, V) = self.cache
        dx = ys
        dx[np.arange(N * T), ts] -= 1
        dx *= dout
        dx /= mask.sum()
        dx *= mask[:, np.newaxis]
        return dx.reshape((N, T, V))


class Rnnlm:
    def __init__(self, V=10000, D=100, H=100):
        rn = np.random.randn
        embed_W = (rn(V, D) / 100).astype("f")
        lstm_Wx = (rn(D, 4 * H) / np.sqrt(D)).astype("f")
        lstm_Wh = (rn(H, 4 * H) / np.sqrt(H)).astype("f")
        lstm_b = np.zeros(4 * H).astype("f")
        affine_W = (rn(H, V) / np.sqrt(H)).astype("f")
        affine_b = np.zeros(V).astype("f")
        self.layers = [TimeEmbedding(embed_W), TimeLSTM(lstm_Wx, lstm_Wh, lstm_b),
                       TimeAffine(affine_W, affine_b)]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs, ts):
        for layer in self.layers:
            xs = layer.forward(xs)
        return self.loss_layer.forward(xs, ts)

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


def clip_grads(grads, max_norm):
    total_norm = 0
    for grad in grads:
        total_norm += np.sum(grad ** 2)
    total_norm = np.sqrt(total_norm)
    rate = max_norm / (total_norm + 1e-6)
    if rate < 1:
        for grad in grads:
            grad *= rate


def train_windows(corpus, windows, batch_size=20, time_size=35, lr=20.0, max_grad=0.25):
    """The book's RnnlmTrainer.fit over the first `windows` windows; the mean loss."""
    xs, ts = corpus[:-1], corpus[1:]
    data_size = len(xs)
    model = Rnnlm(int(max(corpus) + 1))
    jump = data_size // batch_size
    offsets = [i * jump for i in range(batch_size)]
    time_idx, total = 0, 0.0
    for _ in range(windows):
        batch_x = np.empty((batch_size, time_size), dtype="i")
        batch_t = np.empty((batch_size, time_size), dtype="i")
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                batch_x[i, t] = xs[(offset + time_idx) % data_size]
                batch_t[i, t] = ts[(offset + time_idx) % data_size]
            time_idx += 1
        total += model.forward(batch_x, batch_t)
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        clip_grads(grads, max_grad)
        for p, g in zip(params, grads):
            p -= lr * g
    return total / windows


def run(wanted, runs, threads, median_time, impl):
    train = ptb_train()
    if train is None:
        print("book_rnn.py: W11 and W12 skipped, ptb.train.txt not found (set NN_DATA_MIRROR)",
              file=sys.stderr)
        return
    corpus, word_to_id = load_ids(train)
    epoch_windows = (len(corpus) - 1) // (20 * 35)

    def line(*args):
        json_line(impl, threads, *args)

    if "W11" in wanted:
        windows = min(W11_WINDOWS, epoch_windows)
        np.random.seed(0)
        s, ts = median_time(lambda: train_windows(corpus, windows), runs)
        scale = epoch_windows / windows
        line("W11", s * scale, [t * scale for t in ts], epoch_windows * 700, "words/s",
             f"the first {windows} of {epoch_windows} windows timed, scaled to the epoch")
    if "W12" in wanted:
        pkl = data_file("weights", "Rnnlm.pkl")
        test = os.path.join(os.path.dirname(train), "ptb.test.txt")
        if pkl is None or not os.path.isfile(test):
            print("book_rnn.py: W12 skipped, Rnnlm.pkl or ptb.test.txt not found", file=sys.stderr)
            return
        params = [p.astype("f") for p in pickle.load(open(pkl, "rb"))]
        corpus_test, _ = load_ids(test, word_to_id)

        def evaluate():
            model = TrainedRnnlm(params)
            model.reset_state()
            return eval_perplexity(model, corpus_test)[0]
        s, ts = median_time(evaluate, runs)
        line("W12", s, ts, len(corpus_test), "words/s")


if __name__ == "__main__":
    # Quick check: python book_rnn.py WINDOWS prints the mean loss and seconds per window.
    path = ptb_train()
    corpus, _ = load_ids(path)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    np.random.seed(0)
    start = time.perf_counter()
    loss = train_windows(corpus, n)
    print(json.dumps({"windows": n, "mean_loss": float(loss),
                      "s_per_window": (time.perf_counter() - start) / n}))
