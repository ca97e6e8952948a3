using Xunit;

// Training tests share libtorch's global thread pool and seed; running them one at a time keeps them deterministic.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
