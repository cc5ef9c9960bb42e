"""A generic GPipe engine over named blocks: partitions, schedules, micro-batches, point-to-point records, the stage runner, profiling; it knows no model."""
