"""elder-coverage: how well elder-care facilities in Jilin reach older people.

The pipeline, module by module:

kinds         ``kinds`` (the facility kinds: names, input words, glyphs, colours, groups)
load          ``io`` (WorldPop rasters, facility lists, boundaries, OSM roads), ``sample``
              (the embedded Jilin sample), ``study`` (all layers of one study in one CRS)
demand        ``io.population`` → demand cells of elders 60+/65+/80+
travel costs  ``standards`` (service standard per kind), ``travel`` (road graph → sparse
              matrices, snapping, multi-source searches)
coverage      ``engine`` (nearest facility, time, covered), ``access`` (E2SFCA),
              ``aggregate`` (per township/county), ``indicators`` (policy targets),
              ``fairness`` (who is served worst)
optimise      ``optimize`` (every model: set cover, maximal covering, p-median, the
              closure MILP and resident transport, with HiGHS), ``close_merge``
              (撤并整合), ``new_sites`` (dining halls, courtyards)
map/report    ``maps``, ``isochrones``, ``report``, ``labels``
scenarios     ``scenario`` (YAML files), ``runner`` (run one), ``compare`` (two runs),
              ``cli`` (the ``elder-coverage`` command)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("elder-coverage")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
