"""The service of the share-link and shared-mail tests: the delivery settings (a public URL for the
links in messages), the fixed ``clock`` and sequential certificate ids
(``tests/support/delivery.py``)."""

from __future__ import annotations

import pytest

from certdist.wiring import Services
from tests.support.delivery import DeliveryServicesFactory


@pytest.fixture
def services(make_delivery_services: DeliveryServicesFactory) -> Services:
    return make_delivery_services()
