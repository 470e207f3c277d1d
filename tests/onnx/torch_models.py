#!/usr/bin/env python3
"""Builds the ONNX test models with PyTorch (torch.onnx.export) into a folder, with seeded
random weights, an input and PyTorch's output for each, and a manifest the C test reads.

    torch_models.py OUT_DIR [--size small|medium|large] [--only NAME[,NAME...]]
(defaults from $CLGRAD_ONNX_TEST_SIZE and $CLGRAD_ONNX_TEST_ONLY)

Every model is exported with a dynamic batch dimension; each gets a second input of another
batch size, so one loaded model serves several runs. The sizes are parameters so the same
models can run at a small size under slow devices (Oclgrind) and larger ones on PoCL.

Manifest lines (manifest.txt): NAME MODEL.onnx INPUT.npy REFERENCE.npy [INPUT2.npy REF2.npy]
Exit status 77 when torch or onnx cannot be imported (the test is then skipped)."""
import argparse
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import onnx
except Exception as e:  # pragma: no cover - depends on the machine
    print("skipped: PyTorch / onnx not importable (%s)" % e)
    sys.exit(77)

SIZES = {
    # image side of the ResNet, batch sizes, sequence length and hidden size of the RNNs
    "small": dict(res=32, batch=(1, 2), seq=5, hidden=16, width=8),
    "medium": dict(res=64, batch=(2, 3), seq=12, hidden=48, width=32),
    "large": dict(res=224, batch=(1, 4), seq=28, hidden=128, width=64),
}


class ReferenceCNN(nn.Module):
    """The README's CNN: conv(1->32, 3x3, pad 1)-ReLU-maxpool-conv(32->64)-ReLU-maxpool-
    flatten-linear(3136->128)-ReLU-linear(128->10), for 28x28 single-channel images."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class ResNet18(nn.Module):
    """torchvision's resnet18 written out, for machines without python3-torchvision."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def resnet18():
    try:
        import torchvision
        return torchvision.models.resnet18(num_classes=10), "torchvision"
    except Exception:
        return ResNet18(10), "written out"


class RNNClassifier(nn.Module):
    """An LSTM or GRU over the rows of an image (batch first), a linear layer on the last step."""

    def __init__(self, cell, inp, hidden, layers=1):
        super().__init__()
        self.rnn = cell(inp, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1, :])


class Block(nn.Module):
    """Transformer-style pieces: LayerNorm, GELU, MatMul with broadcasting, softmax, sigmoid,
    tanh, a residual and a reshape driven by the input's shape."""

    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.fc2 = nn.Linear(2 * d, d)
        self.w = nn.Parameter(torch.randn(d, d) / d ** 0.5)

    def forward(self, x):
        h = self.fc2(nn.functional.gelu(self.fc1(self.ln(x))))
        a = torch.softmax(torch.matmul(h, self.w) / 3.0, dim=-1)
        y = x + a * torch.sigmoid(h) + torch.tanh(h) * 0.25
        return y.reshape(y.shape[0], -1)


def mlp(width):
    return nn.Sequential(nn.Linear(784, 4 * width), nn.ReLU(), nn.Linear(4 * width, 2 * width), nn.Tanh(),
                         nn.Linear(2 * width, 10), nn.LogSoftmax(dim=1))


def randomize_bn(model, gen):
    """BatchNorm statistics and affine parameters away from their defaults, so folding them
    into the convolutions is really tested."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def export(model, example, path, opset, keep_bn=False):
    model.eval()
    kw = {}
    if keep_bn:  # keep BatchNormalization nodes (PyTorch folds them itself in eval mode)
        kw["training"] = torch.onnx.TrainingMode.PRESERVE
        kw["do_constant_folding"] = False
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(model, example, path, opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, **kw)
    onnx.checker.check_model(onnx.load(path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", default=os.environ.get("CLGRAD_ONNX_TEST_SIZE", "medium"), choices=sorted(SIZES))
    ap.add_argument("--only", default=os.environ.get("CLGRAD_ONNX_TEST_ONLY", ""))
    args = ap.parse_args()
    sz = SIZES[args.size]
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(2)
    torch.set_num_threads(2)
    b1, b2 = sz["batch"]
    res, seq, hid, width = sz["res"], sz["seq"], sz["hidden"], sz["width"]
    net, origin = resnet18()
    randomize_bn(net, gen)
    models = [
        # name, model, example input shape without the batch, opset, keep BatchNormalization
        ("mlp", mlp(width), (784,), 14, False),
        ("mlp_opset11", mlp(width), (784,), 11, False),
        ("cnn", ReferenceCNN(), (1, 28, 28), 14, False),
        ("cnn_opset17", ReferenceCNN(), (1, 28, 28), 17, False),
        ("resnet18", net, (3, res, res), 14, False),
        ("resnet18_bn", net, (3, res, res), 14, True),
        ("lstm", RNNClassifier(nn.LSTM, 28, hid), (seq, 28), 14, False),
        ("lstm2_opset11", RNNClassifier(nn.LSTM, 28, hid, 2), (seq, 28), 11, False),
        ("gru", RNNClassifier(nn.GRU, 28, hid), (seq, 28), 14, False),
        ("gru_opset17", RNNClassifier(nn.GRU, 28, hid), (seq, 28), 17, False),
        ("block", Block(width), (seq, width), 14, False),
        ("block_opset17", Block(width), (seq, width), 17, False),
        ("block_opset11", Block(width), (seq, width), 11, False),
    ]
    only = set(filter(None, args.only.split(",")))
    lines = []
    for name, model, shape, opset, keep_bn in models:
        if only and name not in only:
            continue
        model.eval()
        path = os.path.join(args.out, name + ".onnx")
        export(model, torch.randn((b1,) + shape), path, opset, keep_bn)
        entry = [name, name + ".onnx"]
        for k, b in enumerate((b1, b2)):
            x = torch.randn((b,) + shape, generator=gen)
            with torch.inference_mode():
                y = model(x)
            xi, yi = "%s_x%d.npy" % (name, k), "%s_y%d.npy" % (name, k)
            np.save(os.path.join(args.out, xi), x.numpy().astype(np.float32))
            np.save(os.path.join(args.out, yi), y.numpy().astype(np.float32))
            entry += [xi, yi]
        lines.append(" ".join(entry))
    with open(os.path.join(args.out, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d models (size %s, ResNet-18 %s) in %s" % (len(lines), args.size, origin, args.out))


if __name__ == "__main__":
    main()
