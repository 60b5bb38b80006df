"""The application's routes as the tests walk them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import fastapi.routing

from certdist.web.templating import PageRoute


def leaf_routes(routes: Iterable[Any]) -> Iterable[Any]:
    """Every route, through included routers (newer FastAPI keeps those as routes of their
    own and walks them with ``iter_route_contexts``; older releases copied their routes into
    the app's list)."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    return walk(routes) if walk is not None else routes


def browser_routes(app: Any) -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every route that may answer a browser: the HTML page routes and
    everything left out of the API's schema (docs, redirects, downloads, form posts)."""
    for route in leaf_routes(app.routes):
        original = getattr(route, "original_route", route)
        methods = getattr(route, "methods", None) or set()
        if isinstance(original, PageRoute) or not getattr(original, "include_in_schema", True):
            for method in sorted(methods - {"HEAD"}):
                yield method, route.path
