"""The embedded Jilin sample: committed raw sources and the deterministic sample builder."""
