"""The sequel's dataset/sequence.py load_data, written here from the book: questions and
answers of addition.txt or date.txt as character ids (numbered in order of first appearance,
each line's question then its answer), shuffled with numpy.random.seed(1984) and
numpy.random.shuffle, the last tenth kept as test questions.

`python book_sequence.py FILE` prints the vocabulary and, for x_train, t_train, x_test and
t_test, the shape and the SHA-256 of the ids as little-endian int64 in row-major order; the
test crates/nn-data/tests/book_sequence.rs compares them with nn_data::sequence.
"""
import hashlib
import sys

import numpy


def load_data(file_path, seed=1984):
    id_to_char, char_to_id = {}, {}

    def update_vocab(txt):
        for char in list(txt):
            if char not in char_to_id:
                tmp_id = len(char_to_id)
                char_to_id[char] = tmp_id
                id_to_char[tmp_id] = char

    questions, answers = [], []
    for line in open(file_path, "r"):
        idx = line.find("_")
        questions.append(line[:idx])
        answers.append(line[idx:-1])

    for i in range(len(questions)):
        update_vocab(questions[i])
        update_vocab(answers[i])

    x = numpy.zeros((len(questions), len(questions[0])), dtype=int)
    t = numpy.zeros((len(questions), len(answers[0])), dtype=int)
    for i, sentence in enumerate(questions):
        x[i] = [char_to_id[c] for c in list(sentence)]
    for i, sentence in enumerate(answers):
        t[i] = [char_to_id[c] for c in list(sentence)]

    indices = numpy.arange(len(x))
    if seed is not None:
        numpy.random.seed(seed)
    numpy.random.shuffle(indices)
    x = x[indices]
    t = t[indices]

    split_at = len(x) - len(x) // 10
    (x_train, x_test) = x[:split_at], x[split_at:]
    (t_train, t_test) = t[:split_at], t[split_at:]
    return (x_train, t_train), (x_test, t_test), id_to_char


def main():
    (x_train, t_train), (x_test, t_test), id_to_char = load_data(sys.argv[1])
    print("vocab", ",".join(str(ord(id_to_char[i])) for i in range(len(id_to_char))))
    for name, a in [("x_train", x_train), ("t_train", t_train), ("x_test", x_test), ("t_test", t_test)]:
        digest = hashlib.sha256(numpy.ascontiguousarray(a, dtype="<i8").tobytes()).hexdigest()
        print(name, a.shape[0], a.shape[1], digest)


if __name__ == "__main__":
    main()
