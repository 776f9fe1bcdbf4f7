"""The embedded Jilin sample: packaged raw sources (``elder_coverage/data/raw``) and the
deterministic sample builder."""
