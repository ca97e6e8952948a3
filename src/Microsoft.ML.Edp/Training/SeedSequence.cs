namespace Microsoft.ML.Edp.Training;

/// <summary>The sequence of per-epoch shuffle seeds drawn from one seed. Its whole state is the seed and the number of
/// draws, so a checkpoint can store it and a resumed run can replay it exactly.</summary>
internal sealed class SeedSequence(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Values drawn so far.</summary>
    public int Draws { get; private set; }

    public int Next()
    {
        Draws++;
        return _random.Next();
    }

    /// <summary>Advances to where a sequence with <paramref name="draws"/> draws stood.</summary>
    public void SkipTo(int draws)
    {
        if (draws < Draws)
            throw new ArgumentOutOfRangeException(nameof(draws), draws, $"Cannot rewind a seed sequence from {Draws} draws to {draws}.");
        while (Draws < draws)
            Next();
    }
}
