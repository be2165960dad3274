"""The audit's checks, one module per family. Each check is a pure function of the
prepared `AuditData` (and, where it needs randomness, a seeded `numpy.random.Generator`)
returning a `CheckResult` whose `id` is a SPEC check id."""
