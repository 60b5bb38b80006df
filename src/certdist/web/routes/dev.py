"""Developer pages (development mode with the SMS outbox only; 404 otherwise).

``/dev/sms``: the newest messages of the SMS outbox, so a tester can read a one-time code
without a phone. ``certdist sms outbox`` prints the same from the command line.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from certdist.errors import NotFound
from certdist.web.deps import ServicesDep
from certdist.web.templating import PageRoute, TemplatesDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/dev/sms")
def sms_outbox(
    request: Request, services: ServicesDep, templates: TemplatesDep, last: int = 20
) -> Response:
    outbox = services.messaging.dev_inbox
    if services.settings.is_production or outbox is None:
        raise NotFound("no such page")
    messages = outbox.latest(max(1, min(last, 200)))
    return templates.render(request, "dev_sms.html", {"messages": messages})
