"""W9 and W10 in the sequel's own NumPy code, written here from its ch04/cbow.py,
negative_sampling_layer.py, common/layers.py, common/optimizer.py and common/trainer.py (W9), and
ch02/count_method_big.py (W10). Called by book_numpy.py; prints one JSON line per workload.

W9, one CBOW epoch on PTB (window 5, hidden 100, batch 100, 5 negatives, Adam 0.001), is the
book's algorithm line for line: ten Embedding layers sharing W_in, six EmbeddingDot layers
sharing W_out, each zeroing and filling a full-size gradient, the trainer's remove_duplicate
summing them, the sampler drawing each row with np.random.choice. An epoch takes minutes, so the
first W9_STEPS steps are timed and their time scaled to the epoch's 9,295 (every step does the
same work), the set-up (contexts, sampler, model) timed whole; the JSON line says so.

W10 vectorises the book's Python loops (np.add.at for the co-occurrence counts, whole-matrix
PPMI) and calls scikit-learn's randomized_svd on the dense matrix, as the book does.
"""
import collections
import json
import os
import sys
import time

import numpy as np

# The book's common/optimizer.py Adam, as the MLP workloads use it.
from book_numpy import Adam

W9_STEPS = int(os.environ.get("W9_STEPS", "200"))


def data_file(*parts):
    """A file of the project's download cache or of an NN_DATA_MIRROR directory, as
    os.path.join(place, *parts); None where there is none."""
    here = os.path.dirname(os.path.abspath(__file__))
    places = [os.environ.get("NN_DATA_DIR", os.path.join(here, "..", "..", "datasets"))]
    places += [p for p in os.environ.get("NN_DATA_MIRROR", "").split(",")
               if p and "://" not in p]
    for place in places:
        path = os.path.join(place, *parts)
        if os.path.isfile(path):
            return path
    return None


def ptb_train():
    """ptb.train.txt from the project's download cache or an NN_DATA_MIRROR directory."""
    return data_file("ptb", "ptb.train.txt")


def json_line(impl, threads, workload, s, ts, work, unit, note=None):
    """One result line of run.sh."""
    out = {"impl": impl, "threads": threads, "workload": workload, "median_s": s,
           "runs_s": ts, "rate": work / s, "unit": unit}
    if note:
        out["note"] = note
    print(json.dumps(out), flush=True)


def load_ptb(path):
    # The book's dataset/ptb.py: line ends as <eos>, ids in order of first appearance.
    words = open(path).read().replace("\n", "<eos>").strip().split()
    word_to_id = {}
    for w in words:
        if w not in word_to_id:
            word_to_id[w] = len(word_to_id)
    return np.array([word_to_id[w] for w in words]), word_to_id


def create_contexts_target(corpus, window_size=1):
    target = corpus[window_size:-window_size]
    contexts = []
    for idx in range(window_size, len(corpus) - window_size):
        cs = []
        for t in range(-window_size, window_size + 1):
            if t == 0:
                continue
            cs.append(corpus[idx + t])
        contexts.append(cs)
    return np.array(contexts), np.array(target)


class Embedding:
    def __init__(self, W):
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None

    def forward(self, idx):
        W, = self.params
        self.idx = idx
        return W[idx]

    def backward(self, dout):
        dW, = self.grads
        dW[...] = 0
        np.add.at(dW, self.idx, dout)


class EmbeddingDot:
    def __init__(self, W):
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h, idx):
        target_W = self.embed.forward(idx)
        out = np.sum(target_W * h, axis=1)
        self.cache = (h, target_W)
        return out

    def backward(self, dout):
        h, target_W = self.cache
        dout = dout.reshape(dout.shape[0], 1)
        self.embed.backward(dout * h)
        return dout * target_W


def cross_entropy_error(y, t):
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class SigmoidWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        return cross_entropy_error(np.c_[1 - self.y, self.y], self.t)

    def backward(self, dout=1):
        return (self.y - self.t) * dout / self.t.shape[0]


class UnigramSampler:
    def __init__(self, corpus, power, sample_size):
        self.sample_size = sample_size
        counts = collections.Counter()
        for word_id in corpus:
            counts[word_id] += 1
        self.vocab_size = len(counts)
        self.word_p = np.zeros(self.vocab_size)
        for i in range(self.vocab_size):
            self.word_p[i] = counts[i]
        self.word_p = np.power(self.word_p, power)
        self.word_p /= np.sum(self.word_p)

    def get_negative_sample(self, target):
        batch_size = target.shape[0]
        negative_sample = np.zeros((batch_size, self.sample_size), dtype=np.int32)
        for i in range(batch_size):
            p = self.word_p.copy()
            p[target[i]] = 0
            p /= p.sum()
            negative_sample[i, :] = np.random.choice(self.vocab_size, size=self.sample_size,
                                                     replace=False, p=p)
        return negative_sample


