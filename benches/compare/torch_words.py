"""W9 in PyTorch (CPU, float32): one epoch of the sequel's CBOW with negative sampling on PTB
(window 5, hidden 100, batch 100, 5 negatives, Adam 0.001), written as a PyTorch user would —
nn.Embedding for both vector tables, binary cross-entropy with logits, torch.optim.Adam with its
fused kernel (the fastest of its three on the CPU: measured here, the default per-op step and
foreach take 4-8 times as long on these two 10,000 x 100 tables) — with
the same sampling as zero-nn and the book: per row five distinct words drawn in proportion to
count^0.75, never the row's target. The draws are vectorised (inverse-CDF candidates by
searchsorted, the first five valid ones kept per row), so the sampler costs little.
Called by torch_bench.py; prints one JSON line.
"""
import json

import numpy as np
import torch

from book_words import create_contexts_target, load_ptb, ptb_train


class Cbow(torch.nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.inp = torch.nn.Embedding(vocab, hidden)
        self.out = torch.nn.Embedding(vocab, hidden)
        torch.nn.init.normal_(self.inp.weight, std=0.01)
        torch.nn.init.normal_(self.out.weight, std=0.01)

    def forward(self, contexts, target, negatives):
        h = self.inp(contexts).mean(dim=1)                        # (B, H)
        ids = torch.cat([target[:, None], negatives], dim=1)       # (B, 1 + k)
        scores = torch.bmm(self.out(ids), h[:, :, None])[:, :, 0]  # (B, 1 + k)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1
        # The book's loss: the sum of the 1 + k batch means.
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, labels,
                                                                   reduction="sum")
        return loss / target.shape[0]


class Sampler:
    def __init__(self, corpus, vocab, power=0.75, k=5):
        counts = np.bincount(corpus, minlength=vocab).astype(np.float64)
        p = counts ** power
        self.cdf = torch.from_numpy(np.cumsum(p / p.sum()))
        self.k = k
        self.generator = torch.Generator().manual_seed(0)

    def negatives(self, target):
        b, k = target.shape[0], self.k
        while True:
            # 4k candidates a row; a candidate is kept if it is not the target and not an
            # earlier candidate of its row (rejection = sampling without replacement).
            u = torch.rand(b, 4 * k, dtype=torch.float64, generator=self.generator)
            cand = torch.searchsorted(self.cdf, u).clamp_(max=len(self.cdf) - 1)
            same = cand[:, :, None] == cand[:, None, :]
            earlier = torch.tril(torch.ones(4 * k, 4 * k, dtype=torch.bool), diagonal=-1)
            valid = ~((same & earlier).any(dim=2) | (cand == target[:, None]))
            if bool((valid.sum(dim=1) >= k).all()):
                break
        # The first k valid candidates of each row, in order.
        rank = torch.where(valid, torch.arange(4 * k, 0, -1), 0)
        first = rank.topk(k, dim=1).indices.sort(dim=1).values
        return cand.gather(1, first)


def cbow_epoch(contexts, target, corpus, vocab):
    torch.manual_seed(0)
    model = Cbow(vocab, 100)
    sampler = Sampler(corpus, vocab)
    # The fused kernel: on this workload several times faster than the default per-op step.
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, fused=True)
    order = torch.randperm(len(target))
    contexts, target = contexts[order], target[order]
    total = 0.0
    steps = len(target) // 100
    for i in range(steps):
        c = contexts[i * 100:(i + 1) * 100]
        t = target[i * 100:(i + 1) * 100]
        optimizer.zero_grad()
        loss = model(c, t, sampler.negatives(t))
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / steps


def run(wanted, runs, threads, median_time, impl):
    if "W9" not in wanted:
        return
    path = ptb_train()
    if path is None:
        return
    corpus, word_to_id = load_ptb(path)
    vocab = len(word_to_id)
    c, t = create_contexts_target(corpus, 5)
    contexts, target = torch.from_numpy(c), torch.from_numpy(t)
    s, ts = median_time(lambda: cbow_epoch(contexts, target, corpus, vocab), runs)
    print(json.dumps({"impl": impl, "threads": threads, "workload": "W9", "median_s": s,
                      "runs_s": ts, "rate": len(target) / s, "unit": "examples/s"}), flush=True)
