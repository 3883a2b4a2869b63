"""PyTorch's answers for zero-nn's convolution, pooling and BatchNorm2d (tests/torch_reference.rs).

Usage: python torch_ops.py IN.npz OUT.npz
IN.npz holds, per case, the inputs and the upstream gradient `CASE.g`; the case's name says the
op and its settings: conv2d_s{stride}_p{padding}_{index}, max_pool_k{k}_s{s}_p{p},
avg_pool_k{k}_s{s}_p{p}, batch_norm2d. OUT.npz gets `CASE.y` (the output), the gradient of
Σ g·y for every input (`CASE.dx`, `CASE.dw`, …), and for BatchNorm2d the updated running
statistics. Everything in float64, with torch.nn.functional.
"""
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main():
    inputs = dict(np.load(sys.argv[1]))
    out = {}
    cases = sorted({k.split('.')[0] for k in inputs})
    for case in cases:
        t = {k.split('.', 1)[1]: torch.tensor(v, dtype=torch.float64, requires_grad=True)
             for k, v in inputs.items() if k.startswith(case + '.') and not k.endswith('.g')}
        g = torch.tensor(inputs[case + '.g'], dtype=torch.float64)
        extra = {}
        m = re.fullmatch(r'conv2d_s(\d+)_p(\d+)_\d+', case)
        if m:
            y = F.conv2d(t['x'], t['w'], t.get('b'), stride=int(m[1]), padding=int(m[2]))
        elif (m := re.fullmatch(r'(max|avg)_pool_k(\d+)_s(\d+)_p(\d+)', case)):
            pool = F.max_pool2d if m[1] == 'max' else F.avg_pool2d
            y = pool(t['x'], int(m[2]), int(m[3]), int(m[4]))
        elif case.startswith('batch_norm2d'):
            c = t['x'].shape[1]
            rm, rv = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
            y = F.batch_norm(t['x'], rm, rv, t['gamma'], t['beta'], training=True,
                             momentum=0.1, eps=1e-5)
            extra = {'running_mean': rm, 'running_var': rv}
        else:
            raise SystemExit('unknown case ' + case)
        (y * g).sum().backward()
        out[case + '.y'] = y.detach().numpy()
        for name, v in t.items():
            out[case + '.d' + name] = v.grad.numpy()
        for name, v in extra.items():
            out[case + '.' + name] = v.numpy()
    np.savez(sys.argv[2], **out)
    print('torch', torch.__version__, ':', len(cases), 'cases')


if __name__ == '__main__':
    main()
