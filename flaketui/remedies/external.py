"""A test that needs a real service: no code change fixes that; keep the marker, with why.

The way out is a local fake of the service (``responses`` for requests, ``respx`` for httpx,
a fixture serving on port 0); flaketui says so and offers to record the reason.
"""

from __future__ import annotations

from flaketui.models import Category
from flaketui.remedies._model import Context, Declined, Proposal


def propose_keep(ctx: Context) -> list[Proposal | Declined]:
    external = [e for e in ctx.evidence if e.category is Category.EXTERNAL]
    if ctx.category is not Category.EXTERNAL and not external:
        return []
    seen = external[0].message.split(":")[0] if external else "a network call"
    reason = f"needs an external service ({seen})"
    why = (
        f"{ctx.target.name} fails when the service it calls is slow or away; no change to the code "
        "removes that. Keep the marker with this reason, or replace the service with a local fake "
        "(responses for requests, respx for httpx, a server fixture on port 0) and verify again."
    )
    return [Proposal(Category.EXTERNAL, "keep.external", "Keep the marker: it needs the network", why, keep_reason=reason)]
