"""trace-bench: measure what visual encoders know about how a photo was made."""
