"""The request graph of a diagnosis, as text (``diagnose --verbose``) and as JSON (``timing``).

Shows every request with when it ran and what it waited on, and the two numbers that say
how close the diagnosis came to being as fast as its round trips allow: the OpenStack API
span and the dependency bound (the longest chain of requests that each needed an earlier
answer). Requests on that chain are starred.
"""

from __future__ import annotations

from typing import Any

from diagnostics.request_graph import OPENSTACK_FAMILIES, RequestRecord, Timing


def summary_line(timing: Timing) -> str:
    """'OpenStack API span 361 ms, dependency bound 279 ms (1.29x), 24 API requests; …'."""
    span, bound = timing.span_ms(), timing.bound_ms()
    ratio = f" ({span / bound:.2f}x)" if bound > 0 else ""
    text = (
        f"OpenStack API span {span:.0f} ms, dependency bound {bound:.0f} ms{ratio}, "
        f"{len(timing.of(OPENSTACK_FAMILIES))} API requests"
    )
    for family, noun in (("kubernetes", "Kubernetes calls"), ("ssh", "SSH commands")):
        if timing.of({family}):
            text += (
                f"; {len(timing.of({family}))} {noun} over "
                f"{timing.span_ms({family}):.0f} ms"
            )
    return text


def render(timing: Timing) -> str:
    """One line per request: id, family, stage, start-end, what it waited on, the call."""
    if not timing.requests:
        return "requests: none recorded"
    critical = {r.id for r in timing.critical_path()}
    lines = [f"requests: {summary_line(timing)}; * = on the dependency bound"]
    for r in timing.requests:
        mark = "*" if r.id in critical else " "
        after = ",".join(f"#{i}" for i in r.depends_on) or "-"
        status = f" {r.status}" if r.status is not None else ""
        lines.append(
            f" {mark}#{r.id:<3} {r.family:<10} {r.stage:<18} "
            f"{r.start_ms:7.1f}-{r.end_ms:<7.1f} ms  after {after:<10} {r.what}{status}"
        )
    return "\n".join(lines)


def to_dict(timing: Timing) -> dict[str, Any]:
    return {
        "api_span_ms": round(timing.span_ms(), 1),
        "dependency_bound_ms": round(timing.bound_ms(), 1),
        "critical_path": [r.id for r in timing.critical_path()],
        "requests": [
            {
                "id": r.id,
                "family": r.family,
                "what": r.what,
                "stage": r.stage,
                "start_ms": r.start_ms,
                "end_ms": r.end_ms,
                "depends_on": list(r.depends_on),
                "status": r.status,
            }
            for r in timing.requests
        ],
    }


def from_dict(data: dict[str, Any] | None) -> Timing:
    if not data:
        return Timing()
    return Timing(
        requests=tuple(
            RequestRecord(
                id=int(r["id"]),
                family=str(r["family"]),
                what=str(r["what"]),
                stage=str(r["stage"]),
                start_ms=float(r["start_ms"]),
                end_ms=float(r["end_ms"]),
                depends_on=tuple(int(i) for i in r["depends_on"]),
                status=r.get("status"),
            )
            for r in data.get("requests", ())
        )
    )
