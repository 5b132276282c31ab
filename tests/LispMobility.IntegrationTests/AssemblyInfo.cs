// Each lab runs four agents on a 2-core machine: one lab at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
