"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served
entirely from this service: their scripts and styles come from the ``fastapi-offline``
package (which ships the two projects' release files) and are started by our own small
scripts in ``web/static``, so no page loads anything from a third-party host and no page
needs an inline script. Each page carries a Content-Security-Policy that allows only this
origin; ReDoc also needs inline styles and a worker made from a blob, and gets just those.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from certdist.web.static_assets import StaticAssets
from certdist.web.templating import STATIC_PREFIX

ASSETS_PREFIX = "/docs/assets"

_BASE_POLICY = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SWAGGER_POLICY = _BASE_POLICY + "; style-src 'self'"
REDOC_POLICY = _BASE_POLICY + "; style-src 'self' 'unsafe-inline'; worker-src blob:"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head}
</head>
<body>
<div id="{root}" data-openapi-url="{openapi_url}"></div>
{scripts}
</body>
</html>
"""


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _page(title: str, root: str, openapi_url: str, head: str, scripts: list[str]) -> str:
    return _PAGE.format(
        title=title,
        root=root,
        openapi_url=openapi_url,
        head=head,
        scripts="\n".join(f'<script src="{src}"></script>' for src in scripts),
    )


def install_api_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    """Mount the assets and add ``/docs`` and ``/redoc`` (create the app with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN-loading pages are not there too)."""
    app.mount(ASSETS_PREFIX, StaticAssets(directory=_assets_dir()), name="api-docs-assets")
    swagger = _page(
        f"{title} – API",
        "swagger-ui",
        openapi_url,
        f'<link rel="stylesheet" href="{ASSETS_PREFIX}/swagger-ui.css">\n'
        f'<link rel="icon" href="{ASSETS_PREFIX}/favicon.png">',
        [f"{ASSETS_PREFIX}/swagger-ui-bundle.js", f"{STATIC_PREFIX}/api-docs-swagger.js"],
    )
    redoc = _page(
        f"{title} – API",
        "redoc",
        openapi_url,
        f'<link rel="icon" href="{ASSETS_PREFIX}/favicon.png">',
        [f"{ASSETS_PREFIX}/redoc.standalone.js", f"{STATIC_PREFIX}/api-docs-redoc.js"],
    )
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger, headers={"Content-Security-Policy": SWAGGER_POLICY})

    @router.get("/redoc")
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc, headers={"Content-Security-Policy": REDOC_POLICY})

    app.include_router(router)
