using System.Globalization;
using SkiaSharp;

namespace Microsoft.ML.Edp.Cli.Reporting;

/// <summary>One named series of a chart.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Values">One value per category (bar chart) or per x (line chart).</param>
/// <param name="Color">Fill or line colour.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values, SKColor Color);

/// <summary>Draws simple grouped bar charts and line charts to PNG with SkiaSharp (which ML.NET's image transforms
/// already bring in): axes, gridlines, value labels and a legend.</summary>
/// <remarks>Drawn here rather than by a plotting library: ScottPlot 5 needs SkiaSharp 3, while ML.NET's
/// ImageAnalytics 5.0.1 is built on SkiaSharp 2.88; OxyPlot.SkiaSharp 2.2 is on 2.88 but finds fonts by family name
/// only, which the font-configuration-free Linux native assets cannot serve (its charts would have no text), and it
/// shapes text with HarfBuzz, another native library to ship.</remarks>
public static class ChartCanvas
{
    private const int Width = 900, Height = 480, Left = 80, Right = 20, Top = 50, Bottom = 70;
    private static readonly Lazy<SKTypeface> Font = new(LoadFont);

    /// <summary>Bars of every series side by side for each category.</summary>
    public static byte[] GroupedBars(string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, Func<double, string> format)
        => Draw(title, yLabel, series, (canvas, plot, max) =>
        {
            float group = plot.Width / Math.Max(1, categories.Count);
            float bar = group * 0.8f / Math.Max(1, series.Count);
            for (int c = 0; c < categories.Count; c++)
            {
                float x0 = plot.Left + c * group + group * 0.1f;
                for (int s = 0; s < series.Count; s++)
                {
                    double v = c < series[s].Values.Count ? series[s].Values[c] : 0;
                    float h = (float)(v / max * plot.Height);
                    var rect = new SKRect(x0 + s * bar, plot.Bottom - h, x0 + (s + 1) * bar - 2, plot.Bottom);
                    using var fill = new SKPaint { Color = series[s].Color, IsAntialias = true };
                    canvas.DrawRect(rect, fill);
                    Text(canvas, format(v), rect.MidX, rect.Top - 4, 11, SKTextAlign.Center);
                }
                Text(canvas, categories[c], plot.Left + (c + 0.5f) * group, plot.Bottom + 18, 13, SKTextAlign.Center);
            }
        }, format);

    /// <summary>One line per series over x = 1..n.</summary>
    public static byte[] Lines(string title, string yLabel, string xLabel, IReadOnlyList<ChartSeries> series, Func<double, string> format)
        => Draw(title, yLabel, series, (canvas, plot, max) =>
        {
            int n = series.Max(s => s.Values.Count);
            float X(int i) => n <= 1 ? plot.MidX : plot.Left + 30 + i * (plot.Width - 60) / (n - 1);
            foreach (var s in series)
            {
                using var line = new SKPaint { Color = s.Color, StrokeWidth = 3, IsStroke = true, IsAntialias = true };
                using var dot = new SKPaint { Color = s.Color, IsAntialias = true };
                for (int i = 0; i < s.Values.Count; i++)
                {
                    float y = plot.Bottom - (float)(s.Values[i] / max * plot.Height);
                    if (i > 0)
                        canvas.DrawLine(X(i - 1), plot.Bottom - (float)(s.Values[i - 1] / max * plot.Height), X(i), y, line);
                    canvas.DrawCircle(X(i), y, 4, dot);
                    Text(canvas, format(s.Values[i]), X(i), y - 8, 11, SKTextAlign.Center);
                }
            }
            for (int i = 0; i < n; i++)
                Text(canvas, (i + 1).ToString(CultureInfo.InvariantCulture), X(i), plot.Bottom + 18, 13, SKTextAlign.Center);
            Text(canvas, xLabel, plot.MidX, plot.Bottom + 40, 13, SKTextAlign.Center);
        }, format);

    private static byte[] Draw(string title, string yLabel, IReadOnlyList<ChartSeries> series, Action<SKCanvas, SKRect, double> plotBody, Func<double, string> format)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        var plot = new SKRect(Left, Top, Width - Right, Height - Bottom);
        double max = series.SelectMany(s => s.Values).DefaultIfEmpty(1).Max();
        max = max <= 0 ? 1 : max * 1.12;

        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f };
        for (int i = 0; i <= 4; i++)
        {
            float y = plot.Bottom - i * plot.Height / 4;
            canvas.DrawLine(plot.Left, y, plot.Right, y, grid);
            Text(canvas, format(max * i / 4), plot.Left - 6, y + 4, 11, SKTextAlign.Right);
        }
        canvas.DrawLine(plot.Left, plot.Top, plot.Left, plot.Bottom, axis);
        canvas.DrawLine(plot.Left, plot.Bottom, plot.Right, plot.Bottom, axis);
        plotBody(canvas, plot, max);

        Text(canvas, title, Width / 2f, 28, 18, SKTextAlign.Center);
        canvas.Save();
        canvas.RotateDegrees(-90, 18, plot.MidY);
        Text(canvas, yLabel, 18, plot.MidY + 4, 13, SKTextAlign.Center);
        canvas.Restore();
        float lx = plot.Left + 10;
        foreach (var s in series)
        {
            using var fill = new SKPaint { Color = s.Color };
            canvas.DrawRect(new SKRect(lx, Height - 22, lx + 14, Height - 8), fill);
            Text(canvas, s.Name, lx + 20, Height - 10, 13, SKTextAlign.Left);
            lx += 40 + s.Name.Length * 8;
        }

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static void Text(SKCanvas canvas, string text, float x, float y, float size, SKTextAlign align)
    {
        using var paint = new SKPaint { Color = SKColors.Black, TextSize = size, IsAntialias = true, Typeface = Font.Value, TextAlign = align };
        canvas.DrawText(text, x, y, paint);
    }

    // The Linux native assets carry no font configuration, so a common system font is loaded by path when present.
    private static SKTypeface LoadFont()
    {
        string[] candidates =
        [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf", "/System/Library/Fonts/Helvetica.ttc", @"C:\Windows\Fonts\arial.ttf",
        ];
        foreach (var path in candidates)
            if (File.Exists(path) && SKTypeface.FromFile(path) is { } face)
                return face;
        return SKTypeface.Default;
    }
}
