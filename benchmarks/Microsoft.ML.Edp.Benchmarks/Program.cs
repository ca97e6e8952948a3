// Benchmarks for Microsoft.ML.Edp: what they measured and how long each takes are in docs/results.md ("Rerunning the
// benchmarks"); the results are committed under benchmarks/results.
//   compression [--quick] [--epochs N] [--threads N]   plain vs EDP operating points, one child process per run
//   sweep [--epochs N] [--threads N]                    the penalty sweep
//   inference [--quick]                                 ONNX Runtime and ML.NET latency, original vs compressed
//   memory                                              streaming memory: 1x vs 10x data, RSS per epoch
//   micro [--quick]                                     BenchmarkDotNet: proximal step, batch assembly, ONNX scoring
//   backend [--quick]                                   the backend self-check's cost, training steps with oneDNN on and off
//   latency [--quick] [--seeds N]                       plain, narrow, EDP at MACs and latency budgets: ORT and PredictionEngine speed-ups
//   pretrained [--quick] [--epochs N] [--seeds N] [--image-size 64..224] [--test-images N] [--resume]
//                                                       ML.NET's pretrained ResNet18 fine-tuned vs from scratch, 100 images a class
//   families [--quick] [--only names] [--onnx-dir DIR] [--train-images N] [--test-images N] [--epochs N] [--image-size N] [--resume]
//                                                       torchvision's CNN families: import, faithfulness, a short compression
//   speedup name=model.onnx ...                         ORT speed-up of saved 28x28 models over plain VGG-S, interleaved
//   run <config-json> <result-path> <data-dir> <epochs> <threads>   (internal: one training run)
//   pretrained-run <config-json> <seed> <stem> <arguments-json>     (internal: one run of the pretrained benchmark)
//   families-run <model-path> <scratch> <stem> <arguments-json> <compress>  (internal: one fit of the families benchmark)
using Microsoft.ML.Edp.Benchmarks;

var command = args.Length > 0 ? args[0] : "compression";
if (command == "run")
{
    SingleRun.Execute(RunConfig.FromJson(args[1]), args[2], args[3], int.Parse(args[4]), int.Parse(args[5]));
    return 0;
}
if (command == "pretrained-run")
{
    PretrainedBenchmark.RunOne(args[1..]);
    return 0;
}
if (command == "families-run")
{
    FamilyRun.RunOne(args[1..]);
    return 0;
}
if (command == "speedup")
{
    SpeedupBenchmark.Run(args[1..]);
    return 0;
}
var options = BenchmarkArguments.Parse(args.Skip(1).ToArray());
switch (command)
{
    case "compression":
        CompressionBenchmark.Run(options);
        break;
    case "sweep":
        PenaltySweep.Run(options);
        break;
    case "inference":
        InferenceBenchmark.Run(options);
        break;
    case "latency":
        LatencyBenchmark.Run(options);
        break;
    case "memory":
        MemoryBenchmark.Run(options);
        break;
    case "backend":
        BackendBenchmark.Run(options);
        break;
    case "pretrained":
        PretrainedBenchmark.Run(options);
        break;
    case "families":
        FamiliesBenchmark.Run(options);
        break;
    case "micro":
        MicroBenchmarks.Run(options);
        break;
    default:
        Console.Error.WriteLine($"Unknown command '{command}'. Use compression, latency, sweep, inference, memory, micro, backend, pretrained, families, speedup or run.");
        return 2;
}
return 0;
