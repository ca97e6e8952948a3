using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>The README's options table is written by hand from <see cref="EdpCompressOptions"/>; these tests keep its
/// rows and defaults equal to the field initialisers.</summary>
public class ReadmeOptionsTableTests
{
    private static readonly FieldInfo[] Fields = typeof(EdpCompressOptions).GetFields(BindingFlags.Public | BindingFlags.Instance);

    [Fact]
    public void EveryOptionHasOneRowAndNoRowNamesAMissingOption()
    {
        var rows = ReadRows();
        Assert.Equal(rows.Count, rows.Select(r => r.Name).Distinct().Count());
        Assert.Equal(Fields.Select(f => f.Name).Order(), rows.Select(r => r.Name).Order());
    }

    [Fact]
    public void EveryRowShowsTheFieldsTypeAndDefault()
    {
        var defaults = new EdpCompressOptions();
        foreach (var (name, type, shown) in ReadRows())
        {
            var field = Fields.Single(f => f.Name == name);
            Assert.True(TypeName(field) == type, $"README says {name} is `{type}`; the field is `{TypeName(field)}`.");
            object? value = field.GetValue(defaults);
            Assert.True(Matches(shown, value), $"README says {name} defaults to `{shown}`; the code says {Describe(value)}.");
        }
    }

    private static bool Matches(string shown, object? value) => value switch
    {
        null => shown == "null",
        string s => shown == s,
        bool b => shown == (b ? "true" : "false"),
        Enum e => shown == e.ToString(),
        CancellationToken t => shown == "default" && !t.CanBeCanceled,
        int or double => double.TryParse(shown, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out double d)
            && d == Convert.ToDouble(value, CultureInfo.InvariantCulture),
        _ => false,
    };

    private static string Describe(object? value) => value switch
    {
        null => "null",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string TypeName(FieldInfo field)
    {
        var nullability = new NullabilityInfoContext().Create(field);
        var type = Nullable.GetUnderlyingType(field.FieldType) ?? field.FieldType;
        bool nullable = type != field.FieldType || nullability.WriteState == NullabilityState.Nullable;
        string name = type switch
        {
            _ when type == typeof(string) => "string",
            _ when type == typeof(int) => "int",
            _ when type == typeof(bool) => "bool",
            _ when type == typeof(double) => "double",
            _ when type == typeof(int[]) => "int[]",
            _ when type == typeof(byte[]) => "byte[]",
            { IsGenericType: true } => $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(a => a.Name))}>",
            _ => type.Name,
        };
        return nullable ? name + "?" : name;
    }

    // Rows of the table under "## Options": | `Name` | `type` | `default` | meaning |
    private static List<(string Name, string Type, string Default)> ReadRows()
    {
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        int start = readme.IndexOf("## Options (`EdpCompressOptions`)", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Options (`EdpCompressOptions`)' section.");
        int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        var rows = Regex.Matches(section, @"^\| `(\w+)` \| `([^`]+)` \| `([^`]+)` \|", RegexOptions.Multiline)
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value))
            .ToList();
        Assert.NotEmpty(rows);
        return rows;
    }
}
