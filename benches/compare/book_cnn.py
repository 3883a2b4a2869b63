"""The book's trained CNNs on the MNIST test set, computed the book's way: its im2col
`Convolution`, `Pooling`, `Affine`, `Relu` and `Dropout` layers (common/layers.py,
common/util.py), its `SimpleConvNet` (ch07/simple_convnet.py) and `DeepConvNet`
(ch08/deep_convnet.py) in evaluation mode, and `accuracy(x, t, batch_size=100)`.

zero-nn's `nn-mnist infer --net simple-convnet|deep-convnet` must classify exactly as many test
images correctly as this prints; crates/nn-mnist/tests/book_cnn.rs checks it.

Usage: python book_cnn.py WEIGHTS.pkl T10K_IMAGES.gz T10K_LABELS.gz simple|deep
  (the MNIST test set's IDX files, e.g. ../shared/datasets/mnist/t10k-*-ubyte.gz)
Prints one JSON line: {"net", "correct", "total", "accuracy", "seconds"}.
"""
import gzip
import json
import pickle
import sys
import time

import numpy as np


# --- common/util.py -------------------------------------------------------------------------
def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1

    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], 'constant')
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))

    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]

    col = col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)
    return col


# --- common/layers.py (forward passes, evaluation mode) -------------------------------------
class Relu:
    def forward(self, x):
        mask = (x <= 0)
        out = x.copy()
        out[mask] = 0
        return out


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return np.dot(x, self.W) + self.b


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x):
        # train_flg=False: the book scales at test time.
        return x * (1.0 - self.dropout_ratio)


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        out = np.max(col, axis=1)
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)


# --- ch07/simple_convnet.py and ch08/deep_convnet.py ----------------------------------------
def simple_convnet(p):
    return [
        Convolution(p['W1'], p['b1'], 1, 0), Relu(), Pooling(2, 2, stride=2),
        Affine(p['W2'], p['b2']), Relu(), Affine(p['W3'], p['b3']),
    ]


def deep_convnet(p):
    pads = {1: 1, 2: 1, 3: 1, 4: 2, 5: 1, 6: 1}
    conv = lambda i: Convolution(p['W%d' % i], p['b%d' % i], 1, pads[i])
    return [
        conv(1), Relu(), conv(2), Relu(), Pooling(2, 2, stride=2),
        conv(3), Relu(), conv(4), Relu(), Pooling(2, 2, stride=2),
        conv(5), Relu(), conv(6), Relu(), Pooling(2, 2, stride=2),
        Affine(p['W7'], p['b7']), Relu(), Dropout(0.5),
        Affine(p['W8'], p['b8']), Dropout(0.5),
    ]


def predict(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def accuracy(layers, x, t, batch_size=100):
    acc = 0
    for i in range(int(x.shape[0] / batch_size)):
        tx = x[i * batch_size:(i + 1) * batch_size]
        tt = t[i * batch_size:(i + 1) * batch_size]
        y = np.argmax(predict(layers, tx), axis=1)
        acc += np.sum(y == tt)
    return int(acc)


# --- dataset/mnist.py: load_mnist(flatten=False, normalize=True) ----------------------------
def load_test(images_gz, labels_gz):
    with gzip.open(images_gz, 'rb') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(labels_gz, 'rb') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    return x, labels


def main():
    weights, images_gz, labels_gz, net = sys.argv[1:5]
    with open(weights, 'rb') as f:
        params = pickle.load(f)
    layers = {'simple': simple_convnet, 'deep': deep_convnet}[net](params)
    x, t = load_test(images_gz, labels_gz)
    started = time.perf_counter()
    correct = accuracy(layers, x, t)
    seconds = time.perf_counter() - started
    print(json.dumps({
        'net': net, 'correct': correct, 'total': int(x.shape[0]),
        'accuracy': correct / x.shape[0], 'seconds': round(seconds, 3),
        'numpy': np.__version__,
    }))


if __name__ == '__main__':
    main()
