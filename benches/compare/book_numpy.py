"""The workloads of benches/compare in the book's own NumPy style (ch.3 predict, ch.5 layers,
ch.6 optimizers), written for this harness. Prints one JSON line per workload.

Threads: set OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS) before starting Python; run.sh does.
"""
import json
import sys
import time

import numpy as np

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 1


def images(n):
    i = np.arange(n, dtype=np.int64)[:, None]
    j = np.arange(784, dtype=np.int64)[None, :]
    return (((i * 7919 + j * 104729) % 256) / 255.0).astype(np.float32)


def weights(rows, cols, salt):
    i = np.arange(rows, dtype=np.int64)[:, None]
    j = np.arange(cols, dtype=np.int64)[None, :]
    return ((((i * 31 + j * 17 + salt) % 97) / 97.0 - 0.5) * 0.1).astype(np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(a):
    c = np.max(a, axis=-1, keepdims=True)
    e = np.exp(a - c)
    return e / np.sum(e, axis=-1, keepdims=True)


def book_network():
    return {
        "W1": weights(784, 50, 1), "b1": np.zeros(50, np.float32),
        "W2": weights(50, 100, 2), "b2": np.zeros(100, np.float32),
        "W3": weights(100, 10, 3), "b3": np.zeros(10, np.float32),
    }


def predict(network, x):
    a1 = np.dot(x, network["W1"]) + network["b1"]
    z1 = sigmoid(a1)
    a2 = np.dot(z1, network["W2"]) + network["b2"]
    z2 = sigmoid(a2)
    a3 = np.dot(z2, network["W3"]) + network["b3"]
    return softmax(a3)


def w1_unbatched(x, net):
    hits = 0
    for i in range(len(x)):
        y = predict(net, x[i])
        hits += int(np.argmax(y))
    return hits


def w2_batched(x, net):
    hits = 0
    for i in range(0, len(x), 100):
        y = predict(net, x[i:i + 100])
        hits += int(np.argmax(y, axis=1).sum())
    return hits


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return np.dot(dout, self.W.T)


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        n = x.shape[0]
        return -np.sum(np.log(self.y[np.arange(n), t] + 1e-7)) / n

    def backward(self):
        n = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g ** 2 - v)
            p -= lr_t * m / (np.sqrt(v) + 1e-7)


def make_mlp(widths):
    layers = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Affine(weights(a, b, k + 1), np.zeros(b, np.float32)))
        if k + 2 < len(widths):
            layers.append(Relu())
    return layers


def epoch(x, t, widths, optimizer):
    layers, last = make_mlp(widths), SoftmaxWithLoss()
    affines = [l for l in layers if isinstance(l, Affine)]
    adam = Adam() if optimizer == "adam" else None
    loss = 0.0
    for i in range(0, len(x), 100):
        h = x[i:i + 100]
        for l in layers:
            h = l.forward(h)
        loss = last.forward(h, t[i:i + 100])
        d = last.backward()
        for l in reversed(layers):
            d = l.backward(d)
        params = [p for a in affines for p in (a.W, a.b)]
        grads = [g for a in affines for g in (a.dW, a.db)]
        if adam is None:
            for p, g in zip(params, grads):
                p -= 0.1 * g
        else:
            adam.update(params, grads)
    return float(loss)


def median_time(f, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times


def report(workload, seconds, times, work, unit):
    print(json.dumps({"impl": "numpy (book style)", "threads": THREADS, "workload": workload,
                      "median_s": seconds, "runs_s": times, "rate": work / seconds,
                      "unit": unit}), flush=True)


def cnn_workloads(wanted):
    """W6 SimpleConvNet and W8 DeepConvNet inference with the book's own im2col layers
    (book_cnn.py), images (N, 1, 28, 28), batches of 100. (W7, training, is not written in the
    book's NumPy style here: its backward layers would be a second copy of the book.)"""
    import book_cnn

    def conv_weights(out, inp, k, salt):
        return weights(out, inp * k * k, salt).reshape(out, inp, k, k)

    def classify(layers, x):
        hits = 0
        for i in range(0, x.shape[0], 100):
            hits += int(np.argmax(book_cnn.predict(layers, x[i:i + 100]), axis=1).sum())
        return hits

    x = images(10_000).reshape(-1, 1, 28, 28)
    if "W6" in wanted:
        p = {"W1": conv_weights(30, 1, 5, 1), "b1": np.zeros(30, np.float32),
             "W2": weights(4320, 100, 2), "b2": np.zeros(100, np.float32),
             "W3": weights(100, 10, 3), "b3": np.zeros(10, np.float32)}
        layers = book_cnn.simple_convnet(p)
        s, ts = median_time(lambda: classify(layers, x), RUNS)
        report("W6", s, ts, 10_000, "images/s")
    if "W8" in wanted:
        channels = [1, 16, 16, 32, 32, 64, 64]
        p = {}
        for i in range(6):
            p["W%d" % (i + 1)] = conv_weights(channels[i + 1], channels[i], 3, i + 1)
            p["b%d" % (i + 1)] = np.zeros(channels[i + 1], np.float32)
        p["W7"], p["b7"] = weights(1024, 50, 7), np.zeros(50, np.float32)
        p["W8"], p["b8"] = weights(50, 10, 8), np.zeros(10, np.float32)
        layers = book_cnn.deep_convnet(p)
        s, ts = median_time(lambda: classify(layers, x), RUNS)
        report("W8", s, ts, 10_000, "images/s")


def main():
    wanted = sys.argv[3].split(",") if len(sys.argv) > 3 else ["W1", "W2", "W3", "W4", "W5", "W6", "W8", "W9", "W10", "W11", "W12", "W14"]
    cnn_workloads(wanted)
    if "W9" in wanted or "W10" in wanted:
        import book_words
        book_words.run(wanted, RUNS, THREADS, median_time, "numpy (book style)")
    if "W11" in wanted or "W12" in wanted:
        import book_rnn
        book_rnn.run(wanted, RUNS, THREADS, median_time, "numpy (book style)")
    if "W14" in wanted:
        import book_seq2seq
        book_seq2seq.run(wanted, RUNS, THREADS, median_time, "numpy (book style)")
    if not any(w in wanted for w in ["W1", "W2", "W3", "W4", "W5"]):
        return
    x10k, net = images(10_000), book_network()
    for name, f in [("W1", lambda: w1_unbatched(x10k, net)), ("W2", lambda: w2_batched(x10k, net))]:
        s, ts = median_time(f, RUNS)
        report(name, s, ts, 10_000, "images/s")
    x60k = images(60_000)
    t60k = (np.arange(60_000) % 10).astype(np.int64)
    s, ts = median_time(lambda: epoch(x60k, t60k, [784, 100, 10], "sgd"), RUNS)
    report("W3", s, ts, 60_000, "samples/s")
    s, ts = median_time(lambda: epoch(x60k, t60k, [784, 256, 256, 10], "adam"), RUNS)
    report("W4", s, ts, 60_000, "samples/s")
    for name, (m, k, n) in [("W5 1024^3", (1024, 1024, 1024)), ("W5 100x784x100", (100, 784, 100)),
                            ("W5 784x100x100", (784, 100, 100))]:
        a, b = weights(m, k, 5), weights(k, n, 6)
        reps = max(1, int(2e9 // (2 * m * n * k)))

        def products():
            for _ in range(reps):
                np.dot(a, b)
        s, ts = median_time(products, RUNS)
        report(name, s / reps, [t / reps for t in ts], 2 * m * n * k / 1e9, "GFLOP/s")


if __name__ == "__main__":
    main()
