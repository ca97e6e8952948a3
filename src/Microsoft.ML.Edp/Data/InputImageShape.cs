namespace Microsoft.ML.Edp.Data;

/// <summary>The shape of one input image, channels x height x width: given in the options, or inferred from the feature
/// column's size where only one square image of 1 or 3 channels fits it.</summary>
internal readonly record struct InputImageShape(int Channels, int Height, int Width)
{
    public int Pixels => Channels * Height * Width;

    public override string ToString() => $"{Channels}x{Height}x{Width}";

    /// <summary>The shape the options give, when they give all three sizes; else null.</summary>
    public static InputImageShape? Given(EdpCompressOptions options)
        => options is { ImageChannels: int c, ImageHeight: int h, ImageWidth: int w } ? new(c, h, w) : null;

    /// <summary>The shape of a feature column of <paramref name="size"/> values: the options' sizes where given, the
    /// rest inferred. Unknown channels may be 1 or 3; an unknown height and width are taken as equal (a square image),
    /// and one of them given fixes the other. Exactly one shape must fit; otherwise the exception names the column,
    /// its size, the shapes that fit (none, or several) and the options that settle it.</summary>
    public static InputImageShape Resolve(EdpCompressOptions options, int size)
    {
        if (Given(options) is { } given)
            return given;
        int[] channels = options.ImageChannels is int c ? [c] : [1, 3];
        var fits = new List<InputImageShape>();
        foreach (int ch in channels)
        {
            if (size % ch != 0)
                continue;
            int perChannel = size / ch;
            switch (options.ImageHeight, options.ImageWidth)
            {
                case (int h, null) when perChannel % h == 0: fits.Add(new(ch, h, perChannel / h)); break;
                case (null, int w) when perChannel % w == 0: fits.Add(new(ch, perChannel / w, w)); break;
                case (null, null) when (int)Math.Round(Math.Sqrt(perChannel)) is var side && side * side == perChannel: fits.Add(new(ch, side, side)); break;
            }
        }
        if (fits.Count == 1)
            return fits[0];
        string found = fits.Count == 0
            ? "no square image of 1 or 3 channels has that many"
            : $"it fits {string.Join(" and ", fits)} alike";
        throw new ArgumentOutOfRangeException(options.FeatureColumnName,
            $"Cannot infer the image shape of feature column '{options.FeatureColumnName}' from its size: expected {Expected(options)}, found {size} values, and {found}. Set {nameof(EdpCompressOptions.ImageChannels)}, {nameof(EdpCompressOptions.ImageHeight)} and {nameof(EdpCompressOptions.ImageWidth)}.");
    }

    /// <summary>What the feature column must be, for error messages: of <paramref name="shape"/> when known, else of
    /// the sizes the options give.</summary>
    public static string Expected(EdpCompressOptions options, InputImageShape? shape = null) => (shape ?? Given(options)) is { } s
        ? $"a known-size vector of Single with {s.Pixels} values ({s}, row-major CHW)"
        : $"a known-size vector of Single of {Part(options.ImageChannels, "C")}x{Part(options.ImageHeight, "H")}x{Part(options.ImageWidth, "W")} values (row-major CHW; unset sizes are inferred)";

    private static string Part(int? value, string name) => value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? name;
}
