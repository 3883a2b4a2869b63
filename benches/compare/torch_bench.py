"""The workloads of benches/compare in idiomatic PyTorch (CPU, float32), on the same synthetic
data as book_numpy.py. Prints one JSON line per workload.
Usage: torch_bench.py RUNS THREADS [W1,W2,…]   (torch_bench.py --info: its kernels and threads)"""
import json
import sys
import time

import numpy as np
import torch

from book_numpy import images, median_time, weights

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
torch.set_num_threads(THREADS)
# Which kernels this PyTorch runs (oneDNN/MKL, ATen's thread pool, the ISA it chose).
if "--info" in sys.argv:
    print(torch.__config__.parallel_info())
    print(torch.backends.cpu.get_cpu_capability())
    sys.exit(0)


def report(workload, seconds, times, work, unit):
    print(json.dumps({"impl": f"pytorch {torch.__version__}", "threads": THREADS,
                      "workload": workload, "median_s": seconds, "runs_s": times,
                      "rate": work / seconds, "unit": unit}), flush=True)


def linear(a, b, salt):
    layer = torch.nn.Linear(a, b)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weights(a, b, salt)).T)
        layer.bias.zero_()
    return layer


def book_network():
    return torch.nn.Sequential(linear(784, 50, 1), torch.nn.Sigmoid(), linear(50, 100, 2),
                               torch.nn.Sigmoid(), linear(100, 10, 3), torch.nn.Softmax(dim=1)).eval()


def mlp(widths):
    layers = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(linear(a, b, k + 1))
        if k + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def conv(out, inp, k, pad, salt):
    layer = torch.nn.Conv2d(inp, out, k, padding=pad)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weights(out, inp * k * k, salt).reshape(out, inp, k, k)))
        layer.bias.zero_()
    return layer


def simple_convnet():
    return torch.nn.Sequential(conv(30, 1, 5, 0, 1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), linear(4320, 100, 2), torch.nn.ReLU(),
                               linear(100, 10, 3))


def deep_convnet():
    channels, layers = [1, 16, 16, 32, 32, 64, 64], []
    for i in range(6):
        layers += [conv(channels[i + 1], channels[i], 3, 2 if i == 3 else 1, i + 1), torch.nn.ReLU()]
        if i % 2 == 1:
            layers.append(torch.nn.MaxPool2d(2))
    layers += [torch.nn.Flatten(), linear(1024, 50, 7), torch.nn.ReLU(), torch.nn.Dropout(0.5),
               linear(50, 10, 8), torch.nn.Dropout(0.5)]
    return torch.nn.Sequential(*layers)


def cnn_workloads(wanted):
    """W6 SimpleConvNet inference, W7 one SimpleConvNet Adam epoch, W8 DeepConvNet inference;
    images (N, 1, 28, 28), batches of 100."""
    def classify(net, x):
        net.eval()
        hits = 0
        with torch.inference_mode():
            for i in range(0, x.shape[0], 100):
                hits += int(net(x[i:i + 100]).argmax(dim=1).sum())
        return hits

    if "W6" in wanted:
        x, net = torch.from_numpy(images(10_000).reshape(-1, 1, 28, 28)), simple_convnet()
        s, ts = median_time(lambda: classify(net, x), RUNS)
        report("W6", s, ts, 10_000, "images/s")
    if "W7" in wanted:
        x = torch.from_numpy(images(60_000).reshape(-1, 1, 28, 28))
        t = torch.from_numpy((np.arange(60_000) % 10).astype(np.int64))

        def epoch():
            model = simple_convnet()
            optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
            loss_fn = torch.nn.CrossEntropyLoss()
            for i in range(0, 60_000, 100):
                optimizer.zero_grad()
                loss = loss_fn(model(x[i:i + 100]), t[i:i + 100])
                loss.backward()
                optimizer.step()
            return loss.item()
        s, ts = median_time(epoch, RUNS)
        report("W7", s, ts, 60_000, "samples/s")
    if "W8" in wanted:
        x, net = torch.from_numpy(images(10_000).reshape(-1, 1, 28, 28)), deep_convnet()
        s, ts = median_time(lambda: classify(net, x), RUNS)
        report("W8", s, ts, 10_000, "images/s")


def main():
    wanted = sys.argv[3].split(",") if len(sys.argv) > 3 else ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W11", "W13"]
    cnn_workloads(wanted)
    if "W9" in wanted:
        import torch_words
        torch_words.run(wanted, RUNS, THREADS, median_time, f"pytorch {torch.__version__}")
    if "W11" in wanted:
        import torch_lm
        torch_lm.run(wanted, RUNS, THREADS, median_time, f"pytorch {torch.__version__}")
    if "W13" in wanted:
        import torch_seq2seq
        torch_seq2seq.run(wanted, RUNS, THREADS, median_time, f"pytorch {torch.__version__}")
    if not any(w in wanted for w in ["W1", "W2", "W3", "W4", "W5"]):
        return
    x10k, net = torch.from_numpy(images(10_000)), book_network()

    def w1():
        hits = 0
        with torch.inference_mode():
            for i in range(10_000):
                hits += int(net(x10k[i:i + 1]).argmax())
        return hits

    def w2():
        hits = 0
        with torch.inference_mode():
            for i in range(0, 10_000, 100):
                hits += int(net(x10k[i:i + 100]).argmax(dim=1).sum())
        return hits

    for name, f in [("W1", w1), ("W2", w2)]:
        s, ts = median_time(f, RUNS)
        report(name, s, ts, 10_000, "images/s")

    x60k = torch.from_numpy(images(60_000))
    t60k = torch.from_numpy((np.arange(60_000) % 10).astype(np.int64))

    def epoch(widths, opt):
        model = mlp(widths)
        optimizer = (torch.optim.SGD(model.parameters(), lr=0.1) if opt == "sgd"
                     else torch.optim.Adam(model.parameters(), lr=0.001))
        loss_fn = torch.nn.CrossEntropyLoss()
        for i in range(0, 60_000, 100):
            optimizer.zero_grad()
            loss = loss_fn(model(x60k[i:i + 100]), t60k[i:i + 100])
            loss.backward()
            optimizer.step()
        return float(loss)

    s, ts = median_time(lambda: epoch([784, 100, 10], "sgd"), RUNS)
    report("W3", s, ts, 60_000, "samples/s")
    s, ts = median_time(lambda: epoch([784, 256, 256, 10], "adam"), RUNS)
    report("W4", s, ts, 60_000, "samples/s")
    for name, (m, k, n) in [("W5 1024^3", (1024, 1024, 1024)), ("W5 100x784x100", (100, 784, 100)),
                            ("W5 784x100x100", (784, 100, 100))]:
        a, b = torch.from_numpy(weights(m, k, 5)), torch.from_numpy(weights(k, n, 6))
        reps = max(1, int(2e9 // (2 * m * n * k)))

        def products():
            for _ in range(reps):
                torch.mm(a, b)
        s, ts = median_time(products, RUNS)
        report(name, s / reps, [t / reps for t in ts], 2 * m * n * k / 1e9, "GFLOP/s")


if __name__ == "__main__":
    main()