class NegativeSamplingLoss:
    def __init__(self, W, corpus, power=0.75, sample_size=5):
        self.sample_size = sample_size
        self.sampler = UnigramSampler(corpus, power, sample_size)
        self.loss_layers = [SigmoidWithLoss() for _ in range(sample_size + 1)]
        self.embed_dot_layers = [EmbeddingDot(W) for _ in range(sample_size + 1)]
        self.params, self.grads = [], []
        for layer in self.embed_dot_layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, h, target):
        batch_size = target.shape[0]
        negative_sample = self.sampler.get_negative_sample(target)
        score = self.embed_dot_layers[0].forward(h, target)
        loss = self.loss_layers[0].forward(score, np.ones(batch_size, dtype=np.int32))
        negative_label = np.zeros(batch_size, dtype=np.int32)
        for i in range(self.sample_size):
            score = self.embed_dot_layers[1 + i].forward(h, negative_sample[:, i])
            loss += self.loss_layers[1 + i].forward(score, negative_label)
        return loss

    def backward(self, dout=1):
        dh = 0
        for l0, l1 in zip(self.loss_layers, self.embed_dot_layers):
            dh += l1.backward(l0.backward(dout))
        return dh


class CBOW:
    def __init__(self, vocab_size, hidden_size, window_size, corpus):
        V, H = vocab_size, hidden_size
        W_in = 0.01 * np.random.randn(V, H).astype("f")
        W_out = 0.01 * np.random.randn(V, H).astype("f")
        self.in_layers = [Embedding(W_in) for _ in range(2 * window_size)]
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5)
        self.params, self.grads = [], []
        for layer in self.in_layers + [self.ns_loss]:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, contexts, target):
        h = 0
        for i, layer in enumerate(self.in_layers):
            h += layer.forward(contexts[:, i])
        h *= 1 / len(self.in_layers)
        return self.ns_loss.forward(h, target)

    def backward(self, dout=1):
        dout = self.ns_loss.backward(dout)
        dout *= 1 / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dout)


def remove_duplicate(params, grads):
    # common/trainer.py: shared weights' gradients summed into one.
    params, grads = params[:], grads[:]
    while True:
        find_flg = False
        L = len(params)
        for i in range(0, L - 1):
            for j in range(i + 1, L):
                if params[i] is params[j]:
                    grads[i] += grads[j]
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                elif params[i].ndim == 2 and params[j].ndim == 2 and \
                        params[i].T.shape == params[j].shape and np.all(params[i].T == params[j]):
                    grads[i] += grads[j].T
                    find_flg = True
                    params.pop(j)
                    grads.pop(j)
                if find_flg:
                    break
            if find_flg:
                break
        if not find_flg:
            break
    return params, grads


def cbow_epoch(corpus, vocab_size, steps, epoch_steps):
    """The trainer's fit for one epoch: the set-up timed whole, the first `steps` steps timed
    and scaled to the epoch's `epoch_steps`. Returns the estimated seconds of the epoch."""
    start = time.perf_counter()
    contexts, target = create_contexts_target(corpus, 5)
    model, optimizer = CBOW(vocab_size, 100, 5, corpus), Adam()
    idx = np.random.permutation(np.arange(len(target)))
    contexts, target = contexts[idx], target[idx]
    set_up = time.perf_counter() - start
    start = time.perf_counter()
    for iters in range(steps):
        batch_x = contexts[iters * 100:(iters + 1) * 100]
        batch_t = target[iters * 100:(iters + 1) * 100]
        model.forward(batch_x, batch_t)
        model.backward()
        params, grads = remove_duplicate(model.params, model.grads)
        optimizer.update(params, grads)
    return set_up + (time.perf_counter() - start) * epoch_steps / steps


def count_pipeline(corpus, vocab_size):
    from sklearn.utils.extmath import randomized_svd
    window = 2
    C = np.zeros((vocab_size, vocab_size), dtype=np.int32)
    for i in range(1, window + 1):
        np.add.at(C, (corpus[i:], corpus[:-i]), 1)
        np.add.at(C, (corpus[:-i], corpus[i:]), 1)
    N = np.sum(C)
    S = np.sum(C, axis=0)
    with np.errstate(divide="ignore"):
        pmi = np.log2(C * (N / np.outer(S, S)) + 1e-8)
    W = np.maximum(0, pmi).astype(np.float32)
    del pmi
    U, S, V = randomized_svd(W, n_components=100, n_iter=5, random_state=0)
    return float(S[0])


def run(wanted, runs, threads, median_time, impl):
    path = ptb_train()
    if path is None:
        print("book_words.py: W9 and W10 skipped, ptb.train.txt not found "
              "(set NN_DATA_MIRROR)", file=sys.stderr)
        return
    corpus, word_to_id = load_ptb(path)
    V = len(word_to_id)
    np.random.seed(0)
    contexts_per_epoch = len(corpus) - 10
    epoch_steps = contexts_per_epoch // 100

    def line(*args):
        json_line(impl, threads, *args)

    if "W9" in wanted:
        steps = min(W9_STEPS, epoch_steps)
        ts = sorted(cbow_epoch(corpus, V, steps, epoch_steps) for _ in range(runs))
        line("W9", ts[len(ts) // 2], ts, contexts_per_epoch, "examples/s",
             f"the first {steps} of {epoch_steps} steps timed, scaled to the epoch")
    if "W10" in wanted:
        s, ts = median_time(lambda: count_pipeline(corpus, V), runs)
        line("W10", s, ts, 1, "pipelines/s")
