"""The PyTorch side of tests/torch_checkpoint.rs.

    python torch_checkpoint.py ARCH DIR

Loads DIR/ours.safetensors (saved by zero-nn) into the equivalent nn.Sequential with
strict=True, computes the logits of DIR/inputs.safetensors' "x" in eval mode and prints the
largest difference from zero-nn's "logits" as JSON. Then makes a PyTorch model of the same
architecture (seeded, BatchNorm's running statistics moved by one training-mode pass), saves its
state dict to DIR/torch.safetensors and its logits to DIR/torch_logits.safetensors for zero-nn
to load and compare."""
import json
import sys

import torch
from safetensors.torch import load_file, save_file


def build(arch):
    nn = torch.nn
    if arch == "mlp":
        return nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.BatchNorm1d(50), nn.Linear(50, 10))
    if arch == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(4 * 13 * 13, 10))
    raise SystemExit(f"unknown architecture {arch}")


def main():
    arch, where = sys.argv[1], sys.argv[2]
    inputs = load_file(f"{where}/inputs.safetensors")
    x, logits = inputs["x"], inputs["logits"]
    model = build(arch)
    model.load_state_dict(load_file(f"{where}/ours.safetensors"), strict=True)
    model.eval()
    with torch.no_grad():
        ours_in_torch = (model(x) - logits).abs().max().item()

    torch.manual_seed(7)
    theirs = build(arch)
    with torch.no_grad():
        theirs.train()
        theirs(x)
        theirs.eval()
        save_file({k: v.contiguous() for k, v in theirs.state_dict().items()},
                  f"{where}/torch.safetensors")
        save_file({"logits": theirs(x).contiguous()}, f"{where}/torch_logits.safetensors")
    print(json.dumps({"ours_in_torch": ours_in_torch, "names": list(theirs.state_dict())}))


if __name__ == "__main__":
    main()
