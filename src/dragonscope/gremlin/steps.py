"""Every step of the dialect: its handler and the kinds of value it applies to."""

from __future__ import annotations

from dragonscope.gremlin.paths import step_shortest_path, step_subgraph
from dragonscope.gremlin.plan import (
    EDGES,
    GRAPH,
    GROUPS,
    NODES,
    PATHS,
    RAW,
    VALUES,
    Compiler,
    Op,
    StepTable,
    empty,
    step_group,
    step_more_than,
)
from dragonscope.gremlin.steps_elements import step_e, step_has, step_has_key, step_time, step_v
from dragonscope.gremlin.steps_moves import step_edges_of, step_ends, step_family, step_neighbours
from dragonscope.gremlin.steps_values import (
    step_as,
    step_count,
    step_dedup,
    step_keys,
    step_range,
    step_select,
    step_sort,
    step_sum,
    step_value_map,
    step_values,
)
from dragonscope.gremlin.syntax import Step

STEPS: StepTable = {
    "At": (step_time, (GRAPH,)),
    "Context": (step_time, (GRAPH,)),
    "V": (step_v, (GRAPH,)),
    "E": (step_e, (GRAPH,)),
    "Has": (step_has, (NODES, EDGES, RAW)),
    "HasEither": (step_has, (NODES, EDGES, RAW)),
    "HasKey": (step_has_key, (NODES, EDGES, RAW)),
    "HasNot": (step_has_key, (NODES, EDGES, RAW)),
    "Out": (step_neighbours, (NODES,)),
    "In": (step_neighbours, (NODES,)),
    "Both": (step_neighbours, (NODES,)),
    "OutE": (step_edges_of, (NODES,)),
    "InE": (step_edges_of, (NODES,)),
    "BothE": (step_edges_of, (NODES,)),
    "OutV": (step_ends, (EDGES,)),
    "InV": (step_ends, (EDGES,)),
    "BothV": (step_ends, (EDGES,)),
    "Dedup": (step_dedup, (NODES, EDGES, VALUES, PATHS, RAW)),
    "Count": (step_count, (NODES, EDGES, PATHS, RAW)),
    "Range": (step_range, (NODES, EDGES, PATHS, RAW)),
    "Limit": (step_range, (NODES, EDGES, PATHS, RAW)),
    "Sort": (step_sort, (NODES, RAW)),
    "Values": (step_values, (NODES, EDGES)),
    "ValueMap": (step_value_map, (NODES, EDGES)),
    "Keys": (step_keys, (NODES, EDGES)),
    "Sum": (step_sum, (NODES, RAW)),
    "As": (step_as, (NODES,)),
    "Select": (step_select, (NODES,)),
    "ShortestPathTo": (step_shortest_path, (NODES,)),
    "SubGraph": (step_subgraph, (NODES, EDGES, PATHS)),
    "Descendants": (step_family, (NODES,)),
    "Ascendants": (step_family, (NODES,)),
    "Neighbors": (step_family, (NODES,)),
    "Metrics": (empty, (NODES,)),
    "Flows": (empty, (GRAPH, NODES)),
    "Group": (step_group, (RAW,)),
    "MoreThan": (step_more_than, (GROUPS,)),
}


def compile_steps(query: str, steps: tuple[Step, ...]) -> tuple[list[Op], str]:
    """Ops for ``steps`` (parsed from ``query``) and the kind of the final value."""
    return Compiler(query, STEPS).compile(steps)
