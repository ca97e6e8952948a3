namespace Microsoft.ML.Edp.Groups;

/// <summary>The groups a layer keeps: the indices of its kept output channels and of its kept basis filters (its
/// rank). Null stands for "as the norms say" where a choice is being made, and for "none of this kind" in a plan.</summary>
internal readonly record struct KeptGroups(long[]? Outputs, long[]? Rank);
