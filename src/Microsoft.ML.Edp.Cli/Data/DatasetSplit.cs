namespace Microsoft.ML.Edp.Cli.Data;

/// <summary>Splits a data set into training and validation images, stratified by class, reproducibly for a seed.</summary>
public static class DatasetSplit
{
    /// <summary>Holds out <paramref name="fraction"/> of each class (at least one image of a class with two or more,
    /// never all of them); 0 keeps everything for training.</summary>
    public static (IReadOnlyList<ImageFile> Train, IReadOnlyList<ImageFile> Validation) Stratified(
        IReadOnlyList<ImageFile> images, double fraction, int seed)
    {
        if (fraction <= 0)
            return (images, []);
        var random = new Random(seed);
        var train = new List<ImageFile>();
        var validation = new List<ImageFile>();
        foreach (var group in images.GroupBy(i => i.Label))
        {
            var files = group.ToArray();
            random.Shuffle(files);
            int held = files.Length < 2 ? 0 : Math.Clamp((int)Math.Round(files.Length * fraction), 1, files.Length - 1);
            validation.AddRange(files[..held]);
            train.AddRange(files[held..]);
        }
        return (train, validation);
    }
}
