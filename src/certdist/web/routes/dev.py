"""Developer pages (development mode with the SMS inbox only; 404 otherwise).

``/dev/sms``: the newest messages of the development SMS inbox, so a tester can read a
one-time code without a phone. ``certdist sms inbox`` prints the same from the command line.
The page holds everyone's login codes, so it answers only requests from this machine
(loopback), even in development: a development server reachable from a network must not
hand out codes to that network. Behind a proxy the forwarded client address counts.
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response

from certdist.errors import NotFound
from certdist.web.deps import ServicesDep
from certdist.web.templating import PageRoute, TemplatesDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/dev/sms")
def sms_inbox(
    request: Request, services: ServicesDep, templates: TemplatesDep, last: int = 20
) -> Response:
    inbox = services.messaging.dev_inbox
    if services.settings.is_production or inbox is None or not _from_this_machine(request):
        raise NotFound("no such page")
    messages = inbox.latest(max(1, min(last, 200)))
    return templates.render(request, "dev_sms.html", {"messages": messages})


def _from_this_machine(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
