using Xunit;

// Training shares libtorch's global thread pool and seed; running the tests one at a time keeps them deterministic.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
