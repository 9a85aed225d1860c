"""The house's structure: no module imports itself back through others (import-linter checks the layers)."""

import grimp

PACKAGES = ("crosspost", "accounts", "posts", "media", "platforms", "products", "translations", "publishing", "dashboard")


def strongly_connected(graph: grimp.ImportGraph, skip: set[str]) -> list[set[str]]:
    """Tarjan's algorithm over the module graph: every group of modules that import each other in a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) - skip:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph.modules - skip):
        if module not in index:
            visit(module)
    return groups


def test_it_has_no_module_cycles():
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    # A package's __init__ that re-exports its children is no cycle of code.
    packages = {module for module in graph.modules if graph.find_children(module)}
    cycles = [sorted(group) for group in strongly_connected(graph, packages)]
    assert cycles == [], f"modules that import each other in a loop: {cycles}"
