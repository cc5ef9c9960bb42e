"""GPipe pipeline-parallel training: partition, schedule, micro-batches, point-to-point, stage runner."""
