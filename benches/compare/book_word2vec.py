"""The sequel's ch04/eval.py on its trained CBOW vectors, written here with NumPy the way the
book's common/util.py computes (float16 throughout, as the vectors are stored): most_similar
for four queries and four analogies, top 5 each. Prints one JSON line per query:
{"query": ..., "top": [[word, score], ...]}, each score the float16 value as a float.

    python3 book_word2vec.py PATH/TO/cbow_params.pkl [QUERY ...]

Further QUERY words get a most_similar line each, after the book's eight.
"""
import json
import pickle
import sys

import numpy as np


def cosine(x, y, eps=1e-8):
    # The book's cos_similarity: each vector scaled by its norm (+ eps), then a dot product.
    nx = x / (np.sqrt(np.sum(x ** 2)) + eps)
    ny = y / (np.sqrt(np.sum(y ** 2)) + eps)
    return np.dot(nx, ny)


def most_similar(query, word_to_id, id_to_word, vecs, top=5):
    q = vecs[word_to_id[query]]
    # A float64 array of float16 scores, as the book fills np.zeros(vocab_size).
    scores = np.zeros(len(id_to_word))
    for i in range(len(id_to_word)):
        scores[i] = cosine(vecs[i], q)
    out = []
    for i in (-1 * scores).argsort():
        if id_to_word[i] == query:
            continue
        out.append([id_to_word[i], float(scores[i])])
        if len(out) >= top:
            break
    return out


def unit(x):
    return x / np.sqrt((x * x).sum())


def analogy(a, b, c, word_to_id, id_to_word, vecs, top=5):
    va, vb, vc = (vecs[word_to_id[w]] for w in (a, b, c))
    q = unit(vb - va + vc)
    scores = np.dot(vecs, q)
    out = []
    for i in (-1 * scores).argsort():
        if np.isnan(scores[i]) or id_to_word[i] in (a, b, c):
            continue
        out.append([id_to_word[i], float(scores[i])])
        if len(out) >= top:
            break
    return out


def main():
    with open(sys.argv[1], "rb") as f:
        params = pickle.load(f)
    vecs, w2i, i2w = params["word_vecs"], params["word_to_id"], params["id_to_word"]
    assert vecs.dtype == np.float16
    for q in ["you", "year", "car", "toyota"] + sys.argv[2:]:
        print(json.dumps({"query": q, "top": most_similar(q, w2i, i2w, vecs)}))
    for a, b, c in [("king", "man", "queen"), ("take", "took", "go"),
                    ("car", "cars", "child"), ("good", "better", "bad")]:
        print(json.dumps({"query": f"{a}:{b} = {c}:?", "top": analogy(a, b, c, w2i, i2w, vecs)}))


main()
