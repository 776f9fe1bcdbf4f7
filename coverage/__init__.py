"""elder-coverage: how well elder-care facilities in Jilin reach older people.

The pipeline reads top to bottom through the sub-modules:
load (``io``) → demand (``demand``) → travel costs (``network``) →
coverage (``engine``) → optimise (``optimize``) → map / report.
"""

__version__ = "0.1.0"
# Marker that tells this package apart from coverage.py, which claims the same import name.
__elder_coverage__ = True
