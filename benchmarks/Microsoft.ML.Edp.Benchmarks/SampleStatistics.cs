namespace Microsoft.ML.Edp.Benchmarks;

/// <summary>What every table over seeds reports: the mean and the sample standard deviation (0 for a single value).</summary>
public static class SampleStatistics
{
    public static (double Mean, double Sd) Of(IReadOnlyCollection<double> values)
    {
        double mean = values.Average();
        return (mean, values.Count < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)));
    }
}
