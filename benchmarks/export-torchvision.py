#!/usr/bin/env python3
"""Exports torchvision's CNN families to ONNX for the families benchmark's --onnx-dir.

Each model is written as <name>.onnx by torch.onnx.export's TorchScript exporter at opset 13, in eval mode (BN folded
into the convs where a conv precedes it), for 3 x size x size images with a dynamic batch axis. The weights are
random unless --pretrained, which downloads torchvision's ImageNet weights (and then GoogLeNet normalises its input
inside the model, as torchvision builds it with pretrained weights). Needs PyTorch and torchvision.

    python3 benchmarks/export-torchvision.py out/torchvision [--pretrained] [--size 64] [--models resnet18,googlenet]
    dotnet run --project benchmarks/Microsoft.ML.Edp.Benchmarks -c Release -- families --onnx-dir out/torchvision
"""
import argparse
import inspect
import os

import torch
import torchvision

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "regnet_x_400mf",
          "efficientnet_b0", "squeezenet1_1", "googlenet", "densenet121"]


def main():
    parser = argparse.ArgumentParser(description="Export torchvision's CNN families to ONNX (opset 13, eval).")
    parser.add_argument("output", help="folder to write <name>.onnx into")
    parser.add_argument("--pretrained", action="store_true", help="torchvision's ImageNet weights instead of random ones")
    parser.add_argument("--size", type=int, default=64, help="image height and width (default 64)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated torchvision names (default: all ten)")
    args = parser.parse_args()

    os.makedirs(args.output, exist_ok=True)
    torch.manual_seed(0)
    # torch 2.9 made the dynamo exporter the default; the benchmark reads what the TorchScript exporter writes.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    for name in args.models.split(","):
        options = {"init_weights": True} if name == "googlenet" and not args.pretrained else {}
        model = torchvision.models.get_model(name, weights="DEFAULT" if args.pretrained else None, **options).eval()
        path = os.path.join(args.output, name + ".onnx")
        with torch.no_grad():
            torch.onnx.export(model, torch.randn(1, 3, args.size, args.size), path, opset_version=13,
                              input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}}, **legacy)
        print(f"{path}: {sum(p.numel() for p in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
