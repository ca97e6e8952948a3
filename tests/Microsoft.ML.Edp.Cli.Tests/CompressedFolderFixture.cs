namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary>One <c>edp compress</c> run shared by the end-to-end tests: 10 Fashion-MNIST classes written as PNG folders
/// (40 training images a class, every 8th one stored at 32x32 so that it must be resized and every 10th one as JPEG;
/// 15 validation images a class), 3 epochs of VGG-S at batch 32.</summary>
public sealed class CompressedFolderFixture : IDisposable
{
    public const int TrainPerClass = 40, TestPerClass = 15, Epochs = 3;

    public CompressedFolderFixture()
    {
        Root = ImageFolders.NewTemp("e2e");
        ImageFolders.Write(TrainFolder, test: false, TrainPerClass, sizeOf: n => n % 8 == 7 ? 32 : 28, jpegEvery: 10);
        ImageFolders.Write(TestFolder, test: true, TestPerClass);
        (ExitCode, Output) = CliRunner.Run("compress", "--dataset", TrainFolder, "--test-dataset", TestFolder, "--output", OutputFolder,
            "--epochs", Epochs.ToString(), "--batch-size", "32", "--threads", "2", "--seed", "1");
    }

    public string Root { get; }
    public string TrainFolder => Path.Combine(Root, "train");
    public string TestFolder => Path.Combine(Root, "test");
    public string OutputFolder => Path.Combine(Root, "out");
    public string ModelPath => Path.Combine(OutputFolder, "model.zip");
    public int ExitCode { get; }
    public string Output { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
