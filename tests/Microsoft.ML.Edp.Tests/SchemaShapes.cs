using System.Reflection;

namespace Microsoft.ML.Edp.Tests;

/// <summary>ML.NET builds a <see cref="SchemaShape"/> from a schema internally only; estimators' callers get one this way.</summary>
internal static class SchemaShapes
{
    public static SchemaShape Of(DataViewSchema schema)
        => (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Static)!.Invoke(null, [schema])!;
}
