"""Dragonflow's northbound DB: schema, parsing and read-only backends."""
