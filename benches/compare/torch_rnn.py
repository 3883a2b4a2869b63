"""PyTorch's answers for zero-nn's recurrent layers and clipping (tests/torch_rnn.rs), in float64.

Usage: python torch_rnn.py IN.npz OUT.npz
IN.npz holds, per case {lstm,gru,rnn}_l{layers}_{index}: x (batch, time, D), h0 (and the LSTM's
c0) (layers, batch, H), weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} as torch.nn
names them, and the upstream gradient g of y = [output flattened per row | h_n of the last
layer | the LSTM's c_n of the last layer]. OUT.npz gets y and the gradient of Σ g·y for every
input. Per case clip_{index}: gradients a and b and max_norm; OUT.npz gets y, the gradients
clipped by clip_grad_norm_ and flattened, and norm, the norm it returned.
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
        if case.startswith('clip_'):
            params = [torch.zeros_like(t[n]) for n in ('a', 'b')]
            for p, n in zip(params, ('a', 'b')):
                p.grad = t[n].detach().clone()
            norm = torch.nn.utils.clip_grad_norm_(params, float(t['max_norm']))
            out[case + '.y'] = torch.cat([p.grad.reshape(-1) for p in params]).numpy()
            out[case + '.norm'] = norm.numpy()
            continue
        g = torch.tensor(inputs[case + '.g'], dtype=torch.float64)
        m = re.fullmatch(r'(lstm|gru|rnn)_l(\d+)_\d+', case)
        if not m:
            raise SystemExit('unknown case ' + case)
        kind, layers = m[1], int(m[2])
        b, time, d = t['x'].shape
        h = t['weight_hh_l0'].shape[1]
        module = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'rnn': torch.nn.RNN}[kind]
        net = module(d, h, num_layers=layers, batch_first=True, dtype=torch.float64)
        # The module's parameters replaced by the case's leaves, so their gradients come back.
        params = {k: v for k, v in t.items() if k.startswith(('weight', 'bias'))}
        state = (t['h0'], t['c0']) if kind == 'lstm' else t['h0']
        output, last = torch.func.functional_call(net, params, (t['x'], state))
        parts = [output.reshape(b, -1)]
        parts += [last[0][-1], last[1][-1]] if kind == 'lstm' else [last[-1]]
        y = torch.cat(parts, dim=1)
        (y * g).sum().backward()
        out[case + '.y'] = y.detach().numpy()
        for name, v in t.items():
            out[case + '.d' + name] = v.grad.numpy()
    np.savez(sys.argv[2], **out)
    print('torch', torch.__version__, ':', len(cases), 'cases')


if __name__ == '__main__':
    main()
