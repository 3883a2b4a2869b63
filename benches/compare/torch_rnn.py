"""PyTorch's answers for zero-nn's LSTM (tests/torch_rnn.rs), in float64.

Usage: python torch_rnn.py IN.npz OUT.npz
IN.npz holds, per case lstm_l{layers}_{index}: x (batch, time, D), h0 and c0 (layers, batch,
H), weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} as torch.nn.LSTM names them,
and the upstream gradient g of y = [output flattened per row | h_n of the last layer | c_n of the
last layer] (batch, time·H + 2H). OUT.npz gets y and the gradient of Σ g·y for every input.
"""
import re
import sys

import numpy as np
import torch


def main():
    inputs = dict(np.load(sys.argv[1]))
    out = {}
    cases = sorted({k.split('.')[0] for k in inputs})
    for case in cases:
        t = {k.split('.', 1)[1]: torch.tensor(v, dtype=torch.float64, requires_grad=True)
             for k, v in inputs.items() if k.startswith(case + '.') and not k.endswith('.g')}
        g = torch.tensor(inputs[case + '.g'], dtype=torch.float64)
        m = re.fullmatch(r'lstm_l(\d+)_\d+', case)
        if not m:
            raise SystemExit('unknown case ' + case)
        layers = int(m[1])
        b, time, d = t['x'].shape
        h = t['weight_hh_l0'].shape[1]
        lstm = torch.nn.LSTM(d, h, num_layers=layers, batch_first=True, dtype=torch.float64)
        # The module's parameters replaced by the case's leaves, so their gradients come back.
        params = {k: v for k, v in t.items() if k.startswith(('weight', 'bias'))}
        output, (hn, cn) = torch.func.functional_call(lstm, params, (t['x'], (t['h0'], t['c0'])))
        y = torch.cat([output.reshape(b, -1), hn[-1], cn[-1]], dim=1)
        (y * g).sum().backward()
        out[case + '.y'] = y.detach().numpy()
        for name, v in t.items():
            out[case + '.d' + name] = v.grad.numpy()
    np.savez(sys.argv[2], **out)
    print('torch', torch.__version__, ':', len(cases), 'cases')


if __name__ == '__main__':
    main()
