#!/usr/bin/env bash
# The main command (CONTRIBUTING.md, "Two commands on a fresh machine"): train, compress and score VGG-S on Fashion-MNIST.
# As root with apt, it installs the Debian package dataset-fashion-mnist (the full 70,000 images) first; without it
# the example trains on the subset shipped in examples/Shared/data. Extra arguments go to the example
# (--epochs N, --train-limit N, --threads N, --plain, --data DIR, --output DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist || echo "dataset-fashion-mnist not installed; using the embedded subset."
fi
dotnet restore Microsoft.ML.Edp.sln
dotnet build examples/FashionMnist -c Release --no-restore
# libgomp reads its wait policy when libtorch loads; spinning threads slow a busy 2-core machine several times over.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
dotnet examples/FashionMnist/bin/Release/net10.0/FashionMnist.dll "$@"
