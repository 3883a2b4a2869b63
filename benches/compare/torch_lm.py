"""W11 in PyTorch (CPU, float32): the sequel's Rnnlm trained on ptb.train.txt with its
ch06/train_rnnlm.py settings (batch 20, time 35, wordvec 100, hidden 100, SGD lr 20, gradients
clipped to norm 0.25), written as a PyTorch user would: nn.Embedding -> nn.LSTM (batch first) ->
nn.Linear, cross_entropy, clip_grad_norm_, torch.optim.SGD, the LSTM state carried from window
to window and detached; the same windows as the book (rows len/20 words apart, each window
continuing the last). The first W11_WINDOWS windows are timed and scaled to the epoch, as for
the other implementations. Called by torch_bench.py; prints one JSON line.
"""
import json
import os

import numpy as np
import torch

from book_rnnlm import load_ids
from book_words import ptb_train

W11_WINDOWS = int(os.environ.get("W11_WINDOWS", "200"))


class Rnnlm(torch.nn.Module):
    def __init__(self, vocab, wordvec=100, hidden=100):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, wordvec)
        self.lstm = torch.nn.LSTM(wordvec, hidden, batch_first=True)
        self.affine = torch.nn.Linear(hidden, vocab)

    def forward(self, xs, state):
        hs, state = self.lstm(self.embed(xs), state)
        return self.affine(hs), state


def train_windows(corpus, windows, batch=20, time=35):
    torch.manual_seed(0)
    vocab = int(corpus.max()) + 1
    model = Rnnlm(vocab)
    sgd = torch.optim.SGD(model.parameters(), lr=20.0)
    xs, ts = corpus[:-1], corpus[1:]
    n = len(xs)
    offsets = np.arange(batch)[:, None] * (n // batch)
    state, total = None, 0.0
    for w in range(windows):
        idx = (offsets + w * time + np.arange(time)[None, :]) % n
        x, t = torch.from_numpy(xs[idx]), torch.from_numpy(ts[idx])
        scores, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = torch.nn.functional.cross_entropy(scores.reshape(-1, vocab), t.reshape(-1))
        sgd.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        sgd.step()
        total += loss.item()
    return total / windows


def run(wanted, runs, threads, median_time, impl):
    if "W11" not in wanted:
        return
    path = ptb_train()
    if path is None:
        return
    corpus, _ = load_ids(path)
    corpus = corpus.astype(np.int64)
    epoch_windows = (len(corpus) - 1) // 700
    windows = min(W11_WINDOWS, epoch_windows)
    s, ts = median_time(lambda: train_windows(corpus, windows), runs)
    scale = epoch_windows / windows
    print(json.dumps({"impl": impl, "threads": threads, "workload": "W11",
                      "median_s": s * scale, "runs_s": [t * scale for t in ts],
                      "rate": epoch_windows * 700 / (s * scale), "unit": "words/s",
                      "note": f"the first {windows} of {epoch_windows} windows timed, scaled to "
                              "the epoch"}), flush=True)
