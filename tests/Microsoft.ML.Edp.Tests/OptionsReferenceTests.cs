using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace Microsoft.ML.Edp.Tests;

/// <summary>docs/options.md is written by hand from <see cref="EdpCompressOptions"/>; these tests keep its rows and
/// defaults equal to the field initialisers, and its "Advanced" table equal to the fields marked advanced.</summary>
public class OptionsReferenceTests
{
    private static readonly FieldInfo[] Fields = typeof(EdpCompressOptions).GetFields(BindingFlags.Public | BindingFlags.Instance);

    [Fact]
    public void EveryOptionHasOneRowAndNoRowNamesAMissingOption()
    {
        var rows = ReadRows(out _);
        Assert.Equal(rows.Count, rows.Select(r => r.Name).Distinct().Count());
        Assert.Equal(Fields.Select(f => f.Name).Order(), rows.Select(r => r.Name).Order());
    }

    [Fact]
    public void TheAdvancedTableListsExactlyTheFieldsMarkedAdvanced()
    {
        ReadRows(out var advanced);
        var marked = Fields.Where(f => f.GetCustomAttribute<EditorBrowsableAttribute>()?.State == EditorBrowsableState.Advanced);
        Assert.Equal(marked.Select(f => f.Name).Order(), advanced.Order());
    }

    [Fact]
    public void EveryRowShowsTheFieldsTypeAndDefault()
    {
        var defaults = new EdpCompressOptions();
        foreach (var (name, type, shown) in ReadRows(out _))
        {
            var field = Fields.Single(f => f.Name == name);
            Assert.True(TypeName(field) == type, $"docs/options.md says {name} is `{type}`; the field is `{TypeName(field)}`.");
            object? value = field.GetValue(defaults);
            Assert.True(Matches(shown, value), $"docs/options.md says {name} defaults to `{shown}`; the code says {Describe(value)}.");
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

    // Table rows, | `Name` | `type` | `default` | meaning |, of the whole page; those under "## Advanced" also in advanced.
    private static List<(string Name, string Type, string Default)> ReadRows(out List<string> advanced)
    {
        string page = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "options.md"));
        int split = page.IndexOf("\n## Advanced", StringComparison.Ordinal);
        Assert.True(split >= 0, "docs/options.md has no '## Advanced' section.");
        var rows = Rows(page);
        advanced = Rows(page[split..]).Select(r => r.Name).ToList();
        Assert.NotEmpty(rows);
        return rows;
    }

    private static List<(string Name, string Type, string Default)> Rows(string text)
        => Regex.Matches(text, @"^\| `(\w+)` \| `([^`]+)` \| `([^`]+)` \|", RegexOptions.Multiline)
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value))
            .ToList();
}
