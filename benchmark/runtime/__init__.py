"""Where and how the benchmark computes: the device and the precisions it affords (:mod:`.device`),
and the host memory settings of CPU forward passes (:mod:`.host_memory`).  Imports nothing of the
benchmark but its errors."""
