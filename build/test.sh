#!/usr/bin/env bash
# The test command (README, "Tests"): restore, build the whole solution, run the unit tests, smoke-run the benchmarks
# and run the consumer test (build/consumer-test.sh).
# Needs only the repository: the tests train on the Fashion-MNIST subset shipped in examples/Shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet restore Microsoft.ML.Edp.sln
dotnet build Microsoft.ML.Edp.sln -c Release --no-restore
dotnet test tests/Microsoft.ML.Edp.Tests -c Release --no-build --logger "console;verbosity=normal" "$@"
# The MSBuild task the package ships (the TorchSharp GLIBCXX fix), on TorchSharp's real library and synthetic ELF files.
dotnet test tests/Microsoft.ML.Edp.Build.Tests -c Release --no-build --logger "console;verbosity=normal" "$@"
# The edp command-line tool: compress, evaluate, predict and report on PNG folders written from the same subset, the
# bad-input cases, and a build of the generated consumption project (about a minute).
dotnet test tests/Microsoft.ML.Edp.Cli.Tests -c Release --no-build --logger "console;verbosity=normal" "$@"
# Smoke-run the benchmarks on the embedded subset (about two minutes); results go to a scratch folder, not the repository.
results="$(mktemp -d)"
dotnet benchmarks/Microsoft.ML.Edp.Benchmarks/bin/Release/net10.0/Microsoft.ML.Edp.Benchmarks.dll compression --quick --results "$results"
dotnet benchmarks/Microsoft.ML.Edp.Benchmarks/bin/Release/net10.0/Microsoft.ML.Edp.Benchmarks.dll inference --quick --results "$results"
dotnet benchmarks/Microsoft.ML.Edp.Benchmarks/bin/Release/net10.0/Microsoft.ML.Edp.Benchmarks.dll families --quick --results "$results"
# Consumer test: pack, then run the README's quick start in a fresh app outside the repository (about a minute).
./build/consumer-test.sh --no-build
