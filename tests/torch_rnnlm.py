"""The PyTorch side of tests/torch_rnnlm.rs.

    python torch_rnnlm.py DIR

Builds the PyTorch language model that DIR/ours.safetensors' metadata describes (nn.Embedding,
nn.LSTM / nn.GRU / nn.RNN batch first, nn.Linear, tied weights as there), loads the file with
strict=True, computes the scores of DIR/inputs.safetensors' "x" (word ids, batch x time) in eval
mode from a zero state and prints the largest difference from zero-nn's "scores" as JSON. Then
makes a PyTorch model of the same shape (seeded, biases random), saves its state dict with the
same metadata to DIR/torch.safetensors and its scores to DIR/torch_scores.safetensors for
zero-nn to load and compare."""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

P = "zero_nn.rnnlm."


class RNNModel(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        nn = torch.nn
        v, d, h, layers = (int(m[P + k]) for k in ("vocabulary", "wordvec", "hidden", "layers"))
        dropout = float(m[P + "dropout"])
        self.vocabulary = v
        self.encoder = nn.Embedding(v, d)
        self.drop = nn.Dropout(dropout)
        cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[m[P + "cell"]]
        self.rnn = cell(d, h, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(h, v)
        if m[P + "tie_weights"] == "true":
            self.decoder.weight = self.encoder.weight

    def forward(self, x):
        out, _ = self.rnn(self.drop(self.encoder(x)))
        return self.decoder(self.drop(out)).reshape(-1, self.vocabulary)


def main():
    where = sys.argv[1]
    with safe_open(f"{where}/ours.safetensors", "pt") as f:
        metadata = f.metadata()
    inputs = load_file(f"{where}/inputs.safetensors")
    x, scores = inputs["x"].long(), inputs["scores"]
    model = RNNModel(metadata)
    model.load_state_dict(load_file(f"{where}/ours.safetensors"), strict=True)
    model.eval()
    with torch.no_grad():
        ours_in_torch = (model(x) - scores).abs().max().item()

    torch.manual_seed(7)
    theirs = RNNModel(metadata)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
        theirs.eval()
        state = {k: v.detach().clone().contiguous() for k, v in theirs.state_dict().items()}
        # The shape only: zero-nn's checksum belongs to its own file.
        shape = {k: v for k, v in metadata.items() if k.startswith(P)}
        save_file(state, f"{where}/torch.safetensors", metadata=shape)
        save_file({"scores": theirs(x).contiguous()}, f"{where}/torch_scores.safetensors")
    print(json.dumps({"ours_in_torch": ours_in_torch, "names": list(state)}))


if __name__ == "__main__":
    main()
