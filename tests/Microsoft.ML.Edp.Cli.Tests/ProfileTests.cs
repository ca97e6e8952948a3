using System.Text.Json;
using Xunit;

namespace Microsoft.ML.Edp.Cli.Tests;

/// <summary><c>edp profile</c> writes a latency table for the network it is told about, naming the machine; bad
/// options are refused before anything is timed. Nothing here asserts a time.</summary>
public sealed class ProfileTests : IDisposable
{
    private readonly string _root = ImageFolders.NewTemp("profile");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Profile_writes_a_table_of_every_layer_naming_the_cpu_and_its_block()
    {
        string table = Path.Combine(_root, "tables", "vggs.json");
        var (code, output) = CliRunner.Run("profile", "--output", table);
        Assert.True(code == ExitCodes.Success, output);
        Assert.Contains($"to '{table}'", output);
        Assert.Contains("conv block", output);
        using var json = JsonDocument.Parse(File.ReadAllText(table));
        var layers = json.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "classifier"], layers);
        Assert.Equal([1, 64], json.RootElement.GetProperty("batches").EnumerateArray().Select(b => b.GetInt32()));
        Assert.Contains(json.RootElement.GetProperty("convBlock").GetInt32(), new[] { 8, 16 });
    }

    [Theory]
    [InlineData("--classes", "1", "--classes must be at least 2; found 1.")]
    [InlineData("--channels", "2", "--channels must be 1 or 3; found 2.")]
    [InlineData("--batch-size", "0", "--batch-size must be at least 1; found 0.")]
    public void Bad_options_are_refused_and_nothing_is_written(string option, string value, string message)
    {
        string table = Path.Combine(_root, "bad.json");
        var (code, output) = CliRunner.Run("profile", "--output", table, option, value);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(message, output);
        Assert.False(File.Exists(table));
    }
}
