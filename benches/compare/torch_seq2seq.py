"""W13 in PyTorch (CPU, float32): the sequel's AttentionSeq2seq trained on date.txt with its
ch08/train.py settings (wordvec 16, hidden 256, questions reversed, batch 128, Adam 0.001,
gradients clipped to norm 5), written as a PyTorch user would: nn.Embedding -> nn.LSTM (batch
first) for the encoder; the decoder nn.LSTM started from the encoder's last hidden state (cell
zero), its attention weights a softmax of torch.bmm with the encoder states, the context another
bmm, nn.Linear on [context, state]; cross_entropy over the answer's characters after the first,
the decoder fed the characters before the last (teacher forcing). The questions in the order of
a permutation, as the book's Trainer. The first W13_BATCHES batches are timed and scaled to the
epoch, as for the other implementations. Called by torch_bench.py; prints one JSON line.
"""
import os

import numpy as np
import torch

from book_sequence import load_data
from book_words import data_file, json_line

W13_BATCHES = int(os.environ.get("W13_BATCHES", "60"))


class AttentionSeq2seq(torch.nn.Module):
    def __init__(self, vocab, wordvec=16, hidden=256):
        super().__init__()
        self.enc_embed = torch.nn.Embedding(vocab, wordvec)
        self.enc_lstm = torch.nn.LSTM(wordvec, hidden, batch_first=True)
        self.dec_embed = torch.nn.Embedding(vocab, wordvec)
        self.dec_lstm = torch.nn.LSTM(wordvec, hidden, batch_first=True)
        self.affine = torch.nn.Linear(2 * hidden, vocab)

    def forward(self, xs, ys):
        hs_enc, (h, _) = self.enc_lstm(self.enc_embed(xs))
        state = (h, torch.zeros_like(h))
        hs_dec, _ = self.dec_lstm(self.dec_embed(ys), state)
        weights = torch.softmax(torch.bmm(hs_dec, hs_enc.transpose(1, 2)), dim=2)
        context = torch.bmm(weights, hs_enc)
        return self.affine(torch.cat([context, hs_dec], dim=2))


def train_batches(x, t, vocab, batches, batch=128):
    torch.manual_seed(0)
    model = AttentionSeq2seq(vocab)
    adam = torch.optim.Adam(model.parameters(), lr=0.001)
    order = np.random.RandomState(0).permutation(len(x))
    total = 0.0
    for i in range(batches):
        rows = order[i * batch:(i + 1) * batch]
        xs, ts = torch.from_numpy(x[rows]), torch.from_numpy(t[rows])
        scores = model(xs, ts[:, :-1])
        loss = torch.nn.functional.cross_entropy(scores.reshape(-1, vocab), ts[:, 1:].reshape(-1))
        adam.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        adam.step()
        total += loss.item()
    return total / batches


def run(wanted, runs, threads, median_time, impl):
    if "W13" not in wanted:
        return
    path = data_file("sequence", "date.txt")
    if path is None:
        return
    (x_train, t_train), _, id_to_char = load_data(path)
    x = np.ascontiguousarray(x_train[:, ::-1]).astype(np.int64)
    t = t_train.astype(np.int64)
    per_epoch = len(x) // 128
    batches = min(W13_BATCHES, per_epoch)
    s, ts = median_time(lambda: train_batches(x, t, len(id_to_char), batches), runs)
    scale = per_epoch / batches
    json_line(impl, threads, "W13", s * scale, [v * scale for v in ts], per_epoch * 128,
              "questions/s", f"the first {batches} of {per_epoch} batches timed, scaled to the epoch")
