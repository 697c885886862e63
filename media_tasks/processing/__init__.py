"""A job's life: the workflow (stages, order, transitions, limits, routing), the runtime every
stage runs inside, the state changes, one module per stage, and the rescue of stalled jobs."""
